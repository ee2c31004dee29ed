"""Chapter 5's exercises: one LSTM step forward and backward."""

import numpy as np
from exercise_suite import chapter_tests

from companion import exercises as ex
from companion.exercises import ch05_lstm
from companion.ref import lstm as ref_lstm
from companion.ref.lstm import sigmoid


def my_lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    a_i, a_f, a_g, a_o = np.split(x @ Wx + h_prev @ Wh + b, 4, axis=1)  # 4 x (N, H)
    i, f, o = (1 / (1 + np.exp(-a)) for a in (a_i, a_f, a_o))
    g = np.tanh(a_g)
    c = f * c_prev + i * g
    return o * np.tanh(c), c


def my_lstm_step_backward(dh, dc, cache):
    i, f, g, o = np.split(cache.gates, 4, axis=1)
    dc = dc + dh * o * (1 - cache.tanh_c**2)  # c reaches the loss directly and through h
    da = np.concatenate(
        [
            dc * g * i * (1 - i),
            dc * cache.c_prev * f * (1 - f),
            dc * i * (1 - g**2),
            dh * cache.tanh_c * o * (1 - o),
        ],
        axis=1,
    )
    return da @ cache.Wx.T, da @ cache.Wh.T, dc * f, cache.x.T @ da, cache.h_prev.T @ da, da.sum(axis=0)


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


def lstm_backward_no_carry(dh, dc, cache):
    return my_lstm_step_backward(dh, np.zeros_like(dc), cache)


def lstm_backward_dc_prev_without_f(dh, dc, cache):
    dx, dh_prev, dc_prev, dWx, dWh, db = my_lstm_step_backward(dh, dc, cache)
    f = np.split(cache.gates, 4, axis=1)[1]
    return dx, dh_prev, dc_prev / f, dWx, dWh, db


def lstm_backward_f_at_new_cell(dh, dc, cache):
    i, f, g, o = np.split(cache.gates, 4, axis=1)
    c = f * cache.c_prev + i * g
    dc = dc + dh * o * (1 - cache.tanh_c**2)
    da = np.concatenate(
        [dc * g * i * (1 - i), dc * c * f * (1 - f), dc * i * (1 - g**2), dh * cache.tanh_c * o * (1 - o)],
        axis=1,
    )
    return da @ cache.Wx.T, da @ cache.Wh.T, dc * f, cache.x.T @ da, cache.h_prev.T @ da, da.sum(axis=0)


def lstm_backward_no_path_through_h(dh, dc, cache):
    i, f, g, o = np.split(cache.gates, 4, axis=1)
    da = np.concatenate(
        [
            dc * g * i * (1 - i),
            dc * cache.c_prev * f * (1 - f),
            dc * i * (1 - g**2),
            dh * cache.tanh_c * o * (1 - o),
        ],
        axis=1,
    )
    return da @ cache.Wx.T, da @ cache.Wh.T, dc * f, cache.x.T @ da, cache.h_prev.T @ da, da.sum(axis=0)


SOLUTIONS = [
    (ex.check_lstm_step_forward, my_lstm_step_forward),
    (ex.check_lstm_step_backward, my_lstm_step_backward),
]


WRONG = [
    (ex.check_lstm_step_forward, lstm_ifog, r"The gates are read in the order i, f, o, g; .* i, f, g, o"),
    (
        ex.check_lstm_step_forward,
        lstm_no_tanh_on_output,
        r"h differs .*; c is correct\. The output is o \* c",
    ),
    (ex.check_lstm_step_forward, lstm_returns_c_h, r"h and c are returned in the wrong order"),
    (ex.check_lstm_step_forward, lstm_returns_h_twice, r"c differs .*; h is correct\. h is returned twice"),
    (ex.check_lstm_step_backward, lstm_backward_no_carry, r"dc arriving from step t\+1 is not added"),
    (
        ex.check_lstm_step_backward,
        lstm_backward_dc_prev_without_f,
        r"dc_prev differs .*not multiplied by the forget",
    ),
    (
        ex.check_lstm_step_backward,
        lstm_backward_f_at_new_cell,
        r"forget gate's gradient uses the new cell state",
    ),
    (
        ex.check_lstm_step_backward,
        lstm_backward_no_path_through_h,
        r"path from c through h = o \* tanh\(c\) is missing",
    ),
]


EXERCISES = [
    (ex.check_lstm_step_forward, ch05_lstm._LSTM_STEP),
]


REFERENCES = [
    (ex.check_lstm_step_forward, ref_lstm.lstm_step_forward),  # returns (h, c, cache)
    (ex.check_lstm_step_backward, ref_lstm.lstm_step_backward),
]


globals().update(chapter_tests(SOLUTIONS, WRONG, exercises=EXERCISES, references=REFERENCES))
