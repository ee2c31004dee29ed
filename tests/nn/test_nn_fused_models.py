"""companion.nn.fused with a leading models dimension: K models side by side equal K separate calls."""

import pytest
import torch

from companion.nn import fused
from companion.nn.errors import ShapeError
from companion.nn.kinds import KINDS

K, N, T, H, D = 3, 4, 5, 3, 2
LENGTHS = torch.tensor([[5, 2, 4, 1], [3, 5, 5, 2], [1, 1, 4, 5]])  # (K, N)


def stacked(mode, seed=0):
    """K models' parameters (w_ih, w_hh, b_ih, b_hh), each (K, ·, ·) or (K, ·), and their states."""
    gen = torch.Generator().manual_seed(seed)
    G = KINDS[mode].gates * H
    kw = {"generator": gen, "dtype": torch.float64, "requires_grad": True}
    params = (torch.randn(K, G, D, **kw), torch.randn(K, G, H, **kw), torch.randn(K, G, **kw))
    params = (*params, torch.randn(K, G, **kw))
    states = tuple(torch.randn(K, N, H, **kw) for _ in range(KINDS[mode].states))
    return params, states


def mask_of(kind):
    """None, a mask per model (T, K, N, 1), or one (T, 1, N, 1) that every model shares."""
    if kind == "dense":
        return None
    per_model = (torch.arange(T)[:, None, None] < LENGTHS[None]).unsqueeze(3)  # (T, K, N, 1)
    return per_model if kind == "per-model" else per_model[:, :1]


def weighted(outputs, weights):
    """A scalar that gives every output its own upstream gradient."""
    return sum((w * o).sum() for w, o in zip(weights, outputs, strict=True))


@pytest.mark.parametrize("x_kind", ["shared", "per-model"])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("masking", ["dense", "per-model", "shared-mask"])
@pytest.mark.parametrize("mode", list(KINDS))
def test_k_models_side_by_side_equal_k_separate_calls(mode, masking, reverse, x_kind):
    """Values and gradients of every input, float64, through the kinds table's fast path; a shared x
    gets the sum of the models' gradients."""
    kind, mask = KINDS[mode], mask_of(masking)
    params, states = stacked(mode)
    gen = torch.Generator().manual_seed(3)
    x_shape = (T, N, D) if x_kind == "shared" else (T, K, N, D)
    x = torch.randn(x_shape, generator=gen, dtype=torch.float64, requires_grad=True)
    leaves = (x, *params, *states)
    output, finals = kind.fused(x, states, params, mask=mask, reverse=reverse)
    assert output.shape == (T, K, N, H) and all(f.shape == (K, N, H) for f in finals)
    weights = [torch.randn(o.shape, generator=gen, dtype=o.dtype) for o in (output, *finals)]
    grads = torch.autograd.grad(weighted((output, *finals), weights), leaves)
    d_x = torch.zeros_like(x)
    for k in range(K):
        x_k = x if x_kind == "shared" else x[:, k]
        m_k = None if mask is None else mask[:, min(k, mask.shape[1] - 1)]
        out_k, finals_k = kind.fused(
            x_k, tuple(s[k] for s in states), tuple(p[k] for p in params), mask=m_k, reverse=reverse
        )
        torch.testing.assert_close(
            [output[:, k], *(f[k] for f in finals)], [out_k, *finals_k], rtol=1e-12, atol=1e-12
        )
        own = [weights[0][:, k], *(w[k] for w in weights[1:])]
        grads_k = torch.autograd.grad(weighted((out_k, *finals_k), own), leaves)
        for g, g_k in zip(grads[1:], grads_k[1:], strict=True):
            torch.testing.assert_close(g[k], g_k[k], rtol=1e-12, atol=1e-12)
        d_x += grads_k[0]
    torch.testing.assert_close(grads[0], d_x, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("masked", [False, True], ids=["dense", "masked"])
@pytest.mark.parametrize("mode", list(KINDS))
def test_k_models_pass_torch_gradcheck(mode, masked, reverse):
    kind, mask = KINDS[mode], mask_of("per-model" if masked else "dense")
    params, states = stacked(mode, seed=1)
    shift = 3.0 if mode == "RNN_RELU" else 0.0  # pre-activations away from ReLU's kink at 0
    x = torch.randn(T, K, N, D, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    x = (x * 0.5).requires_grad_()
    n = len(params)

    def function(x, *rest):
        w_ih, w_hh, b_ih, b_hh = rest[:n]
        output, finals = kind.fused(x, rest[n:], (w_ih, w_hh, b_ih + shift, b_hh), mask=mask, reverse=reverse)
        return (output, *finals)

    assert torch.autograd.gradcheck(function, (x, *params, *states))


def test_the_lstm_without_biases_and_the_gru_without_b_hh_equal_separate_calls():
    for mode in ("LSTM", "GRU"):
        params, states = stacked(mode, seed=4)
        params = (params[0], params[1], None, None)
        x = torch.randn(T, K, N, D, dtype=torch.float64)
        output, finals = KINDS[mode].fused(x, states, params, mask=None, reverse=False)
        for k in range(K):
            out_k, finals_k = KINDS[mode].fused(
                x[:, k],
                tuple(s[k] for s in states),
                (params[0][k], params[1][k], None, None),
                mask=None,
                reverse=False,
            )
            torch.testing.assert_close(output[:, k], out_k, rtol=1e-12, atol=1e-12)


def test_mismatched_models_name_the_function_and_the_shapes():
    w = torch.zeros(K, H, H)
    with pytest.raises(
        ShapeError,
        match=r"rnn_recurrence: expected h0 of 3 dimensions with the K = 3 "
        r"models of w_hh \(3, 3, 3\) in dimension 0, got \(2, 4, 3\)",
    ):
        fused.rnn_recurrence(torch.zeros(T, K, N, H), torch.zeros(2, N, H), w, None, False, False)
    with pytest.raises(ShapeError, match=r"rnn_recurrence: expected xp of 4 dimensions .* got \(5, 4, 3\)"):
        fused.rnn_recurrence(torch.zeros(T, N, H), torch.zeros(K, N, H), w, None, False, False)
    w4 = torch.zeros(K, 4 * H, H)
    x, s = torch.zeros(T, N, D), torch.zeros(K, N, H)
    with pytest.raises(ShapeError, match=r"lstm_recurrence: expected w_ih .* got \(12, 2\)"):
        fused.lstm_recurrence(x, torch.zeros(4 * H, D), None, s, s, w4, None, False)
    with pytest.raises(ShapeError, match=r"lstm_recurrence: expected x .* got \(5, 2, 4, 2\)"):
        fused.lstm_recurrence(torch.zeros(T, 2, N, D), torch.zeros(K, 4 * H, D), None, s, s, w4, None, False)
    with pytest.raises(ShapeError, match=r"gru_recurrence: expected b_hh of 2 dimensions .* got \(9,\)"):
        w3 = torch.zeros(K, 3 * H, H)
        fused.gru_recurrence(torch.zeros(T, K, N, 3 * H), s, w3, torch.zeros(3 * H), None, False)


def test_a_differentiable_backward_of_k_models_is_refused_plainly():
    params, states = stacked("GRU")
    x = torch.randn(T, K, N, D, dtype=torch.float64)
    output, _ = KINDS["GRU"].fused(x, states, params, mask=None, reverse=False)
    with pytest.raises(NotImplementedError, match="backward pass of K stacked models is not differentiable"):
        torch.autograd.grad(output.sum(), params[1], create_graph=True)
