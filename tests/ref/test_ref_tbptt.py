"""companion.ref.tbptt: truncated BPTT is full BPTT for k >= T and autograd on a graph detached every k steps."""

import numpy as np
import pytest
import torch

from companion.diagnostics.gradcheck import autograd_gradients, compare_gradients, numerical_gradients
from companion.ref.rnn import rnn_backward, rnn_forward, rnn_step_forward
from companion.ref.tbptt import chunk_bounds, truncated_rnn_backward

NAMES = ["dx", "dh0", "dWx", "dWh", "db"]
CASES = [
    (1, 1, 1, 1, 1),
    (2, 6, 3, 4, 1),
    (2, 6, 3, 4, 2),
    (3, 7, 2, 5, 3),
    (1, 10, 2, 3, 4),
    (2, 5, 3, 2, 4),
]


def make(N, T, D, H, seed):
    rng = np.random.default_rng(seed)
    args = [
        rng.normal(size=(N, T, D)),
        rng.normal(size=(N, H)),
        rng.normal(scale=0.6, size=(D, H)),
        rng.normal(scale=0.6, size=(H, H)),
        rng.normal(scale=0.6, size=H),
    ]
    return args, rng.normal(size=(N, T, H))


def detached_every(k):
    """torch: the RNN with the hidden state detached before steps k, 2k, ... (0-based)."""

    def f(x, h0, Wx, Wh, b):
        h, states = h0, []
        for t, x_t in enumerate(x.unbind(1)):
            if t > 0 and t % k == 0:
                h = h.detach()
            h = torch.tanh(x_t @ Wx + h @ Wh + b)
            states.append(h)
        return torch.stack(states, 1)

    return f


def test_chunk_bounds():
    assert chunk_bounds(7, 3) == [(0, 3), (3, 6), (6, 7)]
    assert chunk_bounds(6, 3) == [(0, 3), (3, 6)]
    assert chunk_bounds(4, 10) == [(0, 4)]
    assert chunk_bounds(3, 1) == [(0, 1), (1, 2), (2, 3)]
    for T, k in [(0, 2), (3, 0), (3, 1.5), (3, True)]:
        with pytest.raises(ValueError, match="chunk_bounds: expected . to be a positive int"):
            chunk_bounds(T, k)


@pytest.mark.parametrize("N, T, D, H", [(1, 1, 1, 1), (2, 6, 3, 4), (3, 9, 2, 5)])
def test_k_at_least_T_is_full_bptt_exactly(N, T, D, H):
    args, dh = make(N, T, D, H, seed=T)
    _, cache = rnn_forward(*args)
    full = rnn_backward(dh, cache)
    for k in (T, T + 1, 1000):
        for a, b in zip(truncated_rnn_backward(dh, cache, k), full, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("N, T, D, H, k", CASES)
def test_matches_autograd_on_a_graph_detached_every_k_steps(N, T, D, H, k):
    args, dh = make(N, T, D, H, seed=N + T + D + H + k)
    _, cache = rnn_forward(*args)
    analytic = truncated_rnn_backward(dh, cache, k)
    reference = autograd_gradients(detached_every(k), args, upstream=dh)
    errors = compare_gradients(analytic, reference, NAMES)
    assert max(errors.values()) < 1e-10, errors
    if k < T and H > 1:  # truncation really changes the gradient
        full = rnn_backward(dh, cache)
        assert max(compare_gradients(analytic, full, NAMES).values()) > 1e-3


@pytest.mark.parametrize("N, T, D, H, k", CASES[1:4])
def test_matches_finite_differences_with_the_chunk_start_states_frozen(N, T, D, H, k):
    """The truncated gradient is the gradient of the forward pass in which the state entering each
    chunk (after the first) is a constant."""
    args, dh = make(N, T, D, H, seed=3 * k)
    h_ref, cache = rnn_forward(*args)

    def frozen(x, h0, Wx, Wh, b):
        out = np.empty_like(h_ref)
        for start, stop in chunk_bounds(T, k):
            h = h0 if start == 0 else h_ref[:, start - 1]
            for t in range(start, stop):
                h, _ = rnn_step_forward(x[:, t], h, Wx, Wh, b)
                out[:, t] = h
        return out

    numeric = numerical_gradients(frozen, args, upstream=dh)
    errors = compare_gradients(truncated_rnn_backward(dh, cache, k), numeric, NAMES)
    assert max(errors.values()) < 1e-7, errors


def test_a_loss_on_the_last_state_reaches_back_only_to_its_chunk_start():
    args, _ = make(2, 10, 3, 4, seed=1)
    _, cache = rnn_forward(*args)
    dh = np.zeros((2, 10, 4))
    dh[:, -1] = 1.0
    dx, dh0, *_ = truncated_rnn_backward(dh, cache, k=4)  # chunks [0, 4), [4, 8), [8, 10)
    assert np.all(dx[:, :8] == 0.0) and np.all(dh0 == 0.0)
    assert np.all(np.abs(dx[:, 8:]).sum(axis=-1) > 0)
    dx_full, dh0_full, *_ = rnn_backward(dh, cache)
    np.testing.assert_allclose(dx[:, 8:], dx_full[:, 8:], rtol=1e-14)
    assert np.all(np.abs(dx_full[:, :8]).sum(axis=-1) > 0) and np.abs(dh0_full).sum() > 0


def test_bad_inputs_raise():
    args, dh = make(2, 5, 3, 4, seed=0)
    _, cache = rnn_forward(*args)
    with pytest.raises(
        ValueError, match=r"truncated_rnn_backward: expected dh of shape \(N, T, H\) = \(2, 5, 4\)"
    ):
        truncated_rnn_backward(dh[:, :3], cache, 2)
    with pytest.raises(
        TypeError, match="truncated_rnn_backward: expected cache to be an RNNCache, got tuple"
    ):
        truncated_rnn_backward(dh, tuple(cache), 2)
    with pytest.raises(ValueError, match="expected k to be a positive int, got 0"):
        truncated_rnn_backward(dh, cache, 0)
