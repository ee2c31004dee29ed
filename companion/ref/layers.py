"""The output layer of a recurrent network, applied at every time step, in numpy (chapter 3).

An affine map reads the hidden state out into scores over V classes, with the same weights at every
step: :math:`y_t = h_t W + c`. Its backward pass is what turns the loss gradient into the upstream
gradient ``dh`` of :func:`companion.ref.rnn.rnn_backward`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from companion._validate import Dims
from companion.ref._docs import fill

__all__ = ["TemporalAffineCache", "temporal_affine_forward", "temporal_affine_backward"]


class TemporalAffineCache(NamedTuple):
    """What :func:`temporal_affine_backward` needs from the forward pass."""

    h: np.ndarray  #: (N, T, H) inputs of the layer
    W: np.ndarray  #: (H, V)


@fill()
def temporal_affine_forward(h, W, c):
    """Apply one affine map at every time step: ``y[:, t] = h[:, t] @ W + c``.

    Parameters
    ----------
    h : ndarray of shape (N, T, H)
        Hidden states (or any features) at every step, batch first.
    W : ndarray of shape (H, V)
        Weights, shared by every step.
    c : ndarray of shape (V,)
        Bias.

    Returns
    -------
    y : ndarray of shape (N, T, V)
        Outputs (e.g. logits over a vocabulary of V characters).
    cache : TemporalAffineCache
        Values needed by :func:`temporal_affine_backward`.

    %(array_raises)s

    Notes
    -----
    Chapter 2's read-out :math:`y_t = W_{hy} h_t + c` for a batch of row vectors, so ``W`` is
    :math:`W_{hy}^\\top`. The N·T positions are independent: the layer is one matrix product of the
    (N·T, H) stack of states with W.

    See Also
    --------
    torch.nn.Linear : the same map with ``weight = W.T`` and ``bias = c``, applied to the last axis.

    Examples
    --------
    >>> y, _ = temporal_affine_forward(np.ones((2, 3, 4)), np.ones((4, 5)), np.zeros(5))
    >>> y.shape, y[0, 0, 0]
    ((2, 3, 5), np.float64(4.0))
    """
    dims = Dims("temporal_affine_forward")
    dims.check("h", h, "N T H")
    dims.check("W", W, "H V")
    dims.check("c", c, "V")
    y = h @ W + c  # (N, T, V)
    return y, TemporalAffineCache(h, W)


def temporal_affine_backward(dy, cache: TemporalAffineCache):
    """Backward pass of :func:`temporal_affine_forward`.

    Parameters
    ----------
    dy : ndarray of shape (N, T, V)
        Gradient of the loss with respect to every output.
    cache : TemporalAffineCache
        From :func:`temporal_affine_forward`.

    Returns
    -------
    dh : ndarray of shape (N, T, H)
        Gradient with respect to the input at every step: the upstream gradient for the RNN.
    dW : ndarray of shape (H, V)
        Gradient with respect to ``W``, summed over batch and time.
    dc : ndarray of shape (V,)
        Gradient with respect to ``c``, summed over batch and time.

    Raises
    ------
    TypeError
        If ``cache`` is not a :class:`TemporalAffineCache` or ``dy`` is not a float ndarray.
    ValueError
        If ``dy`` does not have the shape of the forward output.

    Notes
    -----
    .. math::

        \\frac{\\partial L}{\\partial h_t} = \\frac{\\partial L}{\\partial y_t} W^\\top, \\qquad
        \\frac{\\partial L}{\\partial W} = \\sum_{n, t} h_{n,t}^\\top \\frac{\\partial L}{\\partial y_{n,t}},
        \\qquad \\frac{\\partial L}{\\partial c} = \\sum_{n, t} \\frac{\\partial L}{\\partial y_{n,t}}.

    The sums over t are there because W and c are shared by every step.

    See Also
    --------
    torch.nn.Linear : autograd through it gives the same gradients.

    Examples
    --------
    >>> y, cache = temporal_affine_forward(np.ones((2, 3, 4)), np.ones((4, 5)), np.zeros(5))
    >>> dh, dW, dc = temporal_affine_backward(np.ones_like(y), cache)
    >>> dh.shape, dW[0, 0], dc[0]
    ((2, 3, 4), np.float64(6.0), np.float64(6.0))
    """
    if not isinstance(cache, TemporalAffineCache):
        got = type(cache).__name__
        raise TypeError(f"temporal_affine_backward: expected cache to be a TemporalAffineCache, got {got}")
    N, T, H = cache.h.shape
    dims = Dims("temporal_affine_backward", N=N, T=T, V=cache.W.shape[1])
    dims.check("dy", dy, "N T V")
    V = dims["V"]
    dh = dy @ cache.W.T  # (N, T, H)
    dW = cache.h.reshape(N * T, H).T @ dy.reshape(N * T, V)  # (H, N*T) @ (N*T, V) -> (H, V)
    dc = dy.sum(axis=(0, 1))  # (V,)
    return dh, dW, dc
