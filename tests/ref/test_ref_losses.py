"""companion.ref.losses: softmax cross-entropy equals torch's, is stable for huge logits, honours masks."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from companion.diagnostics.gradcheck import autograd_gradients, numerical_gradient, relative_error
from companion.ref.losses import log_softmax, softmax_cross_entropy


def sample(shape, V, seed, scale=2.0):
    rng = np.random.default_rng(seed)
    return rng.normal(scale=scale, size=(*shape, V)), rng.integers(0, V, size=shape), rng


def torch_loss(targets, mask=None):
    """Mean cross-entropy over unmasked positions, by torch (ignore_index marks masked positions)."""
    labels = torch.from_numpy(np.where(mask, targets, -100) if mask is not None else targets)

    def f(logits):
        V = logits.shape[-1]
        return F.cross_entropy(logits.reshape(-1, V), labels.reshape(-1), ignore_index=-100)

    return f


@pytest.mark.parametrize("shape, V", [((2, 5), 7), ((1, 1), 3), ((4, 3), 1), ((6,), 5), ((1,), 2)])
def test_loss_and_gradient_match_torch(shape, V):
    logits, targets, _ = sample(shape, V, seed=V + len(shape))
    loss, dlogits = softmax_cross_entropy(logits, targets)
    f = torch_loss(targets)
    expected = f(torch.from_numpy(logits)).item()
    assert abs(loss - expected) <= 1e-12 * max(1.0, abs(expected))
    (reference,) = autograd_gradients(f, [logits])
    assert relative_error(dlogits, reference) < 1e-10  # V = 1: both exactly zero, error 0


@pytest.mark.parametrize("shape, V", [((2, 5), 7), ((1, 1), 3), ((3,), 4)])
def test_gradient_matches_finite_differences(shape, V):
    logits, targets, _ = sample(shape, V, seed=11)
    _, dlogits = softmax_cross_entropy(logits, targets)
    numeric = numerical_gradient(lambda z: softmax_cross_entropy(z, targets)[0], [logits], wrt=0)
    assert relative_error(dlogits, numeric) < 1e-7


def test_masked_positions_give_exactly_zero_gradient_and_match_torch_ignore_index():
    logits, targets, rng = sample((3, 6), 5, seed=2)
    mask = rng.random((3, 6)) < 0.6
    mask[0, 0], mask[1, 1] = True, False
    loss, dlogits = softmax_cross_entropy(logits, targets, mask)
    assert np.all(dlogits[~mask] == 0.0)
    assert np.all(np.abs(dlogits[mask]).sum(axis=-1) > 0)
    f = torch_loss(targets, mask)
    assert abs(loss - f(torch.from_numpy(logits)).item()) < 1e-12
    (reference,) = autograd_gradients(f, [logits])
    assert relative_error(dlogits, reference) < 1e-10
    numeric = numerical_gradient(lambda z: softmax_cross_entropy(z, targets, mask)[0], [logits], wrt=0)
    assert relative_error(dlogits, numeric) < 1e-7


def test_masked_positions_may_hold_anything():
    """Padding: masked logits may be nan/inf and masked targets out of range; nothing leaks."""
    logits, targets, _ = sample((2, 4), 3, seed=3)
    mask = np.array([[True, True, False, False], [True, False, True, False]])
    clean = softmax_cross_entropy(logits, targets, mask)
    dirty_logits, dirty_targets = logits.copy(), targets.copy()
    dirty_logits[~mask] = np.nan
    dirty_logits[0, 3] = np.inf
    dirty_targets[~mask] = -1
    dirty = softmax_cross_entropy(dirty_logits, dirty_targets, mask)
    assert dirty[0] == clean[0]
    np.testing.assert_array_equal(dirty[1], clean[1])


def test_loss_is_the_mean_over_unmasked_positions():
    logits, targets, _ = sample((2, 3), 4, seed=4)
    mask = np.array([[True, False, True], [False, False, True]])
    per_position = [
        softmax_cross_entropy(logits[n, t][None], targets[n, t][None])[0]
        for n, t in zip(*np.nonzero(mask), strict=True)
    ]
    loss, _ = softmax_cross_entropy(logits, targets, mask)
    assert loss == pytest.approx(np.mean(per_position), rel=1e-13)
    assert softmax_cross_entropy(logits, targets, mask.astype(float))[0] == loss


def test_huge_logits_stay_finite_and_exact():
    big = np.array([[[1e4, -1e4], [-1e4, 1e4], [1e4, 1e4]]])  # (1, 3, 2)
    loss, dlogits = softmax_cross_entropy(big, np.array([[0, 0, 1]]))
    assert np.isfinite(loss) and np.all(np.isfinite(dlogits))
    # per position: log(1 + e^-2e4) = 0, 2e4 + log(1 + e^-2e4) = 2e4, log 2
    assert loss == pytest.approx((0.0 + 2e4 + np.log(2.0)) / 3, rel=1e-15)
    np.testing.assert_allclose(dlogits[0, 1], [-1 / 3, 1 / 3], rtol=1e-15)  # (p - onehot(0)) / 3, p = (0, 1)
    rng = np.random.default_rng(5)
    logits = rng.choice([-1e4, 1e4], size=(4, 5, 6)) + rng.normal(size=(4, 5, 6))
    targets = rng.integers(0, 6, size=(4, 5))
    loss, dlogits = softmax_cross_entropy(logits, targets)
    assert np.isfinite(loss) and np.all(np.isfinite(dlogits))
    assert abs(loss - torch_loss(targets)(torch.from_numpy(logits)).item()) < 1e-10 * loss
    (reference,) = autograd_gradients(torch_loss(targets), [logits])
    assert relative_error(dlogits, reference) < 1e-10


def test_every_position_masked_gives_zero():
    logits, targets, _ = sample((2, 3), 4, seed=6)
    loss, dlogits = softmax_cross_entropy(logits, targets, np.zeros((2, 3), dtype=bool))
    assert loss == 0.0 and dlogits.shape == logits.shape and np.all(dlogits == 0.0)


def test_float32_logits_give_a_float32_gradient():
    logits, targets, _ = sample((2, 3), 4, seed=7)
    loss64, d64 = softmax_cross_entropy(logits, targets)
    loss32, d32 = softmax_cross_entropy(logits.astype(np.float32), targets)
    assert d32.dtype == np.float32 and loss32 == pytest.approx(loss64, rel=1e-6)
    np.testing.assert_allclose(d32, d64, rtol=1e-5, atol=1e-7)


def test_log_softmax_matches_torch_and_is_stable():
    rng = np.random.default_rng(8)
    z = np.concatenate([rng.normal(size=(3, 5)), 1e4 * rng.choice([-1, 1], size=(2, 5))])
    out = log_softmax(z)
    np.testing.assert_allclose(
        out, F.log_softmax(torch.from_numpy(z), dim=-1).numpy(), rtol=1e-13, atol=1e-13
    )
    np.testing.assert_allclose(np.exp(out).sum(axis=-1), 1.0, rtol=1e-14)
    with pytest.raises(TypeError, match="log_softmax: expected logits to be a float numpy.ndarray, got list"):
        log_softmax([1.0, 2.0])
    with pytest.raises(ValueError, match=r"log_softmax: expected logits of shape \(\.\.\., V\) with V >= 1"):
        log_softmax(np.zeros((3, 0)))


@pytest.fixture
def good():
    logits, targets, _ = sample((2, 3), 4, seed=9)
    return logits, targets


@pytest.mark.parametrize(
    "change, error, message",
    [
        (
            lambda z, y: (z, y[:, :2]),
            ValueError,
            r"expected targets of shape \(N, T\) = \(2, 3\), got \(2, 2\)",
        ),
        (
            lambda z, y: (z, y.astype(float)),
            TypeError,
            "expected targets to have an integer dtype, got float64",
        ),
        (lambda z, y: (z, y.tolist()), TypeError, "expected targets to be a numpy.ndarray, got list"),
        (lambda z, y: (z.astype(int), y), TypeError, "expected logits to have a floating-point dtype"),
        (lambda z, y: (z[0, 0], y), ValueError, r"expected logits of shape \(N, T, V\), got \(4,\)"),
        (
            lambda z, y: (z, np.where(y == y[0, 0], 4, y)),
            ValueError,
            r"expected targets in \[0, V\) = \[0, 4\), got 4",
        ),
        (
            lambda z, y: (z, np.full_like(y, -1)),
            ValueError,
            r"expected targets in \[0, V\) = \[0, 4\), got -1",
        ),
        (
            lambda z, y: (np.where(z > 0, np.inf, z), y),
            ValueError,
            "expected finite logits at unmasked positions",
        ),
    ],
)
def test_bad_inputs_raise(good, change, error, message):
    logits, targets = change(*good)
    with pytest.raises(error, match="softmax_cross_entropy: " + message):
        softmax_cross_entropy(logits, targets)


def test_bad_masks_raise(good):
    logits, targets = good
    with pytest.raises(ValueError, match=r"expected mask of shape \(N, T\) = \(2, 3\), got \(3, 2\)"):
        softmax_cross_entropy(logits, targets, np.ones((3, 2), dtype=bool))
    with pytest.raises(ValueError, match="expected mask to be boolean or hold only 0 and 1, got float64"):
        softmax_cross_entropy(logits, targets, np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match=r"expected targets of shape \(N,\) = \(2,\), got \(2, 3\)"):
        softmax_cross_entropy(logits[:, 0], targets)


def test_log_softmax_takes_any_number_of_leading_axes_but_not_none():
    v = np.array([0.0, np.log(3.0)])
    np.testing.assert_allclose(np.exp(log_softmax(v)), [0.25, 0.75], rtol=1e-14)  # one vector, (V,)
    z = np.random.default_rng(1).normal(size=(2, 3, 4, 5))
    expected = F.log_softmax(torch.from_numpy(z), dim=-1).numpy()
    np.testing.assert_allclose(log_softmax(z), expected, rtol=1e-13, atol=1e-13)
    assert log_softmax(np.zeros((2, 0, 3))).shape == (2, 0, 3)  # no rows: nothing to normalise
    with pytest.raises(
        ValueError, match=r"log_softmax: expected logits of shape \(\.\.\., V\) with V >= 1, got \(\)"
    ):
        log_softmax(np.array(1.0))
    with pytest.raises(
        TypeError,
        match="log_softmax: expected logits to be a float numpy.ndarray, got ndarray of dtype int64",
    ):
        log_softmax(np.array([1, 2]))


def test_a_mask_of_zeros_and_ones_counts_like_a_boolean_mask(good):
    logits, targets = good
    keep = np.array([[1, 0, 1], [1, 1, 0]])
    expected = softmax_cross_entropy(logits, targets, keep.astype(bool))
    for mask in (keep, keep.astype(np.uint8), keep.astype(np.float32)):
        loss, dlogits = softmax_cross_entropy(logits, targets, mask)
        assert loss == expected[0]
        np.testing.assert_array_equal(dlogits, expected[1])


@pytest.mark.parametrize(
    "mask",
    [
        np.array([[1, 0, 1], [1, 2, 0]]),
        np.array([[1, 0, 1], [1, -1, 0]]),
        np.array([[1, 0, 1], [1, 1, 0]], dtype=object),
    ],
    ids=["a 2 among 0s and 1s", "a -1 among 0s and 1s", "object dtype"],
)
def test_a_mask_with_one_value_other_than_0_and_1_is_refused(good, mask):
    logits, targets = good
    with pytest.raises(
        ValueError, match="softmax_cross_entropy: expected mask to be boolean or hold only 0 and 1"
    ):
        softmax_cross_entropy(logits, targets, mask)


def test_one_class_with_masked_positions():
    """V = 1: the loss is 0 and masked targets may hold anything, e.g. the padding index -1."""
    logits = np.random.default_rng(3).normal(size=(2, 3, 1))
    targets = np.array([[0, 0, -1], [0, -1, -1]])
    loss, dlogits = softmax_cross_entropy(logits, targets, targets >= 0)
    assert loss == 0.0 and dlogits.shape == (2, 3, 1) and not dlogits.any()
