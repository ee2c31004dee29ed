"""Chapter 7's exercises: the parameter count of a stacked, bidirectional layer (the reference is
torch.nn's), and a recurrence over a padded batch.
"""

import numpy as np
import pytest
from exercise_suite import chapter_tests
from test_ch02_hidden_state import my_rnn_forward

from companion import exercises as ex
from companion.exercises import ch07_deep


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


SOLUTIONS = [
    (ex.check_num_parameters, my_num_parameters),
    (ex.check_rnn_forward_lengths, my_rnn_forward_lengths),
]


WRONG = [
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
]


EXERCISES = [
    (ex.check_rnn_forward_lengths, ch07_deep._LENGTHS),
]


globals().update(chapter_tests(SOLUTIONS, WRONG, exercises=EXERCISES))


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


@pytest.mark.parametrize("k", range(len(ch07_deep._NUM_PARAMETERS.mistakes)))
def test_each_parameter_count_mistake_is_recognised(k):
    mistake = ch07_deep._NUM_PARAMETERS.mistakes[k]
    cases = ch07_deep._COUNT_CASES
    keys = ("mode", "input_size", "hidden_size", "num_layers", "bidirectional", "proj_size")

    def fn(*values):
        return mistake.outputs(next(c for c in cases if tuple(c[key] for key in keys) == values))

    with pytest.raises(ex.ExerciseError) as info:
        ex.check_num_parameters(fn)
    assert mistake.says in str(info.value)
