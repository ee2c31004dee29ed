"""Chapter 2's exercises: one tanh RNN step, the whole sequence, and a leaky RNN."""

import numpy as np
from exercise_suite import chapter_tests

from companion import exercises as ex
from companion.exercises import ch02_hidden_state
from companion.ref import rnn as ref_rnn


def my_rnn_step_forward(x, h_prev, Wx, Wh, b):
    return np.tanh(x @ Wx + h_prev @ Wh + b)


def my_rnn_forward(x, h0, Wx, Wh, b):
    h, states = h0, []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ Wx + h @ Wh + b)
        states.append(h)
    return np.stack(states, axis=1)


def my_leaky_rnn_forward(x, h0, Wx, Wh, b, alpha):
    h, states = h0, []
    for t in range(x.shape[1]):
        h = (1 - alpha) * h + alpha * np.tanh(x[:, t] @ Wx + h @ Wh + b)
        states.append(h)
    return np.stack(states, axis=1)


def rnn_step_without_bias(x, h_prev, Wx, Wh, b):
    return np.tanh(x @ Wx + h_prev @ Wh)


def rnn_step_torch_layout(x, h_prev, Wx, Wh, b):
    return np.tanh(x @ Wx + h_prev @ Wh.T + b)


def rnn_step_transposed_output(x, h_prev, Wx, Wh, b):
    return my_rnn_step_forward(x, h_prev, Wx, Wh, b).T


def raises_inside(x, h_prev, Wx, Wh, b):
    return np.tanh(Wx @ x + Wh @ h_prev + b)


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


def rnn_forward_time_first(x, h0, Wx, Wh, b):
    return my_rnn_forward(x, h0, Wx, Wh, b).transpose(1, 0, 2)


def rnn_forward_final_state_only(x, h0, Wx, Wh, b):
    return my_rnn_forward(x, h0, Wx, Wh, b)[:, -1]


def rnn_forward_from_zeros(x, h0, Wx, Wh, b):
    return my_rnn_forward(x, np.zeros_like(h0), Wx, Wh, b)


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


SOLUTIONS = [
    (ex.check_rnn_step_forward, my_rnn_step_forward),
    (ex.check_rnn_forward, my_rnn_forward),
    (ex.check_leaky_rnn_forward, my_leaky_rnn_forward),
]


WRONG = [
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
]


EXERCISES = [
    (ex.check_rnn_step_forward, ch02_hidden_state._RNN_STEP),
    (ex.check_rnn_forward, ch02_hidden_state._RNN_SEQ),
]


REFERENCES = [
    (ex.check_rnn_step_forward, ref_rnn.rnn_step_forward),  # returns (h, cache)
    (ex.check_rnn_forward, ref_rnn.rnn_forward),
]


REAL_MISTAKES = [
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
    (ex.check_leaky_rnn_forward, leaky_alpha_exchanged, 0),
    (ex.check_leaky_rnn_forward, leaky_alpha_ignored, 1),
    (ex.check_leaky_rnn_forward, leaky_tanh_of_mixture, 2),
    (ex.check_leaky_rnn_forward, leaky_from_zeros, 3),
]

CHAPTER = ch02_hidden_state
EXERCISE_OF = {
    ex.check_rnn_step_forward: ch02_hidden_state._RNN_STEP,
    ex.check_rnn_forward: ch02_hidden_state._RNN_SEQ,
    ex.check_leaky_rnn_forward: ch02_hidden_state._LEAKY,
}


globals().update(
    chapter_tests(SOLUTIONS, WRONG, exercises=EXERCISES, references=REFERENCES, real_mistakes=REAL_MISTAKES)
)
