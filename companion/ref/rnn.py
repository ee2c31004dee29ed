"""The vanilla (Elman) recurrent layer in numpy: forward pass (chapter 2) and BPTT (chapter 3).

Layout is batch first and "inputs @ weights", as in the book:

.. math::

    h_t = \\tanh(x_t W_x + h_{t-1} W_h + b), \\qquad t = 1, \\dots, T,

with ``x`` of shape (N, T, D), ``h0`` (N, H), ``Wx`` (D, H), ``Wh`` (H, H) and ``b`` (H,).
``torch.nn.RNN`` stores the transposes, ``weight_ih_l0`` (H, D) and ``weight_hh_l0`` (H, H), and two
biases whose sum is ``b``; :func:`to_torch` and :func:`from_torch` convert between the two.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from companion._checks import Dims, as_numpy

__all__ = [
    "RNNStepCache",
    "RNNCache",
    "rnn_step_forward",
    "rnn_forward",
    "rnn_step_backward",
    "rnn_backward",
    "to_torch",
    "from_torch",
]


class RNNStepCache(NamedTuple):
    """What one step's backward pass needs from its forward pass."""

    x: np.ndarray  #: (N, D) input at this step
    h_prev: np.ndarray  #: (N, H) previous hidden state
    h: np.ndarray  #: (N, H) new hidden state, tanh(a)
    Wx: np.ndarray  #: (D, H)
    Wh: np.ndarray  #: (H, H)


class RNNCache(NamedTuple):
    """What the sequence backward pass needs: the inputs and every hidden state (memory grows with T)."""

    x: np.ndarray  #: (N, T, D)
    h0: np.ndarray  #: (N, H)
    h: np.ndarray  #: (N, T, H)
    Wx: np.ndarray  #: (D, H)
    Wh: np.ndarray  #: (H, H)


def _check_params(dims: Dims, Wx, Wh, b) -> None:
    dims.check("Wx", Wx, "D H")
    dims.check("Wh", Wh, "H H")
    dims.check("b", b, "H")


def rnn_step_forward(x, h_prev, Wx, Wh, b):
    """One step of the vanilla RNN: ``h = tanh(x @ Wx + h_prev @ Wh + b)``.

    Parameters
    ----------
    x : ndarray of shape (N, D)
        Inputs at this time step.
    h_prev : ndarray of shape (N, H)
        Hidden state from the previous step.
    Wx : ndarray of shape (D, H)
        Input-to-hidden weights.
    Wh : ndarray of shape (H, H)
        Hidden-to-hidden weights.
    b : ndarray of shape (H,)
        Bias.

    Returns
    -------
    h : ndarray of shape (N, H)
        The new hidden state.
    cache : RNNStepCache
        Values needed by :func:`rnn_step_backward`.

    Raises
    ------
    ValueError
        If a shape does not match the others.

    Notes
    -----
    Equation :math:`h_t = \\tanh(W_{hh} h_{t-1} + W_{xh} x_t + b)` of chapter 2, written for a batch
    of row vectors, so ``Wx`` is :math:`W_{xh}^\\top` and ``Wh`` is :math:`W_{hh}^\\top`.

    See Also
    --------
    torch.nn.RNNCell : the same computation with weights stored transposed.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> h, cache = rnn_step_forward(rng.normal(size=(2, 3)), np.zeros((2, 4)),
    ...                             rng.normal(size=(3, 4)), rng.normal(size=(4, 4)), np.zeros(4))
    >>> h.shape
    (2, 4)
    """
    dims = Dims("rnn_step_forward")
    dims.check("x", x, "N D")
    dims.check("h_prev", h_prev, "N H")
    _check_params(dims, Wx, Wh, b)
    h = np.tanh(x @ Wx + h_prev @ Wh + b)  # (N, H)
    return h, RNNStepCache(x, h_prev, h, Wx, Wh)


def rnn_forward(x, h0, Wx, Wh, b):
    """Run the vanilla RNN over a whole batch of sequences.

    Parameters
    ----------
    x : ndarray of shape (N, T, D)
        Input sequences, batch first.
    h0 : ndarray of shape (N, H)
        Initial hidden state.
    Wx : ndarray of shape (D, H)
        Input-to-hidden weights.
    Wh : ndarray of shape (H, H)
        Hidden-to-hidden weights, shared by every time step.
    b : ndarray of shape (H,)
        Bias.

    Returns
    -------
    h : ndarray of shape (N, T, H)
        Hidden state at every step; ``h[:, -1]`` is the final state.
    cache : RNNCache
        Values needed by :func:`rnn_backward`.

    Raises
    ------
    ValueError
        If a shape does not match the others (including T = 0).

    See Also
    --------
    torch.nn.RNN : the same layer (``batch_first=True``, ``nonlinearity='tanh'``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> N, T, D, H = 2, 5, 3, 4
    >>> h, _ = rnn_forward(rng.normal(size=(N, T, D)), np.zeros((N, H)),
    ...                    rng.normal(size=(D, H)), rng.normal(size=(H, H)), np.zeros(H))
    >>> h.shape
    (2, 5, 4)
    """
    dims = Dims("rnn_forward")
    dims.check("x", x, "N T D")
    dims.check("h0", h0, "N H")
    _check_params(dims, Wx, Wh, b)
    N, T, _ = x.shape
    h = np.empty((N, T, dims["H"]), dtype=np.result_type(x, h0, Wx, Wh, b))  # (N, T, H)
    h_prev = h0
    for t in range(T):
        h_prev, _ = rnn_step_forward(x[:, t], h_prev, Wx, Wh, b)
        h[:, t] = h_prev
    return h, RNNCache(x, h0, h, Wx, Wh)


def rnn_step_backward(dh, cache: RNNStepCache):
    """Backward pass of one step: gradients of the loss through ``h = tanh(x @ Wx + h_prev @ Wh + b)``.

    Parameters
    ----------
    dh : ndarray of shape (N, H)
        Gradient of the loss with respect to this step's output ``h`` (upstream plus carried).
    cache : RNNStepCache
        From :func:`rnn_step_forward`.

    Returns
    -------
    dx : ndarray of shape (N, D)
        Gradient with respect to the step's input.
    dh_prev : ndarray of shape (N, H)
        Gradient with respect to the previous hidden state: what flows back to step ``t-1``.
    dWx : ndarray of shape (D, H)
        This step's contribution to the gradient of ``Wx``.
    dWh : ndarray of shape (H, H)
        This step's contribution to the gradient of ``Wh``.
    db : ndarray of shape (H,)
        This step's contribution to the gradient of ``b``.

    Raises
    ------
    TypeError
        If ``cache`` is not an :class:`RNNStepCache` or ``dh`` is not a float array.
    ValueError
        If ``dh`` does not have the shape of the cached ``h``.

    Notes
    -----
    With :math:`\\delta = \\partial L/\\partial h \\odot (1 - h^2)`, the gradient with respect to the
    pre-activation :math:`a = x W_x + h_{prev} W_h + b` (the tanh derivative is read off the cached
    output, nothing is recomputed):

    .. math::

        dx = \\delta W_x^\\top, \\quad dh_{prev} = \\delta W_h^\\top, \\quad
        dW_x = x^\\top \\delta, \\quad dW_h = h_{prev}^\\top \\delta, \\quad db = \\sum_n \\delta_n.

    ``dh_prev`` is one step of the recursion of equation ``bptt-recursion`` in chapter 3.

    See Also
    --------
    torch.nn.RNNCell : autograd through the same computation gives the same gradients.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> h, cache = rnn_step_forward(rng.normal(size=(2, 3)), np.zeros((2, 4)),
    ...                             rng.normal(size=(3, 4)), rng.normal(size=(4, 4)), np.zeros(4))
    >>> dx, dh_prev, dWx, dWh, db = rnn_step_backward(np.ones((2, 4)), cache)
    >>> dx.shape, dh_prev.shape, dWx.shape, dWh.shape, db.shape
    ((2, 3), (2, 4), (3, 4), (4, 4), (4,))
    """
    if not isinstance(cache, RNNStepCache):
        got = type(cache).__name__
        raise TypeError(f"rnn_step_backward: expected cache to be an RNNStepCache, got {got}")
    Dims("rnn_step_backward", N=cache.h.shape[0], H=cache.h.shape[1]).check("dh", dh, "N H")
    da = dh * (1.0 - cache.h**2)  # (N, H)
    dx = da @ cache.Wx.T  # (N, D)
    dh_prev = da @ cache.Wh.T  # (N, H)
    dWx = cache.x.T @ da  # (D, H)
    dWh = cache.h_prev.T @ da  # (H, H)
    db = da.sum(axis=0)  # (H,)
    return dx, dh_prev, dWx, dWh, db


def rnn_backward(dh, cache: RNNCache):
    """Backpropagation through time over a whole sequence.

    Parameters
    ----------
    dh : ndarray of shape (N, T, H)
        Upstream gradient of the loss with respect to every hidden state ``h[:, t]`` (from the
        output layer; zeros at steps that emit no output).
    cache : RNNCache
        From :func:`rnn_forward`.

    Returns
    -------
    dx : ndarray of shape (N, T, D)
    dh0 : ndarray of shape (N, H)
    dWx : ndarray of shape (D, H)
    dWh : ndarray of shape (H, H)
    db : ndarray of shape (H,)

    Raises
    ------
    TypeError
        If ``cache`` is not an :class:`RNNCache` or ``dh`` is not a float array.
    ValueError
        If ``dh`` does not have the shape of the cached hidden states.

    Notes
    -----
    Walks ``t = T-1, ..., 0`` carrying :math:`\\partial L/\\partial h_t`: the upstream ``dh[:, t]``
    plus what flows back from step ``t+1`` (equation ``bptt-recursion`` of chapter 3),

    .. math::

        \\frac{\\partial L}{\\partial h_t} = \\text{dh}_t
        + \\Big(\\frac{\\partial L}{\\partial h_{t+1}} \\odot (1 - h_{t+1}^2)\\Big) W_h^\\top .

    Weight gradients are sums over time of the per-step contributions of
    :func:`rnn_step_backward`, because the same weights are used at every step. Time is
    :math:`O(T N (D H + H^2))`; memory is the cache, which holds all T hidden states.

    See Also
    --------
    torch.nn.RNN : autograd through the same layer gives the same gradients.
    companion.ref.tbptt.truncated_rnn_backward : the same walk, with the carried gradient cut every k steps.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> N, T, D, H = 2, 5, 3, 4
    >>> h, cache = rnn_forward(rng.normal(size=(N, T, D)), np.zeros((N, H)),
    ...                        rng.normal(size=(D, H)), rng.normal(size=(H, H)), np.zeros(H))
    >>> dx, dh0, dWx, dWh, db = rnn_backward(np.ones_like(h), cache)
    >>> dx.shape, dh0.shape
    ((2, 5, 3), (2, 4))
    """
    if not isinstance(cache, RNNCache):
        raise TypeError(f"rnn_backward: expected cache to be an RNNCache, got {type(cache).__name__}")
    N, T, H = cache.h.shape
    Dims("rnn_backward", N=N, T=T, H=H).check("dh", dh, "N T H")
    dx = np.empty_like(cache.x, dtype=np.result_type(dh, cache.x))  # (N, T, D)
    dWx = np.zeros_like(cache.Wx, dtype=dx.dtype)  # (D, H)
    dWh = np.zeros_like(cache.Wh, dtype=dx.dtype)  # (H, H)
    db = np.zeros(H, dtype=dx.dtype)  # (H,)
    dh_next = np.zeros((N, H), dtype=dx.dtype)  # gradient flowing back from step t+1
    for t in reversed(range(T)):
        h_prev = cache.h[:, t - 1] if t > 0 else cache.h0
        step = RNNStepCache(cache.x[:, t], h_prev, cache.h[:, t], cache.Wx, cache.Wh)
        dx[:, t], dh_next, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dh_next, step)
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dh_next, dWx, dWh, db


def to_torch(Wx, Wh, b, *, suffix: str = "_l0") -> dict[str, np.ndarray]:
    """Convert numpy-layout parameters to ``torch.nn.RNN``'s names and layout.

    Parameters
    ----------
    Wx : ndarray of shape (D, H)
    Wh : ndarray of shape (H, H)
    b : ndarray of shape (H,)
    suffix : str, default ``"_l0"``
        Layer suffix of the parameter names (``"_l1"``, ``"_l0_reverse"`` ...).

    Returns
    -------
    dict of str to ndarray
        ``weight_ih{suffix}`` (H, D), ``weight_hh{suffix}`` (H, H), ``bias_ih{suffix}`` (H,) equal to
        ``b`` and ``bias_hh{suffix}`` (H,) of zeros. Wrap the values with ``torch.from_numpy`` and
        pass them to ``load_state_dict``.
    """
    dims = Dims("to_torch")
    _check_params(dims, Wx, Wh, b)
    return {
        f"weight_ih{suffix}": np.ascontiguousarray(Wx.T),  # (H, D)
        f"weight_hh{suffix}": np.ascontiguousarray(Wh.T),  # (H, H)
        f"bias_ih{suffix}": b.copy(),  # (H,)
        f"bias_hh{suffix}": np.zeros_like(b),  # (H,)
    }


def from_torch(params: Mapping, *, suffix: str = "_l0"):
    """Convert ``torch.nn.RNN`` parameters (a ``state_dict``) to numpy layout.

    Parameters
    ----------
    params : mapping of str to tensor or ndarray
        Must hold ``weight_ih{suffix}`` (H, D) and ``weight_hh{suffix}`` (H, H); the biases
        ``bias_ih{suffix}`` and ``bias_hh{suffix}`` (H,) are optional (``bias=False``).
    suffix : str, default ``"_l0"``

    Returns
    -------
    Wx : ndarray of shape (D, H)
    Wh : ndarray of shape (H, H)
    b : ndarray of shape (H,)
        ``bias_ih + bias_hh``: the two biases only ever appear summed.

    Raises
    ------
    KeyError
        If a weight is missing, naming the keys that were found.
    """
    try:
        W_ih = as_numpy(params[f"weight_ih{suffix}"])
        W_hh = as_numpy(params[f"weight_hh{suffix}"])
    except KeyError as err:
        raise KeyError(f"from_torch: expected key {err.args[0]!r}; found {sorted(params)}") from None
    b = np.zeros(W_hh.shape[0], dtype=W_hh.dtype)
    for name in (f"bias_ih{suffix}", f"bias_hh{suffix}"):
        if name in params:
            b = b + as_numpy(params[name])
    Wx, Wh = W_ih.T.copy(), W_hh.T.copy()
    _check_params(Dims("from_torch"), Wx, Wh, b)
    return Wx, Wh, b
