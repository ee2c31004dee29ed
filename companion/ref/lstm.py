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
from companion.ref._common import numpy_params, torch_state
from companion.ref.rnn import _check_lengths, _mask_padded, _or_none, final_state

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
        return final_state(self.h, _or_none(self.lengths))

    @property
    def c_n(self) -> np.ndarray:
        """(N, H) final cell state of each sequence, at its last valid step (torch's ``c_n[0]``)."""
        return final_state(self.c, _or_none(self.lengths))


def _check_params(dims: Dims, Wx, Wh, b) -> None:
    dims.check("Wx", Wx, "D 4H")
    dims.check("Wh", Wh, "H 4H")
    dims.check("b", b, "4H")


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
    h : ndarray of shape (N, H)
        The new hidden state.
    c : ndarray of shape (N, H)
        The new cell state.
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
    _check_params(dims, Wx, Wh, b)
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
    dh_prev : ndarray of shape (N, H)
    dc_prev : ndarray of shape (N, H)
    dWx : ndarray of shape (D, 4H)
    dWh : ndarray of shape (H, 4H)
    db : ndarray of shape (4H,)

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


def _gate_constants(H: int, dtype):
    """``scale`` (4H,): 1/2 on the sigmoid blocks i, f, o and 1 on g; ``shift``: 1/2 and 0 likewise."""
    scale = np.full((4, H), 0.5, dtype=dtype)  # (4, H)
    scale[2] = 1.0
    shift = np.where(scale == 0.5, scale, 0.0)  # (4, H)
    return scale.reshape(4 * H), shift.reshape(4 * H)


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
        that of each sequence at its true end. A batch-first view of time-major storage, like the
        output of ``torch.nn.LSTM(batch_first=True)``.
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
    The same step as :func:`lstm_step_forward`, arranged for speed: the input part
    :math:`x_t W_x + b` of every step comes from one matrix product before the loop, and each step
    writes into preallocated arrays. One ``tanh`` activates all four gates, because
    :math:`\\sigma(a) = \\tfrac12 (1 + \\tanh(a/2))`: the columns of the sigmoid gates in ``Wx``,
    ``Wh`` and ``b`` are halved once (exactly, in binary floating point). With ``lengths``, the
    states of sequence n are frozen after step ``lengths[n] - 1``, as ``torch.nn.LSTM`` computes
    for a ``PackedSequence``.

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
    _check_params(dims, Wx, Wh, b)
    N, T, D = x.shape
    H = dims["H"]
    lengths, valid = _check_lengths("lstm_forward", lengths, N, T)
    if valid is not None:
        x = np.where(valid[..., None], x, 0.0)  # (N, T, D): padded inputs are never read
    dtype = np.result_type(x, h0, c0, Wx, Wh, b)
    scale, shift = _gate_constants(H, dtype)
    # Time-major storage (T, N, .): the rows of one step are contiguous, which keeps each step's
    # elementwise work in cache; the cache and the output are batch-first views of it.
    gates = np.empty((T, N, 4 * H), dtype=dtype)  # (T, N, 4H)
    x_rows = np.empty((T, N, D + 1), dtype=dtype)  # [x_t | 1], time-major
    x_rows[..., :D] = x.transpose(1, 0, 2)
    x_rows[..., D] = 1.0
    # The input part x_t Wx + b of every step at once, the bias as the weight of the column of ones.
    np.matmul(x_rows.reshape(T * N, D + 1), np.vstack([Wx, b]) * scale, out=gates.reshape(T * N, 4 * H))
    h, c, tanh_c = (np.empty((T, N, H), dtype=dtype) for _ in range(3))  # 3 x (T, N, H)
    gates4 = gates.reshape(T, N, 4, H)  # gates4[t, :, k]: gate k of step t, k = i, f, g, o
    Wh_half = Wh * scale  # (H, 4H)
    Wh_h = np.empty((N, 4 * H), dtype=dtype)  # h_{t-1} Wh, reused at every step
    ig = np.empty((N, H), dtype=dtype)  # i * g
    h_prev, c_prev = h0, c0
    for t in range(T):
        a = gates[t]  # holds the input part; becomes the activated gates
        a += np.matmul(h_prev, Wh_half, out=Wh_h)
        np.tanh(a, out=a)
        a *= scale
        a += shift  # [i, f, g, o] = [sigma, sigma, tanh, sigma](pre-activation)
        i, f, g, o = gates4[t, :, 0], gates4[t, :, 1], gates4[t, :, 2], gates4[t, :, 3]
        np.multiply(f, c_prev, out=c[t])
        c[t] += np.multiply(i, g, out=ig)  # c_t = f * c_{t-1} + i * g
        np.tanh(c[t], out=tanh_c[t])
        np.multiply(o, tanh_c[t], out=h[t])  # h_t = o * tanh(c_t)
        h_prev, c_prev = h[t], c[t]
    if valid is not None:
        for array in (gates, c, tanh_c, h):
            array[~valid.T] = 0.0  # a sequence that has ended has no output
    gates, c, tanh_c, h = (array.transpose(1, 0, 2) for array in (gates, c, tanh_c, h))  # (N, T, .)
    return h, LSTMCache(x, h0, c0, gates, c, tanh_c, h, Wx, Wh, lengths)


_BLOCK_ELEMENTS = 1 << 18  # gate values per block of steps in lstm_backward (1 MB in float32)


def _lstm_factors(gates4, c_prev, tanh_c, m4, k):
    """The factors of (lstm-da) and (lstm-dc-total) that do not depend on the carried gradients.

    For the activated gates ``gates4`` (S, N, 4, H) = [i, f, g, o] of S steps and ``c_prev``,
    ``tanh_c`` (S, N, H), writes ``m4`` (S, N, 4, H) and ``k`` (S, N, H) such that
    ``da_{i,f,g} = dc * m4[:, :, :3]``, ``da_o = dh * m4[:, :, 3]`` and ``dc = dc_next + dh * k``.
    """
    i, f, g, o = (gates4[:, :, j] for j in range(4))
    np.subtract(np.array([1, 1, 0, 1], dtype=m4.dtype)[:, None], gates4, out=m4)  # 1 where a sigmoid
    m4 *= gates4
    m4[:, :, 2] += 1.0  # slopes of the activations [i(1-i), f(1-f), 1-g^2, o(1-o)], times:
    m4[:, :, 0] *= g  # da_i = dc * g * i(1-i)
    m4[:, :, 1] *= c_prev  # da_f = dc * c_{t-1} * f(1-f)
    m4[:, :, 2] *= i  # da_g = dc * i * (1-g^2)
    m4[:, :, 3] *= tanh_c  # da_o = dh * tanh(c_t) * o(1-o)
    np.square(tanh_c, out=k)
    np.subtract(1.0, k, out=k)
    k *= o  # (lstm-dc-total): dc = dc_next + dh * o * (1 - tanh^2 c_t)


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
    dh0 : ndarray of shape (N, H)
    dc0 : ndarray of shape (N, H)
    dWx : ndarray of shape (D, 4H)
    dWh : ndarray of shape (H, 4H)
    db : ndarray of shape (4H,)

    Raises
    ------
    ValueError
        If ``dh`` does not have the shape of the hidden states.

    Notes
    -----
    Walks ``t = T-1, ..., 0`` carrying two gradients, :math:`\\partial L/\\partial h_t` (the upstream
    ``dh[:, t]`` plus what flows back from step ``t+1``) and :math:`\\partial L/\\partial c_t`; the
    latter is multiplied by the forget gate :math:`f_t` at each step back (chapter 5, eq.
    (lstm-dc)). The factors of (lstm-da) and (lstm-dc-total) that do not depend on the carried
    gradients are computed a block of steps at a time (``_lstm_factors``), so the loop itself only
    multiplies by the gradients it carries. It keeps the gradient ``da`` of every step's
    pre-activations; the weight gradients, sums over the steps of per-step products, are then one
    matrix product over all N·T steps, ``[dWh; dWx; db] = Σ_t [h_{t-1} | x_t | 1]ᵀ da_t``. The loss is
    assumed not to read the final cell state directly.
    """
    N, T, H = cache.h.shape
    D = cache.x.shape[2]
    Dims("lstm_backward", N=N, T=T, H=H).check("dh", dh, "N T H")
    dh = _mask_padded("lstm_backward", dh, cache.lengths, T).transpose(1, 0, 2)  # (T, N, H)
    dtype = np.result_type(dh, cache.h)  # the forward computed in the promoted dtype of all its inputs
    # Time-major (T, N, .), as lstm_forward stores them: a view, no copy, for its cache.
    gates4, c, tanh_c, h = (a.transpose(1, 0, 2) for a in (cache.gates, cache.c, cache.tanh_c, cache.h))
    gates4 = gates4.reshape(T, N, 4, H)  # [t, :, k]: gate k = i, f, g, o of step t
    f = gates4[:, :, 1]  # (T, N, H)
    c_prev = np.concatenate([cache.c0[None], c[:-1]])  # (T, N, H): the cell state each step started from
    da = np.empty((T, N, 4 * H), dtype=dtype)  # gradient of every pre-activation a_t
    da4 = da.reshape(T, N, 4, H)
    k = np.empty((T, N, H), dtype=dtype)
    Wh_T = np.ascontiguousarray(cache.Wh.T)  # (4H, H)
    dh_next = np.zeros((N, H), dtype=dtype)  # carried from step t+1
    dc_next = np.zeros((N, H), dtype=dtype)  # becomes the total gradient of c_t, then is carried back
    dh_t, work = np.empty((N, H), dtype=dtype), np.empty((N, H), dtype=dtype)
    steps = max(1, _BLOCK_ELEMENTS // (N * 4 * H))
    for stop in range(T, 0, -steps):  # a block of steps at a time, the last block first
        block = slice(max(stop - steps, 0), stop)
        # What does not depend on the carried gradients, for the whole block at once (while it is in the
        # processor's cache): da starts as the factor of (lstm-da) that multiplies dc or dh, k as the one
        # of (lstm-dc-total). The loop then only multiplies by the gradients it carries.
        _lstm_factors(gates4[block], c_prev[block], tanh_c[block], da4[block], k[block])
        for t in reversed(range(block.start, block.stop)):
            np.add(dh[t], dh_next, out=dh_t)  # total gradient of h_t
            dc_next += np.multiply(dh_t, k[t], out=work)  # (lstm-dc-total)
            da4[t, :, :3] *= dc_next[:, None]  # (lstm-da): da_i, da_f, da_g
            da4[t, :, 3] *= dh_t  # da_o
            dc_next *= f[t]  # (lstm-dc): dc_{t-1} = dc * f
            np.matmul(da[t], Wh_T, out=dh_next)  # dh_{t-1} = da Wh^T
    # (lstm-affine-grads), summed over the steps: with every step's inputs side by side in a row
    # [h_{t-1} | x_t | 1], one product over all T*N rows gives [dWh; dWx; db] at once.
    da_rows = da.reshape(T * N, 4 * H)  # every step of every sequence as one row
    rows = np.empty((T, N, H + D + 1), dtype=dtype)
    rows[0, :, :H], rows[1:, :, :H] = cache.h0, h[:-1]
    rows[..., H : H + D] = cache.x.transpose(1, 0, 2)
    rows[..., H + D] = 1.0
    dW = rows.reshape(T * N, H + D + 1).T @ da_rows  # (H + D + 1, 4H)
    dx = (da_rows @ cache.Wx.T).reshape(T, N, D).transpose(1, 0, 2)  # (N, T, D)
    return np.ascontiguousarray(dx), dh_next, dc_next, dW[H : H + D], dW[:H], dW[H + D]


def to_torch(Wx, Wh, b, *, suffix: str = "_l0") -> dict[str, np.ndarray]:
    """Convert numpy-layout LSTM parameters to ``torch.nn.LSTM``'s names and layout.

    Parameters
    ----------
    Wx : ndarray of shape (D, 4H)
    Wh : ndarray of shape (H, 4H)
    b : ndarray of shape (4H,)
    suffix : str, default ``"_l0"``
        Suffix of the parameter names: ``"_l0"`` for ``nn.LSTM``, ``""`` for ``nn.LSTMCell``.

    Returns
    -------
    dict of str to ndarray
        ``weight_ih{suffix}`` (4H, D), ``weight_hh{suffix}`` (4H, H), ``bias_ih{suffix}`` (4H,) equal
        to ``b`` and ``bias_hh{suffix}`` (4H,) of zeros. Wrap the values with ``torch.from_numpy``
        and pass them to ``load_state_dict``.

    Raises
    ------
    ValueError
        If the shapes do not fit together.

    See Also
    --------
    from_torch : the inverse.

    Examples
    --------
    >>> sd = to_torch(np.zeros((3, 8)), np.zeros((2, 8)), np.zeros(8))
    >>> {k: v.shape for k, v in sd.items()}["weight_ih_l0"]
    (8, 3)
    """
    _check_params(Dims("to_torch"), Wx, Wh, b)
    return torch_state(Wx, Wh, b, np.zeros_like(b), suffix)


def from_torch(params: Mapping, *, suffix: str = "_l0"):
    """Convert ``torch.nn.LSTM`` (or ``LSTMCell``) parameters to numpy layout.

    Parameters
    ----------
    params : mapping of str to tensor or ndarray
        A ``state_dict``: ``weight_ih{suffix}`` (4H, D) and ``weight_hh{suffix}`` (4H, H); the
        biases ``bias_ih{suffix}`` and ``bias_hh{suffix}`` (4H,) are optional (``bias=False``).
    suffix : str, default ``"_l0"``
        ``""`` for a cell's ``state_dict``.

    Returns
    -------
    Wx : ndarray of shape (D, 4H)
    Wh : ndarray of shape (H, 4H)
    b : ndarray of shape (4H,)
        ``bias_ih + bias_hh``: in the LSTM the two biases only ever appear summed.

    Raises
    ------
    KeyError
        If a weight is missing, naming the keys that were found.
    ValueError
        If the shapes are not those of an LSTM (a leading dimension that is not 4H).

    See Also
    --------
    to_torch : the inverse (up to how the bias is split between the two torch vectors).
    """
    Wx, Wh, bias_ih, bias_hh = numpy_params(params, suffix)  # (D, 4H), (H, 4H), 2 x (4H,)
    b = bias_ih + bias_hh  # (4H,)
    _check_params(Dims("from_torch"), Wx, Wh, b)
    return Wx, Wh, b
