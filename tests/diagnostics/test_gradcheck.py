"""companion.diagnostics.gradcheck: the checkers are right on known gradients, catch wrong ones, and never mutate inputs."""

import numpy as np
import pytest
import torch

from companion.diagnostics.gradcheck import (
    autograd_gradients,
    compare_gradients,
    numerical_gradient,
    numerical_gradients,
    relative_error,
)


def test_relative_error_values():
    a = np.array([3.0, 4.0])
    assert relative_error(a, a) == 0.0
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(a, -a) == pytest.approx(1.0)  # ||2a|| / (2 ||a||)
    assert relative_error(a, 2 * a) == pytest.approx(1 / 3)
    assert relative_error(1e-30 * a, 1e-30 * 2 * a) == pytest.approx(1 / 3)  # scale free
    assert relative_error(a, a + [0, 1e-8]) == relative_error(a + [0, 1e-8], a)
    with pytest.raises(
        ValueError, match=r"relative_error: expected arrays of the same shape, got \(2,\) and \(1, 2\)"
    ):
        relative_error(a, a[None])


def test_numerical_gradient_of_known_functions():
    x = np.array([[0.3, -1.2], [2.0, 0.7]])
    g = numerical_gradient(lambda v: np.sin(v) * v**2, [x], wrt=0)
    assert relative_error(g, np.cos(x) * x**2 + 2 * x * np.sin(x)) < 1e-9
    u = np.array([[1.0, -2.0], [0.5, 3.0]])
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    gx, gA = numerical_gradients(lambda v, M: v @ M, [x, A], upstream=u)
    assert relative_error(gx, u @ A.T) < 1e-9 and relative_error(gA, x.T @ u) < 1e-9


def test_a_wrong_backward_is_caught():
    x = np.random.default_rng(0).normal(size=(3, 4))
    numeric = numerical_gradient(lambda v: np.tanh(v), [x], wrt=0)
    assert relative_error(1 - np.tanh(x) ** 2, numeric) < 1e-8
    assert relative_error(1 - np.tanh(x), numeric) > 1e-2  # a plausible mistake


def test_numerical_gradient_copies_its_inputs_and_never_mutates_them():
    rng = np.random.default_rng(1)
    x, W = rng.normal(size=(2, 3)), rng.normal(size=(3, 3))
    originals = [x.copy(), W.copy()]

    def clobbering(v, M):
        out = v @ M
        v *= 100.0  # a careless function that modifies its arguments
        M[:] = 0.0
        return out

    gradients = numerical_gradients(lambda v, M: v @ M, [x, W])
    np.testing.assert_array_equal(x, originals[0])
    np.testing.assert_array_equal(W, originals[1])
    numerical_gradients(clobbering, [x, W])
    np.testing.assert_array_equal(x, originals[0])
    np.testing.assert_array_equal(W, originals[1])
    assert relative_error(gradients[0], np.ones((2, 3)) @ W.T) < 1e-9
    ints = np.array([1, 2])
    numerical_gradient(lambda v: v**2, [ints], wrt=0)
    assert ints.dtype == np.int64 and ints.tolist() == [1, 2]


def test_autograd_gradients_are_exact_and_copy_their_inputs():
    rng = np.random.default_rng(2)
    x, W, unused = rng.normal(size=(2, 3)), rng.normal(size=(3, 4)), rng.normal(size=5)
    originals = [a.copy() for a in (x, W, unused)]
    u = rng.normal(size=(2, 4))

    seen = []

    def f(v, M, _):
        seen.extend([v, M])
        return torch.tanh(v @ M)

    gx, gW, gu = autograd_gradients(f, [x, W, unused], upstream=u)
    assert not np.shares_memory(seen[0].detach().numpy(), x) and not np.shares_memory(
        seen[1].detach().numpy(), W
    )
    with torch.no_grad():
        seen[0].mul_(3.0)  # the tensors torch_f received are copies: changing them leaves x alone
    delta = u * (1 - np.tanh(x @ W) ** 2)
    assert relative_error(gx, delta @ W.T) < 1e-15 and relative_error(gW, x.T @ delta) < 1e-15
    assert gu.shape == (5,)
    np.testing.assert_array_equal(gu, np.zeros(5), strict=True)
    for old, new in zip(originals, (x, W, unused), strict=True):
        np.testing.assert_array_equal(old, new)


def test_upstream_shape_is_checked():
    x = np.ones((2, 3))
    with pytest.raises(
        ValueError, match=r"numerical_gradient: expected upstream of the output shape \(2, 3\), got \(3,\)"
    ):
        numerical_gradient(lambda v: v * 2, [x], wrt=0, upstream=np.ones(3))
    with pytest.raises(
        ValueError, match=r"autograd_gradients: expected upstream of shape \(2, 3\), got \(3,\)"
    ):
        autograd_gradients(lambda v: v * 2, [x], upstream=np.ones(3))


def test_bad_arguments_raise():
    x = np.ones(2)
    with pytest.raises(ValueError, match="numerical_gradient: expected wrt to index one of 1 args, got 1"):
        numerical_gradient(lambda v: v, [x], wrt=1)
    with pytest.raises(ValueError, match="numerical_gradient: expected eps > 0, got 0.0"):
        numerical_gradient(lambda v: v, [x], wrt=0, eps=0.0)
    with pytest.raises(
        ValueError,
        match="compare_gradients: expected as many names as gradients, got 2 analytic, 2 reference, 1 names",
    ):
        compare_gradients([x, x], [x, x], ["dx"])
    assert compare_gradients([x, x], [x, 2 * x], ["a", "b"]) == {"a": 0.0, "b": pytest.approx(1 / 3)}


def test_integer_inputs_are_differentiated_in_float64():
    """Perturbing an integer array in place would round x + eps back to x: the copies are float64."""
    ints = np.array([1, 2, -3])
    g = numerical_gradient(lambda v: v**2, [ints], wrt=0)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, 2.0 * ints, rtol=1e-8)
    (g32,) = numerical_gradients(lambda v: v**2, [ints.astype(np.float32)])
    assert g32.dtype == np.float64  # float32 inputs too: eps = 1e-6 is below float32 resolution near 1
    np.testing.assert_allclose(g32, 2.0 * ints, rtol=1e-8)


def test_the_step_size_is_the_one_given():
    """Central differences of x^3 give 3x^2 + eps^2 exactly: the error reveals the step used."""
    x = np.array([1.0, 2.0])
    g = numerical_gradient(lambda v: v**3, [x], wrt=0, eps=0.1)
    np.testing.assert_allclose(g, 3 * x**2 + 0.01, rtol=1e-12)
    (gs,) = numerical_gradients(lambda v: v**3, [x], eps=0.1)
    np.testing.assert_allclose(gs, 3 * x**2 + 0.01, rtol=1e-12)
    (default,) = numerical_gradients(lambda v: v**3, [x])
    np.testing.assert_allclose(default, 3 * x**2, rtol=1e-9)


def test_autograd_gradients_of_unused_and_integer_arguments_have_their_shapes():
    x, unused = np.array([[1.0, 2.0]]), np.ones((2, 3))
    gx, gu = autograd_gradients(lambda v, _: v**2, [x, unused])
    assert gu.shape == (2, 3) and gu.dtype == np.float64 and not gu.any()
    np.testing.assert_array_equal(gx, 2 * x, strict=True)
    (gi,) = autograd_gradients(lambda v: v**3, [np.array([1, 2])])
    np.testing.assert_array_equal(gi, np.array([3.0, 12.0]), strict=True)
