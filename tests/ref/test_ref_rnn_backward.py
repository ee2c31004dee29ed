"""companion.ref.rnn backward passes: finite differences and torch autograd (through torch.nn.RNN) agree."""

import numpy as np
import pytest
import torch
from torch.func import functional_call

from companion.diagnostics.gradcheck import autograd_gradients, compare_gradients, numerical_gradients
from companion.ref import rnn

# (N, T, D, H), including T = 1 and N = 1
SHAPES = [(1, 1, 1, 1), (2, 5, 3, 4), (3, 7, 1, 6), (1, 12, 2, 3), (4, 1, 5, 2), (2, 3, 4, 5)]
NAMES = ["dx", "dh0", "dWx", "dWh", "db"]


def make_inputs(N, T, D, H, seed, scale=0.5):
    rng = np.random.default_rng(seed)
    return [
        rng.normal(size=(N, T, D)),
        rng.normal(size=(N, H)),
        rng.normal(scale=scale, size=(D, H)),
        rng.normal(scale=scale, size=(H, H)),
        rng.normal(scale=scale, size=H),
    ], rng


def torch_rnn_layer(x, h0, Wx, Wh, b):
    """All hidden states of torch.nn.RNN, with its parameters replaced by tensors that carry grads."""
    D, H = Wx.shape
    module = torch.nn.RNN(D, H, batch_first=True, dtype=torch.float64)
    params = {"weight_ih_l0": Wx.T, "weight_hh_l0": Wh.T, "bias_ih_l0": b, "bias_hh_l0": torch.zeros_like(b)}
    out, _ = functional_call(module, params, (x, h0[None]))
    return out  # (N, T, H)


def torch_rnn_cell(x, h_prev, Wx, Wh, b):
    D, H = Wx.shape
    cell = torch.nn.RNNCell(D, H, dtype=torch.float64)
    params = {"weight_ih": Wx.T, "weight_hh": Wh.T, "bias_ih": b, "bias_hh": torch.zeros_like(b)}
    return functional_call(cell, params, (x, h_prev))


def upstream(rng, N, T, H, kind):
    dh = rng.normal(size=(N, T, H))
    if kind == "last":  # many-to-one: only the final state is read
        dh[:, :-1] = 0.0
    return dh


@pytest.mark.parametrize("kind", ["every", "last"])
@pytest.mark.parametrize("N, T, D, H", SHAPES)
def test_rnn_backward_matches_finite_differences(N, T, D, H, kind):
    args, rng = make_inputs(N, T, D, H, seed=N + 10 * T + 100 * D + 1000 * H)
    dh = upstream(rng, N, T, H, kind)
    _, cache = rnn.rnn_forward(*args)
    analytic = rnn.rnn_backward(dh, cache)
    numeric = numerical_gradients(lambda *a: rnn.rnn_forward(*a)[0], args, upstream=dh)
    errors = compare_gradients(analytic, numeric, NAMES)
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("kind", ["every", "last"])
@pytest.mark.parametrize("N, T, D, H", SHAPES)
def test_rnn_backward_matches_torch_autograd(N, T, D, H, kind):
    args, rng = make_inputs(N, T, D, H, seed=7 + N + 10 * T + 100 * D + 1000 * H)
    dh = upstream(rng, N, T, H, kind)
    _, cache = rnn.rnn_forward(*args)
    analytic = rnn.rnn_backward(dh, cache)
    reference = autograd_gradients(torch_rnn_layer, args, upstream=dh)
    errors = compare_gradients(analytic, reference, NAMES)
    assert max(errors.values()) < 1e-10, errors


@pytest.mark.parametrize("N, D, H", [(1, 1, 1), (3, 4, 5), (2, 6, 3)])
def test_rnn_step_backward_matches_finite_differences_and_autograd(N, D, H):
    rng = np.random.default_rng(N * D * H)
    args = [
        rng.normal(size=(N, D)),
        rng.normal(size=(N, H)),
        rng.normal(scale=0.5, size=(D, H)),
        rng.normal(scale=0.5, size=(H, H)),
        rng.normal(scale=0.5, size=H),
    ]
    dh = rng.normal(size=(N, H))
    _, cache = rnn.rnn_step_forward(*args)
    analytic = rnn.rnn_step_backward(dh, cache)
    names = ["dx", "dh_prev", "dWx", "dWh", "db"]
    numeric = numerical_gradients(lambda *a: rnn.rnn_step_forward(*a)[0], args, upstream=dh)
    assert max(compare_gradients(analytic, numeric, names).values()) < 1e-7
    reference = autograd_gradients(torch_rnn_cell, args, upstream=dh)
    assert max(compare_gradients(analytic, reference, names).values()) < 1e-10


def test_weight_gradients_are_sums_of_step_contributions():
    """Untie the weights (one copy per step, as torch leaves): their gradients sum to dWx, dWh, db."""
    (x, h0, Wx, Wh, b), rng = make_inputs(2, 6, 3, 4, seed=5)
    dh = rng.normal(size=(2, 6, 4))
    _, cache = rnn.rnn_forward(x, h0, Wx, Wh, b)
    _, _, dWx, dWh, db = rnn.rnn_backward(dh, cache)
    copies = [[torch.tensor(p, requires_grad=True) for p in (Wx, Wh, b)] for _ in range(6)]
    h, states = torch.from_numpy(h0), []
    for t, (Wx_t, Wh_t, b_t) in enumerate(copies):
        h = torch.tanh(torch.from_numpy(x[:, t]) @ Wx_t + h @ Wh_t + b_t)
        states.append(h)
    (torch.stack(states, 1) * torch.from_numpy(dh)).sum().backward()
    per_step = [[p.grad.numpy() for p in step] for step in copies]
    assert np.abs(per_step[0][1]).max() > 1e-3 and np.abs(per_step[-1][1]).max() > 1e-3
    for total, k in [(dWx, 0), (dWh, 1), (db, 2)]:
        np.testing.assert_allclose(total, sum(step[k] for step in per_step), rtol=1e-12, atol=1e-14)


def test_backward_rejects_wrong_upstream_shape_and_wrong_cache():
    (x, h0, Wx, Wh, b), _ = make_inputs(2, 5, 3, 4, seed=0)
    _, cache = rnn.rnn_forward(x, h0, Wx, Wh, b)
    with pytest.raises(
        ValueError, match=r"rnn_backward: expected dh of shape \(N, T, H\) = \(2, 5, 4\), got \(2, 4\)"
    ):
        rnn.rnn_backward(np.zeros((2, 4)), cache)
    with pytest.raises(TypeError, match="rnn_backward: expected cache to be an RNNCache, got RNNStepCache"):
        rnn.rnn_backward(np.zeros((2, 5, 4)), rnn.rnn_step_forward(x[:, 0], h0, Wx, Wh, b)[1])
    with pytest.raises(
        TypeError, match="rnn_step_backward: expected cache to be an RNNStepCache, got RNNCache"
    ):
        rnn.rnn_step_backward(np.zeros((2, 4)), cache)
    _, step_cache = rnn.rnn_step_forward(x[:, 0], h0, Wx, Wh, b)
    with pytest.raises(ValueError, match=r"rnn_step_backward: expected dh of shape \(N, H\) = \(2, 4\)"):
        rnn.rnn_step_backward(np.zeros((3, 4)), step_cache)
    with pytest.raises(TypeError, match="floating-point dtype"):
        rnn.rnn_backward(np.zeros((2, 5, 4), dtype=int), cache)


def test_backward_does_not_modify_the_cache_or_the_upstream_gradient():
    (x, h0, Wx, Wh, b), rng = make_inputs(3, 4, 2, 5, seed=1)
    dh = rng.normal(size=(3, 4, 5))
    _, cache = rnn.rnn_forward(x, h0, Wx, Wh, b)
    before = [a.copy() for a in (*cache, dh)]
    rnn.rnn_backward(dh, cache)
    for old, new in zip(before, (*cache, dh), strict=True):
        np.testing.assert_array_equal(old, new)


# ---- variable lengths: gradients through padded batches ----


def torch_packed_rnn_layer(lengths):
    """torch.nn.RNN on a PackedSequence: padded outputs (N, T, H) followed by h_n as step T (N, T+1, H)."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    def run(x, h0, Wx, Wh, b):
        D, H = Wx.shape
        module = torch.nn.RNN(D, H, batch_first=True, dtype=torch.float64)
        params = {
            "weight_ih_l0": Wx.T,
            "weight_hh_l0": Wh.T,
            "bias_ih_l0": b,
            "bias_hh_l0": torch.zeros_like(b),
        }
        packed = pack_padded_sequence(x, torch.as_tensor(lengths), batch_first=True, enforce_sorted=False)
        out, h_n = functional_call(module, params, (packed, h0[None]))
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return torch.cat([out, h_n[0][:, None]], dim=1)

    return run


def with_final_state(dh_all, lengths):
    """Split an upstream gradient of (outputs, h_n) and add the h_n part at each sequence's last step."""
    dh = dh_all[:, :-1].copy()  # (N, T, H)
    dh[np.arange(len(lengths)), np.asarray(lengths) - 1] += dh_all[:, -1]
    return dh


@pytest.mark.parametrize("lengths", [[3, 1, 4], [4, 4], [1], [2, 5, 1, 3]])
def test_backward_with_lengths_matches_finite_differences_and_packed_autograd(lengths):
    N, T, D, H = len(lengths), max(lengths), 3, 4
    args, rng = make_inputs(N, T, D, H, seed=sum(lengths) + 7 * N)
    dh_all = rng.normal(size=(N, T + 1, H))  # includes gradients at padded steps: they must be ignored
    _, cache = rnn.rnn_forward(*args, lengths=lengths)
    analytic = rnn.rnn_backward(with_final_state(dh_all, lengths), cache)

    def outputs_and_final(*a):
        h, c = rnn.rnn_forward(*a, lengths=lengths)
        return np.concatenate([h, c.h_n[:, None]], axis=1)

    numeric = numerical_gradients(outputs_and_final, args, upstream=dh_all)
    assert max(compare_gradients(analytic, numeric, NAMES).values()) < 1e-7
    reference = autograd_gradients(torch_packed_rnn_layer(lengths), args, upstream=dh_all)
    errors = compare_gradients(analytic, reference, NAMES)
    assert max(errors.values()) < 1e-10, errors


def test_padded_steps_get_no_gradient_and_pass_none_back():
    (x, h0, Wx, Wh, b), rng = make_inputs(3, 6, 2, 4, seed=11)
    lengths = [6, 2, 4]
    _, cache = rnn.rnn_forward(x, h0, Wx, Wh, b, lengths=lengths)
    dh = rng.normal(size=(3, 6, 4))
    grads = rnn.rnn_backward(dh, cache)
    dh_valid_only = dh.copy()
    for n, length in enumerate(lengths):
        dh_valid_only[n, length:] = 0.0
        assert np.all(grads[0][n, length:] == 0.0) and np.all(grads[0][n, :length] != 0.0)
    for g, g_valid in zip(grads, rnn.rnn_backward(dh_valid_only, cache), strict=True):
        np.testing.assert_array_equal(g, g_valid)


def test_full_lengths_give_the_same_gradients_bit_for_bit():
    (x, h0, Wx, Wh, b), rng = make_inputs(2, 5, 3, 4, seed=12)
    dh = rng.normal(size=(2, 5, 4))
    plain = rnn.rnn_backward(dh, rnn.rnn_forward(x, h0, Wx, Wh, b)[1])
    full = rnn.rnn_backward(dh, rnn.rnn_forward(x, h0, Wx, Wh, b, lengths=[5, 5])[1])
    for a, c in zip(plain, full, strict=True):
        np.testing.assert_array_equal(a, c)
