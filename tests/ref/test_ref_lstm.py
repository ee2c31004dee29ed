"""companion.ref.lstm: forward equals torch.nn.LSTM, hand BPTT equals finite differences and autograd."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.func import functional_call

from companion.diagnostics.gradcheck import autograd_gradients, compare_gradients, numerical_gradients
from companion.ref import lstm

NAMES = ["dx", "dh0", "dc0", "dWx", "dWh", "db"]


def random_problem(rng, N, T, D, H, scale=0.5):
    return (
        rng.normal(size=(N, T, D)),
        rng.normal(scale=scale, size=(N, H)),
        rng.normal(size=(N, H)),
        rng.normal(scale=scale, size=(D, 4 * H)),
        rng.normal(scale=scale, size=(H, 4 * H)),
        rng.normal(scale=scale, size=4 * H),
    )


def torch_lstm(x, h0, c0, Wx, Wh, b):
    """torch.nn.LSTM's own kernel on tensors carrying numpy-layout weights (differentiable in all)."""
    D, H = Wx.shape[0], Wh.shape[0]
    module = torch.nn.LSTM(D, H, batch_first=True, dtype=torch.float64)
    params = {"weight_ih_l0": Wx.T, "weight_hh_l0": Wh.T, "bias_ih_l0": b, "bias_hh_l0": torch.zeros_like(b)}
    out, (h_n, c_n) = functional_call(module, params, (x, (h0[None], c0[None])))
    return out, c_n[0]


@pytest.mark.parametrize("N, T, D, H", [(1, 1, 1, 1), (2, 5, 3, 4), (3, 7, 2, 6)])
def test_forward_matches_torch_lstm(N, T, D, H):
    rng = np.random.default_rng(N * 100 + T * 10 + H)
    args = random_problem(rng, N, T, D, H)
    h, cache = lstm.lstm_forward(*args)
    out, c_n = torch_lstm(*(torch.from_numpy(a) for a in args))
    assert h.shape == (N, T, H) and cache.c.shape == (N, T, H) and cache.gates.shape == (N, T, 4 * H)
    np.testing.assert_allclose(h, out.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(cache.c[:, -1], c_n.detach().numpy(), rtol=1e-12, atol=1e-13)


def test_step_forward_matches_torch_lstm_cell():
    rng = np.random.default_rng(5)
    x, h0, c0, Wx, Wh, b = random_problem(rng, 3, 1, 4, 5)
    cell = torch.nn.LSTMCell(4, 5, dtype=torch.float64)
    cell.load_state_dict({k: torch.from_numpy(v) for k, v in lstm.to_torch(Wx, Wh, b, suffix="").items()})
    h, c, _ = lstm.lstm_step_forward(x[:, 0], h0, c0, Wx, Wh, b)
    h_t, c_t = cell(torch.from_numpy(x[:, 0]), (torch.from_numpy(h0), torch.from_numpy(c0)))
    np.testing.assert_allclose(h, h_t.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(c, c_t.detach().numpy(), rtol=1e-12, atol=1e-13)


def test_forward_is_the_equations_written_out():
    """Gate order i, f, g, o: a bias that saturates only the forget gate keeps c0 and drops the input."""
    N, D, H = 2, 3, 2
    rng = np.random.default_rng(0)
    x, h0, c0 = rng.normal(size=(N, 1, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    b = np.concatenate([np.full(H, -50.0), np.full(H, 50.0), np.zeros(H), np.full(H, 50.0)])
    h, cache = lstm.lstm_forward(x, h0, c0, np.zeros((D, 4 * H)), np.zeros((H, 4 * H)), b)
    np.testing.assert_allclose(cache.c[:, 0], c0, rtol=1e-15)
    np.testing.assert_allclose(h[:, 0], np.tanh(c0), rtol=1e-15)


def test_step_backward_carries_the_cell_gradient_through_the_forget_gate():
    rng = np.random.default_rng(2)
    x, h0, c0, Wx, Wh, b = random_problem(rng, 2, 1, 3, 4)
    _, _, cache = lstm.lstm_step_forward(x[:, 0], h0, c0, Wx, Wh, b)
    dc = rng.normal(size=(2, 4))
    _, _, dc_prev, *_ = lstm.lstm_step_backward(np.zeros((2, 4)), dc, cache)
    np.testing.assert_allclose(dc_prev, dc * cache.gates[:, 4:8], rtol=1e-15)


def test_step_backward_matches_finite_differences_with_both_upstreams():
    rng = np.random.default_rng(3)
    x, h0, c0, Wx, Wh, b = random_problem(rng, 2, 1, 3, 3)
    args = [x[:, 0], h0, c0, Wx, Wh, b]
    dh, dc = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    _, _, cache = lstm.lstm_step_forward(*args)
    grads = lstm.lstm_step_backward(dh, dc, cache)

    def both(*a):
        h, c, _ = lstm.lstm_step_forward(*a)
        return np.stack([h, c])

    numeric = numerical_gradients(both, args, upstream=np.stack([dh, dc]))
    errors = compare_gradients(grads, numeric, ["dx", "dh_prev", "dc_prev", "dWx", "dWh", "db"])
    assert max(errors.values()) < 1e-7, errors


def test_to_torch_from_torch_round_trip_and_torch_state_dict():
    torch.manual_seed(0)
    module = torch.nn.LSTM(3, 5, batch_first=True, dtype=torch.float64)
    Wx, Wh, b = lstm.from_torch(module.state_dict())
    assert Wx.shape == (3, 20) and Wh.shape == (5, 20) and b.shape == (20,)
    np.testing.assert_array_equal(Wh, module.weight_hh_l0.detach().numpy().T)
    np.testing.assert_allclose(b, (module.bias_ih_l0 + module.bias_hh_l0).detach().numpy(), rtol=1e-15)
    for a, c in zip((Wx, Wh, b), lstm.from_torch(lstm.to_torch(Wx, Wh, b)), strict=True):
        np.testing.assert_array_equal(a, c)
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    h, _ = lstm.lstm_forward(x.numpy(), np.zeros((2, 5)), np.zeros((2, 5)), Wx, Wh, b)
    np.testing.assert_allclose(h, module(x)[0].detach().numpy(), rtol=1e-12, atol=1e-13)


def test_from_torch_cell_without_bias_and_missing_key():
    cell = torch.nn.LSTMCell(2, 3, bias=False, dtype=torch.float64)
    Wx, _, b = lstm.from_torch(cell.state_dict(), suffix="")
    np.testing.assert_array_equal(Wx, cell.weight_ih.detach().numpy().T)
    np.testing.assert_array_equal(b, np.zeros(12))
    with pytest.raises(KeyError, match="weight_hh_l0"):
        lstm.from_torch({"weight_ih_l0": np.zeros((12, 2))})
    with pytest.raises(ValueError, match=r"from_torch: expected Wh of shape \(H, 4H\)"):
        lstm.from_torch({"weight_ih_l0": np.zeros((12, 2)), "weight_hh_l0": np.zeros((12, 4))})


def test_sigmoid_is_stable_and_exact():
    a = np.array([-800.0, -30.0, -1.0, 0.0, 2.0, 800.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = lstm.sigmoid(a)
    np.testing.assert_allclose(s, torch.sigmoid(torch.from_numpy(a)).numpy(), rtol=1e-15, atol=0)
    assert lstm.sigmoid(np.zeros(2, dtype=np.float32)).dtype == np.float32


@pytest.fixture
def good():
    x, h0, c0, Wx, Wh, b = random_problem(np.random.default_rng(0), 4, 5, 8, 3)
    return {"x": x, "h0": h0, "c0": c0, "Wx": Wx, "Wh": Wh, "b": b}


@pytest.mark.parametrize(
    "name, bad, message",
    [
        ("x", (4, 8), r"expected x of shape \(N, T, D\), got \(4, 8\)"),
        ("c0", (4, 2), r"expected c0 of shape \(N, H\) = \(4, 3\), got \(4, 2\)"),
        ("Wx", (8, 9), r"expected Wx of shape \(D, 4H\) = \(8, 12\), got \(8, 9\)"),
        ("Wh", (3, 9), r"expected Wh of shape \(H, 4H\) = \(3, 12\), got \(3, 9\)"),
        ("b", (3,), r"expected b of shape \(4H,\) = \(12,\), got \(3,\)"),
    ],
)
def test_forward_rejects_bad_shapes(good, name, bad, message):
    good[name] = np.zeros(bad)
    with pytest.raises(ValueError, match="lstm_forward: " + message):
        lstm.lstm_forward(**good)


def test_backward_rejects_bad_upstream(good):
    _, cache = lstm.lstm_forward(**good)
    with pytest.raises(ValueError, match=r"lstm_backward: expected dh of shape \(N, T, H\) = \(4, 5, 3\)"):
        lstm.lstm_backward(np.zeros((4, 5, 4)), cache)
    with pytest.raises(TypeError, match="expected x to be a numpy.ndarray"):
        lstm.lstm_step_forward(torch.zeros(4, 8), *[good[k] for k in ("h0", "c0", "Wx", "Wh", "b")])


# ---- variable lengths: a padded batch with `lengths` equals torch.nn.LSTM fed a PackedSequence ----


def torch_packed_lstm(lengths):
    """torch.nn.LSTM on a PackedSequence: padded outputs, then h_n and c_n as steps T and T+1."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    def run(x, h0, c0, Wx, Wh, b):
        D, H = Wx.shape[0], Wh.shape[0]
        module = torch.nn.LSTM(D, H, batch_first=True, dtype=torch.float64)
        params = {
            "weight_ih_l0": Wx.T,
            "weight_hh_l0": Wh.T,
            "bias_ih_l0": b,
            "bias_hh_l0": torch.zeros_like(b),
        }
        packed = pack_padded_sequence(x, torch.as_tensor(lengths), batch_first=True, enforce_sorted=False)
        out, (h_n, c_n) = functional_call(module, params, (packed, (h0[None], c0[None])))
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return torch.cat([out, h_n[0][:, None], c_n[0][:, None]], dim=1)

    return run


@pytest.mark.parametrize("lengths", [[1], [5, 2, 5], [3, 1, 4, 4], [2, 7, 1, 6, 7]])
def test_forward_with_lengths_matches_torch_packed_sequence(lengths):
    N, T, D, H = len(lengths), max(lengths) + 1, 3, 4
    args = random_problem(np.random.default_rng(sum(lengths)), N, T, D, H)
    h, cache = lstm.lstm_forward(*args, lengths=lengths)
    expected = torch_packed_lstm(lengths)(*(torch.from_numpy(a) for a in args)).detach().numpy()
    np.testing.assert_allclose(h, expected[:, :T], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(cache.h_n, expected[:, T], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(cache.c_n, expected[:, T + 1], rtol=1e-12, atol=1e-13)
    padded = np.arange(T)[None, :] >= np.array(lengths)[:, None]  # (N, T)
    for array in (h, cache.c, cache.tanh_c, cache.gates):
        assert np.all(array[padded] == 0.0)


@pytest.mark.parametrize("lengths", [[3, 1, 4], [2, 2], [1]])
def test_backward_with_lengths_matches_finite_differences_and_packed_autograd(lengths):
    N, T, D, H = len(lengths), max(lengths), 2, 3
    rng = np.random.default_rng(10 + sum(lengths))
    args = random_problem(rng, N, T, D, H)
    upstream = rng.normal(size=(N, T + 2, H))
    upstream[:, -1] = 0.0  # the loss does not read c_n (lstm_backward assumes so)
    dh = upstream[:, :T].copy()  # gradients at padded steps too: they must be ignored
    dh[np.arange(N), np.array(lengths) - 1] += upstream[:, T]  # the gradient of h_n
    _, cache = lstm.lstm_forward(*args, lengths=lengths)
    grads = lstm.lstm_backward(dh, cache)

    def outputs_and_finals(*a):
        h, c = lstm.lstm_forward(*a, lengths=lengths)
        return np.concatenate([h, c.h_n[:, None], c.c_n[:, None]], axis=1)

    numeric = numerical_gradients(outputs_and_finals, args, upstream=upstream)
    assert max(compare_gradients(grads, numeric, NAMES).values()) < 1e-7
    reference = autograd_gradients(torch_packed_lstm(lengths), args, upstream=upstream)
    errors = compare_gradients(grads, reference, NAMES)
    assert max(errors.values()) < 1e-10, errors


@settings(max_examples=30, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 6), min_size=1, max_size=4),
    extra=st.integers(0, 2),
    seed=st.integers(0, 2**16),
)
def test_a_padded_batch_equals_each_sequence_run_alone(lengths, extra, seed):
    """Padding (whatever its values) changes neither the outputs nor any gradient."""
    N, T, D, H = len(lengths), max(lengths) + extra, 2, 3
    rng = np.random.default_rng(seed)
    x, h0, c0, Wx, Wh, b = random_problem(rng, N, T, D, H)
    dh = rng.normal(size=(N, T, H))
    x_padded = x.copy()
    for n, length in enumerate(lengths):
        x_padded[n, length:] = rng.normal(scale=100.0, size=(T - length, D))
    h, cache = lstm.lstm_forward(x_padded, h0, c0, Wx, Wh, b, lengths=lengths)
    dx, dh0, dc0, dWx, dWh, db = lstm.lstm_backward(dh, cache)
    sums = [np.zeros_like(p) for p in (Wx, Wh, b)]
    for n, length in enumerate(lengths):
        alone = (x[n : n + 1, :length], h0[n : n + 1], c0[n : n + 1], Wx, Wh, b)
        h_n, cache_n = lstm.lstm_forward(*alone)
        np.testing.assert_allclose(h[n, :length], h_n[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(cache.c_n[n], cache_n.c[0, -1], rtol=1e-12, atol=1e-14)
        g = lstm.lstm_backward(dh[n : n + 1, :length], cache_n)
        np.testing.assert_allclose(dx[n, :length], g[0][0], rtol=1e-10, atol=1e-13)
        assert np.all(dx[n, length:] == 0.0)
        np.testing.assert_allclose(dh0[n], g[1][0], rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(dc0[n], g[2][0], rtol=1e-10, atol=1e-13)
        sums = [s + gn for s, gn in zip(sums, g[3:], strict=True)]
    for total, expected in zip((dWx, dWh, db), sums, strict=True):
        np.testing.assert_allclose(total, expected, rtol=1e-10, atol=1e-12)


def test_forward_rejects_bad_lengths(good):
    with pytest.raises(
        ValueError,
        match=r"lstm_forward: expected lengths of shape \(N,\) = \(4,\) \(one per sequence\), got \(2,\)",
    ):
        lstm.lstm_forward(**good, lengths=[5, 5])
    with pytest.raises(ValueError, match="lstm_forward: expected every length <= T = 5, got max length 6"):
        lstm.lstm_forward(**good, lengths=[1, 6, 2, 2])
    with pytest.raises(TypeError, match="lstm_forward: expected lengths to hold integers, got dtype float64"):
        lstm.lstm_forward(**good, lengths=np.full(4, 5.0))
