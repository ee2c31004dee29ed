"""companion.ref in float32: every forward and backward keeps float32 inputs float32 and agrees with float64.

Each case runs one numpy function (or a forward with its backward) on inputs of one dtype and returns
every array it produced, caches included; the float32 run must give float32 arrays of the float64 run's
shapes and, within float32 rounding, its values.
"""

import numpy as np
import pytest

from companion.ref import attention, charrnn, gru, layers, linear, losses, lstm, optim, rnn, tbptt, window

N, T, D, H, V = 3, 4, 2, 5, 6
LENGTHS = [4, 1, 3]


def draw(dtype, *shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(scale=0.5, size=s).astype(dtype) for s in shapes]


def floats(value):
    """Every float array in a (nested) result, caches included; integer fields (lengths) are left out."""
    if isinstance(value, np.ndarray):
        return [value] if np.issubdtype(value.dtype, np.floating) else []
    if isinstance(value, dict):
        return [a for v in value.values() for a in floats(v)]
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in floats(v)]
    return []


def rnn_step(dtype):
    x, h, Wx, Wh, b, dh = draw(dtype, (N, D), (N, H), (D, H), (H, H), (H,), (N, H))
    out, cache = rnn.rnn_step_forward(x, h, Wx, Wh, b)
    return [out, cache, rnn.rnn_step_backward(dh, cache)]


def rnn_sequence(dtype, lengths=None):
    x, h0, Wx, Wh, b, dh = draw(dtype, (N, T, D), (N, H), (D, H), (H, H), (H,), (N, T, H))
    h, cache = rnn.rnn_forward(x, h0, Wx, Wh, b, lengths=lengths)
    return [h, cache, cache.h_n, rnn.rnn_backward(dh, cache), rnn.final_state(h, lengths)]


def truncated(dtype):
    x, h0, Wx, Wh, b, dh = draw(dtype, (N, T, D), (N, H), (D, H), (H, H), (H,), (N, T, H))
    _, cache = rnn.rnn_forward(x, h0, Wx, Wh, b)
    return tbptt.truncated_rnn_backward(dh, cache, 3)


def lstm_step(dtype):
    x, h, c, Wx, Wh, b, dh, dc = draw(
        dtype, (N, D), (N, H), (N, H), (D, 4 * H), (H, 4 * H), (4 * H,), (N, H), (N, H)
    )
    h1, c1, cache = lstm.lstm_step_forward(x, h, c, Wx, Wh, b)
    return [h1, c1, cache, lstm.lstm_step_backward(dh, dc, cache), lstm.sigmoid(x)]


def lstm_sequence(dtype, lengths=None):
    x, h0, c0, Wx, Wh, b, dh = draw(
        dtype, (N, T, D), (N, H), (N, H), (D, 4 * H), (H, 4 * H), (4 * H,), (N, T, H)
    )
    h, cache = lstm.lstm_forward(x, h0, c0, Wx, Wh, b, lengths=lengths)
    return [h, cache, cache.h_n, cache.c_n, lstm.lstm_backward(dh, cache)]


def gru_step(dtype):
    x, h, Wx, Wh, bx, bh, dh = draw(dtype, (N, D), (N, H), (D, 3 * H), (H, 3 * H), (3 * H,), (3 * H,), (N, H))
    h1, cache = gru.gru_step_forward(x, h, Wx, Wh, bx, bh)
    return [h1, cache, gru.gru_step_backward(dh, cache)]


def gru_sequence(dtype, lengths=None):
    x, h0, Wx, Wh, bx, bh, dh = draw(
        dtype, (N, T, D), (N, H), (D, 3 * H), (H, 3 * H), (3 * H,), (3 * H,), (N, T, H)
    )
    h, cache = gru.gru_forward(x, h0, Wx, Wh, bx, bh, lengths=lengths)
    return [h, cache, cache.h_n, gru.gru_backward(dh, cache)]


def cross_entropy(dtype):
    (logits,) = draw(dtype, (N, T, V))
    targets = np.random.default_rng(1).integers(0, V, size=(N, T))
    mask = np.arange(T) < np.array(LENGTHS)[:, None]  # (N, T)
    return [losses.softmax_cross_entropy(logits, targets, mask)[1], losses.log_softmax(logits)]


def dot_product_attention(dtype):
    q, k, v, dc, dw = draw(dtype, (N, 2, D), (N, T, D), (N, T, H), (N, 2, H), (N, 2, T))
    context, weights, cache = attention.dot_product_attention_forward(q, k, v, lengths=LENGTHS)
    return [context, weights, cache, attention.dot_product_attention_backward(dc, cache, dw)]


def additive_attention(dtype):
    q, k, v, Wq, Wk, wa, dc, dw = draw(
        dtype, (N, 2, D), (N, T, D), (N, T, H), (D, 4), (D, 4), (4,), (N, 2, H), (N, 2, T)
    )
    context, weights, cache = attention.additive_attention_forward(q, k, v, Wq, Wk, wa, lengths=LENGTHS)
    return [context, weights, cache, attention.additive_attention_backward(dc, cache, dw)]


def softmax_pieces(dtype):
    scores, dp = draw(dtype, (N, T), (N, T))
    p = attention.masked_softmax(scores, np.arange(T) < np.array(LENGTHS)[:, None])
    return [p, attention.softmax_backward(dp, p)]


def temporal_affine(dtype):
    h, W, c, dy = draw(dtype, (N, T, H), (H, V), (V,), (N, T, V))
    y, cache = layers.temporal_affine_forward(h, W, c)
    return [y, cache, layers.temporal_affine_backward(dy, cache)]


def linear_and_window(dtype):
    x, h0, A, B, C = draw(dtype, (N, T, D), (N, H), (H, H), (D, H), (H, 2))
    return [linear.linear_recurrence(x, h0, A, B, C), window.window_features(x, 3)]


def char_rnn(dtype):
    params = {k: v.astype(dtype) for k, v in charrnn.init_params(V, H, rng=0).items()}
    ids = np.random.default_rng(2).integers(0, V, size=(N, T + 1))
    (h0,) = draw(dtype, (N, H))
    _, grads, h_last = charrnn.loss_and_gradients(params, ids[:, :-1], ids[:, 1:], h0)
    clipped, _ = optim.clip_gradients(grads, 1e-3)
    return [grads, h_last, clipped]


CASES = {
    "rnn_step": rnn_step,
    "rnn": rnn_sequence,
    "rnn_lengths": lambda dtype: rnn_sequence(dtype, LENGTHS),
    "tbptt": truncated,
    "lstm_step": lstm_step,
    "lstm": lstm_sequence,
    "lstm_lengths": lambda dtype: lstm_sequence(dtype, LENGTHS),
    "gru_step": gru_step,
    "gru": gru_sequence,
    "gru_lengths": lambda dtype: gru_sequence(dtype, LENGTHS),
    "cross_entropy": cross_entropy,
    "dot_product_attention": dot_product_attention,
    "additive_attention": additive_attention,
    "softmax": softmax_pieces,
    "temporal_affine": temporal_affine,
    "linear_window": linear_and_window,
    "char_rnn": char_rnn,
}


@pytest.mark.parametrize("case", CASES)
def test_float32_in_float32_out_and_close_to_float64(case):
    single, double = floats(CASES[case](np.float32)), floats(CASES[case](np.float64))
    assert len(single) == len(double) > 0
    assert [a.dtype for a in single] == [np.dtype(np.float32)] * len(single)
    assert [a.dtype for a in double] == [np.dtype(np.float64)] * len(double)
    for a, b in zip(single, double, strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
