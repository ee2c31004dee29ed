"""companion.exercises: each chapter's solution passes its check, and wrong implementations are
reported with a message that names the fault.

The solutions below are, character for character, the ones hidden in the chapters' exercise
sections, written from the equations as a reader would (not calls into the package); nbval runs the
notebook copies too. The wrong implementations are the mistakes readers make, written out the same
way.
"""

import ast
import inspect
import json
import re
from pathlib import Path

import numpy as np
import pytest

from companion import exercises as ex
from companion.exercises import (
    _engine,
    ch01_sequences,
    ch02_hidden_state,
    ch03_bptt,
    ch04_gradients,
    ch05_lstm,
    ch06_gru,
    ch07_deep,
    ch08_attention,
)
from companion.ref import gru as ref_gru
from companion.ref import lstm as ref_lstm
from companion.ref import rnn as ref_rnn
from companion.ref.lstm import sigmoid

# --------------------------------------------------------------------------------------------------
# The solutions, as in the book.


def my_window_features(x, width):
    N, T, D = x.shape
    padded = np.concatenate([np.zeros((N, width - 1, D)), x], axis=1)  # (N, T + width - 1, D)
    return np.concatenate([padded[:, k : k + T] for k in range(width)], axis=2)  # (N, T, width * D)


def my_linear_recurrence(x, h0, A, B, C):
    h, ys = h0, []
    for t in range(x.shape[1]):
        h = h @ A + x[:, t] @ B
        ys.append(h @ C)
    return np.stack(ys, axis=1)


def my_rnn_step_forward(x, h_prev, Wx, Wh, b):
    return np.tanh(x @ Wx + h_prev @ Wh + b)


def my_rnn_forward(x, h0, Wx, Wh, b):
    h, states = h0, []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ Wx + h @ Wh + b)
        states.append(h)
    return np.stack(states, axis=1)  # (N, T, H)


def my_rnn_step_backward(dh, cache):
    da = dh * (1 - cache.h**2)  # through tanh
    return da @ cache.Wx.T, da @ cache.Wh.T, cache.x.T @ da, cache.h_prev.T @ da, da.sum(axis=0)


def my_rnn_backward(dh, cache):
    N, T, H = dh.shape
    dx = np.zeros_like(cache.x)
    dWx, dWh, db = np.zeros_like(cache.Wx), np.zeros_like(cache.Wh), np.zeros(H)
    dh_next = np.zeros((N, H))
    for t in reversed(range(T)):
        h_prev = cache.h[:, t - 1] if t > 0 else cache.h0
        da = (dh[:, t] + dh_next) * (1 - cache.h[:, t] ** 2)
        dx[:, t] = da @ cache.Wx.T
        dh_next = da @ cache.Wh.T
        dWx += cache.x[:, t].T @ da
        dWh += h_prev.T @ da
        db += da.sum(axis=0)
    return dx, dh_next, dWx, dWh, db


def my_difference_weights():
    A = np.eye(3, k=1)  # (H, H) with H = 3: slot i moves to slot i + 1, so slot i holds x_{t-i}
    B = np.array([[1.0, 0.0, 0.0]])  # (D, H): x_t is written into slot 0
    C = np.array([[1.0], [0.0], [-1.0]])  # (H, K): y_t = slot 0 - slot 2
    return A, B, C


def my_running_sum_window_mse(T, w, var):
    return var * (T - w) * (T - w + 1) / (2 * T)


def my_leaky_rnn_forward(x, h0, Wx, Wh, b, alpha):
    h, states = h0, []
    for t in range(x.shape[1]):
        h = (1 - alpha) * h + alpha * np.tanh(x[:, t] @ Wx + h @ Wh + b)
        states.append(h)
    return np.stack(states, axis=1)  # (N, T, H)


def my_masked_cross_entropy(logits, targets, mask):
    z = logits - logits.max(axis=-1, keepdims=True)  # (N, T, V): exp(z) <= 1 cannot overflow
    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))  # log softmax
    onehot = np.eye(logits.shape[-1])[targets]  # (N, T, V)
    M = mask.sum()  # the positions that count
    loss = -(log_p * onehot).sum(axis=-1)[mask].sum() / M
    dlogits = (np.exp(log_p) - onehot) * mask[..., None] / M
    return loss, dlogits


def my_truncation_ratio(T, k):
    if k >= T:
        return 1.0  # a single chunk: nothing is cut
    last_chunk = T - k * ((T - 1) // k)  # chunks start at steps 1, k + 1, 2k + 1, ...
    return last_chunk / (T - 1)  # the full gradient has T - 1 terms, from steps 2, ..., T


def my_clip_by_norm(grads, max_norm):
    norm = np.sqrt(sum(np.sum(g**2) for g in grads))
    scale = max_norm / norm if norm > max_norm else 1.0
    return [g * scale for g in grads]


def my_step_jacobian(x, h_prev, Wx, Wh, b):
    h = np.tanh(x @ Wx + h_prev @ Wh + b)
    return (1 - h**2)[:, None] * Wh.T  # row i: (1 - h_i^2) times column i of Wh


def my_lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    a_i, a_f, a_g, a_o = np.split(x @ Wx + h_prev @ Wh + b, 4, axis=1)  # 4 x (N, H)
    i, f, o = (1 / (1 + np.exp(-a)) for a in (a_i, a_f, a_o))
    g = np.tanh(a_g)
    c = f * c_prev + i * g
    return o * np.tanh(c), c


def my_gru_step_forward(x, h_prev, Wx, Wh, bx, bh):
    x_r, x_z, x_n = np.split(x @ Wx + bx, 3, axis=1)  # 3 x (N, H)
    h_r, h_z, h_n = np.split(h_prev @ Wh + bh, 3, axis=1)
    r, z = 1 / (1 + np.exp(-(x_r + h_r))), 1 / (1 + np.exp(-(x_z + h_z)))
    n = np.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h_prev


def my_num_parameters(mode, input_size, hidden_size, num_layers, bidirectional, proj_size):
    G = {"RNN": 1, "GRU": 3, "LSTM": 4}[mode]  # gate blocks
    dirs = 2 if bidirectional else 1
    S = proj_size or hidden_size  # the size of the state passed on
    total = 0
    for layer in range(num_layers):
        inputs = input_size if layer == 0 else dirs * S
        per_direction = G * hidden_size * (inputs + S + 2) + proj_size * hidden_size
        total += dirs * per_direction
    return total


def my_rnn_forward_lengths(x, h0, Wx, Wh, b, lengths):
    N, T, _ = x.shape
    h, h_n = np.zeros((N, T, h0.shape[1])), h0.copy()
    for t in range(T):
        running = (t < lengths)[:, None]  # (N, 1): the sequences still running at step t
        new = np.tanh(x[:, t] @ Wx + h_n @ Wh + b)
        h_n = np.where(running, new, h_n)  # an ended sequence keeps its state
        h[:, t] = np.where(running, new, 0.0)  # and has no output
    return h, h_n


def my_masked_softmax(scores, mask):
    keep = mask.any(axis=1, keepdims=True)  # (N, 1): rows with at least one key
    s = np.where(mask, scores, -np.inf)  # exp(-inf) = 0: masked keys get no weight
    top = np.where(keep, s.max(axis=1, keepdims=True), 0.0)  # (N, 1): the largest unmasked score
    e = np.exp(s - top)
    return e / np.where(keep, e.sum(axis=1, keepdims=True), 1.0)  # a row with no key stays 0


def my_beam_step(log_prob, log_probs, beam_size):
    k, V = log_probs.shape
    candidates = (log_prob[:, None] + log_probs).ravel()  # (k·V,): every extension, hypothesis-major
    flat = np.argsort(-candidates, kind="stable")[:beam_size]  # the best beam_size, best first
    return candidates[flat], flat // V, flat % V


SOLUTIONS = [
    (ex.check_window_features, my_window_features),
    (ex.check_linear_recurrence, my_linear_recurrence),
    (ex.check_rnn_step_forward, my_rnn_step_forward),
    (ex.check_rnn_forward, my_rnn_forward),
    (ex.check_rnn_step_backward, my_rnn_step_backward),
    (ex.check_rnn_backward, my_rnn_backward),
    (ch02_hidden_state.check_leaky_rnn_forward, my_leaky_rnn_forward),
    (ch03_bptt.check_masked_cross_entropy, my_masked_cross_entropy),
    (ch03_bptt.check_truncation_ratio, my_truncation_ratio),
    (ex.check_clip_by_norm, my_clip_by_norm),
    (ex.check_step_jacobian, my_step_jacobian),
    (ex.check_lstm_step_forward, my_lstm_step_forward),
    (ex.check_gru_step_forward, my_gru_step_forward),
    (ex.check_num_parameters, my_num_parameters),
    (ex.check_rnn_forward_lengths, my_rnn_forward_lengths),
    (ex.check_masked_softmax, my_masked_softmax),
    (ex.check_beam_step, my_beam_step),
]


CHAPTERS_1_TO_3 = (ch01_sequences, ch02_hidden_state, ch03_bptt)
FUNCTION_CHECKS_1_TO_3 = {  # check_difference_weights takes weights, not a function: tested below
    name for module in CHAPTERS_1_TO_3 for name in module.__all__ if name != "check_difference_weights"
}


def test_every_check_has_a_solution_here():
    checks = {name for name in ex.__all__ if name.startswith("check_")} | FUNCTION_CHECKS_1_TO_3
    checks.discard("check_difference_weights")  # takes weights, not a function: tested below
    assert checks == {check.__name__ for check, _ in SOLUTIONS}


@pytest.mark.parametrize("check, solution", SOLUTIONS, ids=lambda f: f.__name__)
def test_solution_passes_its_check(check, solution):
    report = check(solution)
    assert isinstance(report, ex.CheckPassed)
    assert report.check == check.__name__ and report.cases >= 3
    assert repr(report) == f"✓ {check.__name__}: all checks passed ({report.cases} cases)"


@pytest.mark.parametrize(
    "check, reference",
    [
        (ex.check_rnn_step_forward, ref_rnn.rnn_step_forward),  # returns (h, cache)
        (ex.check_rnn_forward, ref_rnn.rnn_forward),
        (ex.check_rnn_step_backward, ref_rnn.rnn_step_backward),
        (ex.check_rnn_backward, ref_rnn.rnn_backward),
        (ex.check_lstm_step_forward, ref_lstm.lstm_step_forward),  # returns (h, c, cache)
        (ex.check_gru_step_forward, ref_gru.gru_step_forward),
    ],
    ids=lambda f: f.__name__,
)
def test_the_package_reference_passes_too(check, reference):
    assert isinstance(check(reference), ex.CheckPassed)


# --------------------------------------------------------------------------------------------------
# Wrong implementations, one or more per exercise, and the fault each message must name.


def window_newest_first(x, width):
    return (
        my_window_features(x[:, :, :], width)
        .reshape(*x.shape[:2], width, -1)[:, :, ::-1]
        .reshape(*x.shape[:2], -1)
    )


def window_with_roll(x, width):
    return np.concatenate([np.roll(x, lag, axis=1) for lag in range(width - 1, -1, -1)], axis=2)


def window_unflattened(x, width):
    return my_window_features(x, width).reshape(*x.shape[:2], width, x.shape[2])


def linear_column_style(x, h0, A, B, C):
    return my_linear_recurrence(x, h0, A.T, B, C)


def rnn_step_without_bias(x, h_prev, Wx, Wh, b):
    return np.tanh(x @ Wx + h_prev @ Wh)


def rnn_step_torch_layout(x, h_prev, Wx, Wh, b):
    return np.tanh(x @ Wx + h_prev @ Wh.T + b)


def rnn_step_transposed_output(x, h_prev, Wx, Wh, b):
    return my_rnn_step_forward(x, h_prev, Wx, Wh, b).T


def rnn_forward_time_first(x, h0, Wx, Wh, b):
    return my_rnn_forward(x, h0, Wx, Wh, b).transpose(1, 0, 2)


def rnn_forward_final_state_only(x, h0, Wx, Wh, b):
    return my_rnn_forward(x, h0, Wx, Wh, b)[:, -1]


def rnn_forward_from_zeros(x, h0, Wx, Wh, b):
    return my_rnn_forward(x, np.zeros_like(h0), Wx, Wh, b)


def step_backward_h_for_h_prev(dh, cache):
    dx, dh_prev, dWx, _, db = my_rnn_step_backward(dh, cache)
    da = dh * (1 - cache.h**2)
    return dx, dh_prev, dWx, cache.h.T @ da, db


def step_backward_no_tanh_derivative(dh, cache):
    return dh @ cache.Wx.T, dh @ cache.Wh.T, cache.x.T @ dh, cache.h_prev.T @ dh, dh.sum(axis=0)


def step_backward_db_not_summed(dh, cache):
    dx, dh_prev, dWx, dWh, _ = my_rnn_step_backward(dh, cache)
    return dx, dh_prev, dWx, dWh, dh * (1 - cache.h**2)


def step_backward_dx_doubled(dh, cache):
    dx, *rest = my_rnn_step_backward(dh, cache)
    return (2 * dx, *rest)


def step_backward_in_place(dh, cache):
    cache.h[...] = 1 - cache.h**2  # reuses the cache's memory: the forward values are lost
    da = dh * cache.h
    return da @ cache.Wx.T, da @ cache.Wh.T, cache.x.T @ da, cache.h_prev.T @ da, da.sum(axis=0)


def backward_without_carry(dh, cache):
    N, T, H = dh.shape
    dx = np.zeros_like(cache.x)
    dWx, dWh, db = np.zeros_like(cache.Wx), np.zeros_like(cache.Wh), np.zeros(H)
    dh_prev = np.zeros((N, H))
    for t in reversed(range(T)):
        h_prev = cache.h[:, t - 1] if t > 0 else cache.h0
        da = dh[:, t] * (1 - cache.h[:, t] ** 2)  # forgets the gradient coming back from t + 1
        dx[:, t], dh_prev = da @ cache.Wx.T, da @ cache.Wh.T
        dWx += cache.x[:, t].T @ da
        dWh += h_prev.T @ da
        db += da.sum(axis=0)
    return dx, dh_prev, dWx, dWh, db


def backward_without_accumulation(dh, cache):
    N, T, H = dh.shape
    dx = np.zeros_like(cache.x)
    dh_next = np.zeros((N, H))
    for t in reversed(range(T)):
        h_prev = cache.h[:, t - 1] if t > 0 else cache.h0
        da = (dh[:, t] + dh_next) * (1 - cache.h[:, t] ** 2)
        dx[:, t], dh_next = da @ cache.Wx.T, da @ cache.Wh.T
        dWx, dWh, db = cache.x[:, t].T @ da, h_prev.T @ da, da.sum(axis=0)  # overwritten each step
    return dx, dh_next, dWx, dWh, db


def clip_each_separately(grads, max_norm):
    return [g * min(1.0, max_norm / np.linalg.norm(g)) for g in grads]


def clip_in_place(grads, max_norm):
    norm = np.sqrt(sum(np.sum(g**2) for g in grads))
    for g in grads:
        g *= min(1.0, max_norm / norm)
    return grads


def clip_by_value(grads, max_norm):
    return [np.clip(g, -max_norm, max_norm) for g in grads]


def jacobian_transposed(x, h_prev, Wx, Wh, b):
    return my_step_jacobian(x, h_prev, Wx, Wh, b).T


def jacobian_untransposed_wh(x, h_prev, Wx, Wh, b):
    h = np.tanh(x @ Wx + h_prev @ Wh + b)
    return np.diag(1 - h**2) @ Wh


def lstm_ifog(x, h_prev, c_prev, Wx, Wh, b):
    """The i, f, o, g layout of some course code."""
    a = x @ Wx + h_prev @ Wh + b
    ai, af, ao, ag = np.split(a, 4, axis=1)
    i, f, o, g = sigmoid(ai), sigmoid(af), sigmoid(ao), np.tanh(ag)
    c = f * c_prev + i * g
    return o * np.tanh(c), c


def lstm_no_tanh_on_output(x, h_prev, c_prev, Wx, Wh, b):
    a = x @ Wx + h_prev @ Wh + b
    ai, af, ag, ao = np.split(a, 4, axis=1)
    c = sigmoid(af) * c_prev + sigmoid(ai) * np.tanh(ag)
    return sigmoid(ao) * c, c


def lstm_returns_c_h(x, h_prev, c_prev, Wx, Wh, b):
    h, c = my_lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)
    return c, h


def lstm_returns_h_twice(x, h_prev, c_prev, Wx, Wh, b):
    h, _ = my_lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)
    return h, h


def gru_chung_interpolation(x, h_prev, Wx, Wh, bx, bh):
    xr, xz, xn = np.split(x @ Wx + bx, 3, axis=1)
    hr, hz, hn = np.split(h_prev @ Wh + bh, 3, axis=1)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    n = np.tanh(xn + r * hn)
    return z * n + (1 - z) * h_prev


def gru_cho_reset(x, h_prev, Wx, Wh, bx, bh):
    H = h_prev.shape[1]
    xr, xz, xn = np.split(x @ Wx + bx, 3, axis=1)
    hr, hz, _ = np.split(h_prev @ Wh + bh, 3, axis=1)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    n = np.tanh(xn + (r * h_prev) @ Wh[:, 2 * H :] + bh[2 * H :])
    return (1 - z) * n + z * h_prev


def gru_zrn(x, h_prev, Wx, Wh, bx, bh):
    xz, xr, xn = np.split(x @ Wx + bx, 3, axis=1)
    hz, hr, hn = np.split(h_prev @ Wh + bh, 3, axis=1)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    n = np.tanh(xn + r * hn)
    return (1 - z) * n + z * h_prev


def count_every_layer_reads_d(mode, input_size, hidden_size, num_layers, bidirectional, proj_size):
    G, dirs = {"RNN": 1, "GRU": 3, "LSTM": 4}[mode], 1 + bidirectional
    return num_layers * dirs * G * hidden_size * (input_size + hidden_size + 2)


def count_one_direction(mode, input_size, hidden_size, num_layers, bidirectional, proj_size):
    return my_num_parameters(mode, input_size, hidden_size, num_layers, bidirectional, proj_size) // (
        1 + bidirectional
    )


def count_as_float(mode, input_size, hidden_size, num_layers, bidirectional, proj_size):
    return float(my_num_parameters(mode, input_size, hidden_size, num_layers, bidirectional, proj_size))


def rnn_lengths_ignored(x, h0, Wx, Wh, b, lengths):
    h = my_rnn_forward(x, h0, Wx, Wh, b)
    return h, h[:, -1]


def rnn_lengths_last_column(x, h0, Wx, Wh, b, lengths):
    h, _ = my_rnn_forward_lengths(x, h0, Wx, Wh, b, lengths)
    return h, h[:, -1]


def masked_softmax_large_fill(scores, mask):
    s = np.where(mask, scores, -1e9)
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def masked_softmax_unguarded(scores, mask):
    s = np.where(mask, scores, -np.inf)
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def masked_softmax_unshifted(scores, mask):
    e = np.where(mask, np.exp(np.minimum(scores, 1e3)), 0.0)
    total = e.sum(axis=1, keepdims=True)
    return e / np.where(total == 0, 1.0, total)


def masked_softmax_mask_after(scores, mask):
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True) * mask


def beam_step_own_best(log_prob, log_probs, beam_size):
    best = log_prob + log_probs.max(axis=1)
    order = np.argsort(-best)[:beam_size]
    return best[order], order, log_probs.argmax(axis=1)[order]


def beam_step_split_wrong(log_prob, log_probs, beam_size):
    k, V = log_probs.shape
    candidates = (log_prob[:, None] + log_probs).ravel()
    flat = np.argsort(-candidates)[:beam_size]
    return candidates[flat], flat % k, flat // k


def raises_inside(x, h_prev, Wx, Wh, b):
    return np.tanh(Wx @ x + Wh @ h_prev + b)  # column-vector habit: shapes do not line up


def returns_three(dh, cache):
    return my_rnn_step_backward(dh, cache)[:3]


WRONG = [
    (ex.check_window_features, window_newest_first, r"features differs .*ordered newest first"),
    (ex.check_window_features, window_with_roll, r"wrap around .*must be zeros"),
    (
        ex.check_window_features,
        window_unflattened,
        r"features has shape \(2, 6, 3, 3\); expected \(N, T, width \* D\) = \(2, 6, 9\)",
    ),
    (ex.check_linear_recurrence, linear_column_style, r"applied as A @ h .*it is h @ A"),
    (
        ex.check_rnn_step_forward,
        rnn_step_without_bias,
        r"h differs from the reference .*The bias b is missing",
    ),
    (ex.check_rnn_step_forward, rnn_step_torch_layout, r"Wh is used transposed"),
    (
        ex.check_rnn_step_forward,
        rnn_step_transposed_output,
        r"h has shape \(4, 3\); expected \(N, H\) = \(3, 4\) \(transposed\?\)",
    ),
    (ex.check_rnn_step_forward, raises_inside, r"your function raised ValueError: matmul"),
    (ex.check_rnn_forward, rnn_forward_time_first, r"h has shape \(5, 2, 3\); .*\(time first\?"),
    (ex.check_rnn_forward, rnn_forward_final_state_only, r"h has shape \(2, 3\); .*only the final state"),
    (ex.check_rnn_forward, rnn_forward_from_zeros, r"h0 is ignored"),
    (
        ex.check_rnn_step_backward,
        step_backward_h_for_h_prev,
        r"dWh differs from the reference \(relative error [0-9.]+\); dx, dh_prev, dWx and db are "
        r"correct\. dWh uses h instead of h_prev",
    ),
    (ex.check_rnn_step_backward, step_backward_no_tanh_derivative, r"The tanh derivative is missing"),
    (
        ex.check_rnn_step_backward,
        step_backward_db_not_summed,
        r"db has shape \(3, 4\); expected \(H,\) = \(4,\) \(not summed over the batch axis",
    ),
    (
        ex.check_rnn_step_backward,
        step_backward_dx_doubled,
        r"dx differs from the reference \(relative error 0\.33\); dh_prev, dWx, dWh and db are correct\. "
        r"With da = dh \* \(1 - h\*\*2\): dx = da @ Wx\.T",
    ),
    (ex.check_rnn_step_backward, step_backward_in_place, r"modified its input cache in place"),
    (ex.check_rnn_step_backward, returns_three, r"returned 3 values; expected 5: dx, dh_prev, dWx, dWh, db"),
    (ex.check_rnn_backward, backward_without_carry, r"The carried gradient is not added"),
    (ex.check_rnn_backward, backward_without_accumulation, r"weight gradients are not accumulated"),
    (ex.check_clip_by_norm, clip_each_separately, r"Each array is clipped by its own norm"),
    (ex.check_clip_by_norm, clip_in_place, r"modified its input grads in place"),
    (ex.check_clip_by_norm, clip_by_value, r"clipped by value"),
    (ex.check_step_jacobian, jacobian_transposed, r"J differs .*Your matrix is transposed"),
    (ex.check_step_jacobian, jacobian_untransposed_wh, r"Wh is not transposed"),
    (ex.check_lstm_step_forward, lstm_ifog, r"The gates are read in the order i, f, o, g; .* i, f, g, o"),
    (
        ex.check_lstm_step_forward,
        lstm_no_tanh_on_output,
        r"h differs .*; c is correct\. The output is o \* c",
    ),
    (ex.check_lstm_step_forward, lstm_returns_c_h, r"h and c are returned in the wrong order"),
    (ex.check_lstm_step_forward, lstm_returns_h_twice, r"c differs .*; h is correct\. h is returned twice"),
    (ex.check_gru_step_forward, gru_chung_interpolation, r"interpolation is reversed"),
    (ex.check_gru_step_forward, gru_cho_reset, r"reset gate is applied before the matrix product"),
    (ex.check_gru_step_forward, gru_zrn, r"The gates are read in the order z, r, n"),
    (
        ex.check_num_parameters,
        count_every_layer_reads_d,
        r"your count is 300; torch.nn has 330\. Every layer is counted with D inputs",
    ),
    (ex.check_num_parameters, count_one_direction, r"Only one direction is counted"),
    (ex.check_num_parameters, count_as_float, r"your function returned a float; expected an int"),
    (
        ex.check_rnn_forward_lengths,
        rnn_lengths_ignored,
        r"h and h_n differ from the reference .*The padded steps are run like real ones",
    ),
    (
        ex.check_rnn_forward_lengths,
        rnn_lengths_last_column,
        r"h_n differs from the reference .*; h is correct\. h_n is taken at the last column",
    ),
    (ex.check_masked_softmax, masked_softmax_large_fill, r"gets equal weights 1/T .*-1e9"),
    (ex.check_masked_softmax, masked_softmax_unguarded, r"p contains NaN .*all masked gives NaN"),
    (ex.check_masked_softmax, masked_softmax_unshifted, r"p contains NaN .*exp overflows for large scores"),
    (ex.check_masked_softmax, masked_softmax_mask_after, r"mask is applied after the softmax"),
    (
        ex.check_beam_step,
        beam_step_own_best,
        r"log_prob and beams differ .*; tokens is correct\. Each hypothesis is extended by its own best token only",
    ),
    (
        ex.check_beam_step,
        beam_step_split_wrong,
        r"beams and tokens differ .*; log_prob is correct\. The flat index .* is split the wrong way",
    ),
]


@pytest.mark.parametrize("check, wrong, fault", WRONG, ids=lambda v: v.__name__ if callable(v) else "")
def test_wrong_implementation_is_reported_with_its_fault(check, wrong, fault):
    with pytest.raises(ex.ExerciseError) as info:
        check(wrong)
    message = str(info.value)
    assert message.startswith(f"✗ {check.__name__}: ")
    assert re.search(fault, message), message
    assert re.search(r"\[case [^\]]+=", message), "the message says which case failed"


def test_every_exercise_has_a_wrong_implementation_here():
    wrong = {check for check, _, _ in WRONG} | {check for check, _, _ in REAL_MISTAKES}
    assert {check for check, _ in SOLUTIONS} == wrong


def test_an_exception_in_the_readers_code_is_chained():
    with pytest.raises(ex.ExerciseError) as info:
        ex.check_rnn_step_forward(raises_inside)
    assert isinstance(info.value.__cause__, ValueError)
    assert isinstance(info.value, AssertionError)


def test_non_finite_output_is_reported():
    with pytest.raises(ex.ExerciseError, match="h contains NaN or infinite values"):
        ex.check_rnn_step_forward(lambda x, h_prev, Wx, Wh, b: np.full((x.shape[0], Wh.shape[0]), np.nan))


def test_a_non_function_is_refused():
    with pytest.raises(TypeError, match="check_gru_step_forward: expected your function, got ndarray"):
        ex.check_gru_step_forward(np.zeros(3))


# --------------------------------------------------------------------------------------------------
# Chapters 1-3: every known mistake, made by a real wrong implementation, is reported with its own
# message. The first case of every check that multiplies by Wx or Wh is square (D = H), so that a
# swapped or untransposed weight reaches the comparison instead of failing on its shape.


def window_one_step_early(x, width):
    N, T, D = x.shape
    padded = np.concatenate([np.zeros((N, width, D)), x], axis=1)  # one zero too many
    return np.concatenate([padded[:, k : k + T] for k in range(width)], axis=2)


def window_grouped_by_feature(x, width):
    N, T, D = x.shape
    padded = np.concatenate([np.zeros((N, width - 1, D)), x], axis=1)
    return np.stack([padded[:, k : k + T] for k in range(width)], axis=3).reshape(N, T, D * width)


def linear_read_before_update(x, h0, A, B, C):
    h, ys = h0, []
    for t in range(x.shape[1]):
        ys.append(h @ C)
        h = h @ A + x[:, t] @ B
    return np.stack(ys, axis=1)


def linear_from_zeros(x, h0, A, B, C):
    return my_linear_recurrence(x, np.zeros_like(h0), A, B, C)


def linear_not_carried(x, h0, A, B, C):
    return np.stack([(h0 @ A + x[:, t] @ B) @ C for t in range(x.shape[1])], axis=1)


def rnn_step_no_tanh(x, h_prev, Wx, Wh, b):
    return x @ Wx + h_prev @ Wh + b


def rnn_step_sigmoid(x, h_prev, Wx, Wh, b):
    return 1 / (1 + np.exp(-(x @ Wx + h_prev @ Wh + b)))


def rnn_step_relu(x, h_prev, Wx, Wh, b):
    return np.maximum(x @ Wx + h_prev @ Wh + b, 0)


def rnn_step_without_h_prev(x, h_prev, Wx, Wh, b):
    return np.tanh(x @ Wx + b)


def rnn_step_weights_swapped(x, h_prev, Wx, Wh, b):
    return np.tanh(x @ Wh + h_prev @ Wx + b)


def rnn_forward_stores_previous(x, h0, Wx, Wh, b):
    h, states = h0, []
    for t in range(x.shape[1]):
        states.append(h)
        h = np.tanh(x[:, t] @ Wx + h @ Wh + b)
    return np.stack(states, axis=1)


def rnn_forward_not_carried(x, h0, Wx, Wh, b):
    return np.stack([np.tanh(x[:, t] @ Wx + h0 @ Wh + b) for t in range(x.shape[1])], axis=1)


def rnn_forward_linear(x, h0, Wx, Wh, b):
    h, states = h0, []
    for t in range(x.shape[1]):
        h = x[:, t] @ Wx + h @ Wh + b
        states.append(h)
    return np.stack(states, axis=1)


def _step_backward_with(da, cache, Wx=None, Wh=None, h_for_dWh=None, db=None):
    Wx = cache.Wx.T if Wx is None else Wx
    Wh = cache.Wh.T if Wh is None else Wh
    h_for_dWh = cache.h_prev if h_for_dWh is None else h_for_dWh
    db = da.sum(axis=0) if db is None else db
    return da @ Wx, da @ Wh, cache.x.T @ da, h_for_dWh.T @ da, db


def step_backward_derivative_at_h_prev(dh, cache):
    return _step_backward_with(dh * (1 - cache.h_prev**2), cache)


def step_backward_tanh_twice(dh, cache):
    return _step_backward_with(dh * (1 - np.tanh(cache.h) ** 2), cache)


def step_backward_wh_untransposed(dh, cache):
    return _step_backward_with(dh * (1 - cache.h**2), cache, Wh=cache.Wh)


def step_backward_wx_untransposed(dh, cache):
    return _step_backward_with(dh * (1 - cache.h**2), cache, Wx=cache.Wx)


def step_backward_db_averaged(dh, cache):
    da = dh * (1 - cache.h**2)
    return _step_backward_with(da, cache, db=da.mean(axis=0))


def backward_forward_in_time(dh, cache):
    N, T, H = dh.shape
    dx = np.zeros_like(cache.x)
    dWx, dWh, db = np.zeros_like(cache.Wx), np.zeros_like(cache.Wh), np.zeros(H)
    dh_next = np.zeros((N, H))
    for t in range(T):  # the wrong direction
        h_prev = cache.h[:, t - 1] if t > 0 else cache.h0
        da = (dh[:, t] + dh_next) * (1 - cache.h[:, t] ** 2)
        dx[:, t], dh_next = da @ cache.Wx.T, da @ cache.Wh.T
        dWx += cache.x[:, t].T @ da
        dWh += h_prev.T @ da
        db += da.sum(axis=0)
    return dx, dh_next, dWx, dWh, db


def _leaky(x, h0, Wx, Wh, b, keep, take, squash=False):
    h, states = h0, []
    for t in range(x.shape[1]):
        a = x[:, t] @ Wx + h @ Wh + b
        h = np.tanh(keep * h + take * a) if squash else keep * h + take * np.tanh(a)
        states.append(h)
    return np.stack(states, axis=1)


def leaky_alpha_exchanged(x, h0, Wx, Wh, b, alpha):
    return _leaky(x, h0, Wx, Wh, b, alpha, 1 - alpha)


def leaky_alpha_ignored(x, h0, Wx, Wh, b, alpha):
    return my_rnn_forward(x, h0, Wx, Wh, b)


def leaky_tanh_of_mixture(x, h0, Wx, Wh, b, alpha):
    return _leaky(x, h0, Wx, Wh, b, 1 - alpha, alpha, squash=True)


def leaky_from_zeros(x, h0, Wx, Wh, b, alpha):
    return my_leaky_rnn_forward(x, np.zeros_like(h0), Wx, Wh, b, alpha)


def _cross_entropy(logits, targets, mask, divide_by=None, mask_grad=True, sign=1.0, grad_divisor=None):
    z = logits - logits.max(axis=-1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    onehot = np.eye(logits.shape[-1])[targets]
    M = mask.sum() if divide_by is None else divide_by
    loss = -(log_p * onehot).sum(axis=-1)[mask].sum() / M
    dlogits = sign * (np.exp(log_p) - onehot) / (M if grad_divisor is None else grad_divisor)
    return loss, dlogits * mask[..., None] if mask_grad else dlogits


def ce_mask_ignored(logits, targets, mask):
    return my_masked_cross_entropy(logits, targets, np.ones_like(mask))


def ce_mean_over_all_positions(logits, targets, mask):
    return _cross_entropy(logits, targets, mask, divide_by=mask.size)


def ce_gradient_at_padding(logits, targets, mask):
    return _cross_entropy(logits, targets, mask, mask_grad=False)


def ce_gradient_not_averaged(logits, targets, mask):
    return _cross_entropy(logits, targets, mask, grad_divisor=1)


def ce_loss_summed(logits, targets, mask):
    loss, dlogits = my_masked_cross_entropy(logits, targets, mask)
    return loss * mask.sum(), dlogits


def ce_gradient_sign(logits, targets, mask):
    return _cross_entropy(logits, targets, mask, sign=-1.0)


def ce_unshifted(logits, targets, mask):
    p = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)  # overflows for large logits
    onehot = np.eye(logits.shape[-1])[targets]
    M = mask.sum()
    return -np.log((p * onehot).sum(axis=-1))[mask].sum() / M, (p - onehot) * mask[..., None] / M


def ratio_chunks_from_the_end(T, k):
    return min(k, T - 1) / (T - 1)


def ratio_k_over_t_minus_1(T, k):
    return k / (T - 1)


def ratio_t_terms(T, k):
    return 1.0 if k >= T else (T - k * ((T - 1) // k)) / T


def ratio_inverted(T, k):
    return 1 / my_truncation_ratio(T, k)


# (check, wrong implementation, index of the known mistake it makes in the check's _Exercise)
REAL_MISTAKES = [
    (ex.check_window_features, window_newest_first, 0),
    (ex.check_window_features, window_with_roll, 1),
    (ex.check_window_features, window_one_step_early, 2),
    (ex.check_window_features, window_grouped_by_feature, 3),
    (ex.check_linear_recurrence, linear_read_before_update, 0),
    (ex.check_linear_recurrence, linear_from_zeros, 1),
    (ex.check_linear_recurrence, linear_column_style, 2),
    (ex.check_linear_recurrence, linear_not_carried, 3),
    (ex.check_rnn_step_forward, rnn_step_no_tanh, 0),
    (ex.check_rnn_step_forward, rnn_step_sigmoid, 1),
    (ex.check_rnn_step_forward, rnn_step_relu, 2),
    (ex.check_rnn_step_forward, rnn_step_without_bias, 3),
    (ex.check_rnn_step_forward, rnn_step_without_h_prev, 4),
    (ex.check_rnn_step_forward, rnn_step_torch_layout, 5),
    (ex.check_rnn_step_forward, rnn_step_weights_swapped, 6),
    (ex.check_rnn_forward, rnn_forward_from_zeros, 0),
    (ex.check_rnn_forward, rnn_forward_stores_previous, 1),
    (ex.check_rnn_forward, rnn_forward_not_carried, 2),
    (ex.check_rnn_forward, rnn_forward_linear, 3),
    (ex.check_rnn_step_backward, step_backward_no_tanh_derivative, 0),
    (ex.check_rnn_step_backward, step_backward_derivative_at_h_prev, 1),
    (ex.check_rnn_step_backward, step_backward_tanh_twice, 2),
    (ex.check_rnn_step_backward, step_backward_h_for_h_prev, 3),
    (ex.check_rnn_step_backward, step_backward_wh_untransposed, 4),
    (ex.check_rnn_step_backward, step_backward_wx_untransposed, 5),
    (ex.check_rnn_step_backward, step_backward_db_averaged, 6),
    (ex.check_rnn_backward, backward_without_carry, 0),
    (ex.check_rnn_backward, backward_without_accumulation, 1),
    (ex.check_rnn_backward, backward_forward_in_time, 2),
    (ch02_hidden_state.check_leaky_rnn_forward, leaky_alpha_exchanged, 0),
    (ch02_hidden_state.check_leaky_rnn_forward, leaky_alpha_ignored, 1),
    (ch02_hidden_state.check_leaky_rnn_forward, leaky_tanh_of_mixture, 2),
    (ch02_hidden_state.check_leaky_rnn_forward, leaky_from_zeros, 3),
    (ch03_bptt.check_masked_cross_entropy, ce_mask_ignored, 0),
    (ch03_bptt.check_masked_cross_entropy, ce_mean_over_all_positions, 1),
    (ch03_bptt.check_masked_cross_entropy, ce_gradient_at_padding, 2),
    (ch03_bptt.check_masked_cross_entropy, ce_gradient_not_averaged, 3),
    (ch03_bptt.check_masked_cross_entropy, ce_loss_summed, 4),
    (ch03_bptt.check_masked_cross_entropy, ce_gradient_sign, 5),
    (ch03_bptt.check_truncation_ratio, ratio_chunks_from_the_end, 0),
    (ch03_bptt.check_truncation_ratio, ratio_k_over_t_minus_1, 1),
    (ch03_bptt.check_truncation_ratio, ratio_t_terms, 2),
    (ch03_bptt.check_truncation_ratio, ratio_inverted, 3),
]
EXERCISES_1_TO_3 = {
    ex.check_window_features: ch01_sequences._WINDOW,
    ex.check_linear_recurrence: ch01_sequences._LINEAR,
    ex.check_rnn_step_forward: ch02_hidden_state._RNN_STEP,
    ex.check_rnn_forward: ch02_hidden_state._RNN_SEQ,
    ch02_hidden_state.check_leaky_rnn_forward: ch02_hidden_state._LEAKY,
    ex.check_rnn_step_backward: ch03_bptt._RNN_STEP_BACKWARD,
    ex.check_rnn_backward: ch03_bptt._RNN_BACKWARD,
    ch03_bptt.check_masked_cross_entropy: ch03_bptt._CE,
    ch03_bptt.check_truncation_ratio: ch03_bptt._RATIO,
}


@pytest.mark.parametrize("check, wrong, k", REAL_MISTAKES, ids=lambda v: getattr(v, "__name__", str(v)))
def test_chapters_1_to_3_each_mistake_is_reported_for_a_real_implementation(check, wrong, k):
    mistakes = EXERCISES_1_TO_3[check].mistakes
    with pytest.raises(ex.ExerciseError) as info:
        check(wrong)
    message = str(info.value)
    assert mistakes[k].says in message, message
    assert all(m.says not in message for j, m in enumerate(mistakes) if j != k), message


def test_chapters_1_to_3_every_known_mistake_has_a_real_implementation():
    assert set(EXERCISES_1_TO_3) | {ch01_sequences.check_difference_weights} == {
        getattr(module, name) for module in CHAPTERS_1_TO_3 for name in module.__all__
    }
    for check, exercise in EXERCISES_1_TO_3.items():
        covered = {k for c, _, k in REAL_MISTAKES if c is check}
        assert covered == set(range(len(exercise.mistakes))), check.__name__
        assert len(covered) >= 2, f"{check.__name__}: at least two plausible wrong answers"


def test_an_overflowing_cross_entropy_is_told_to_shift_the_logits():
    with pytest.raises(
        ex.ExerciseError,
        match=r"contains NaN or infinite values \(exp overflows .*subtract each row's largest logit",
    ):
        ch03_bptt.check_masked_cross_entropy(ce_unshifted)


def test_truncation_ratio_reference_is_what_truncated_bptt_computes():
    """For a tiny pulse the tanh RNN is linear; its truncated and full dWh have the reference ratio."""
    from companion.ref.tbptt import truncated_rnn_backward

    w = 0.9
    for case in ch03_bptt._ratio_cases():
        T, k = case["T"], case["k"]
        x = np.zeros((1, T, 1))
        x[0, 0, 0] = 1e-6  # the pulse x_1
        _, cache = ref_rnn.rnn_forward(x, np.zeros((1, 1)), np.ones((1, 1)), np.full((1, 1), w), np.zeros(1))
        dh = np.zeros((1, T, 1))
        dh[0, -1, 0] = 1.0  # the loss is h_T
        full = ref_rnn.rnn_backward(dh, cache)[3]
        truncated = truncated_rnn_backward(dh, cache, k)[3]
        want = ch03_bptt._ratio(case)["ratio"]
        assert np.isclose(truncated[0, 0] / full[0, 0], want, rtol=1e-9), (T, k)
        assert np.isclose(full[0, 0], 1e-6 * (T - 1) * w ** (T - 2), rtol=1e-9)


def test_truncation_ratio_accepts_a_plain_number_and_refuses_two():
    assert isinstance(ch03_bptt.check_truncation_ratio(my_truncation_ratio), ex.CheckPassed)  # a float
    with pytest.raises(ex.ExerciseError, match=r"returned 2 values; expected 1: ratio \[case T=7, k=10\]"):
        ch03_bptt.check_truncation_ratio(lambda T, k: (my_truncation_ratio(T, k), k))


# Weights by hand for y_t = x_t - x_{t-2}: the solution, and wrong weights with what each is told.


def _shift(H):
    return np.eye(H, k=1)  # (H, H): slot i moves to slot i + 1


def _ones_at(H, *slots, signs=None):
    C = np.zeros((H, 1))
    for slot, sign in zip(slots, signs or [1.0] * len(slots), strict=True):
        C[slot, 0] = sign
    return C


WRONG_WEIGHTS = [
    ((_shift(3), np.eye(1, 3), _ones_at(3, 0, 2, signs=[-1.0, 1.0])), r"The sign is reversed"),
    ((_shift(3), np.eye(1, 3), _ones_at(3, 0, 2)), r"x_\{t-2\} is added; the task subtracts it"),
    ((_shift(2), np.eye(1, 2), _ones_at(2, 0, 1, signs=[1.0, -1.0])), r"reach back two steps, not one"),
    ((_shift(4), np.eye(1, 4), _ones_at(4, 0, 3, signs=[1.0, -1.0])), r"one step too far"),
    ((_shift(3), np.eye(1, 3), _ones_at(3, 2, signs=[-1.0])), r"x_t is missing"),
    ((_shift(3), np.eye(1, 3), _ones_at(3, 0)), r"Only x_t is read"),
    ((np.eye(3, k=-1), np.eye(1, 3), my_difference_weights()[2]), r"A is written for column vectors"),
    ((_shift(3), np.eye(1, 3).T, my_difference_weights()[2]), r"B has shape \(3, 1\); .*\(transposed\?"),
    ((_shift(3), np.eye(1, 3), my_difference_weights()[2].T), r"C has shape \(1, 3\); .*\(transposed\?"),
    ((_shift(3) * 0.5, np.eye(1, 3), my_difference_weights()[2]), r"give y_t = 1·x_t -0\.25·x_\{t-2\}\. The"),
    ((np.ones((3, 2)), np.eye(1, 3), my_difference_weights()[2]), r"A has shape \(3, 2\); expected a square"),
]


def test_difference_weights_solution_passes():
    report = ch01_sequences.check_difference_weights(*my_difference_weights())
    assert repr(report) == "✓ check_difference_weights: all checks passed (3 cases)"
    A, B, C = my_difference_weights()
    P = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))[0]  # any change of basis works too
    assert isinstance(ch01_sequences.check_difference_weights(P.T @ A @ P, B @ P, P.T @ C), ex.CheckPassed)


@pytest.mark.parametrize("weights, fault", WRONG_WEIGHTS, ids=[w[1][:30] for w in WRONG_WEIGHTS])
def test_wrong_difference_weights_are_reported_with_their_fault(weights, fault):
    with pytest.raises(ex.ExerciseError) as info:
        ch01_sequences.check_difference_weights(*weights)
    assert re.search(fault, str(info.value)), str(info.value)
    assert str(info.value).startswith("✗ check_difference_weights: ")


def test_every_difference_mistake_has_wrong_weights():
    for _, says in ch01_sequences._DIFFERENCE_MISTAKES:
        assert any(re.search(fault, says) for _, fault in WRONG_WEIGHTS), says


def test_running_sum_window_error_formula_matches_least_squares():
    """Chapter 1's exercise: the best window model's error on the running sum of i.i.d. inputs."""
    from companion.data.tasks import sum_task
    from companion.ref import window

    T = 32
    x, _ = sum_task(4000, T, rng=11)
    y = np.cumsum(x, axis=1)  # (N, T, 1)
    for w in (1, 4, 16, 31):
        mse, _ = window.fit_window_model(x, y, w)
        predicted = my_running_sum_window_mse(T, w, float(np.var(x)))
        assert abs(mse - predicted) < 0.1 * predicted, (w, mse, predicted)  # sd about 2% at N = 4000


# --------------------------------------------------------------------------------------------------
# Every known mistake can be told apart: a function that makes exactly that mistake gets exactly
# that message (this also proves that each mistake differs from the reference on some case).

EXERCISES = [
    (ex.check_window_features, ch01_sequences._WINDOW, ch01_sequences._window_cases, ("x", "width")),
    (
        ex.check_linear_recurrence,
        ch01_sequences._LINEAR,
        ch01_sequences._linear_cases,
        ("x", "h0", "A", "B", "C"),
    ),
    (
        ex.check_rnn_step_forward,
        ch02_hidden_state._RNN_STEP,
        ch02_hidden_state._rnn_step_cases,
        ("x", "h_prev", "Wx", "Wh", "b"),
    ),
    (
        ex.check_rnn_forward,
        ch02_hidden_state._RNN_SEQ,
        ch02_hidden_state._rnn_seq_cases,
        ("x", "h0", "Wx", "Wh", "b"),
    ),
    (
        ex.check_rnn_step_backward,
        ch03_bptt._RNN_STEP_BACKWARD,
        ch03_bptt._rnn_step_backward_cases,
        ("dh", "cache"),
    ),
    (ex.check_rnn_backward, ch03_bptt._RNN_BACKWARD, ch03_bptt._rnn_backward_cases, ("dh", "cache")),
    (ex.check_clip_by_norm, ch04_gradients._CLIP, ch04_gradients._clip_cases, ("grads", "max_norm")),
    (
        ex.check_step_jacobian,
        ch04_gradients._JACOBIAN,
        ch04_gradients._jacobian_cases,
        ("x", "h_prev", "Wx", "Wh", "b"),
    ),
    (
        ex.check_lstm_step_forward,
        ch05_lstm._LSTM_STEP,
        lambda: ch05_lstm._gated_cases(501, 4, False),
        ("x", "h_prev", "c_prev", "Wx", "Wh", "b"),
    ),
    (
        ex.check_gru_step_forward,
        ch06_gru._GRU_STEP,
        lambda: ch05_lstm._gated_cases(601, 3, True),
        ("x", "h_prev", "Wx", "Wh", "bx", "bh"),
    ),
    (
        ex.check_rnn_forward_lengths,
        ch07_deep._LENGTHS,
        ch07_deep._lengths_cases,
        ("x", "h0", "Wx", "Wh", "b", "lengths"),
    ),
    (
        ex.check_masked_softmax,
        ch08_attention._MASKED_SOFTMAX,
        ch08_attention._masked_softmax_cases,
        ("scores", "mask"),
    ),
    (
        ex.check_beam_step,
        ch08_attention._BEAM_STEP,
        ch08_attention._beam_cases,
        ("log_prob", "log_probs", "beam_size"),
    ),
]

MISTAKES = [
    (check, exercise, cases, args, k)
    for check, exercise, cases, args in EXERCISES
    for k in range(len(exercise.mistakes))
]


def imitate(exercise, cases, args, mistake):
    """A function that returns what ``mistake`` computes, for the inputs of any case."""
    known = cases()

    def fn(*values):
        case = next(
            c for c in known if all(_engine._same(c[a], v) for a, v in zip(args, values, strict=True))
        )
        outputs = {**exercise.reference(case), **mistake.outputs(case)}
        names = case.get("_outputs", exercise.outputs)
        result = [outputs[n] for n in names]
        return result[0] if len(names) == 1 and not exercise.extra_ok and not case.get("_outputs") else result

    return fn


@pytest.mark.parametrize(
    "check, exercise, cases, args, k", MISTAKES, ids=[f"{m[0].__name__}-{m[4]}" for m in MISTAKES]
)
def test_each_known_mistake_is_recognised(check, exercise, cases, args, k):
    mistake = exercise.mistakes[k]
    with pytest.raises(ex.ExerciseError) as info:
        check(imitate(exercise, cases, args, mistake))
    assert mistake.says in str(info.value)


def test_gate_order_detection_covers_every_permutation():
    lstm_orders = [m for m in ch05_lstm._LSTM_STEP.mistakes if "gates are read in the order" in m.says]
    gru_orders = [m for m in ch06_gru._GRU_STEP.mistakes if "gates are read in the order" in m.says]
    assert len(lstm_orders) == 23 and len(gru_orders) == 5


def test_a_check_gives_the_same_verdict_every_time():
    messages = set()
    for _ in range(2):
        with pytest.raises(ex.ExerciseError) as info:
            ex.check_rnn_step_backward(step_backward_dx_doubled)
        messages.add(str(info.value))
    assert len(messages) == 1


# The solution functions each chapter hides under its exercises: a notebook that renames or drops
# one, or defines one that differs from the tested function, fails.
NOTEBOOK_SOLUTIONS = {
    "01-sequences.ipynb": {
        "my_window_features",
        "my_linear_recurrence",
        "my_difference_weights",
        "my_running_sum_window_mse",
    },
    "02-hidden-state.ipynb": {"my_rnn_forward", "my_leaky_rnn_forward"},
    "03-bptt.ipynb": {"my_rnn_backward", "my_masked_cross_entropy", "my_truncation_ratio"},
    "04-gradients.ipynb": {"my_clip_by_norm", "my_step_jacobian"},
    "05-lstm.ipynb": {"my_lstm_step_forward"},
    "06-gru.ipynb": {"my_gru_step_forward"},
    "07-deep-bidirectional.ipynb": {"my_num_parameters", "my_rnn_forward_lengths"},
    "08-attention-seq2seq.ipynb": {"my_masked_softmax", "my_beam_step"},
    "09-language-models.ipynb": {"my_bits_and_perplexity", "my_sampling_distribution"},
    "10-music.ipynb": {"my_piano_roll", "my_bits_per_pitch"},
    "13-beyond-recurrence.ipynb": {"my_causal_self_attention", "my_linear_scan"},
}


EXACT_SOLUTIONS = {"01-sequences.ipynb", "02-hidden-state.ipynb", "03-bptt.ipynb"}


def notebook_functions(path: Path) -> dict:
    """The functions defined at the top level of a notebook's code cells, by name, as unparsed source."""
    found = {}
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        tree = ast.parse(  # an IPython magic line (%pip, !cmd) parses as a `pass` at its indentation
            "".join(
                line[: len(line) - len(line.lstrip())] + "pass\n"
                if line.lstrip().startswith(("%", "!"))
                else line
                for line in cell["source"]
            )
        )
        found.update(
            {node.name: ast.unparse(node) for node in tree.body if isinstance(node, ast.FunctionDef)}
        )
    return found


def assert_notebook_solutions(book: Path) -> None:
    """Each chapter in ``book`` defines exactly the solutions listed for it, each the one tested here."""
    tested = {
        name: ast.unparse(ast.parse(inspect.getsource(fn)))
        for name, fn in globals().items()
        if name.startswith("my_")
    }
    assert set().union(*NOTEBOOK_SOLUTIONS.values()) <= set(tested)
    for name, expected in NOTEBOOK_SOLUTIONS.items():
        defined = notebook_functions(book / name)
        solutions = {f for f in defined if f.startswith("my_")}
        if name in EXACT_SOLUTIONS:  # other chapters may add solutions that their own test files test
            assert solutions == expected, f"{name}: defines {sorted(solutions)}, expected {sorted(expected)}"
        assert expected <= solutions, f"{name}: defines {sorted(solutions)}, expected {sorted(expected)}"
        for function in expected:
            assert defined[function] == tested[function], (
                f"{name}: {function} differs from the tested solution"
            )


BOOK = Path(__file__).resolve().parents[2] / "book"


def test_notebook_solutions_are_the_tested_ones():
    assert_notebook_solutions(BOOK)


@pytest.mark.parametrize("change", ["rename", "remove", "alter"])
def test_notebook_solution_check_notices_a_changed_solution(tmp_path, change):
    for name in NOTEBOOK_SOLUTIONS:
        (tmp_path / name).write_text((BOOK / name).read_text())
    notebook = json.loads((BOOK / "03-bptt.ipynb").read_text())
    for cell in notebook["cells"]:
        if any("def my_truncation_ratio" in line for line in cell["source"]):
            if change == "rename":
                cell["source"] = [line.replace("my_truncation_ratio", "my_ratio") for line in cell["source"]]
            elif change == "remove":
                cell["source"] = ["check_truncation_ratio(lambda T, k: 1.0)\n"]
            else:
                cell["source"] = [line.replace("(T - 1) // k", "T // k") for line in cell["source"]]
    (tmp_path / "03-bptt.ipynb").write_text(json.dumps(notebook))
    with pytest.raises(AssertionError, match="03-bptt.ipynb: "):
        assert_notebook_solutions(tmp_path)


# --------------------------------------------------------------------------------------------------
# Chapter 7's parameter count: the reference is torch.nn's, and each known mistake has its message.


@pytest.mark.parametrize(
    "mode, num_layers, bidirectional, proj_size",
    [(m, 1, False, 0) for m in ("RNN", "GRU", "LSTM")]
    + [(m, 2, True, 0) for m in ("RNN", "GRU", "LSTM")]
    + [("LSTM", 3, True, 2), ("LSTM", 2, False, 4)],
)
def test_parameter_count_reference_is_torchs(mode, num_layers, bidirectional, proj_size):
    torch = pytest.importorskip("torch")
    kwargs = {"proj_size": proj_size} if proj_size else {}
    layer = getattr(torch.nn, mode)(3, 5, num_layers, bidirectional=bidirectional, **kwargs)
    case = {
        "mode": mode,
        "input_size": 3,
        "hidden_size": 5,
        "num_layers": num_layers,
        "bidirectional": bidirectional,
        "proj_size": proj_size,
    }
    assert ch07_deep._count(case) == sum(p.numel() for p in layer.parameters())


@pytest.mark.parametrize("k", range(len(ch07_deep._COUNT_MISTAKES)))
def test_each_parameter_count_mistake_is_recognised(k):
    mistake = ch07_deep._COUNT_MISTAKES[k]
    cases = ch07_deep._COUNT_CASES
    keys = ("mode", "input_size", "hidden_size", "num_layers", "bidirectional", "proj_size")

    def fn(*values):
        return mistake.outputs(next(c for c in cases if tuple(c[key] for key in keys) == values))

    with pytest.raises(ex.ExerciseError) as info:
        ex.check_num_parameters(fn)
    assert mistake.says in str(info.value)


# --------------------------------------------------------------------------------------------------
# Chapter 8: the masked-softmax reference agrees with torch, the beam step with the package's search.


def test_masked_softmax_reference_is_the_torch_modules():
    torch = pytest.importorskip("torch")
    from companion.nn.attention import masked_softmax

    for case in ch08_attention._masked_softmax_cases():
        want = masked_softmax(torch.tensor(case["scores"]), torch.tensor(case["mask"])).numpy()
        np.testing.assert_allclose(ch08_attention._reference_softmax(case)["p"], want, rtol=1e-12, atol=0)


def test_beam_step_reference_is_the_second_step_of_the_package_beam_search():
    """Two steps of companion.nn.search.beam_search on a hand-set table: after the first, the k kept
    hypotheses are live; the second step must be what the reference computes from them."""
    torch = pytest.importorskip("torch")
    from companion.nn.search import beam_search

    rng = np.random.default_rng(0)
    V, k = 6, 3
    first = np.log(rng.dirichlet(np.ones(V)))  # (V,): log p(y_1)
    second = np.log(rng.dirichlet(np.ones(V), size=V))  # (V, V): log p(y_2 | y_1)

    def step(tokens, state):  # state (B,): the number of tokens read so far
        table = torch.tensor(second)[tokens] if int(state[0]) else torch.tensor(first).expand(len(tokens), V)
        return table, state + 1, None

    beam = beam_search(step, torch.zeros(1, dtype=torch.int64), 1, beam_size=k, sos=0, eos=V, max_len=2)
    y1 = np.argsort(-first)[:k]  # the first step keeps the k best first tokens
    case = {"log_prob": first[y1], "log_probs": second[y1], "beam_size": k}
    want = ch08_attention._reference_beam(case)
    np.testing.assert_allclose(beam.log_probs[0].numpy(), want["log_prob"], rtol=1e-12)
    assert beam.tokens[0, :, 0].tolist() == y1[want["beams"]].tolist()
    assert beam.tokens[0, :, 1].tolist() == want["tokens"].tolist()


# --------------------------------------------------------------------------------------------------
# Chapter 13: causal multi-head self-attention and a scan in log space.

from companion.exercises import ch13_beyond  # noqa: E402


def my_causal_self_attention(x, Wq, Wk, Wv, num_heads):
    N, T, E = x.shape
    d = E // num_heads
    q, k, v = (
        (x @ W).reshape(N, T, num_heads, d).transpose(0, 2, 1, 3) for W in (Wq, Wk, Wv)
    )  # (N, h, T, d)
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d)  # (N, h, T, T)
    scores = np.where(np.tril(np.ones((T, T), dtype=bool)), scores, -np.inf)  # key s <= query t
    p = np.exp(scores - scores.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    return (p @ v).transpose(0, 2, 1, 3).reshape(N, T, E)  # heads side by side


def my_linear_scan(log_a, b, h0):
    alpha = np.cumsum(log_a, axis=1)  # (N, T, H): log a_1 + ... + log a_t
    alpha = np.concatenate([np.zeros_like(h0)[:, None], alpha], axis=1)  # (N, T + 1, H), alpha_0 = 0
    terms = np.concatenate([h0[:, None], b], axis=1)  # (N, T + 1, H): h0, b_1, ..., b_T
    h = 0.0
    for sign in (1.0, -1.0):  # the positive and the negative parts, each summed in log space
        with np.errstate(divide="ignore"):
            log_part = np.log(np.maximum(sign * terms, 0.0))  # -inf where the part is 0
        h = h + sign * np.exp(alpha + np.logaddexp.accumulate(log_part - alpha, axis=1))
    return h[:, 1:]


CH13_SOLUTIONS = [
    (ex.check_causal_self_attention, my_causal_self_attention),
    (ex.check_linear_scan, my_linear_scan),
]
SOLUTIONS.extend(CH13_SOLUTIONS)  # the SOLUTIONS tests above read the list at collection


def attention_scaled_by_E(x, Wq, Wk, Wv, num_heads):
    return (
        my_causal_self_attention(x, Wq, Wk, Wv, 1) if num_heads == 1 else _rescaled(x, Wq, Wk, Wv, num_heads)
    )


def _rescaled(x, Wq, Wk, Wv, num_heads):
    E = x.shape[2]
    factor = np.sqrt(np.sqrt(E // num_heads) / np.sqrt(E))  # q k^T / sqrt(E) = (c q)(c k)^T / sqrt(d)
    return my_causal_self_attention(x, Wq * factor, Wk * factor, Wv, num_heads)


def attention_mask_flipped(x, Wq, Wk, Wv, num_heads):
    return my_causal_self_attention(x[:, ::-1], Wq, Wk, Wv, num_heads)[:, ::-1]


def attention_one_head(x, Wq, Wk, Wv, num_heads):
    E = x.shape[2]
    factor = np.sqrt(np.sqrt(E) / np.sqrt(E // num_heads))  # keep the per-head scale sqrt(d)
    return my_causal_self_attention(x, Wq * factor, Wk * factor, Wv, 1)


def scan_closed_form(log_a, b, h0):
    A = np.exp(np.cumsum(log_a, axis=1))  # underflows to 0 on a long sequence
    return A * (h0[:, None] + np.cumsum(b / A, axis=1))


def scan_log_of_b(log_a, b, h0):
    alpha = np.cumsum(log_a, axis=1)
    return np.exp(alpha + np.logaddexp.accumulate(np.log(b) - alpha, axis=1)) + np.exp(alpha) * h0[:, None]


def scan_without_h0(log_a, b, h0):
    return my_linear_scan(log_a, b, np.zeros_like(h0))


def scan_exclusive(log_a, b, h0):
    h = my_linear_scan(log_a, b, h0)
    return np.concatenate([h0[:, None], h[:, :-1]], axis=1)


CH13_WRONG = [
    (ex.check_causal_self_attention, attention_scaled_by_E, r"scaled by 1/sqrt\(E\)"),
    (ex.check_causal_self_attention, attention_mask_flipped, r"mask is the wrong way round"),
    (ex.check_causal_self_attention, attention_one_head, r"One head over all E features"),
    (ex.check_linear_scan, scan_closed_form, r"NaN or infinite .*product of the gates underflows"),
    (ex.check_linear_scan, scan_log_of_b, r"NaN or infinite .*log\(b\) of a negative b"),
    (ex.check_linear_scan, scan_without_h0, r"h0 is left out"),
    (ex.check_linear_scan, scan_exclusive, r"shifted by one step"),
]
WRONG.extend(CH13_WRONG)  # the WRONG tests above read the list at collection


@pytest.mark.parametrize(
    "exercise, cases, args",
    [
        (ch13_beyond._ATTENTION, ch13_beyond._attention_cases, ("x", "Wq", "Wk", "Wv", "num_heads")),
        (ch13_beyond._SCAN, ch13_beyond._scan_cases, ("log_a", "b", "h0")),
    ],
)
def test_chapter_13_every_mistake_differs_from_the_reference(exercise, cases, args):
    for mistake in exercise.mistakes:
        differs = [
            _engine.relative_error(out["y" if "y" in out else "h"], exercise.reference(c)[next(iter(out))])
            > 1e-3
            for c in cases()
            for out in [mistake.outputs(c)]
            if out
        ]
        assert differs and all(differs), mistake.says


def test_chapter_13_references_are_the_torch_modules():
    torch = pytest.importorskip("torch")
    from companion.nn.scan import linear_scan_loop
    from companion.nn.transformer import MultiheadAttention

    for case in ch13_beyond._attention_cases():
        N, T, E = case["x"].shape
        attention = MultiheadAttention(E, case["num_heads"], bias=False, dtype=torch.float64)
        with torch.no_grad():
            attention.in_proj_weight.copy_(
                torch.tensor(np.concatenate([case[w].T for w in ("Wq", "Wk", "Wv")]))
            )
            attention.out_proj.weight.copy_(torch.eye(E, dtype=torch.float64))
        x = torch.tensor(case["x"])
        y, _ = attention(x, x, x, is_causal=True, need_weights=False)
        y = y.detach()
        np.testing.assert_allclose(
            ch13_beyond._reference_attention(case)["y"], y.numpy(), rtol=1e-10, atol=1e-12
        )
    for case in ch13_beyond._scan_cases():
        a, b, h0 = (torch.tensor(v) for v in (np.exp(case["log_a"]), case["b"], case["h0"]))
        np.testing.assert_allclose(
            ch13_beyond._reference_scan(case)["h"], linear_scan_loop(a, b, h0).numpy(), rtol=1e-12
        )


# --------------------------------------------------------------------------------------------------
# Chapter 10: a melody as a piano-roll matrix, and bits per pitch.

from companion.exercises import ch10_music  # noqa: E402


def my_piano_roll(events, low, high, step):
    frames = [round(duration / step) for _, duration in events]  # each event's length in frames
    roll = np.zeros((high - low + 1, sum(frames)))  # (P, T): row 0 is the lowest pitch
    start = 0
    for (pitch, _), length in zip(events, frames, strict=True):
        if pitch is not None:  # a rest leaves its frames empty but still moves time on
            roll[pitch - low, start : start + length] = 1.0
        start += length
    return roll


def my_bits_per_pitch(nll, ids, is_pitch):
    pitch = is_pitch[ids[1:]]  # (L - 1,): nll[t] is the loss of the target ids[t + 1]
    return nll[pitch].mean() / np.log(2), nll.mean() / np.log(2)


CH10_SOLUTIONS = [(ex.check_piano_roll, my_piano_roll), (ex.check_bits_per_pitch, my_bits_per_pitch)]
SOLUTIONS.extend(CH10_SOLUTIONS)  # the SOLUTIONS tests above read the list at collection


@pytest.mark.parametrize("check, solution", CH10_SOLUTIONS, ids=lambda f: f.__name__)
def test_chapter_10_solution_passes_its_check(check, solution):
    report = check(solution)
    assert isinstance(report, ex.CheckPassed) and report.cases == 3


def roll_rests_skipped(events, low, high, step):
    notes = [e for e in events if e[0] is not None]
    roll = my_piano_roll(notes, low, high, step)
    return np.pad(roll, ((0, 0), (0, round(sum(d for _, d in events) / step) - roll.shape[1])))


def roll_end_inclusive(events, low, high, step):
    roll, start = my_piano_roll(events, low, high, step) * 0, 0
    for pitch, duration in events:
        if pitch is not None:
            roll[pitch - low, start : start + round(duration / step) + 1] = 1.0
        start += round(duration / step)
    return roll


def roll_high_pitch_first(events, low, high, step):
    return my_piano_roll(events, low, high, step)[::-1]


def roll_time_by_pitch(events, low, high, step):
    return my_piano_roll(events, low, high, step).T


def roll_only_the_notes(events, low, high, step):
    return my_piano_roll([e for e in events if e[0] is not None], low, high, step)


def bits_at_the_inputs(nll, ids, is_pitch):
    pitch = is_pitch[ids[:-1]]  # the inputs of the losses, not their targets
    return nll[pitch].mean() / np.log(2), nll.mean() / np.log(2)


def bits_in_nats(nll, ids, is_pitch):
    return nll[is_pitch[ids[1:]]].mean(), nll.mean()


def bits_pitch_over_all(nll, ids, is_pitch):
    return nll[is_pitch[ids[1:]]].sum() / len(nll) / np.log(2), nll.mean() / np.log(2)


CH10_WRONG = [
    (ex.check_piano_roll, roll_rests_skipped, r"Rests are skipped without moving time on"),
    (ex.check_piano_roll, roll_end_inclusive, r"one frame too long"),
    (ex.check_piano_roll, roll_high_pitch_first, r"pitch axis is upside down"),
    (ex.check_piano_roll, roll_time_by_pitch, r"roll has shape \(25, 13\); expected .* \(transposed\?\)"),
    (ex.check_piano_roll, roll_only_the_notes, r"roll has shape \(13, 19\); .* rests included"),
    (ex.check_bits_per_pitch, bits_at_the_inputs, r"bits_per_token is correct\. The pitch positions"),
    (ex.check_bits_per_pitch, bits_in_nats, r"The losses are in nats"),
    (ex.check_bits_per_pitch, bits_pitch_over_all, r"divided by the number of all tokens"),
]
WRONG.extend(CH10_WRONG)  # the WRONG tests above read the list at collection


CH10_EXERCISES = [
    (ex.check_piano_roll, ch10_music._PIANO_ROLL, ch10_music._roll_cases, ("events", "low", "high", "step")),
    (ex.check_bits_per_pitch, ch10_music._BITS, ch10_music._bits_cases, ("nll", "ids", "is_pitch")),
]
CH10_MISTAKES = [(*e, k) for e in CH10_EXERCISES for k in range(len(e[1].mistakes))]


@pytest.mark.parametrize(
    "check, exercise, cases, args, k", CH10_MISTAKES, ids=[f"{m[0].__name__}-{m[4]}" for m in CH10_MISTAKES]
)
def test_chapter_10_each_known_mistake_is_recognised(check, exercise, cases, args, k):
    mistake = exercise.mistakes[k]
    with pytest.raises(ex.ExerciseError) as info:
        check(imitate(exercise, cases, args, mistake))
    assert mistake.says in str(info.value)


def test_piano_roll_reference_starts_each_note_at_its_onset():
    from companion.plots.music import onsets

    for case in ch10_music._roll_cases():
        roll = ch10_music._roll(case)["roll"]  # (P, T)
        starts = onsets(case["events"]) / case["step"]
        for (pitch, duration), start in zip(case["events"], starts, strict=True):
            if pitch is not None:
                a, b = round(start), round(start + duration / case["step"])
                assert roll[pitch - case["low"], a:b].all() and roll[:, a:b].sum() == b - a
        assert roll.sum() == sum(d for p, d in case["events"] if p is not None) / case["step"]


# --------------------------------------------------------------------------------------------------
# Chapter 9: bits per character and perplexity, and the distribution that sampling draws from.

from companion.exercises import ch09_lm  # noqa: E402


def my_bits_and_perplexity(probs, targets):
    nll = -np.log2(probs[np.arange(len(targets)), targets])  # (T,): bits for each target
    return nll.mean(), 2.0 ** nll.mean()


def my_sampling_distribution(logits, temperature, top_k):
    z = logits / temperature  # (N, V)
    if top_k is not None:
        kth = np.sort(z, axis=1)[:, -top_k][:, None]  # (N, 1): each row's k-th largest
        z = np.where(z >= kth, z, -np.inf)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


CH09_SOLUTIONS = [
    (ex.check_bits_and_perplexity, my_bits_and_perplexity),
    (ex.check_sampling_distribution, my_sampling_distribution),
]
SOLUTIONS.extend(CH09_SOLUTIONS)  # the SOLUTIONS tests above read the list at collection


def bits_as_nats(probs, targets):
    nll = -np.log(probs[np.arange(len(targets)), targets])
    return nll.mean(), np.exp(nll.mean())


def perplexity_arithmetic(probs, targets):
    p = probs[np.arange(len(targets)), targets]
    return -np.log2(p).mean(), (1.0 / p).mean()


def bits_summed(probs, targets):
    nll = -np.log2(probs[np.arange(len(targets)), targets])
    return nll.sum(), 2.0 ** nll.sum()


def sampling_times_temperature(logits, temperature, top_k):
    return my_sampling_distribution(logits * temperature**2, temperature, top_k)


def sampling_not_renormalised(logits, temperature, top_k):
    p = my_sampling_distribution(logits, temperature, None)
    return np.where(my_sampling_distribution(logits, 1.0, top_k) > 0, p, 0.0)


def sampling_top_k_ignored(logits, temperature, top_k):
    return my_sampling_distribution(logits, temperature, None)


CH09_WRONG = [
    (ex.check_bits_and_perplexity, bits_as_nats, r"bits differs .*perplexity is correct\. .*in nats"),
    (ex.check_bits_and_perplexity, perplexity_arithmetic, r"bits is correct\. .*an arithmetic mean"),
    (ex.check_bits_and_perplexity, bits_summed, r"summed over the tokens, not averaged"),
    (ex.check_sampling_distribution, sampling_times_temperature, r"multiplied by the temperature"),
    (ex.check_sampling_distribution, sampling_not_renormalised, r"are not renormalised"),
    (ex.check_sampling_distribution, sampling_top_k_ignored, r"top_k is ignored"),
]
WRONG.extend(CH09_WRONG)  # the WRONG tests above read the list at collection


CH09_EXERCISES = [
    (ex.check_bits_and_perplexity, ch09_lm._BITS, ch09_lm._bits_cases, ("probs", "targets")),
    (
        ex.check_sampling_distribution,
        ch09_lm._SAMPLING,
        ch09_lm._sampling_cases,
        ("logits", "temperature", "top_k"),
    ),
]
CH09_MISTAKES = [(*e, k) for e in CH09_EXERCISES for k in range(len(e[1].mistakes))]


@pytest.mark.parametrize(
    "check, exercise, cases, args, k", CH09_MISTAKES, ids=[f"{m[0].__name__}-{m[4]}" for m in CH09_MISTAKES]
)
def test_chapter_9_each_known_mistake_is_recognised(check, exercise, cases, args, k):
    mistake = exercise.mistakes[k]
    with pytest.raises(ex.ExerciseError) as info:
        check(imitate(exercise, cases, args, mistake))
    assert mistake.says in str(info.value)


def test_bits_reference_is_the_packages_bits_and_perplexity():
    pytest.importorskip("torch")
    from companion.lm import bits, perplexity

    for case in ch09_lm._bits_cases():
        nll = -np.log(case["probs"][np.arange(len(case["targets"])), case["targets"]])  # nats
        want = ch09_lm._reference_bits(case)
        assert np.isclose(want["bits"], bits(nll), rtol=1e-12)
        assert np.isclose(want["perplexity"], perplexity(nll), rtol=1e-12)
        assert np.isclose(want["perplexity"], 2.0 ** want["bits"], rtol=1e-12)


def test_sampling_reference_is_what_the_package_draws_from():
    """companion.lm.charlm.sample, given fixed logits, draws each token at the reference's rate, and
    never one the reference gives probability 0."""
    torch = pytest.importorskip("torch")
    from companion.lm import sample

    class FixedLogits(torch.nn.Module):
        def __init__(self, z):
            super().__init__()
            self.z = torch.nn.Parameter(torch.tensor(z))

        def forward(self, input, state=None):
            return self.z.expand(1, input.shape[1], -1), state  # (1, T, V): the same at every step

    n = 4000
    for case in ch09_lm._sampling_cases()[1:3]:  # with a top-k cut, one sharpened and one flattened
        z = case["logits"][0]  # (V,)
        want = ch09_lm._reference_sampling({**case, "logits": z[None]})["p"][0]  # (V,)
        drawn = sample(
            FixedLogits(z), [0], n, temperature=case["temperature"], top_k=case["top_k"], generator=9
        )
        freq = np.bincount(drawn, minlength=len(z)) / n
        assert np.all(freq[want == 0] == 0)
        assert np.all(np.abs(freq - want) < 4.5 * np.sqrt(want * (1 - want) / n) + 1e-12), (freq, want)


# Chapter 12: the solutions as in the book, and wrong implementations readers write.


def my_masked_mean(output, lengths):
    valid = np.arange(output.shape[1])[None, :] < lengths[:, None]  # (N, T)
    return (output * valid[:, :, None]).sum(axis=1) / lengths[:, None]


def my_last_valid(output, lengths):
    return output[np.arange(len(lengths)), lengths - 1]


def my_confusion_matrix(y_true, y_pred, num_classes):
    m = np.zeros((num_classes, num_classes), dtype=int)
    np.add.at(m, (y_true, y_pred), 1)
    return m


def mean_over_all_steps(output, lengths):
    return output.mean(axis=1)


def mean_divided_by_t(output, lengths):
    valid = np.arange(output.shape[1])[None, :] < lengths[:, None]
    return (output * valid[:, :, None]).sum(axis=1) / output.shape[1]


def mean_with_le(output, lengths):
    valid = np.arange(output.shape[1])[None, :] <= lengths[:, None]
    return (output * valid[:, :, None]).sum(axis=1) / (lengths[:, None] + 1)


def last_column(output, lengths):
    return output[:, -1]


def last_off_by_one(output, lengths):
    return output[np.arange(len(lengths)), np.minimum(lengths, output.shape[1] - 1)]


def confusion_transposed(y_true, y_pred, num_classes):
    return my_confusion_matrix(y_pred, y_true, num_classes)


def confusion_normalised(y_true, y_pred, num_classes):
    m = my_confusion_matrix(y_true, y_pred, num_classes)
    return m / np.maximum(m.sum(axis=1, keepdims=True), 1)


def confusion_classes_seen(y_true, y_pred, num_classes):
    return my_confusion_matrix(y_true, np.minimum(y_pred, y_true.max()), y_true.max() + 1)


SOLUTIONS.extend(  # the SOLUTIONS tests above read the list at collection
    [
        (ex.check_masked_mean, my_masked_mean),
        (ex.check_last_valid, my_last_valid),
        (ex.check_confusion_matrix, my_confusion_matrix),
    ]
)
WRONG.extend(  # the WRONG tests above read the list at collection
    [
        (ex.check_masked_mean, mean_over_all_steps, r"mean differs .*over all T steps, padding included"),
        (ex.check_masked_mean, mean_divided_by_t, "divided by T, the padded length"),
        (ex.check_masked_mean, mean_with_le, r"keeps t <= lengths\[n\]"),
        (ex.check_last_valid, last_column, r"output\[:, -1\] is read"),
        (ex.check_last_valid, last_off_by_one, "the step after the end"),
        (ex.check_confusion_matrix, confusion_transposed, "Rows are the predicted classes"),
        (ex.check_confusion_matrix, confusion_normalised, "Each row is divided by its total"),
        (
            ex.check_confusion_matrix,
            confusion_classes_seen,
            r"matrix has shape \(2, 2\); expected .*use num_classes",
        ),
    ]
)
NOTEBOOK_SOLUTIONS["12-classifying.ipynb"] = {"my_masked_mean", "my_last_valid", "my_confusion_matrix"}


# Chapter 11: the solutions and wrong implementations are defined with its other tests.
from test_exercises_ch11 import SOLUTIONS as CH11_SOLUTIONS  # noqa: E402
from test_exercises_ch11 import WRONG as CH11_WRONG  # noqa: E402
from test_exercises_ch11 import my_mase, my_recursive_ar, my_seasonal_naive, my_windows  # noqa: E402, F401 (read by assert_notebook_solutions)

SOLUTIONS.extend(CH11_SOLUTIONS)  # the SOLUTIONS tests above read the list at collection
WRONG.extend(CH11_WRONG)  # the WRONG tests above read the list at collection
NOTEBOOK_SOLUTIONS["11-forecasting.ipynb"] = {"my_windows", "my_seasonal_naive", "my_mase", "my_recursive_ar"}


# Chapters 4-6's further exercises: their solutions are defined with their other tests.
from test_exercises_ch04_06 import SOLUTIONS as CH04_06_SOLUTIONS  # noqa: E402
from test_exercises_ch04_06 import WRONG as CH04_06_WRONG  # noqa: E402

SOLUTIONS.extend(CH04_06_SOLUTIONS)  # the SOLUTIONS tests above read the list at collection
WRONG.extend(CH04_06_WRONG)  # the WRONG tests above read the list at collection
