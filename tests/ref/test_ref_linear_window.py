"""companion.ref.linear and companion.ref.window: the chapter-1 recurrences and the window baseline."""

import numpy as np
import pytest

from companion.data.tasks import echo_task, sine_task, sum_task
from companion.ref import linear, window


def test_accumulator_solves_the_sum_task_exactly():
    x, y = sum_task(8, 30, rng=0)
    A, B, C = linear.accumulator()
    out, h = linear.linear_recurrence(x, np.zeros((8, 1)), A, B, C)
    np.testing.assert_allclose(out[:, -1], y, rtol=1e-12)
    np.testing.assert_allclose(h[:, :, 0], np.cumsum(x[:, :, 0], axis=1), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("delay", [0, 1, 4])
def test_shift_register_solves_the_echo_task_exactly(delay):
    x, y = echo_task(5, 12, delay, rng=1)
    A, B, C = linear.shift_register(delay)
    assert A.shape == (delay + 1, delay + 1)
    out, _ = linear.linear_recurrence(x, np.zeros((5, delay + 1)), A, B, C)
    np.testing.assert_array_equal(out, y)


def test_rotation_generates_the_sine_task_from_its_initial_state():
    params, y = sine_task(6, 40, rng=2)
    for (omega, phi), target in zip(params, y, strict=True):
        A, B, C = linear.rotation(omega)
        h0 = np.array([[np.sin(phi - omega), np.cos(phi - omega)]])
        out, _ = linear.linear_recurrence(np.zeros((1, 40, 1)), h0, A, B, C)
        np.testing.assert_allclose(out[0], target, atol=1e-12)


def test_linear_recurrence_rejects_mismatched_weights():
    with pytest.raises(
        ValueError, match=r"linear_recurrence: expected B of shape \(D, H\) = \(1, 2\), got \(1, 3\)"
    ):
        linear.linear_recurrence(
            np.zeros((1, 3, 1)), np.zeros((1, 2)), np.eye(2), np.zeros((1, 3)), np.ones((2, 1))
        )
    with pytest.raises(ValueError, match="shift_register: expected delay"):
        linear.shift_register(-1)


def test_window_features_stack_the_past_oldest_first():
    x = np.arange(1.0, 6.0).reshape(1, 5, 1)
    f = window.window_features(x, 3)
    assert f.shape == (1, 5, 3)
    np.testing.assert_array_equal(f[0, 0], [0, 0, 1])
    np.testing.assert_array_equal(f[0, 4], [3, 4, 5])
    with pytest.raises(ValueError, match="width"):
        window.window_features(x, 0)


def test_window_model_sees_the_echo_only_when_the_window_reaches_it():
    x, y = echo_task(200, 30, 5, rng=3)
    mse_short, n_short = window.fit_window_model(x, y, 5)
    mse_long, n_long = window.fit_window_model(x, y, 6)
    assert mse_long < 1e-20
    # what lies outside the window is independent noise: the best linear fit explains nothing of it
    target_var = float(np.mean(y**2))
    assert mse_short > 0.95 * target_var
    assert (n_short, n_long) == (6, 7)
    with pytest.raises(
        ValueError, match=r"fit_window_model: expected y of shape \(N, T, K\) = \(200, 30, K\)"
    ):
        window.fit_window_model(x, y[:10], 3)
