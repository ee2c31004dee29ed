"""Truncated backpropagation through time, in numpy (chapter 3).

Truncated BPTT splits a long sequence into chunks of k steps. The hidden state is carried forward
across chunk boundaries, but the gradient is stopped there: nothing flows back from one chunk into
the one before it. The gradient it computes is exactly the gradient of a computational graph in
which the hidden state is detached (``h.detach()`` in torch) after every k steps.

:func:`truncated_rnn_backward` computes that gradient from a full forward cache, which makes it easy
to compare with full BPTT; :func:`companion.ref.charrnn.tbptt_gradients` and
:func:`companion.ref.charrnn.train` compute it chunk by chunk, keeping only one chunk's cache.
"""

from __future__ import annotations

import numpy as np

from companion._validate import Dims
from companion.ref.rnn import RNNCache, rnn_backward

__all__ = ["chunk_bounds", "truncated_rnn_backward"]


def chunk_bounds(T: int, k: int) -> list[tuple[int, int]]:
    """Split steps ``0, ..., T-1`` into consecutive chunks of ``k`` steps (the last may be shorter).

    Parameters
    ----------
    T : int
        Sequence length, T >= 1.
    k : int
        Truncation length, k >= 1. ``k >= T`` gives a single chunk.

    Returns
    -------
    list of (int, int)
        ``(start, stop)`` of each chunk, for slicing ``x[:, start:stop]``.

    Raises
    ------
    ValueError
        If T or k is not a positive int.

    Examples
    --------
    >>> chunk_bounds(7, 3)
    [(0, 3), (3, 6), (6, 7)]
    """
    for name, value in (("T", T), ("k", k)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"chunk_bounds: expected {name} to be a positive int, got {value!r}")
    return [(start, min(start + k, T)) for start in range(0, T, k)]


def truncated_rnn_backward(dh, cache: RNNCache, k: int):
    """BPTT with the carried gradient cut every ``k`` steps.

    Parameters
    ----------
    dh : ndarray of shape (N, T, H)
        Upstream gradient of the loss with respect to every hidden state.
    cache : RNNCache
        From :func:`companion.ref.rnn.rnn_forward` over the whole sequence.
    k : int
        Truncation length: chunks are steps ``[0, k), [k, 2k), ...``. ``k >= T`` is full BPTT.

    Returns
    -------
    dx, dh0, dWx, dWh, db : ndarray
        What :func:`~companion.ref.rnn.rnn_backward` returns, with the same shapes; ``dh0``, the
        gradient with respect to the initial state, is reached by the first chunk only.

    Raises
    ------
    TypeError
        If ``cache`` is not an :class:`~companion.ref.rnn.RNNCache` or ``dh`` is not a float array.
    ValueError
        If ``dh`` does not match the cache or ``k`` is not a positive int.

    Notes
    -----
    Inside a chunk :math:`[s, e)` the recursion of full BPTT runs unchanged; at its first step the
    gradient that would flow into :math:`h_{s-1}` is dropped:

    .. math::

        \\frac{\\partial L}{\\partial h_t} = \\text{dh}_t +
        \\begin{cases} \\big(\\frac{\\partial L}{\\partial h_{t+1}} \\odot (1 - h_{t+1}^2)\\big) W_h^\\top
        & t + 1 < e \\\\ 0 & t + 1 = e. \\end{cases}

    An output at step t therefore sends gradient back at most to the start of its own chunk: a
    dependency longer than k steps gets no gradient at all, although the forward state still
    carries information across chunks. With ``k >= T`` this is :func:`~companion.ref.rnn.rnn_backward`
    and the result is bit-for-bit the same.

    See Also
    --------
    torch.Tensor.detach : detaching the hidden state every k steps gives the same gradients.

    Examples
    --------
    >>> from companion.ref.rnn import rnn_forward
    >>> rng = np.random.default_rng(0)
    >>> h, cache = rnn_forward(rng.normal(size=(2, 6, 3)), np.zeros((2, 4)),
    ...                        rng.normal(size=(3, 4)), rng.normal(size=(4, 4)), np.zeros(4))
    >>> dh = np.zeros_like(h)
    >>> dh[:, -1] = 1.0  # a loss on the last state only
    >>> dx = truncated_rnn_backward(dh, cache, k=2)[0]
    >>> bool(np.all(dx[:, :4] == 0.0))  # steps before the last chunk get nothing
    True
    """
    if not isinstance(cache, RNNCache):
        got = type(cache).__name__
        raise TypeError(f"truncated_rnn_backward: expected cache to be an RNNCache, got {got}")
    N, T, H = cache.h.shape
    Dims("truncated_rnn_backward", N=N, T=T, H=H).check("dh", dh, "N T H")
    bounds = chunk_bounds(T, k)
    dtype = np.result_type(dh, cache.h)  # the forward computed in the promoted dtype of all its inputs
    dx = np.empty_like(cache.x, dtype=dtype)  # (N, T, D)
    dWx = np.zeros_like(cache.Wx, dtype=dtype)  # (D, H)
    dWh = np.zeros_like(cache.Wh, dtype=dtype)  # (H, H)
    db = np.zeros(H, dtype=dtype)  # (H,)
    dh0 = None
    for start, stop in reversed(bounds):
        h_start = cache.h0 if start == 0 else cache.h[:, start - 1]  # (N, H): a constant for this chunk
        chunk = RNNCache(cache.x[:, start:stop], h_start, cache.h[:, start:stop], cache.Wx, cache.Wh)
        dx[:, start:stop], dh0, dWx_c, dWh_c, db_c = rnn_backward(dh[:, start:stop], chunk)
        dWx += dWx_c
        dWh += dWh_c
        db += db_c
    return dx, dh0, dWx, dWh, db
