"""Chapter 4's exercises: gradient clipping by norm, the Jacobian of one RNN step, and the bound on a
product of Jacobians.
"""

import numpy as np
import pytest
from exercise_suite import chapter_tests

from companion import exercises as ex
from companion.exercises import ch04_gradients


def my_clip_by_norm(grads, max_norm):
    norm = np.sqrt(sum(np.sum(g**2) for g in grads))
    scale = max_norm / norm if norm > max_norm else 1.0
    return [g * scale for g in grads]


def my_step_jacobian(x, h_prev, Wx, Wh, b):
    h = np.tanh(x @ Wx + h_prev @ Wh + b)
    return (1 - h**2)[:, None] * Wh.T


def my_jacobian_bound(activation, sigma_max, k):
    gamma = {"tanh": 1.0, "sigmoid": 0.25}[activation]  # the largest slope: tanh'(0), sigma'(0)
    return (gamma * sigma_max) ** k


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


def clip_condition_inverted(grads, max_norm):
    norm = np.sqrt(sum(np.sum(g**2) for g in grads))
    scale = max_norm / norm if norm < max_norm else 1.0
    return [g * scale for g in grads]


def bound_sigmoid_half(activation, sigma_max, k):
    return ({"tanh": 1.0, "sigmoid": 0.5}[activation] * sigma_max) ** k


def bound_gamma_once(activation, sigma_max, k):
    return {"tanh": 1.0, "sigmoid": 0.25}[activation] * sigma_max**k


def bound_k_minus_one(activation, sigma_max, k):
    gamma = {"tanh": 1.0, "sigmoid": 0.25}[activation]
    return (gamma * sigma_max) ** (k - 1)


SOLUTIONS = [
    (ex.check_clip_by_norm, my_clip_by_norm),
    (ex.check_step_jacobian, my_step_jacobian),
    (ex.check_jacobian_bound, my_jacobian_bound),
]


WRONG = [
    (ex.check_clip_by_norm, clip_each_separately, r"Each array is clipped by its own norm"),
    (ex.check_clip_by_norm, clip_in_place, r"modified its input grads in place"),
    (ex.check_clip_by_norm, clip_by_value, r"clipped by value"),
    (ex.check_step_jacobian, jacobian_transposed, r"J differs .*Your matrix is transposed"),
    (ex.check_step_jacobian, jacobian_untransposed_wh, r"Wh is not transposed"),
    (ex.check_jacobian_bound, bound_sigmoid_half, r"used γ = 1/2, the value σ\(0\)"),
    (ex.check_jacobian_bound, bound_gamma_once, r"γ enters once"),
    (ex.check_jacobian_bound, bound_k_minus_one, r"exponent is off by one"),
    (ex.check_clip_by_norm, clip_condition_inverted, r"The condition is inverted"),
    (ex.check_clip_by_norm, clip_each_separately, r"Each array is clipped by its own norm"),
]


EXERCISES = [
    (ex.check_clip_by_norm, ch04_gradients._CLIP),
    (ex.check_step_jacobian, ch04_gradients._JACOBIAN),
]


globals().update(chapter_tests(SOLUTIONS, WRONG, exercises=EXERCISES))


def test_a_non_function_is_refused():
    with pytest.raises(TypeError, match="check_jacobian_bound: expected your function, got int"):
        ex.check_jacobian_bound(3)
