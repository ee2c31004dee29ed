"""companion.exercises.engine: what every check does with the reader's function (an exception, a
non-finite output, a non-function, the same verdict every time), and the gate-order mistakes it builds."""

import numpy as np
import pytest
from test_ch02_hidden_state import raises_inside
from test_ch03_bptt import step_backward_dx_doubled

from companion import exercises as ex
from companion.exercises import ch05_lstm, ch06_gru


def test_an_exception_in_the_readers_code_is_chained():
    with pytest.raises(ex.ExerciseError) as info:
        ex.check_rnn_step_forward(raises_inside)
    assert isinstance(info.value.__cause__, ValueError)
    assert isinstance(info.value, AssertionError)


def test_non_finite_output_is_reported():
    with pytest.raises(ex.ExerciseError, match="h contains NaN or infinite values"):
        ex.check_rnn_step_forward(lambda x, h_prev, Wx, Wh, b: np.full((x.shape[0], Wh.shape[0]), np.nan))


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
