"""companion.ref.layers: the temporal affine layer equals torch.nn.Linear, forward and backward."""

import numpy as np
import pytest
import torch
from torch.func import functional_call

from companion.diagnostics.gradcheck import autograd_gradients, compare_gradients, numerical_gradients
from companion.ref.layers import TemporalAffineCache, temporal_affine_backward, temporal_affine_forward

SHAPES = [(1, 1, 1, 1), (2, 5, 3, 4), (3, 1, 6, 2), (1, 7, 4, 9)]  # (N, T, H, V)


def make(N, T, H, V, seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(N, T, H)), rng.normal(size=(H, V)), rng.normal(size=V)], rng


def torch_linear(h, W, c):
    H, V = W.shape
    module = torch.nn.Linear(H, V, dtype=torch.float64)
    return functional_call(module, {"weight": W.T, "bias": c}, (h,))


@pytest.mark.parametrize("N, T, H, V", SHAPES)
def test_forward_matches_torch_linear(N, T, H, V):
    (h, W, c), _ = make(N, T, H, V, seed=1)
    y, cache = temporal_affine_forward(h, W, c)
    assert y.shape == (N, T, V) and cache.h is h and cache.W is W
    expected = torch_linear(torch.from_numpy(h), torch.from_numpy(W), torch.from_numpy(c)).numpy()
    np.testing.assert_allclose(y, expected, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(y[-1, -1], h[-1, -1] @ W + c, rtol=1e-14)


@pytest.mark.parametrize("N, T, H, V", SHAPES)
def test_backward_matches_finite_differences_and_autograd(N, T, H, V):
    args, rng = make(N, T, H, V, seed=N + T + H + V)
    dy = rng.normal(size=(N, T, V))
    _, cache = temporal_affine_forward(*args)
    analytic = temporal_affine_backward(dy, cache)
    names = ["dh", "dW", "dc"]
    numeric = numerical_gradients(lambda *a: temporal_affine_forward(*a)[0], args, upstream=dy)
    assert max(compare_gradients(analytic, numeric, names).values()) < 1e-7
    reference = autograd_gradients(torch_linear, args, upstream=dy)
    assert max(compare_gradients(analytic, reference, names).values()) < 1e-10


def test_bad_inputs_raise():
    (h, W, c), _ = make(2, 3, 4, 5, seed=0)
    with pytest.raises(
        ValueError, match=r"temporal_affine_forward: expected W of shape \(H, V\) = \(4, V\), got \(5, 5\)"
    ):
        temporal_affine_forward(h, np.zeros((5, 5)), c)
    with pytest.raises(
        ValueError, match=r"temporal_affine_forward: expected c of shape \(V,\) = \(5,\), got \(4,\)"
    ):
        temporal_affine_forward(h, W, np.zeros(4))
    with pytest.raises(
        ValueError, match=r"temporal_affine_forward: expected h of shape \(N, T, H\), got \(2, 4\)"
    ):
        temporal_affine_forward(h[:, 0], W, c)
    _, cache = temporal_affine_forward(h, W, c)
    with pytest.raises(
        ValueError, match=r"temporal_affine_backward: expected dy of shape \(N, T, V\) = \(2, 3, 5\)"
    ):
        temporal_affine_backward(np.zeros((2, 3, 4)), cache)
    with pytest.raises(TypeError, match="expected cache to be a TemporalAffineCache, got tuple"):
        temporal_affine_backward(np.zeros((2, 3, 5)), (h, W))
    assert isinstance(cache, TemporalAffineCache)
