"""The vanilla (Elman) recurrent layer in numpy: forward pass (chapter 2) and BPTT (chapter 3).

Layout is batch first and "inputs @ weights", as in the book:

.. math::

    h_t = \\tanh(x_t W_x + h_{t-1} W_h + b), \\qquad t = 1, \\dots, T,

with ``x`` of shape (N, T, D), ``h0`` (N, H), ``Wx`` (D, H), ``Wh`` (H, H) and ``b`` (H,).
``torch.nn.RNN`` stores the transposes, ``weight_ih_l0`` (H, D) and ``weight_hh_l0`` (H, H), and two
biases whose sum is ``b``; :func:`to_torch` and :func:`from_torch` convert between the two.

A batch of sequences of different lengths is padded to a common length T and passed with
``lengths`` (N,): sequence n stops after ``lengths[n]`` steps, as in ``torch.nn.RNN`` fed a
``PackedSequence`` (chapter 7).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from companion._validate import Dims
from companion.ref._common import check_weights, last_valid, numpy_params, padding, torch_state, zero_padded
from companion.ref._docs import fill

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
        return last_valid(self.h, self.lengths)

    def step(self, t: int) -> RNNStepCache:
        """The :class:`RNNStepCache` of step ``t``, as :func:`rnn_step_forward` returned it."""
        h_prev = self.h[:, t - 1] if t > 0 else self.h0  # (N, H)
        return RNNStepCache(self.x[:, t], h_prev, self.h[:, t], self.Wx, self.Wh)


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
    lengths = padding("final_state", lengths, N, T)
    return last_valid(h, lengths)  # (N, H)


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
        :math:`h_t`, the new hidden state.
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
    check_weights(dims, 1, Wx, Wh, b=b)
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
    A loop over :func:`rnn_step_forward`, keeping every :math:`h_t` (the cache of chapter 3). With
    ``lengths``, a sequence's steps past its end come after all its valid ones: they run on zero
    inputs and their outputs are zeroed, so the valid steps are exactly what ``torch.nn.RNN``
    computes for a ``PackedSequence``, and :attr:`RNNCache.h_n` is read at each sequence's last valid
    step.

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
    check_weights(dims, 1, Wx, Wh, b=b)
    N, T, _ = x.shape
    lengths = padding("rnn_forward", lengths, N, T)
    x = zero_padded(x, lengths)  # (N, T, D): padded inputs are never read
    h_t, hs = h0, []
    for t in range(T):
        h_t, _ = rnn_step_forward(x[:, t], h_t, Wx, Wh, b)  # (N, H)
        hs.append(h_t)
    h = zero_padded(np.stack(hs, axis=1), lengths)  # (N, T, H)
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
        Gradient of the initial state.
    dWx, dWh, db : ndarray
        Sums over the steps (equation ``bptt-weights``), shaped like ``Wx``, ``Wh`` and ``b``.

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

    Each step is :func:`rnn_step_backward` on the step's cache, read back from the sequence cache
    (:meth:`RNNCache.step`). The same weights act at every step, so their gradients are the sums
    over the steps of the per-step ones (equation ``bptt-weights``). Time is
    :math:`O(T N (D H + H^2))`; memory is the cache, which holds all T hidden states. With
    ``lengths``, the upstream gradient at padded steps is dropped; their cached outputs are zero, so
    they pass no gradient back either.

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
    dh = zero_padded(dh, cache.lengths)  # (N, T, H): padded outputs are constants
    dx = [None] * T
    dWx = dWh = db = 0.0  # sums over the steps
    dh_prev = np.zeros_like(cache.h0)  # what step t + 1 sends back to h_t
    for t in reversed(range(T)):
        dx[t], dh_prev, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dh_prev, cache.step(t))
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t  # (bptt-weights)
    return np.stack(dx, axis=1), dh_prev, dWx, dWh, db  # dx (N, T, D)


@fill(torch="RNN", G="H")
def to_torch(Wx, Wh, b, *, suffix: str = "_l0") -> dict[str, np.ndarray]:
    """Convert numpy-layout RNN parameters to ``torch.nn.RNN``'s names and layout.

    Parameters
    ----------
    %(numpy_weights)s
    b : ndarray of shape (H,)
        Becomes ``bias_ih{suffix}``; ``bias_hh{suffix}`` is zeros (torch adds the two).
    %(suffix)s

    %(torch_state)s

    Examples
    --------
    >>> sd = to_torch(np.zeros((3, 2)), np.zeros((2, 2)), np.ones(2))
    >>> sd["weight_ih_l0"].shape, sd["bias_hh_l0"]
    ((2, 3), array([0., 0.]))
    """
    check_weights(Dims("to_torch"), 1, Wx, Wh, b=b)
    return torch_state(Wx, Wh, b, np.zeros_like(b), suffix)


@fill(torch="RNN", G="H")
def from_torch(params: Mapping, *, suffix: str = "_l0"):
    """Convert ``torch.nn.RNN`` (or ``RNNCell``) parameters to numpy layout.

    %(state_dict)s

    Returns
    -------
    %(numpy_weights)s
    b : ndarray of shape (H,)
        ``bias_ih + bias_hh``: the two biases only ever appear summed.

    %(state_dict_raises)s

    See Also
    --------
    to_torch : the inverse (up to how the bias is split between the two torch vectors).
    """
    Wx, Wh, bias_ih, bias_hh = numpy_params(params, suffix)  # (D, H), (H, H), 2 x (H,)
    b = bias_ih + bias_hh  # (H,)
    check_weights(Dims("from_torch"), 1, Wx, Wh, b=b)
    return Wx, Wh, b
