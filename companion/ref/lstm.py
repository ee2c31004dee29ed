"""The long short-term memory (LSTM) layer in numpy: forward pass and BPTT by hand (chapter 5).

Layout is batch first and "inputs @ weights", with torch's gate order **i, f, g, o** stacked along the
last axis of the weights:

.. math::

    a_t &= x_t W_x + h_{t-1} W_h + b = [a^i_t \\mid a^f_t \\mid a^g_t \\mid a^o_t], \\\\
    i_t &= \\sigma(a^i_t), \\quad f_t = \\sigma(a^f_t), \\quad g_t = \\tanh(a^g_t),
    \\quad o_t = \\sigma(a^o_t), \\\\
    c_t &= f_t \\odot c_{t-1} + i_t \\odot g_t, \\qquad h_t = o_t \\odot \\tanh(c_t),

with ``x`` of shape (N, T, D), ``h0`` and ``c0`` (N, H), ``Wx`` (D, 4H), ``Wh`` (H, 4H) and ``b``
(4H,). ``torch.nn.LSTM`` stores the transposes, ``weight_ih_l0`` (4H, D) and ``weight_hh_l0``
(4H, H), and two biases whose sum is ``b``; :func:`to_torch` and :func:`from_torch` convert.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from companion._validate import Dims
from companion.ref._common import check_weights, last_valid, numpy_params, padding, torch_state, zero_padded
from companion.ref._docs import fill

__all__ = [
    "sigmoid",
    "LSTMStepCache",
    "LSTMCache",
    "lstm_step_forward",
    "lstm_step_backward",
    "lstm_forward",
    "lstm_backward",
    "to_torch",
    "from_torch",
]


def sigmoid(a):
    """Numerically stable logistic function :math:`\\sigma(a) = 1 / (1 + e^{-a})`.

    Parameters
    ----------
    a : ndarray of any shape

    Returns
    -------
    ndarray of the same shape
        Values in [0, 1]; ``exp`` is only ever called on non-positive numbers, so large ``|a|``
        neither overflows nor warns.

    See Also
    --------
    torch.sigmoid : the same function on tensors.

    Examples
    --------
    >>> sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    array([0. , 0.5, 1. ])
    """
    e = np.exp(-np.abs(a))  # in (0, 1]
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


class LSTMStepCache(NamedTuple):
    """What one step's backward pass needs from its forward pass."""

    x: np.ndarray  #: (N, D) input at this step
    h_prev: np.ndarray  #: (N, H) previous hidden state
    c_prev: np.ndarray  #: (N, H) previous cell state
    gates: np.ndarray  #: (N, 4H) activated gates [i | f | g | o]
    tanh_c: np.ndarray  #: (N, H) tanh of the new cell state
    Wx: np.ndarray  #: (D, 4H)
    Wh: np.ndarray  #: (H, 4H)


class LSTMCache(NamedTuple):
    """What the sequence backward pass needs: inputs, every gate and every state (memory grows with T).

    Every per-step array is zero at padded steps; :attr:`h_n` and :attr:`c_n` are the final states.
    """

    x: np.ndarray  #: (N, T, D)
    h0: np.ndarray  #: (N, H)
    c0: np.ndarray  #: (N, H)
    gates: np.ndarray  #: (N, T, 4H) activated gates [i | f | g | o] at every step
    c: np.ndarray  #: (N, T, H) cell states; ``c[:, -1]`` is the final one of full sequences
    tanh_c: np.ndarray  #: (N, T, H)
    h: np.ndarray  #: (N, T, H)
    Wx: np.ndarray  #: (D, 4H)
    Wh: np.ndarray  #: (H, 4H)
    lengths: np.ndarray | None = None  #: (N,) true lengths; empty (or None) when no step is padded

    @property
    def h_n(self) -> np.ndarray:
        """(N, H) final hidden state of each sequence, at its last valid step (torch's ``h_n[0]``)."""
        return last_valid(self.h, self.lengths)

    @property
    def c_n(self) -> np.ndarray:
        """(N, H) final cell state of each sequence, at its last valid step (torch's ``c_n[0]``)."""
        return last_valid(self.c, self.lengths)

    def step(self, t: int) -> LSTMStepCache:
        """The :class:`LSTMStepCache` of step ``t``, as :func:`lstm_step_forward` returned it."""
        h_prev, c_prev = (self.h[:, t - 1], self.c[:, t - 1]) if t > 0 else (self.h0, self.c0)  # (N, H)
        return LSTMStepCache(
            self.x[:, t], h_prev, c_prev, self.gates[:, t], self.tanh_c[:, t], self.Wx, self.Wh
        )


def _activate(a, H: int):
    """Gate activations from pre-activations ``a`` (N, 4H): sigmoid on i, f, o and tanh on g."""
    gates = sigmoid(a)  # (N, 4H)
    gates[:, 2 * H : 3 * H] = np.tanh(a[:, 2 * H : 3 * H])  # g
    return gates


def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    """One LSTM step: gates, additive cell update, gated output.

    Parameters
    ----------
    x : ndarray of shape (N, D)
        Inputs at this time step.
    h_prev : ndarray of shape (N, H)
        Hidden state from the previous step.
    c_prev : ndarray of shape (N, H)
        Cell state from the previous step.
    Wx : ndarray of shape (D, 4H)
        Input-to-hidden weights, gate blocks in the order i, f, g, o.
    Wh : ndarray of shape (H, 4H)
        Hidden-to-hidden weights, same order.
    b : ndarray of shape (4H,)
        Bias, same order.

    Returns
    -------
    h, c : ndarray of shape (N, H)
        The new hidden and cell states, :math:`h_t` and :math:`c_t`.
    cache : LSTMStepCache
        Values needed by :func:`lstm_step_backward`.

    Raises
    ------
    ValueError
        If a shape does not match the others.
    TypeError
        If an argument is not a floating-point ndarray.

    Notes
    -----
    Equations (lstm-gates) and (lstm-cell) of chapter 5:
    :math:`[i, f, g, o] = [\\sigma, \\sigma, \\tanh, \\sigma](x W_x + h_{t-1} W_h + b)`,
    :math:`c_t = f \\odot c_{t-1} + i \\odot g`, :math:`h_t = o \\odot \\tanh(c_t)`.

    See Also
    --------
    torch.nn.LSTMCell : the same computation with weights stored transposed.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> N, D, H = 2, 3, 4
    >>> h, c, cache = lstm_step_forward(rng.normal(size=(N, D)), np.zeros((N, H)), np.zeros((N, H)),
    ...                                 rng.normal(size=(D, 4 * H)), rng.normal(size=(H, 4 * H)),
    ...                                 np.zeros(4 * H))
    >>> h.shape, c.shape
    ((2, 4), (2, 4))
    """
    dims = Dims("lstm_step_forward")
    dims.check("x", x, "N D")
    dims.check("h_prev", h_prev, "N H")
    dims.check("c_prev", c_prev, "N H")
    check_weights(dims, 4, Wx, Wh, b=b)
    H = dims["H"]
    gates = _activate(x @ Wx + h_prev @ Wh + b, H)  # (N, 4H)
    i, f, g, o = np.split(gates, 4, axis=1)  # 4 x (N, H)
    c = f * c_prev + i * g  # (N, H)
    tanh_c = np.tanh(c)  # (N, H)
    h = o * tanh_c  # (N, H)
    return h, c, LSTMStepCache(x, h_prev, c_prev, gates, tanh_c, Wx, Wh)


def lstm_step_backward(dh, dc, cache: LSTMStepCache):
    """Backward pass of one LSTM step.

    Parameters
    ----------
    dh : ndarray of shape (N, H)
        Gradient of the loss with respect to this step's ``h`` (upstream plus carried).
    dc : ndarray of shape (N, H)
        Gradient with respect to this step's ``c`` carried back from the next step.
    cache : LSTMStepCache
        From :func:`lstm_step_forward`.

    Returns
    -------
    dx : ndarray of shape (N, D)
    dh_prev, dc_prev : ndarray of shape (N, H)
        What flows back to the previous step's two states.
    dWx, dWh, db : ndarray
        This step's terms of the weight gradients, shaped like ``Wx``, ``Wh`` and ``b``.

    Raises
    ------
    ValueError
        If ``dh`` or ``dc`` does not have the shape of the step's states.

    Notes
    -----
    The total gradient reaching :math:`c_t` is the carried ``dc`` plus the path through
    :math:`h_t`: :math:`\\delta c = dc + dh \\odot o \\odot (1 - \\tanh^2 c_t)`. Then
    :math:`dc_{t-1} = \\delta c \\odot f` (the forget gate, not a weight matrix), and the gate
    pre-activations receive :math:`\\delta c \\odot g \\cdot i(1-i)`, :math:`\\delta c \\odot c_{t-1}
    \\cdot f(1-f)`, :math:`\\delta c \\odot i \\cdot (1-g^2)` and :math:`dh \\odot \\tanh c_t \\cdot o(1-o)`.

    See Also
    --------
    torch.nn.LSTMCell : autograd computes the same gradients.
    """
    N, H = cache.tanh_c.shape
    dims = Dims("lstm_step_backward", N=N, H=H)
    dims.check("dh", dh, "N H")
    dims.check("dc", dc, "N H")
    i, f, g, o = np.split(cache.gates, 4, axis=1)  # 4 x (N, H)
    dc_total = dc + dh * o * (1.0 - cache.tanh_c**2)  # (N, H)
    da = np.concatenate(  # gradient of the pre-activations, (N, 4H)
        [
            dc_total * g * i * (1.0 - i),
            dc_total * cache.c_prev * f * (1.0 - f),
            dc_total * i * (1.0 - g**2),
            dh * cache.tanh_c * o * (1.0 - o),
        ],
        axis=1,
    )
    dx = da @ cache.Wx.T  # (N, D)
    dh_prev = da @ cache.Wh.T  # (N, H)
    dc_prev = dc_total * f  # (N, H)
    dWx = cache.x.T @ da  # (D, 4H)
    dWh = cache.h_prev.T @ da  # (H, 4H)
    db = da.sum(axis=0)  # (4H,)
    return dx, dh_prev, dc_prev, dWx, dWh, db


def lstm_forward(x, h0, c0, Wx, Wh, b, lengths=None):
    """Run the LSTM over a whole batch of sequences.

    Parameters
    ----------
    x : ndarray of shape (N, T, D)
        Input sequences, batch first.
    h0 : ndarray of shape (N, H)
        Initial hidden state.
    c0 : ndarray of shape (N, H)
        Initial cell state.
    Wx : ndarray of shape (D, 4H)
        Input-to-hidden weights, gates i, f, g, o.
    Wh : ndarray of shape (H, 4H)
        Hidden-to-hidden weights, shared by every time step.
    b : ndarray of shape (4H,)
        Bias.
    lengths : array_like of int of shape (N,), optional
        True lengths of padded sequences, each in ``[1, T]``: sequence n stops after ``lengths[n]``
        steps, and its outputs and cached values at later (padded) steps are zero.

    Returns
    -------
    h : ndarray of shape (N, T, H)
        Hidden state at every step; ``h[:, -1]`` is the final one of full sequences, ``cache.h_n``
        that of each sequence at its true end: the output of ``torch.nn.LSTM(batch_first=True)``.
    cache : LSTMCache
        Values needed by :func:`lstm_backward`; ``cache.c_n`` is the final cell state
        (``cache.c[:, -1]`` without ``lengths``).

    Raises
    ------
    ValueError
        If a shape does not match the others (including T = 0), or ``lengths`` does not fit.
    TypeError
        If an argument is not a floating-point ndarray or ``lengths`` does not hold integers.

    Notes
    -----
    A loop over :func:`lstm_step_forward` that stacks what each step caches: the activated gates,
    :math:`c_t`, :math:`\\tanh(c_t)` and :math:`h_t` of every step. With ``lengths``, a sequence's
    steps past its end come after all its valid ones: they run on zero inputs and are zeroed in the
    output and the cache, so the valid steps are exactly what ``torch.nn.LSTM`` computes for a
    ``PackedSequence``, and :attr:`LSTMCache.h_n`, :attr:`LSTMCache.c_n` are read at each sequence's
    last valid step.

    See Also
    --------
    torch.nn.LSTM : the same layer (``batch_first=True``); it returns ``(output, (h_n, c_n))``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> N, T, D, H = 2, 5, 3, 4
    >>> h, cache = lstm_forward(rng.normal(size=(N, T, D)), np.zeros((N, H)), np.zeros((N, H)),
    ...                         rng.normal(size=(D, 4 * H)), rng.normal(size=(H, 4 * H)), np.zeros(4 * H))
    >>> h.shape, cache.c[:, -1].shape
    ((2, 5, 4), (2, 4))
    """
    dims = Dims("lstm_forward")
    dims.check("x", x, "N T D")
    dims.check("h0", h0, "N H")
    dims.check("c0", c0, "N H")
    check_weights(dims, 4, Wx, Wh, b=b)
    N, T, _ = x.shape
    lengths = padding("lstm_forward", lengths, N, T)
    x = zero_padded(x, lengths)  # (N, T, D): padded inputs are never read
    h_t, c_t, outputs = h0, c0, []
    for t in range(T):
        h_t, c_t, step = lstm_step_forward(x[:, t], h_t, c_t, Wx, Wh, b)  # (N, H), (N, H), cache
        outputs.append((h_t, c_t, step.gates, step.tanh_c))
    # every step's values side by side: (N, T, H), (N, T, H), (N, T, 4H), (N, T, H)
    h, c, gates, tanh_c = (zero_padded(np.stack(a, axis=1), lengths) for a in zip(*outputs, strict=True))
    return h, LSTMCache(x, h0, c0, gates, c, tanh_c, h, Wx, Wh, lengths)


def lstm_backward(dh, cache: LSTMCache):
    """Backpropagation through time for the LSTM.

    Parameters
    ----------
    dh : ndarray of shape (N, T, H)
        Upstream gradient of the loss with respect to every hidden state ``h[:, t]``. A gradient
        with respect to the final state ``cache.h_n`` is added at each sequence's last valid step.
        Padded steps are ignored.
    cache : LSTMCache
        From :func:`lstm_forward`.

    Returns
    -------
    dx : ndarray of shape (N, T, D)
        Zero at padded steps.
    dh0, dc0 : ndarray of shape (N, H)
        Gradients of the initial states.
    dWx, dWh, db : ndarray
        Sums over the steps, shaped like ``Wx`` (D, 4H), ``Wh`` (H, 4H) and ``b`` (4H,).

    Raises
    ------
    ValueError
        If ``dh`` does not have the shape of the hidden states.

    Notes
    -----
    Walks ``t = T-1, ..., 0`` carrying two gradients, :math:`\\partial L/\\partial h_t` (the upstream
    ``dh[:, t]`` plus what flows back from step ``t+1``) and :math:`\\partial L/\\partial c_t`, which
    each step back multiplies by the forget gate :math:`f_t` (chapter 5, eq. (lstm-dc)). Each step is
    :func:`lstm_step_backward` on the step's cache, read back from the sequence cache
    (:meth:`LSTMCache.step`); the same weights act at every step, so their gradients are the sums over
    the steps of the per-step ones (eq. (lstm-affine-grads)). With ``lengths``, the upstream gradient
    at padded steps is dropped; their cached gates are zero, so they pass no gradient back either. The
    loss is assumed not to read the final cell state directly.
    """
    N, T, H = cache.h.shape
    Dims("lstm_backward", N=N, T=T, H=H).check("dh", dh, "N T H")
    dh = zero_padded(dh, cache.lengths)  # (N, T, H): padded outputs are constants
    dx = [None] * T
    dWx = dWh = db = 0.0  # sums over the steps
    dh_prev, dc_prev = np.zeros_like(cache.h0), np.zeros_like(cache.c0)  # sent back by step t + 1
    for t in reversed(range(T)):
        dx[t], dh_prev, dc_prev, dWx_t, dWh_t, db_t = lstm_step_backward(
            dh[:, t] + dh_prev, dc_prev, cache.step(t)
        )
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t  # (lstm-affine-grads)
    return np.stack(dx, axis=1), dh_prev, dc_prev, dWx, dWh, db  # dx (N, T, D)


@fill(torch="LSTM", G="4H")
def to_torch(Wx, Wh, b, *, suffix: str = "_l0") -> dict[str, np.ndarray]:
    """Convert numpy-layout LSTM parameters to ``torch.nn.LSTM``'s names and layout.

    Parameters
    ----------
    %(numpy_weights)s
    b : ndarray of shape (4H,)
        Becomes ``bias_ih{suffix}``; ``bias_hh{suffix}`` is zeros (torch adds the two).
    %(suffix)s

    %(torch_state)s

    Examples
    --------
    >>> sd = to_torch(np.zeros((3, 8)), np.zeros((2, 8)), np.zeros(8))
    >>> {k: v.shape for k, v in sd.items()}["weight_ih_l0"]
    (8, 3)
    """
    check_weights(Dims("to_torch"), 4, Wx, Wh, b=b)
    return torch_state(Wx, Wh, b, np.zeros_like(b), suffix)


@fill(torch="LSTM", G="4H")
def from_torch(params: Mapping, *, suffix: str = "_l0"):
    """Convert ``torch.nn.LSTM`` (or ``LSTMCell``) parameters to numpy layout.

    %(state_dict)s

    Returns
    -------
    %(numpy_weights)s
    b : ndarray of shape (4H,)
        ``bias_ih + bias_hh``: in the LSTM the two biases only ever appear summed.

    %(state_dict_raises)s

    See Also
    --------
    to_torch : the inverse (up to how the bias is split between the two torch vectors).
    """
    Wx, Wh, bias_ih, bias_hh = numpy_params(params, suffix)  # (D, 4H), (H, 4H), 2 x (4H,)
    b = bias_ih + bias_hh  # (4H,)
    check_weights(Dims("from_torch"), 4, Wx, Wh, b=b)
    return Wx, Wh, b
