"""Gradient checks: central differences and torch autograd, the two independent witnesses (chapter 3).

A hand-written backward pass is trusted only when it agrees with

1. central finite differences,
   :math:`\\frac{f(\\theta + \\epsilon e_i) - f(\\theta - \\epsilon e_i)}{2\\epsilon}`,
   whose error is :math:`O(\\epsilon^2)` (about 1e-9 relative in float64 with ``eps=1e-6``), and
2. torch autograd on the same computation in float64, which agrees to rounding error (1e-14).

Both compare gradients of the scalar :math:`L = \\sum \\text{upstream} \\odot f(\\text{args})`, so
``upstream`` plays the role of :math:`\\partial L/\\partial f` handed to a backward function.
The functions copy their inputs and never modify the caller's arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = [
    "relative_error",
    "numerical_gradient",
    "numerical_gradients",
    "autograd_gradients",
    "compare_gradients",
]


def relative_error(a, b) -> float:
    """Relative error ``||a - b|| / (||a|| + ||b||)`` (0 when both are zero).

    Parameters
    ----------
    a, b : array_like of the same shape

    Returns
    -------
    float
        Scale-free: about 1e-16 for float64 rounding, 1e-8 for a good finite-difference check,
        and typically 1e-2 or more for a wrong gradient.

    Raises
    ------
    ValueError
        If the shapes differ (nothing is broadcast).

    Examples
    --------
    >>> relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    0.0
    >>> round(relative_error(np.array([1.0]), np.array([3.0])), 3)
    0.5
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"relative_error: expected arrays of the same shape, got {a.shape} and {b.shape}")
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0.0 else float(np.linalg.norm(a - b) / denom)


def _loss(f, args, upstream):
    out = np.asarray(f(*args))
    if upstream is None:
        return float(out.sum())
    if out.shape != np.shape(upstream):
        got = np.shape(upstream)
        raise ValueError(f"numerical_gradient: expected upstream of the output shape {out.shape}, got {got}")
    return float(np.sum(out * upstream))


def numerical_gradient(f: Callable, args: Sequence, wrt: int, upstream=None, eps: float = 1e-6):
    """Central-difference gradient of ``sum(upstream * f(*args))`` with respect to ``args[wrt]``.

    Parameters
    ----------
    f : callable
        Takes ``*args`` (numpy arrays) and returns one array.
    args : sequence of ndarray
        Point at which to differentiate. Copied: the caller's arrays are never touched.
    wrt : int
        Index of the argument to differentiate.
    upstream : ndarray of the output's shape, optional
        Weights of the output entries (``None`` means all ones).
    eps : float, default 1e-6
        Step size.

    Returns
    -------
    ndarray of float64 of the shape of ``args[wrt]``

    Raises
    ------
    ValueError
        If ``wrt`` is not an index into ``args``, ``eps`` is not positive, or ``upstream`` does not
        have the output's shape.

    Notes
    -----
    Every argument is converted to a float64 copy, and ``f`` is evaluated at those copies, so
    neither the perturbations nor anything ``f`` does to its arguments reach the caller's arrays.
    Each entry costs two evaluations of ``f``: use small shapes.

    See Also
    --------
    torch.autograd.gradcheck : the same comparison for torch functions.

    Examples
    --------
    >>> g = numerical_gradient(lambda x: x**2, [np.array([1.0, -2.0])], wrt=0)
    >>> np.round(g, 6)
    array([ 2., -4.])
    """
    if not isinstance(wrt, (int, np.integer)) or not 0 <= wrt < len(args):
        raise ValueError(f"numerical_gradient: expected wrt to index one of {len(args)} args, got {wrt!r}")
    if not eps > 0:
        raise ValueError(f"numerical_gradient: expected eps > 0, got {eps!r}")
    args = [np.array(a, dtype=np.float64, copy=True) for a in args]
    x = args[wrt]
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        plus = _loss(f, args, upstream)
        x[i] = old - eps
        minus = _loss(f, args, upstream)
        x[i] = old
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def numerical_gradients(f: Callable, args: Sequence, upstream=None, eps: float = 1e-6):
    """Central-difference gradients with respect to every argument: a list like ``args``.

    Parameters
    ----------
    f, args, upstream, eps
        As in :func:`numerical_gradient`.

    Returns
    -------
    list of ndarray
        ``[numerical_gradient(f, args, k, upstream, eps) for k in range(len(args))]``.

    Examples
    --------
    >>> gx, gy = numerical_gradients(lambda x, y: x * y, [np.array([2.0]), np.array([3.0])])
    >>> np.round(gx, 6), np.round(gy, 6)
    (array([3.]), array([2.]))
    """
    return [numerical_gradient(f, args, k, upstream, eps) for k in range(len(args))]


def autograd_gradients(torch_f: Callable, args: Sequence, upstream=None):
    """Gradients of ``sum(upstream * torch_f(*args))`` computed by torch autograd in float64.

    Parameters
    ----------
    torch_f : callable
        The same computation as the numpy function, written with torch operations on tensors.
    args : sequence of ndarray
        Converted to float64 tensors that require grad (copies).
    upstream : ndarray of the output's shape, optional

    Returns
    -------
    list of ndarray
        One gradient per argument (zeros where the output does not depend on it).

    Raises
    ------
    ValueError
        If ``upstream`` does not have the output's shape.

    Notes
    -----
    ``torch.tensor`` copies every argument, so the caller's arrays are never touched. Integer
    arguments (class labels) cannot require a gradient: close over them in ``torch_f`` instead.

    See Also
    --------
    torch.autograd.grad : what computes the gradients.

    Examples
    --------
    >>> import torch
    >>> (g,) = autograd_gradients(lambda x: torch.sin(x), [np.array([0.0])])
    >>> g
    array([1.])
    """
    import torch  # imported here so the finite-difference checks work without torch

    tensors = [torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=True) for a in args]
    out = torch_f(*tensors)
    weights = torch.ones_like(out) if upstream is None else torch.as_tensor(upstream, dtype=torch.float64)
    if weights.shape != out.shape:
        raise ValueError(
            f"autograd_gradients: expected upstream of shape {tuple(out.shape)}, got {tuple(weights.shape)}"
        )
    grads = torch.autograd.grad(out, tensors, grad_outputs=weights, allow_unused=True)
    return [
        np.zeros(np.shape(a)) if g is None else g.detach().numpy() for a, g in zip(args, grads, strict=True)
    ]


def compare_gradients(analytic: Sequence, reference: Sequence, names: Sequence[str]) -> dict[str, float]:
    """Relative error of each analytic gradient against its reference, by name.

    Parameters
    ----------
    analytic, reference : sequence of ndarray
        Gradients in the same order (e.g. the output of a backward function and of
        :func:`numerical_gradients` or :func:`autograd_gradients`).
    names : sequence of str
        A name for each pair, e.g. ``["dx", "dh0", "dWx", "dWh", "db"]``.

    Returns
    -------
    dict of str to float
        :func:`relative_error` of each pair.

    Raises
    ------
    ValueError
        If the three sequences have different lengths or a pair has different shapes.

    Examples
    --------
    >>> compare_gradients([np.ones(2)], [np.ones(2)], ["dx"])
    {'dx': 0.0}
    """
    if not len(analytic) == len(reference) == len(names):
        raise ValueError(
            f"compare_gradients: expected as many names as gradients, got {len(analytic)} analytic, "
            f"{len(reference)} reference, {len(names)} names"
        )
    return {n: relative_error(a, r) for n, a, r in zip(names, analytic, reference, strict=True)}
