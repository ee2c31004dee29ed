"""The vanilla (Elman) recurrent layer in numpy: forward pass (chapter 2) and BPTT (chapter 3).

Layout is batch first and "inputs @ weights", as in the book:

.. math::

    h_t = \\tanh(x_t W_x + h_{t-1} W_h + b), \\qquad t = 1, \\dots, T,

with ``x`` of shape (N, T, D), ``h0`` (N, H), ``Wx`` (D, H), ``Wh`` (H, H) and ``b`` (H,).
``torch.nn.RNN`` stores the transposes, ``weight_ih_l0`` (H, D) and ``weight_hh_l0`` (H, H), and two
biases whose sum is ``b``; :func:`to_torch` and :func:`from_torch` convert between the two.

A batch of sequences of different lengths is padded to a common length T and passed with
``lengths`` (N,): sequence n stops after ``lengths[n]`` steps, as in ``torch.nn.RNN`` fed a
``PackedSequence`` (chapter 7). The helpers for that, shared by :mod:`companion.ref.lstm` and
:mod:`companion.ref.gru`, live here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from companion._validate import Dims
from companion.ref._common import numpy_params, torch_state

__all__ = [
    "RNNStepCache",
    "RNNCache",
    "rnn_step_forward",
    "rnn_forward",
    "rnn_step_backward",
    "rnn_backward",
    "final_state",
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

    x: np.ndarray  #: (N, T, D), zero at padded steps
    h0: np.ndarray  #: (N, H)
    h: np.ndarray  #: (N, T, H), zero at padded steps
    Wx: np.ndarray  #: (D, H)
    Wh: np.ndarray  #: (H, H)
    lengths: np.ndarray | None = None  #: (N,) true lengths; empty (or None) when no step is padded

    @property
    def h_n(self) -> np.ndarray:
        """(N, H) final hidden state of each sequence, at its last valid step (torch's ``h_n[0]``)."""
        return final_state(self.h, _or_none(self.lengths))


def _check_lengths(where: str, lengths, N: int, T: int):
    """Validate true lengths (N,) of sequences padded to T steps.

    Returns ``(lengths, valid)``: an int copy of ``lengths`` and the (N, T) mask ``t < lengths[n]``
    of valid steps or, when no step is padded (or ``lengths`` is None), an empty array and None.
    Raises ``ValueError`` for a shape other than (N,) or a length outside [1, T], ``TypeError`` for
    values that are not integers.
    """
    no_padding = np.empty(0, dtype=np.intp), None  # adds nothing to a cache's size
    if lengths is None:
        return no_padding
    arr = np.asarray(lengths)
    if arr.shape != (N,):
        raise ValueError(f"{where}: expected lengths of shape (N,) = ({N},), got {arr.shape}")
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{where}: expected lengths to hold integers, got dtype {arr.dtype}")
    if arr.min() < 1 or arr.max() > T:
        raise ValueError(
            f"{where}: expected lengths between 1 and T = {T}, got values from {arr.min()} to {arr.max()}"
        )
    valid = np.arange(T) < arr[:, None]  # (N, T)
    return no_padding if valid.all() else (arr.astype(np.intp), valid)


def _or_none(lengths):
    """A cache's ``lengths`` field, None when no step is padded."""
    return None if lengths is None or len(lengths) == 0 else lengths


def final_state(h, lengths=None):
    """Each sequence's state at its last valid step: ``h[n, lengths[n] - 1]``.

    Parameters
    ----------
    h : ndarray of shape (N, T, H)
        States (outputs) of every step, as returned by :func:`rnn_forward` (or the LSTM and GRU
        versions).
    lengths : array_like of int of shape (N,), optional
        True lengths; without them the final state is ``h[:, -1]``.

    Returns
    -------
    ndarray of shape (N, H)
        A copy: what ``torch.nn.RNN`` returns as ``h_n[0]`` for a ``PackedSequence``.

    Raises
    ------
    ValueError
        If ``lengths`` does not fit ``h``.

    Examples
    --------
    >>> h = np.arange(12.0).reshape(2, 3, 2)
    >>> final_state(h, [1, 3])
    array([[ 0.,  1.],
           [10., 11.]])
    """
    Dims("final_state").check("h", h, "N T H")
    N, T, _ = h.shape
    lengths, valid = _check_lengths("final_state", lengths, N, T)
    return h[:, -1].copy() if valid is None else h[np.arange(N), lengths - 1]  # (N, H)


def _mask_padded(where: str, dh, lengths, T: int):
    """The upstream gradient ``dh`` (N, T, H) with its padded steps set to 0 (a copy), or ``dh`` itself.

    The outputs at padded steps are constants (zeros), so no gradient flows back through them.
    ``lengths`` is a cache's field.
    """
    _, valid = _check_lengths(where, _or_none(lengths), dh.shape[0], T)
    return dh if valid is None else np.where(valid[..., None], dh, 0.0)  # (N, T, H)


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


def rnn_forward(x, h0, Wx, Wh, b, lengths=None):
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
    lengths : array_like of int of shape (N,), optional
        True lengths of padded sequences, each in ``[1, T]``. Sequence n then stops after
        ``lengths[n]`` steps: its inputs and outputs at later (padded) steps are ignored and zero.

    Returns
    -------
    h : ndarray of shape (N, T, H)
        Hidden state at every step, zero at padded steps. ``h[:, -1]`` is the final state of full
        sequences; with ``lengths`` it is ``cache.h_n`` (:func:`final_state`).
    cache : RNNCache
        Values needed by :func:`rnn_backward`.

    Raises
    ------
    ValueError
        If a shape does not match the others (including T = 0), or ``lengths`` does not fit.
    TypeError
        If an array is not a floating-point ndarray or ``lengths`` does not hold integers.

    Notes
    -----
    The input part :math:`x_t W_x + b` does not depend on the state, so it is computed for all steps
    in one matrix product before the loop; only :math:`h_{t-1} W_h` has to wait for the previous
    step. With ``lengths``, the state of sequence n is frozen after step ``lengths[n] - 1``,
    :math:`h_t = m_t \\tanh(\\cdot) + (1 - m_t) h_{t-1}` with :math:`m_t = [t < \\text{lengths}[n]]`:
    exactly what ``torch.nn.RNN`` computes for a ``PackedSequence``.

    See Also
    --------
    torch.nn.RNN : the same layer (``batch_first=True``, ``nonlinearity='tanh'``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> N, T, D, H = 2, 5, 3, 4
    >>> h, cache = rnn_forward(rng.normal(size=(N, T, D)), np.zeros((N, H)),
    ...                        rng.normal(size=(D, H)), rng.normal(size=(H, H)), np.zeros(H), lengths=[5, 2])
    >>> h.shape, cache.h_n.shape, bool(np.all(h[1, 2:] == 0.0))
    ((2, 5, 4), (2, 4), True)
    """
    dims = Dims("rnn_forward")
    dims.check("x", x, "N T D")
    dims.check("h0", h0, "N H")
    _check_params(dims, Wx, Wh, b)
    N, T, _ = x.shape
    D, H = dims["D"], dims["H"]
    lengths, valid = _check_lengths("rnn_forward", lengths, N, T)
    if valid is not None:
        x = np.where(valid[..., None], x, 0.0)  # (N, T, D): padded inputs are never read
    h = np.empty((N, T, H), dtype=np.result_type(x, h0, Wx, Wh, b))  # (N, T, H)
    np.matmul(x.reshape(N * T, D), Wx, out=h.reshape(N * T, H))  # x_t Wx for every step at once
    h += b
    Wh_h = np.empty((N, H), dtype=h.dtype)  # h_{t-1} Wh, reused at every step
    h_prev = h0
    for t in range(T):
        h_t = h[:, t]  # holds x_t Wx + b; becomes h_t
        h_t += np.matmul(h_prev, Wh, out=Wh_h)
        np.tanh(h_t, out=h_t)
        h_prev = h_t
    if valid is not None:
        h[~valid] = 0.0  # a sequence that has ended has no output
    return h, RNNCache(x, h0, h, Wx, Wh, lengths)


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
        output layer; zeros at steps that emit no output). A gradient with respect to the final
        state ``cache.h_n`` is added at each sequence's last valid step. Padded steps are ignored.
    cache : RNNCache
        From :func:`rnn_forward`.

    Returns
    -------
    dx : ndarray of shape (N, T, D)
        Zero at padded steps.
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

    The loop keeps the gradient ``da`` of every pre-activation. The weight gradients are sums over
    time of per-step products (equation ``bptt-weights``), because the same weights are used at
    every step; with the steps of all sequences stacked as N·T rows, each sum is one matrix product,
    computed after the loop. Time is :math:`O(T N (D H + H^2))`; memory is the cache, which holds
    all T hidden states. With ``lengths``, padded steps receive no gradient and pass none back.

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
    D = cache.x.shape[2]
    Dims("rnn_backward", N=N, T=T, H=H).check("dh", dh, "N T H")
    dh = _mask_padded("rnn_backward", dh, cache.lengths, T)
    dtype = np.result_type(dh, cache.h)  # the forward computed in the promoted dtype of all its inputs
    da = np.empty((N, T, H), dtype=dtype)  # gradient of every pre-activation a_t
    dh_t = np.empty((N, H), dtype=dtype)  # total gradient of h_t
    dh_next = np.zeros((N, H), dtype=dtype)  # gradient flowing back from step t+1
    for t in reversed(range(T)):
        np.add(dh[:, t], dh_next, out=dh_t)
        np.square(cache.h[:, t], out=da[:, t])
        np.subtract(1.0, da[:, t], out=da[:, t])  # tanh'(a_t) = 1 - h_t^2
        da[:, t] *= dh_t  # (pre-activation-gradient)
        np.matmul(da[:, t], cache.Wh.T, out=dh_next)  # (bptt-recursion): to step t - 1
    # (bptt-weights): sums over the steps and the sequences, one product over all N*T rows
    h_prev = np.concatenate([cache.h0[:, None], cache.h[:, :-1]], axis=1)  # (N, T, H): h_{t-1} of each step
    da_rows = da.reshape(N * T, H)  # every step of every sequence as one row
    dx = (da_rows @ cache.Wx.T).reshape(N, T, D)  # (N, T, D)
    dWx = cache.x.reshape(N * T, D).T @ da_rows  # (D, H)
    dWh = h_prev.reshape(N * T, H).T @ da_rows  # (H, H)
    db = da_rows.sum(axis=0)  # (H,)
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
    _check_params(Dims("to_torch"), Wx, Wh, b)
    return torch_state(Wx, Wh, b, np.zeros_like(b), suffix)


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
    Wx, Wh, bias_ih, bias_hh = numpy_params(params, suffix)
    b = bias_ih + bias_hh  # (H,)
    _check_params(Dims("from_torch"), Wx, Wh, b)
    return Wx, Wh, b
