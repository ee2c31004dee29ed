"""Self-checks for the exercises of chapter 4, *Vanishing and exploding gradients*: gradient
clipping by norm and the Jacobian of one RNN step.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion.exercises.engine import Exercise, Mistake
from companion.exercises.inputs import label, make_cases, ref, rnn_weights
from companion.exercises.report import CheckPassed

__all__ = ["check_clip_by_norm", "check_step_jacobian", "check_jacobian_bound"]


def check_clip_by_norm(fn: Callable) -> CheckPassed:
    """Check the reader's gradient clipping by norm (chapter 4 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(grads, max_norm)`` with ``grads`` a list of ndarray (any shapes) and a float
        ``max_norm`` > 0, returning a list of new arrays of the same shapes: the gradients
        rescaled together so that their joint norm is at most ``max_norm``, and unchanged if it
        already is. The input arrays must not be modified.

    Returns
    -------
    CheckPassed
        When every case agrees with :func:`companion.train.clipping.clip_grad_norm`.

    Raises
    ------
    ExerciseError
        Naming the fault: inputs modified in place, each array clipped separately, clipping by
        value, rescaling below the threshold, or the factor inverted.

    Notes
    -----
    :math:`g \\leftarrow \\frac{\\theta}{\\lVert g \\rVert} g` if :math:`\\lVert g \\rVert > \\theta`
    (Pascanu et al., 2013), with :math:`g` all gradients as one vector.

    Examples
    --------
    >>> def clip(grads, max_norm):
    ...     norm = np.sqrt(sum(np.sum(g**2) for g in grads))
    ...     return [g * min(1.0, max_norm / norm) for g in grads]
    >>> check_clip_by_norm(clip)
    ✓ check_clip_by_norm: all checks passed (4 cases)
    """
    return _CLIP.check(fn)


def check_step_jacobian(fn: Callable) -> CheckPassed:
    """Check the reader's Jacobian of one tanh RNN step (chapter 4 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(x, h_prev, Wx, Wh, b)`` for a single sequence: ``x`` (D,), ``h_prev`` (H,), ``Wx``
        (D, H), ``Wh`` (H, H), ``b`` (H,); returns the Jacobian ``J`` of shape (H, H) of the new
        state ``h = tanh(x @ Wx + h_prev @ Wh + b)`` with respect to ``h_prev``, with
        ``J[i, j] = dh[i] / dh_prev[j]``.

    Returns
    -------
    CheckPassed
        When every case agrees with a central-difference Jacobian of
        :func:`companion.ref.rnn.rnn_step_forward` (relative error below 1e-6).

    Raises
    ------
    ExerciseError
        Naming the fault: a wrong shape, the Jacobian transposed, ``Wh`` untransposed, the tanh
        derivative missing, taken at ``h_prev`` or applied from the wrong side.

    Notes
    -----
    :math:`\\partial h_t / \\partial h_{t-1} = \\operatorname{diag}(1 - h_t^2)\\, W_{hh}` in the
    column-vector convention, where :math:`W_{hh}` is ``Wh.T``.

    Examples
    --------
    >>> def jacobian(x, h_prev, Wx, Wh, b):
    ...     h = np.tanh(x @ Wx + h_prev @ Wh + b)
    ...     return (1 - h**2)[:, None] * Wh.T
    >>> check_step_jacobian(jacobian)
    ✓ check_step_jacobian: all checks passed (3 cases)
    """
    return _JACOBIAN.check(fn)


def check_jacobian_bound(fn: Callable) -> CheckPassed:
    """Check the reader's bound on a product of RNN Jacobians (chapter 4, pen-and-paper exercise).

    Parameters
    ----------
    fn : callable
        ``fn(activation, sigma_max, k)`` with ``activation`` ``"tanh"`` or ``"sigmoid"``, the largest
        singular value ``sigma_max`` of :math:`W_{hh}` and a distance ``k`` ≥ 1; returns the bound on
        :math:`\\lVert \\partial h_T / \\partial h_{T-k} \\rVert_2` for
        :math:`h_t = \\varphi(W_{hh} h_{t-1} + W_{xh} x_t + b)` as a number.

    Returns
    -------
    CheckPassed
        When every case equals :math:`(\\gamma\\, \\sigma_{\\max})^k` with :math:`\\gamma = \\max \\varphi'`.

    Raises
    ------
    ExerciseError
        Naming the fault: the sigmoid's slope taken as 1/2 or 1, γ applied once, the exponent off by one.

    Examples
    --------
    >>> check_jacobian_bound(lambda activation, s, k: ({"tanh": 1.0, "sigmoid": 0.25}[activation] * s) ** k)
    ✓ check_jacobian_bound: all checks passed (4 cases)
    """
    return _BOUND.check(fn)


def _clip_cases() -> list[dict]:
    rng = np.random.default_rng(401)
    shapes = [(3, 4), (5,), (2, 2, 2)]
    cases = []
    for scale, max_norm in [(2.0, 2.5), (0.1, 2.5), (1.0, 0.5)]:
        grads = [rng.normal(scale=scale, size=s) for s in shapes]
        cases.append({"grads": grads, "max_norm": max_norm, "_label": label(scale=scale, max_norm=max_norm)})
    cases.append({"grads": [np.array([3.0, 4.0])], "max_norm": 1.0, "_label": "grads=[[3, 4]], max_norm=1"})
    for c in cases:
        c["_outputs"] = tuple(f"grads[{k}]" for k in range(len(c["grads"])))
        c["_norm"] = float(np.sqrt(sum(np.sum(g**2) for g in c["grads"])))
    return cases


def _clip_reference(c: dict) -> dict:
    import torch

    from companion.train import clip_grad_norm

    params = []
    for g in c["grads"]:
        p = torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
        p.grad = torch.tensor(g, dtype=torch.float64)
        params.append(p)
    clip_grad_norm(params, c["max_norm"])
    return {f"grads[{k}]": p.grad.numpy() for k, p in enumerate(params)}


def _scaled(c: dict, factor) -> dict:
    return {f"grads[{k}]": g * factor(g) for k, g in enumerate(c["grads"])}


_CLIP = Exercise(
    "check_clip_by_norm(grads, max_norm)",
    cases=_clip_cases,
    reference=_clip_reference,
    equation="With norm = sqrt(sum of the squares of every entry of every array): if norm > max_norm, "
    "multiply every array by max_norm / norm; otherwise return them unchanged.",
    mistakes=[
        Mistake(
            "The condition is inverted: rescale when the norm is larger than max_norm (norm > max_norm), "
            "and leave the gradients unchanged when it is not.",
            # recognised where the norm exceeds max_norm (the gradients come back unchanged); below it
            # the inverted rule rescales like "rescaled even though ...", which is reported instead
            lambda c: _scaled(c, lambda g: 1.0) if c["_norm"] > c["max_norm"] else {},
        ),
        Mistake(
            "Each array is clipped by its own norm; clipping by norm rescales all gradients together, "
            "by max_norm / norm with norm taken over all of them as one vector.",
            lambda c: _scaled(c, lambda g: min(1.0, c["max_norm"] / np.linalg.norm(g))),
        ),
        Mistake(
            "The entries are clipped by value (np.clip); clipping by norm multiplies every entry by the "
            "same factor, so the direction of the gradient is kept.",
            lambda c: {
                f"grads[{k}]": np.clip(g, -c["max_norm"], c["max_norm"]) for k, g in enumerate(c["grads"])
            },
        ),
        Mistake(
            "The gradients are rescaled even though their norm was already at most max_norm; leave "
            "them unchanged then.",
            lambda c: _scaled(c, lambda g: c["max_norm"] / c["_norm"]),
        ),
        Mistake(
            "The factor is upside down: multiply by max_norm / norm.",
            lambda c: _scaled(c, lambda g: c["_norm"] / c["max_norm"] if c["_norm"] > c["max_norm"] else 1.0),
        ),
        Mistake(
            "The gradients are divided by their norm only; multiply them by max_norm / norm.",
            lambda c: _scaled(c, lambda g: 1.0 / c["_norm"] if c["_norm"] > c["max_norm"] else 1.0),
        ),
    ],
)


def _numerical_jacobian(c: dict) -> dict:
    from companion.diagnostics.gradcheck import numerical_gradient

    rnn = ref("rnn")
    H = c["h_prev"].shape[0]

    def step(h_prev):  # (1, H) -> (1, H)
        return rnn.rnn_step_forward(c["x"][None], h_prev, c["Wx"], c["Wh"], c["b"])[0]

    rows = [
        numerical_gradient(step, [c["h_prev"][None]], wrt=0, upstream=np.eye(H)[i : i + 1]) for i in range(H)
    ]
    return {"J": np.concatenate(rows, axis=0)}  # (H, H): row i is dh_i / dh_prev


def _tanh_slope(c: dict, at: str = "h") -> np.ndarray:
    h = np.tanh(c["x"] @ c["Wx"] + c["h_prev"] @ c["Wh"] + c["b"])  # (H,)
    return 1.0 - (h if at == "h" else c["h_prev"]) ** 2  # (H,)


_JACOBIAN = Exercise(
    "check_step_jacobian(x, h_prev, Wx, Wh, b) -> J (H, H)",
    cases=lambda: make_cases(
        402,
        "D H",
        [(3, 4), (2, 3), (1, 2)],
        lambda rng, D, H: {
            "x": rng.normal(size=D),
            "h_prev": rng.uniform(-1, 1, size=H),
            **rnn_weights(rng, D, H),
        },
    ),
    reference=_numerical_jacobian,
    tolerance=1e-6,  # the reference is a central-difference Jacobian
    equation="With h = tanh(x @ Wx + h_prev @ Wh + b): J[i, j] = (1 - h[i]**2) * Wh[j, i], "
    "i.e. J = diag(1 - h**2) @ Wh.T.",
    mistakes=[
        Mistake(
            "Your matrix is transposed: row i holds the derivatives of h[i], J[i, j] = dh[i] / dh_prev[j].",
            lambda c: {"J": c["Wh"] * _tanh_slope(c)[None, :]},
        ),
        Mistake(
            "Wh is not transposed: with one row per sequence h = tanh(x @ Wx + h_prev @ Wh + b), so "
            "dh[i] / dh_prev[j] = (1 - h[i]**2) * Wh[j, i] and J = diag(1 - h**2) @ Wh.T.",
            lambda c: {"J": _tanh_slope(c)[:, None] * c["Wh"]},
        ),
        Mistake(
            "The tanh derivative is missing: J = diag(1 - h**2) @ Wh.T.",
            lambda c: {"J": c["Wh"].T.copy()},
        ),
        Mistake(
            "The tanh derivative is taken at h_prev; it is 1 - h**2 at the step's output h.",
            lambda c: {"J": _tanh_slope(c, at="h_prev")[:, None] * c["Wh"].T},
        ),
        Mistake(
            "diag(1 - h**2) multiplies from the wrong side: it scales the rows, J = diag(1 - h**2) @ Wh.T.",
            lambda c: {"J": c["Wh"].T * _tanh_slope(c)[None, :]},
        ),
    ],
)


# --------------------------------------------------------------------------------------------------
# Pen and paper: the bound on a product of Jacobians for tanh and sigmoid units.

_SLOPE = {"tanh": 1.0, "sigmoid": 0.25}  # max_a φ'(a): tanh'(0) = 1, σ'(0) = σ(0)(1 - σ(0)) = 1/4


def _bound(c: dict, slope=None, power=None) -> dict:
    gamma = _SLOPE[c["activation"]] if slope is None else slope(c)
    k = c["k"] if power is None else power(c)
    return {"bound": np.asarray((gamma * c["sigma_max"]) ** k)}


_BOUND = Exercise(
    "check_jacobian_bound(activation, sigma_max, k) -> bound",
    cases=lambda: make_cases(
        0,
        "activation sigma_max k",
        [("sigmoid", 3.0, 5), ("tanh", 0.9, 10), ("sigmoid", 6.0, 8), ("tanh", 1.5, 3)],
        lambda rng, **given: given,
    ),
    returns=np.asarray,
    reference=_bound,
    equation="Each factor diag(φ'(a)) W_hh has norm at most γ σ_max with γ = max φ' (1 for tanh, 1/4 for "
    "the sigmoid), so k factors give (γ σ_max)**k.",
    mistakes=[
        Mistake(
            "For the sigmoid you used γ = 1/2, the value σ(0); the bound needs the largest slope, "
            "σ'(0) = σ(0)(1 - σ(0)) = 1/4.",
            lambda c: _bound(c, slope=lambda c: 0.5 if c["activation"] == "sigmoid" else 1.0),
        ),
        Mistake(
            "For the sigmoid you used γ = 1, the tanh slope; σ' = σ(1 - σ) is at most 1/4.",
            lambda c: _bound(c, slope=lambda c: 1.0) if c["activation"] == "sigmoid" else {},
        ),
        Mistake(
            "γ enters once; every one of the k factors has its own diag(φ'), so the bound is (γ σ_max)**k.",
            lambda c: {"bound": np.asarray(_SLOPE[c["activation"]] * c["sigma_max"] ** c["k"])},
        ),
        Mistake(
            "The exponent is off by one: k steps back is a product of exactly k Jacobians.",
            lambda c: _bound(c, power=lambda c: c["k"] - 1),
        ),
        Mistake(
            "The exponent is off by one: k steps back is a product of exactly k Jacobians, not k + 1.",
            lambda c: _bound(c, power=lambda c: c["k"] + 1),
        ),
    ],
)
