"""Attention in numpy: dot-product and additive attention, forward and backward by hand (chapter 8).

A query :math:`q_i` reads a weighted average of the values :math:`v_j`, weighted by how well it
matches each key :math:`k_j`:

.. math::

    s_{ij} = \\operatorname{score}(q_i, k_j), \\qquad
    p_{ij} = \\frac{m_j e^{s_{ij}}}{\\sum_l m_l e^{s_{il}}}, \\qquad
    c_i = \\sum_j p_{ij} v_j,

with the key mask :math:`m_j \\in \\{0, 1\\}`. Two scores: the (scaled) dot product
:math:`s_{ij} = q_i \\cdot k_j / \\sqrt{D}` (Luong et al., 2015; Vaswani et al., 2017) and Bahdanau et
al.'s (2015) additive score :math:`s_{ij} = w_a \\cdot \\tanh(q_i W_q + k_j W_k)`. Shapes are batch
first: queries ``q`` (N, Tq, Dq), keys ``k`` (N, Tk, Dk), values ``v`` (N, Tk, Dv), and the keys of
sequence n are masked by a boolean ``mask`` (N, Tk) (True = attend) or by valid ``lengths`` (N,).

Masked keys get exactly zero weight; their keys and values are never read (NaN there is harmless)
and receive zero gradient. A row whose keys are all masked (length 0) gets all-zero weights, hence a
zero context, and passes zero gradient back. Luong's *general* score :math:`q_i^\\top W k_j` is the
dot product of :math:`q_i W` with :math:`k_j`: call the dot-product functions with ``q @ W`` and get
``dW = q.T @ dq`` from their ``dq``. :mod:`companion.nn.attention` holds the torch modules.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from companion._validate import Dims, check_lengths
from companion.ref._docs import fill

__all__ = [
    "masked_softmax",
    "softmax_backward",
    "DotProductCache",
    "AdditiveCache",
    "dot_product_attention_forward",
    "dot_product_attention_backward",
    "additive_attention_forward",
    "additive_attention_backward",
]


def masked_softmax(scores, mask=None):
    """Softmax over the last axis in which masked entries get exactly zero weight.

    Parameters
    ----------
    scores : ndarray of shape (..., T)
        Scores; values at masked entries are never read (NaN or inf there is harmless).
    mask : ndarray of bool broadcastable to ``scores.shape``, optional
        True where an entry takes part. ``None`` means every entry does.

    Returns
    -------
    ndarray of the shape of ``scores``
        :math:`p_j = m_j e^{s_j - \\mu} / \\sum_l m_l e^{s_l - \\mu}` with :math:`\\mu` the largest
        unmasked score (so ``exp`` never overflows). A row whose entries are all masked is all zeros.

    Raises
    ------
    ValueError
        If ``mask`` does not broadcast to the shape of ``scores``.
    TypeError
        If ``scores`` is not a floating-point ndarray or ``mask`` not a boolean ndarray.

    See Also
    --------
    companion.nn.attention.masked_softmax : the same function on tensors.

    Examples
    --------
    >>> masked_softmax(np.array([[0.0, 0.0, 5.0], [1.0, 2.0, 3.0]]), np.array([True, True, False]))
    array([[0.5       , 0.5       , 0.        ],
           [0.26894142, 0.73105858, 0.        ]])
    """
    if not isinstance(scores, np.ndarray) or not np.issubdtype(scores.dtype, np.floating):
        raise TypeError(f"masked_softmax: expected scores to be a floating-point ndarray, got {scores!r:.60}")
    if mask is None:
        mask = np.ones(scores.shape, dtype=bool)
    elif not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
        raise TypeError(f"masked_softmax: expected mask to be a boolean ndarray, got {mask!r:.60}")
    try:
        mask = np.broadcast_to(mask, scores.shape)
    except ValueError:
        raise ValueError(
            f"masked_softmax: expected mask broadcastable to scores of shape {scores.shape}, got {mask.shape}"
        ) from None
    any_valid = mask.any(axis=-1, keepdims=True)  # (..., 1)
    s = np.where(mask, scores, -np.inf)  # (..., T)
    top = np.where(any_valid, s.max(axis=-1, keepdims=True), 0.0)  # (..., 1): 0 for an all-masked row
    e = np.exp(s - top)  # exactly 0 where masked
    total = e.sum(axis=-1, keepdims=True)  # (..., 1)
    return e / np.where(any_valid, total, 1.0)


def softmax_backward(dp, p):
    """Backward pass of :func:`masked_softmax` over the last axis.

    Parameters
    ----------
    dp : ndarray of shape (..., T)
        Gradient of the loss with respect to the weights ``p``.
    p : ndarray of shape (..., T)
        The weights returned by :func:`masked_softmax`.

    Returns
    -------
    ds : ndarray of shape (..., T)
        Gradient with respect to the scores: zero at masked entries (where ``p`` is zero).

    Raises
    ------
    ValueError
        If ``dp`` does not have the shape of ``p``.

    Notes
    -----
    The softmax Jacobian is :math:`\\partial p_j / \\partial s_l = p_j(\\delta_{jl} - p_l)`, so
    :math:`ds_l = \\sum_j dp_j\\, p_j(\\delta_{jl} - p_l) = p_l \\big(dp_l - \\sum_j p_j\\, dp_j\\big)`,
    i.e. :math:`ds = p \\odot (dp - \\langle p, dp \\rangle)`, without forming the T × T Jacobian.
    """
    if np.shape(dp) != np.shape(p):
        raise ValueError(f"softmax_backward: expected dp of shape {np.shape(p)} (p's), got {np.shape(dp)}")
    return p * (dp - np.sum(p * dp, axis=-1, keepdims=True))


class DotProductCache(NamedTuple):
    """What :func:`dot_product_attention_backward` needs from the forward pass."""

    q: np.ndarray  #: (N, Tq, D) queries
    k: np.ndarray  #: (N, Tk, D) keys, zero where masked
    v: np.ndarray  #: (N, Tk, Dv) values, zero where masked
    weights: np.ndarray  #: (N, Tq, Tk) attention weights p
    scale: float  #: the factor c in s = c q kᵀ, 1/√D (or 1 without scaling)


class AdditiveCache(NamedTuple):
    """What :func:`additive_attention_backward` needs from the forward pass."""

    q: np.ndarray  #: (N, Tq, Dq) queries
    k: np.ndarray  #: (N, Tk, Dk) keys, zero where masked
    v: np.ndarray  #: (N, Tk, Dv) values, zero where masked
    Wq: np.ndarray  #: (Dq, H)
    Wk: np.ndarray  #: (Dk, H)
    wa: np.ndarray  #: (H,)
    features: np.ndarray  #: (N, Tq, Tk, H) tanh(q_i Wq + k_j Wk)
    weights: np.ndarray  #: (N, Tq, Tk) attention weights p


def _valid_keys(where: str, mask, lengths, N: int, Tk: int):
    """The key mask (N, Tk) from ``mask`` or ``lengths`` (each in [0, Tk]); None when nothing is masked."""
    if mask is not None and lengths is not None:
        raise ValueError(f"{where}: expected mask or lengths, not both")
    if mask is not None:
        if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
            raise TypeError(f"{where}: expected mask to be a boolean ndarray, got {mask!r:.60}")
        if mask.shape != (N, Tk):
            raise ValueError(f"{where}: expected mask of shape (N, Tk) = ({N}, {Tk}), got {mask.shape}")
        return mask.copy()
    if lengths is None:
        return None
    arr = check_lengths(where, lengths, N, Tk, low=0)
    return np.arange(Tk) < arr[:, None]  # (N, Tk)


def _hide_padding(k, v, valid):
    """Keys and values with zeros at masked keys, so padding (even NaN) is never read."""
    if valid is None:
        return k, v
    keep = valid[:, :, None]  # (N, Tk, 1)
    return np.where(keep, k, 0.0), np.where(keep, v, 0.0)  # (N, Tk, Dk), (N, Tk, Dv)


def _attend(scores, v, valid):
    """Weights (N, Tq, Tk) from the scores (N, Tq, Tk) under the key mask, and the context (N, Tq, Dv)."""
    weights = masked_softmax(scores, None if valid is None else valid[:, None, :])  # (N, Tq, Tk)
    return weights @ v, weights


def _weights_gradient(where: str, dcontext, dweights, weights, v):
    """``dv`` (N, Tk, Dv) and the score gradient ``ds`` (N, Tq, Tk) from the upstream gradients."""
    N, Tq, Tk = weights.shape
    dims = Dims(where, N=N, Tq=Tq, Tk=Tk, Dv=v.shape[2])
    dims.check("dcontext", dcontext, "N Tq Dv")
    dp = dcontext @ v.transpose(0, 2, 1)  # (N, Tq, Tk): c_i = sum_j p_ij v_j
    if dweights is not None:
        dims.check("dweights", dweights, "N Tq Tk")
        dp = dp + dweights
    dv = weights.transpose(0, 2, 1) @ dcontext  # (N, Tk, Dv)
    return dv, softmax_backward(dp, weights)


@fill(Dq="D", Dk="D")
def dot_product_attention_forward(q, k, v, mask=None, lengths=None, scale=True):
    """Dot-product attention of every query over the keys of its sequence.

    Parameters
    ----------
    %(queries)s
    %(valid_keys)s
    scale : bool, default True
        Divide the scores by :math:`\\sqrt{D}`.

    Returns
    -------
    context : ndarray of shape (N, Tq, Dv)
        :math:`c_i = \\sum_j p_{ij} v_j`; zero for a query whose keys are all masked.
    weights : ndarray of shape (N, Tq, Tk)
        :math:`p_{ij}`; each row sums to 1 over its unmasked keys and is exactly 0 on masked ones.
    cache : DotProductCache
        Values needed by :func:`dot_product_attention_backward`.

    Raises
    ------
    ValueError
        If the shapes do not fit together, both ``mask`` and ``lengths`` are given, or a length is
        outside ``[0, Tk]``.
    TypeError
        If an array is not floating-point, ``mask`` not boolean, ``lengths`` not integer or ``scale``
        not a bool.

    Notes
    -----
    :math:`s_{ij} = c\\, q_i \\cdot k_j` with :math:`c = 1/\\sqrt{D}` (or 1), then :func:`masked_softmax`
    over j. The scaling keeps the scores of order 1 when the entries of q and k are, so the softmax
    does not saturate as D grows.

    See Also
    --------
    companion.nn.attention.DotProductAttention : the torch module.
    torch.nn.functional.scaled_dot_product_attention : torch's kernel (its boolean mask is the same).

    Examples
    --------
    >>> q, k = np.ones((1, 1, 2)), np.array([[[1.0, 0.0], [0.0, 1.0], [9.0, 9.0]]])
    >>> context, weights, _ = dot_product_attention_forward(q, k, 2 * k, lengths=[2])
    >>> weights, context
    (array([[[0.5, 0.5, 0. ]]]), array([[[1., 1.]]]))
    """
    where = "dot_product_attention_forward"
    dims = Dims(where)
    dims.check("q", q, "N Tq D")
    dims.check("k", k, "N Tk D")
    dims.check("v", v, "N Tk Dv")
    if not isinstance(scale, bool):
        raise TypeError(f"{where}: expected scale to be a bool, got {type(scale).__name__}")
    valid = _valid_keys(where, mask, lengths, dims["N"], dims["Tk"])
    k, v = _hide_padding(k, v, valid)
    c = 1.0 / math.sqrt(dims["D"]) if scale else 1.0  # a Python float: keeps float32 inputs float32
    context, weights = _attend(c * (q @ k.transpose(0, 2, 1)), v, valid)  # scores (N, Tq, Tk)
    return context, weights, DotProductCache(q, k, v, weights, c)


@fill()
def dot_product_attention_backward(dcontext, cache: DotProductCache, dweights=None):
    """Backward pass of :func:`dot_product_attention_forward`.

    Parameters
    ----------
    dcontext : ndarray of shape (N, Tq, Dv)
        Gradient of the loss with respect to the context.
    cache : DotProductCache
        From :func:`dot_product_attention_forward`.
    dweights : ndarray of shape (N, Tq, Tk), optional
        Gradient with respect to the weights, if the loss reads them directly.

    Returns
    -------
    dq : ndarray of shape (N, Tq, D)
    dk, dv : ndarray
        Of shapes (N, Tk, D) and (N, Tk, Dv), zero at masked keys.

    %(upstream_raises)s

    Notes
    -----
    :math:`dv_j = \\sum_i p_{ij}\\, dc_i`, :math:`dp_{ij} = dc_i \\cdot v_j`,
    :math:`ds = p \\odot (dp - \\sum_j p \\odot dp)` (:func:`softmax_backward`), then
    :math:`dq_i = c \\sum_j ds_{ij} k_j` and :math:`dk_j = c \\sum_i ds_{ij} q_i`.
    """
    dv, ds = _weights_gradient("dot_product_attention_backward", dcontext, dweights, cache.weights, cache.v)
    ds = cache.scale * ds  # (N, Tq, Tk): gradient of q kᵀ
    dq = ds @ cache.k  # (N, Tq, D)
    dk = ds.transpose(0, 2, 1) @ cache.q  # (N, Tk, D)
    return dq, dk, dv


@fill(Dq="Dq", Dk="Dk")
def additive_attention_forward(q, k, v, Wq, Wk, wa, mask=None, lengths=None):
    """Additive (Bahdanau) attention of every query over the keys of its sequence.

    Parameters
    ----------
    %(queries)s
    Wq : ndarray of shape (Dq, H)
        Query projection.
    Wk : ndarray of shape (Dk, H)
        Key projection.
    wa : ndarray of shape (H,)
        Score vector (Bahdanau et al.'s :math:`v_a`).
    %(valid_keys)s

    Returns
    -------
    context : ndarray of shape (N, Tq, Dv)
        Zero for a query whose keys are all masked.
    weights : ndarray of shape (N, Tq, Tk)
        Each row sums to 1 over its unmasked keys and is exactly 0 on masked ones.
    cache : AdditiveCache
        Values needed by :func:`additive_attention_backward`.

    Raises
    ------
    ValueError, TypeError
        In the cases of :func:`dot_product_attention_forward` (``scale`` aside), with ``Wq``,
        ``Wk`` and ``wa`` checked like the other arrays.

    Notes
    -----
    :math:`s_{ij} = w_a \\cdot \\tanh(q_i W_q + k_j W_k)` (Bahdanau et al., 2015, eq. 6 with
    :math:`q_i = s_{i-1}`, :math:`k_j = h_j`), then :func:`masked_softmax` over j and
    :math:`c_i = \\sum_j p_{ij} v_j`. A one-hidden-layer network scores each pair, so queries and keys
    may have different sizes.

    See Also
    --------
    companion.nn.attention.AdditiveAttention : the torch module.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> N, Tq, Tk, D, H = 2, 3, 4, 5, 6
    >>> q, k = rng.normal(size=(N, Tq, D)), rng.normal(size=(N, Tk, D))
    >>> params = rng.normal(size=(D, H)), rng.normal(size=(D, H)), rng.normal(size=H)
    >>> context, weights, _ = additive_attention_forward(q, k, k, *params, lengths=[4, 2])
    >>> context.shape, weights[1].sum(axis=1), weights[1, :, 2:].max()
    ((2, 3, 5), array([1., 1., 1.]), np.float64(0.0))
    """
    where = "additive_attention_forward"
    dims = Dims(where)
    dims.check("q", q, "N Tq Dq")
    dims.check("k", k, "N Tk Dk")
    dims.check("v", v, "N Tk Dv")
    dims.check("Wq", Wq, "Dq H")
    dims.check("Wk", Wk, "Dk H")
    dims.check("wa", wa, "H")
    valid = _valid_keys(where, mask, lengths, dims["N"], dims["Tk"])
    k, v = _hide_padding(k, v, valid)
    features = np.tanh((q @ Wq)[:, :, None, :] + (k @ Wk)[:, None, :, :])  # (N, Tq, Tk, H)
    context, weights = _attend(features @ wa, v, valid)  # scores (N, Tq, Tk)
    return context, weights, AdditiveCache(q, k, v, Wq, Wk, wa, features, weights)


@fill()
def additive_attention_backward(dcontext, cache: AdditiveCache, dweights=None):
    """Backward pass of :func:`additive_attention_forward`.

    Parameters
    ----------
    dcontext : ndarray of shape (N, Tq, Dv)
    cache : AdditiveCache
        From :func:`additive_attention_forward`.
    dweights : ndarray of shape (N, Tq, Tk), optional
        The upstream gradients, as for :func:`dot_product_attention_backward`.

    Returns
    -------
    dq : ndarray of shape (N, Tq, Dq)
    dk, dv : ndarray
        Of shapes (N, Tk, Dk) and (N, Tk, Dv), zero at masked keys.
    dWq, dWk, dwa : ndarray
        Of shapes (Dq, H), (Dk, H) and (H,).

    %(upstream_raises)s

    Notes
    -----
    With :math:`f_{ij} = \\tanh(a_{ij})`, :math:`a_{ij} = q_i W_q + k_j W_k`: after
    :func:`softmax_backward` gives :math:`ds`, :math:`dw_a = \\sum_{ij} ds_{ij} f_{ij}` and
    :math:`da_{ij} = ds_{ij}\\, w_a \\odot (1 - f_{ij}^2)`. Query i is in every pair (i, j), so
    :math:`dq_i = (\\sum_j da_{ij}) W_q^\\top`; likewise :math:`dk_j = (\\sum_i da_{ij}) W_k^\\top`.
    """
    c = cache
    dv, ds = _weights_gradient("additive_attention_backward", dcontext, dweights, c.weights, c.v)
    N, Tq, Tk, H = c.features.shape
    dwa = ds.reshape(N * Tq * Tk) @ c.features.reshape(N * Tq * Tk, H)  # (H,)
    da = ds[..., None] * c.wa * (1.0 - c.features**2)  # (N, Tq, Tk, H)
    dqp, dkp = da.sum(axis=2), da.sum(axis=1)  # (N, Tq, H), (N, Tk, H)
    dq, dk = dqp @ c.Wq.T, dkp @ c.Wk.T  # (N, Tq, Dq), (N, Tk, Dk)
    dWq = c.q.reshape(N * Tq, -1).T @ dqp.reshape(N * Tq, H)  # (Dq, H)
    dWk = c.k.reshape(N * Tk, -1).T @ dkp.reshape(N * Tk, H)  # (Dk, H)
    return dq, dk, dv, dWq, dWk, dwa
