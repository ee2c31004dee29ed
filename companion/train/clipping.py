"""Gradient norms and clipping, by norm and by value (chapter 4).

Used by :func:`companion.train.loop.fit`, which measures the norm *before* clipping at every step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

__all__ = ["grad_norm", "clip_grad_norm", "clip_grad_value"]


def _grads(parameters: Iterable[torch.Tensor]) -> list[torch.Tensor]:
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def grad_norm(parameters: Iterable[torch.Tensor]) -> float:
    """Euclidean norm of all gradients together, :math:`\\sqrt{\\sum_p \\lVert g_p \\rVert^2}`.

    Parameters
    ----------
    parameters : iterable of torch.Tensor
        Parameters whose ``.grad`` is read; those without a gradient are ignored.

    Returns
    -------
    float
        0.0 when no parameter has a gradient; ``inf``/``nan`` when a gradient is not finite.
        Computed in float64, so float32 gradients near the float32 limit do not overflow.

    See Also
    --------
    torch.nn.utils.get_total_norm : the same number as a tensor.

    Examples
    --------
    >>> p = torch.nn.Parameter(torch.zeros(2))
    >>> p.grad = torch.tensor([3.0, 4.0])
    >>> grad_norm([p])
    5.0
    """
    return _norm(_grads(parameters))


def _check_threshold(where: str, name: str, value) -> None:
    """A clipping threshold is a finite number > 0; ``where`` names the function the user called."""
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{where}: expected {name} > 0, got {value!r}")


def _norm(grads: list[torch.Tensor]) -> float:
    per_device: dict[torch.device, list[torch.Tensor]] = {}
    for g in grads:  # squares summed on each gradient's device: one read-back per device, not per tensor
        per_device.setdefault(g.device, []).append(torch.sum(g.detach().double() ** 2))
    squares = sum(float(torch.stack(sums).sum()) for sums in per_device.values())
    return math.sqrt(squares) if math.isfinite(squares) else float(squares)


def clip_grad_norm(parameters: Iterable[torch.Tensor], max_norm: float) -> float:
    """Rescale the gradients in place so that their joint norm is at most ``max_norm``.

    Parameters
    ----------
    parameters : iterable of torch.Tensor
        Parameters whose ``.grad`` is rescaled in place, all by the same factor.
    max_norm : float
        Threshold :math:`\\theta > 0`.

    Returns
    -------
    float
        The norm before clipping (as :func:`grad_norm`).

    Raises
    ------
    ValueError
        If ``max_norm`` is not a positive finite number.
    FloatingPointError
        If the gradient norm is not finite (the gradients are left untouched).

    Notes
    -----
    Pascanu et al. (2013): with :math:`g` all gradients as one vector,

    .. math:: g \\leftarrow \\frac{\\theta}{\\lVert g \\rVert} g
        \\quad \\text{if } \\lVert g \\rVert > \\theta,

    which shortens the step and keeps its direction.

    See Also
    --------
    torch.nn.utils.clip_grad_norm_ : the same rule (it clips by ``max_norm / (norm + 1e-6)``).

    Examples
    --------
    >>> p = torch.nn.Parameter(torch.zeros(2))
    >>> p.grad = torch.tensor([3.0, 4.0])
    >>> clip_grad_norm([p], 1.0), p.grad.tolist()
    (5.0, [0.6000000238418579, 0.800000011920929])
    """
    _check_threshold("clip_grad_norm", "max_norm", max_norm)
    grads = _grads(parameters)
    norm = _norm(grads)
    if not math.isfinite(norm):
        raise FloatingPointError(f"clip_grad_norm: expected a finite gradient norm, got {norm}")
    if norm > max_norm:
        for g in grads:
            g.mul_(max_norm / norm)
    return norm


def clip_grad_value(parameters: Iterable[torch.Tensor], clip_value: float) -> None:
    """Clamp every gradient entry in place to ``[-clip_value, clip_value]``.

    Parameters
    ----------
    parameters : iterable of torch.Tensor
        Parameters whose ``.grad`` is clamped in place, entry by entry.
    clip_value : float
        Bound :math:`c > 0`.

    Raises
    ------
    ValueError
        If ``clip_value`` is not a positive finite number.

    Notes
    -----
    :math:`g_i \\leftarrow \\min(\\max(g_i, -c), c)` entry by entry. Unlike :func:`clip_grad_norm`
    this changes the direction of the step whenever some entries are clamped and others are not.

    See Also
    --------
    torch.nn.utils.clip_grad_value_ : the same operation.

    Examples
    --------
    >>> p = torch.nn.Parameter(torch.zeros(2))
    >>> p.grad = torch.tensor([3.0, -0.5])
    >>> clip_grad_value([p], 1.0); p.grad.tolist()
    [1.0, -0.5]
    """
    _check_threshold("clip_grad_value", "clip_value", clip_value)
    for g in _grads(parameters):
        g.clamp_(-clip_value, clip_value)
