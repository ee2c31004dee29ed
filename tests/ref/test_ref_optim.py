"""companion.ref.optim: Adam equals torch.optim.Adam and gradient clipping equals clip_grad_norm_."""

import numpy as np
import pytest
import torch

from companion.ref.optim import Adam, clip_gradients


def test_adam_matches_torch_optim_adam():
    rng = np.random.default_rng(0)
    params = {"w": rng.normal(size=(3, 4)), "v": rng.normal(size=5)}
    tensors = {n: torch.tensor(p, requires_grad=True) for n, p in params.items()}
    ours = Adam(params, lr=0.03, betas=(0.8, 0.99), eps=1e-6)
    theirs = torch.optim.Adam(tensors.values(), lr=0.03, betas=(0.8, 0.99), eps=1e-6)
    for _ in range(6):
        grads = {n: rng.normal(size=p.shape) for n, p in params.items()}
        ours.step(grads)
        for n, t in tensors.items():
            t.grad = torch.from_numpy(grads[n])
        theirs.step()
    for n in params:
        np.testing.assert_allclose(params[n], tensors[n].detach().numpy(), rtol=1e-13, atol=1e-15)


def test_adam_rejects_bad_arguments():
    params = {"w": np.zeros((3, 4)), "v": np.zeros(5)}
    opt = Adam(params)
    with pytest.raises(ValueError, match=r"Adam.step: expected gradients for \['v', 'w'\], got \['w'\]"):
        opt.step({"w": np.zeros((3, 4))})
    with pytest.raises(ValueError, match=r"Adam.step: expected v gradient of shape \(5,\), got \(4,\)"):
        opt.step({"w": np.zeros((3, 4)), "v": np.zeros(4)})
    for kwargs in ({"lr": 0.0}, {"betas": (0.9, 1.0)}, {"eps": -1.0}):
        with pytest.raises(ValueError, match="Adam: expected lr > 0, 0 <= betas < 1, eps >= 0"):
            Adam(params, **kwargs)


@pytest.mark.parametrize("max_norm", [0.1, 1.0, 100.0])
def test_clip_gradients_matches_torch_clip_grad_norm(max_norm):
    rng = np.random.default_rng(1)
    grads = {"a": rng.normal(size=(4, 3)), "b": rng.normal(size=7)}
    originals = {n: g.copy() for n, g in grads.items()}
    clipped, norm = clip_gradients(grads, max_norm)
    tensors = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads.values()]
    for t, g in zip(tensors, grads.values(), strict=True):
        t.grad = torch.from_numpy(g.copy())
    expected_norm = torch.nn.utils.clip_grad_norm_(tensors, max_norm).item()
    assert norm == pytest.approx(expected_norm, rel=1e-14)
    for t, name in zip(tensors, grads, strict=True):
        np.testing.assert_allclose(clipped[name], t.grad.numpy(), rtol=1e-14)
        np.testing.assert_array_equal(grads[name], originals[name])  # inputs untouched
        assert clipped[name] is not grads[name]
    new_norm = np.sqrt(sum((g**2).sum() for g in clipped.values()))
    assert new_norm <= max_norm * (1 + 1e-12) if norm > max_norm else new_norm == norm


def test_clip_gradients_rejects_a_non_positive_norm():
    with pytest.raises(ValueError, match="clip_gradients: expected max_norm > 0, got -1"):
        clip_gradients({"w": np.ones(2)}, -1)
