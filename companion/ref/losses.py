"""Losses with their gradients, in numpy (chapter 3: the loss that starts backpropagation through time).

:func:`softmax_cross_entropy` turns scores over a vocabulary of V classes into a scalar loss and
returns the gradient with respect to the scores, the first upstream gradient of the backward pass.
"""

from __future__ import annotations

import numpy as np

from companion._validate import Dims

__all__ = ["softmax_cross_entropy", "log_softmax"]


def log_softmax(logits):
    """Numerically stable log-softmax over the last axis.

    Parameters
    ----------
    logits : ndarray of shape (..., V)
        Unnormalised scores (float).

    Returns
    -------
    ndarray of shape (..., V)
        ``logits - logsumexp(logits)``: finite for any finite input, however large.

    Raises
    ------
    TypeError
        If ``logits`` is not a float ndarray.
    ValueError
        If ``logits`` has no axis or an empty last axis.

    Notes
    -----
    :math:`\\log \\operatorname{softmax}(z)_v = (z_v - m) - \\log \\sum_u e^{z_u - m}` with
    :math:`m = \\max_u z_u`: every exponent is at most 0, so nothing overflows, and the largest
    term of the sum is 1, so the logarithm never sees 0.

    See Also
    --------
    torch.nn.functional.log_softmax : the same with ``dim=-1``.

    Examples
    --------
    >>> np.round(np.exp(log_softmax(np.array([0.0, np.log(3.0)]))), 2)
    array([0.25, 0.75])
    """
    if not isinstance(logits, np.ndarray) or not np.issubdtype(logits.dtype, np.floating):
        raise TypeError(f"log_softmax: expected logits to be a float numpy.ndarray, got {_describe(logits)}")
    if logits.ndim == 0 or logits.shape[-1] == 0:
        raise ValueError(f"log_softmax: expected logits of shape (..., V) with V >= 1, got {logits.shape}")
    shifted = logits - logits.max(axis=-1, keepdims=True)  # (..., V), every entry <= 0
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))  # (..., V)


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"ndarray of dtype {value.dtype}"
    return type(value).__name__


def _check_labels(where: str, name: str, array, expected: tuple, letters: str) -> None:
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{where}: expected {name} to be a numpy.ndarray, got {type(array).__name__}")
    if array.shape != expected:
        known = "(" + ", ".join(map(str, expected)) + (",)" if len(expected) == 1 else ")")
        raise ValueError(f"{where}: expected {name} of shape {letters} = {known}, got {array.shape}")


def _as_mask(mask, shape: tuple, letters: str) -> np.ndarray:
    where = "softmax_cross_entropy"
    if mask is None:
        return np.ones(shape, dtype=bool)
    _check_labels(where, "mask", mask, shape, letters)
    if mask.dtype == bool:
        return mask
    if not (np.issubdtype(mask.dtype, np.number) and np.isin(mask, (0, 1)).all()):
        raise ValueError(f"{where}: expected mask to be boolean or hold only 0 and 1, got {mask.dtype}")
    return mask.astype(bool)


def softmax_cross_entropy(logits, targets, mask=None):
    """Mean cross-entropy of softmax(logits) against integer targets, and its gradient.

    Parameters
    ----------
    logits : ndarray of shape (N, T, V) or (N, V)
        Unnormalised scores over V classes at every position (float).
    targets : ndarray of int of shape (N, T) or (N,)
        The correct class at every position, in ``[0, V)`` wherever ``mask`` is true. Masked
        positions may hold anything (a padding index such as -1).
    mask : ndarray of bool (or of 0/1) of shape (N, T) or (N,), optional
        True where a position counts. ``None`` counts every position.

    Returns
    -------
    loss : float
        :math:`-\\frac{1}{M}\\sum_{\\text{unmasked } i} \\log p_{i, y_i}`: the **mean over unmasked
        positions**, M being their number (N·T without a mask). 0.0 when every position is masked.
    dlogits : ndarray of the shape of ``logits``
        :math:`\\partial\\,\\text{loss}/\\partial\\,\\text{logits} = (p - \\text{onehot}(y)) / M` at
        unmasked positions and exactly 0.0 at masked ones.

    Raises
    ------
    TypeError
        If ``logits`` is not a float ndarray or ``targets`` not an integer ndarray.
    ValueError
        If shapes disagree, an unmasked target lies outside ``[0, V)``, an unmasked logit is not
        finite, or the mask holds values other than 0 and 1.

    Notes
    -----
    With :math:`p = \\operatorname{softmax}(z)` computed through :func:`log_softmax` (finite for logits
    of any finite size, e.g. ±1e4), the loss at one position is
    :math:`\\ell = -\\log p_y = \\log\\sum_v e^{z_v} - z_y` and its gradient
    :math:`\\partial \\ell / \\partial z_v = p_v - [v = y]`. Masked positions are removed with
    ``np.where`` rather than multiplied by 0, so whatever they hold (even ``nan``) cannot leak
    into the loss or the gradient.

    See Also
    --------
    torch.nn.functional.cross_entropy : the same loss on ``logits.reshape(-1, V)`` with
        ``reduction="mean"``; a mask corresponds to ``ignore_index`` (torch returns ``nan`` when
        every position is ignored, this function 0.0).

    Examples
    --------
    >>> loss, dlogits = softmax_cross_entropy(np.zeros((2, 3, 4)), np.zeros((2, 3), dtype=int))
    >>> round(loss, 6) == round(float(np.log(4)), 6), dlogits.shape
    (True, (2, 3, 4))
    """
    where = "softmax_cross_entropy"
    dims = Dims(where)
    if isinstance(logits, np.ndarray) and logits.ndim == 2:
        spec, letters = "N V", "(N,)"
    else:
        spec, letters = "N T V", "(N, T)"
    dims.check("logits", logits, spec)
    positions = logits.shape[:-1]
    _check_labels(where, "targets", targets, positions, letters)
    if not np.issubdtype(targets.dtype, np.integer):
        raise TypeError(f"{where}: expected targets to have an integer dtype, got {targets.dtype}")
    keep = _as_mask(mask, positions, letters)  # (N, T)
    V = dims["V"]
    bad = keep & ((targets < 0) | (targets >= V))
    if bad.any():
        raise ValueError(f"{where}: expected targets in [0, V) = [0, {V}), got {targets[bad][0]}")
    safe_logits = np.where(keep[..., None], logits, 0.0)  # (N, T, V), masked rows neutralised
    if not np.isfinite(safe_logits).all():
        raise ValueError(f"{where}: expected finite logits at unmasked positions")
    safe_targets = np.where(keep, targets, 0)[..., None]  # (N, T, 1)
    log_p = log_softmax(safe_logits)  # (N, T, V)
    count = int(keep.sum())
    if count == 0:
        return 0.0, np.zeros_like(logits)
    picked = np.take_along_axis(log_p, safe_targets, axis=-1)[..., 0]  # (N, T)
    loss = -float(picked[keep].sum()) / count
    dlogits = np.exp(log_p)  # (N, T, V): softmax probabilities
    p_target = np.take_along_axis(dlogits, safe_targets, axis=-1)  # (N, T, 1)
    np.put_along_axis(dlogits, safe_targets, p_target - 1.0, axis=-1)  # p - onehot(y)
    dlogits = np.where(keep[..., None], dlogits / count, 0.0).astype(logits.dtype, copy=False)  # (N, T, V)
    return loss, dlogits
