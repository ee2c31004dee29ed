"""Chapter 3's exercises: the backward pass of one RNN step and of the whole sequence, the masked
cross-entropy, and the share of the gradient that truncated BPTT keeps.
"""

import numpy as np
import pytest
from exercise_suite import chapter_tests

from companion import exercises as ex
from companion.exercises import ch03_bptt
from companion.ref import rnn as ref_rnn


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
    return last_chunk / (T - 1)


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


def returns_three(dh, cache):
    return my_rnn_step_backward(dh, cache)[:3]


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


SOLUTIONS = [
    (ex.check_rnn_step_backward, my_rnn_step_backward),
    (ex.check_rnn_backward, my_rnn_backward),
    (ex.check_masked_cross_entropy, my_masked_cross_entropy),
    (ex.check_truncation_ratio, my_truncation_ratio),
]


WRONG = [
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
]


EXERCISES = [
    (ex.check_rnn_step_backward, ch03_bptt._RNN_STEP_BACKWARD),
    (ex.check_rnn_backward, ch03_bptt._RNN_BACKWARD),
]


REFERENCES = [
    (ex.check_rnn_step_backward, ref_rnn.rnn_step_backward),
    (ex.check_rnn_backward, ref_rnn.rnn_backward),
]


REAL_MISTAKES = [
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
    (ex.check_masked_cross_entropy, ce_mask_ignored, 0),
    (ex.check_masked_cross_entropy, ce_mean_over_all_positions, 1),
    (ex.check_masked_cross_entropy, ce_gradient_at_padding, 2),
    (ex.check_masked_cross_entropy, ce_gradient_not_averaged, 3),
    (ex.check_masked_cross_entropy, ce_loss_summed, 4),
    (ex.check_masked_cross_entropy, ce_gradient_sign, 5),
    (ex.check_truncation_ratio, ratio_chunks_from_the_end, 0),
    (ex.check_truncation_ratio, ratio_k_over_t_minus_1, 1),
    (ex.check_truncation_ratio, ratio_t_terms, 2),
    (ex.check_truncation_ratio, ratio_inverted, 3),
]

CHAPTER = ch03_bptt
EXERCISE_OF = {
    ex.check_rnn_step_backward: ch03_bptt._RNN_STEP_BACKWARD,
    ex.check_rnn_backward: ch03_bptt._RNN_BACKWARD,
    ex.check_masked_cross_entropy: ch03_bptt._CE,
    ex.check_truncation_ratio: ch03_bptt._RATIO,
}


globals().update(
    chapter_tests(SOLUTIONS, WRONG, exercises=EXERCISES, references=REFERENCES, real_mistakes=REAL_MISTAKES)
)


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
    for case in ch03_bptt._RATIO.cases():
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
