"""Chapter 1's exercises: the solutions as in the book pass, wrong implementations are named, and the
weights set by hand for a two-step difference are checked.
"""

import re

import numpy as np
import pytest
from exercise_suite import chapter_tests

from companion import exercises as ex
from companion.exercises import ch01_sequences


def my_window_features(x, width):
    N, T, D = x.shape
    padded = np.concatenate([np.zeros((N, width - 1, D)), x], axis=1)  # (N, T + width - 1, D)
    return np.concatenate([padded[:, k : k + T] for k in range(width)], axis=2)


def my_linear_recurrence(x, h0, A, B, C):
    h, ys = h0, []
    for t in range(x.shape[1]):
        h = h @ A + x[:, t] @ B
        ys.append(h @ C)
    return np.stack(ys, axis=1)


def my_difference_weights():
    A = np.eye(3, k=1)  # (H, H) with H = 3: slot i moves to slot i + 1, so slot i holds x_{t-i}
    B = np.array([[1.0, 0.0, 0.0]])  # (D, H): x_t is written into slot 0
    C = np.array([[1.0], [0.0], [-1.0]])  # (H, K): y_t = slot 0 - slot 2
    return A, B, C


def my_running_sum_window_mse(T, w, var):
    return var * (T - w) * (T - w + 1) / (2 * T)


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


def window_one_step_early(x, width):
    N, T, D = x.shape
    padded = np.concatenate([np.zeros((N, width, D)), x], axis=1)  # one zero too many
    return np.concatenate([padded[:, k : k + T] for k in range(width)], axis=2)


def window_grouped_by_feature(x, width):
    N, T, D = x.shape
    padded = np.concatenate([np.zeros((N, width - 1, D)), x], axis=1)
    return np.stack([padded[:, k : k + T] for k in range(width)], axis=3).reshape(N, T, D * width)


def linear_column_style(x, h0, A, B, C):
    return my_linear_recurrence(x, h0, A.T, B, C)


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


SOLUTIONS = [
    (ex.check_window_features, my_window_features),
    (ex.check_linear_recurrence, my_linear_recurrence),
]


WRONG = [
    (ex.check_window_features, window_newest_first, r"features differs .*ordered newest first"),
    (ex.check_window_features, window_with_roll, r"wrap around .*must be zeros"),
    (
        ex.check_window_features,
        window_unflattened,
        r"features has shape \(2, 6, 3, 3\); expected \(N, T, width \* D\) = \(2, 6, 9\)",
    ),
    (ex.check_linear_recurrence, linear_column_style, r"applied as A @ h .*it is h @ A"),
]


EXERCISES = [
    (ex.check_window_features, ch01_sequences._WINDOW),
    (ex.check_linear_recurrence, ch01_sequences._LINEAR),
]


REAL_MISTAKES = [
    (ex.check_window_features, window_newest_first, 0),
    (ex.check_window_features, window_with_roll, 1),
    (ex.check_window_features, window_one_step_early, 2),
    (ex.check_window_features, window_grouped_by_feature, 3),
    (ex.check_linear_recurrence, linear_read_before_update, 0),
    (ex.check_linear_recurrence, linear_from_zeros, 1),
    (ex.check_linear_recurrence, linear_column_style, 2),
    (ex.check_linear_recurrence, linear_not_carried, 3),
]

CHAPTER = ch01_sequences
NOT_FUNCTIONS = {ex.check_difference_weights}  # takes weights, not a function: tested below
EXERCISE_OF = {
    ex.check_window_features: ch01_sequences._WINDOW,
    ex.check_linear_recurrence: ch01_sequences._LINEAR,
}


globals().update(chapter_tests(SOLUTIONS, WRONG, exercises=EXERCISES, real_mistakes=REAL_MISTAKES))


# Weights by hand for y_t = x_t - x_{t-2}: the solution, and wrong weights with what each is told.


def _shift(H):
    return np.eye(H, k=1)


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
        assert abs(mse - predicted) < 0.1 * predicted, (w, mse, predicted)
