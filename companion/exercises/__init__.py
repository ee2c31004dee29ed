"""Self-checks for the exercises at the end of each chapter, one module per chapter.

Each ``check_*`` function takes the reader's own implementation, runs it on a few random inputs of
different shapes, and compares it with the package's reference implementation. If everything
agrees it returns a :class:`.CheckPassed`, which a notebook shows as ``✓ ... all checks passed``.
Otherwise it raises :class:`.ExerciseError` with a message that names the fault: an output of the
wrong shape, gates read in the wrong order, which gradient is wrong and by how much, or a common
mistake recognised by reproducing it (the tanh derivative left out, ``h`` used for ``h_prev``, the
carried gradient not added ...).

====  ======================================  ===================================================
ch.   check                                   the reader writes
====  ======================================  ===================================================
1     :func:`.check_window_features`          ``fn(x, width)``: the last ``width`` inputs per step
1     :func:`.check_linear_recurrence`        ``fn(x, h0, A, B, C)``: a linear state-space model
1     :func:`.check_difference_weights`       ``(A, B, C)``: weights for x_t − x_{t−2}
2     :func:`.check_rnn_step_forward`         ``fn(x, h_prev, Wx, Wh, b)``: one tanh RNN step
2     :func:`.check_rnn_forward`              ``fn(x, h0, Wx, Wh, b)``: the whole sequence
2     :func:`.check_leaky_rnn_forward`        ``fn(x, h0, Wx, Wh, b, alpha)``: a leaky RNN
3     :func:`.check_rnn_step_backward`        ``fn(dh, cache)``: the gradients of one step
3     :func:`.check_rnn_backward`             ``fn(dh, cache)``: backpropagation through time
3     :func:`.check_masked_cross_entropy`     ``fn(logits, targets, mask)``: loss and gradient
3     :func:`.check_truncation_ratio`         ``fn(T, k)``: what truncated BPTT keeps
4     :func:`.check_clip_by_norm`             ``fn(grads, max_norm)``: gradient clipping
4     :func:`.check_step_jacobian`            ``fn(x, h_prev, Wx, Wh, b)``: one step's Jacobian
4     :func:`.check_jacobian_bound`           ``fn(activation, sigma_max, k)``: a bound on k Jacobians
5     :func:`.check_lstm_step_forward`        ``fn(x, h_prev, c_prev, Wx, Wh, b)``: one LSTM step
5     :func:`.check_lstm_step_backward`       ``fn(dh, dc, cache)``: one LSTM step's gradients
6     :func:`.check_gru_step_forward`         ``fn(x, h_prev, Wx, Wh, bx, bh)``: one GRU step
6     :func:`.check_gru_step_backward`        ``fn(dh, cache)``: one GRU step's gradients
6     :func:`.check_gru_jacobian`             ``fn(x, h_prev, Wx, Wh, bx, bh)``: ∂h_t/∂h_{t−1}
6     :func:`.check_gru_variants_agree`       ``fn(W_hn, b_hn)``: when Cho's GRU is PyTorch's
7     :func:`.check_num_parameters`           ``fn(mode, input_size, ...)``: a deep layer's size
7     :func:`.check_rnn_forward_lengths`      ``fn(x, h0, Wx, Wh, b, lengths)``: a padded batch
8     :func:`.check_masked_softmax`           ``fn(scores, mask)``: a softmax over unmasked keys
8     :func:`.check_beam_step`                ``fn(log_prob, log_probs, beam_size)``: a beam step
9     :func:`.check_bits_and_perplexity`      ``fn(probs, targets)``: bits per character, perplexity
9     :func:`.check_sampling_distribution`    ``fn(logits, temperature, top_k)``: what sampling draws
10    :func:`.check_piano_roll`               ``fn(events, low, high, step)``: a melody as a matrix
10    :func:`.check_bits_per_pitch`           ``fn(nll, ids, is_pitch)``: bits per pitch and per token
11    :func:`.check_windows`                  ``fn(values, input_len, horizon)``: windows of a series
11    :func:`.check_seasonal_naive`           ``fn(past, horizon, period)``: the seasonal-naive forecast
11    :func:`.check_mase`                     ``fn(y_true, y_pred, y_train, period)``: scaled error
11    :func:`.check_recursive_ar`             ``fn(window, coef, intercept, horizon)``: recursive AR
12    :func:`.check_masked_mean`              ``fn(output, lengths)``: mean over valid steps
12    :func:`.check_last_valid`               ``fn(output, lengths)``: output at the last valid step
12    :func:`.check_confusion_matrix`         ``fn(y_true, y_pred, num_classes)``: the counts
13    :func:`.check_causal_self_attention`    ``fn(x, Wq, Wk, Wv, num_heads)``: masked multi-head
13    :func:`.check_linear_scan`              ``fn(log_a, b, h0)``: a recurrence without a loop
====  ======================================  ===================================================

The checks live in :mod:`~companion.exercises.ch01_sequences`, :mod:`~companion.exercises.ch02_hidden_state`,
:mod:`~companion.exercises.ch03_bptt`, :mod:`~companion.exercises.ch04_gradients`,
:mod:`~companion.exercises.ch05_lstm`, :mod:`~companion.exercises.ch06_gru`,
:mod:`~companion.exercises.ch07_deep`, :mod:`~companion.exercises.ch08_attention`,
:mod:`~companion.exercises.ch09_lm`, :mod:`~companion.exercises.ch10_music`,
:mod:`~companion.exercises.ch11_forecasting`, :mod:`~companion.exercises.ch12_classify` and
:mod:`~companion.exercises.ch13_beyond`, each declaring its exercises (cases, reference, known
mistakes) for the machinery in :mod:`~companion.exercises.engine` (with the inputs several chapters
share in :mod:`~companion.exercises.inputs`), and what they report in
:mod:`~companion.exercises.report`; this package re-exports them all, so
``from companion.exercises import check_rnn_step_forward`` works.

The inputs come from fixed seeds, so a check gives the same verdict every time it runs.
"""

from companion.exercises.ch01_sequences import (
    check_difference_weights,
    check_linear_recurrence,
    check_window_features,
)
from companion.exercises.ch02_hidden_state import (
    check_leaky_rnn_forward,
    check_rnn_forward,
    check_rnn_step_forward,
)
from companion.exercises.ch03_bptt import (
    check_masked_cross_entropy,
    check_rnn_backward,
    check_rnn_step_backward,
    check_truncation_ratio,
)
from companion.exercises.ch04_gradients import check_clip_by_norm, check_jacobian_bound, check_step_jacobian
from companion.exercises.ch05_lstm import check_lstm_step_backward, check_lstm_step_forward
from companion.exercises.ch06_gru import (
    check_gru_jacobian,
    check_gru_step_backward,
    check_gru_step_forward,
    check_gru_variants_agree,
)
from companion.exercises.ch07_deep import check_num_parameters, check_rnn_forward_lengths
from companion.exercises.ch08_attention import check_beam_step, check_masked_softmax
from companion.exercises.ch09_lm import check_bits_and_perplexity, check_sampling_distribution
from companion.exercises.ch10_music import check_bits_per_pitch, check_piano_roll
from companion.exercises.ch11_forecasting import (
    check_mase,
    check_recursive_ar,
    check_seasonal_naive,
    check_windows,
)
from companion.exercises.ch12_classify import check_confusion_matrix, check_last_valid, check_masked_mean
from companion.exercises.ch13_beyond import check_causal_self_attention, check_linear_scan
from companion.exercises.report import CheckPassed, ExerciseError

__all__ = [
    "ExerciseError",
    "CheckPassed",
    "check_window_features",
    "check_linear_recurrence",
    "check_difference_weights",
    "check_rnn_step_forward",
    "check_rnn_forward",
    "check_leaky_rnn_forward",
    "check_rnn_step_backward",
    "check_rnn_backward",
    "check_masked_cross_entropy",
    "check_truncation_ratio",
    "check_clip_by_norm",
    "check_step_jacobian",
    "check_jacobian_bound",
    "check_lstm_step_forward",
    "check_lstm_step_backward",
    "check_gru_step_forward",
    "check_gru_step_backward",
    "check_gru_jacobian",
    "check_gru_variants_agree",
    "check_num_parameters",
    "check_rnn_forward_lengths",
    "check_masked_softmax",
    "check_beam_step",
    "check_bits_and_perplexity",
    "check_sampling_distribution",
    "check_piano_roll",
    "check_bits_per_pitch",
    "check_windows",
    "check_seasonal_naive",
    "check_mase",
    "check_recursive_ar",
    "check_masked_mean",
    "check_last_valid",
    "check_confusion_matrix",
    "check_causal_self_attention",
    "check_linear_scan",
]
