"""The gated recurrent unit (GRU) layer in numpy: forward pass and BPTT by hand (chapter 6).

Layout is batch first and "inputs @ weights", with torch's gate order **r, z, n** stacked along the
last axis of the weights, and torch's placement of the reset gate (applied *after* the hidden
matrix product, bias included):

.. math::

    r_t &= \\sigma(x_t W_x^r + b_x^r + h_{t-1} W_h^r + b_h^r), \\qquad
    z_t = \\sigma(x_t W_x^z + b_x^z + h_{t-1} W_h^z + b_h^z), \\\\
    n_t &= \\tanh\\big(x_t W_x^n + b_x^n + r_t \\odot (h_{t-1} W_h^n + b_h^n)\\big), \\\\
    h_t &= (1 - z_t) \\odot n_t + z_t \\odot h_{t-1},

with ``x`` of shape (N, T, D), ``h0`` (N, H), ``Wx`` (D, 3H), ``Wh`` (H, 3H) and two biases ``bx``
and ``bh`` (3H,). Because :math:`b_h^n` sits inside the reset gate, the two biases cannot be
merged (those of r and z could); so, unlike :mod:`companion.ref.lstm`, the GRU keeps both, exactly
as ``torch.nn.GRU`` does (``bias_ih_l0``, ``bias_hh_l0``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from companion._validate import Dims
from companion.ref._common import check_weights, last_valid, numpy_params, padding, torch_state, zero_padded
from companion.ref._docs import fill
from companion.ref.lstm import sigmoid

__all__ = [
    "GRUStepCache",
    "GRUCache",
    "gru_step_forward",
    "gru_step_backward",
    "gru_forward",
    "gru_backward",
    "to_torch",
    "from_torch",
]


class GRUStepCache(NamedTuple):
    """What one step's backward pass needs from its forward pass."""

    x: np.ndarray  #: (N, D) input at this step
    h_prev: np.ndarray  #: (N, H) previous hidden state
    gates: np.ndarray  #: (N, 3H) activated gates [r | z | n]
    hn: np.ndarray  #: (N, H) h_prev W_h^n + b_h^n, the hidden part of the candidate before the reset gate
    Wx: np.ndarray  #: (D, 3H)
    Wh: np.ndarray  #: (H, 3H)


class GRUCache(NamedTuple):
    """What the sequence backward pass needs: inputs, every gate and every state (memory grows with T).

    Every per-step array is zero at padded steps; :attr:`h_n` is the final state.
    """

    x: np.ndarray  #: (N, T, D)
    h0: np.ndarray  #: (N, H)
    gates: np.ndarray  #: (N, T, 3H) activated gates [r | z | n] at every step
    hn: np.ndarray  #: (N, T, H)
    h: np.ndarray  #: (N, T, H)
    Wx: np.ndarray  #: (D, 3H)
    Wh: np.ndarray  #: (H, 3H)
    lengths: np.ndarray | None = None  #: (N,) true lengths; empty (or None) when no step is padded

    @property
    def h_n(self) -> np.ndarray:
        """(N, H) final hidden state of each sequence, at its last valid step (torch's ``h_n[0]``)."""
        return last_valid(self.h, self.lengths)

    def step(self, t: int) -> GRUStepCache:
        """The :class:`GRUStepCache` of step ``t``, as :func:`gru_step_forward` returned it."""
        h_prev = self.h[:, t - 1] if t > 0 else self.h0  # (N, H)
        return GRUStepCache(self.x[:, t], h_prev, self.gates[:, t], self.hn[:, t], self.Wx, self.Wh)


def gru_step_forward(x, h_prev, Wx, Wh, bx, bh):
    """One GRU step: reset and update gates, candidate state, interpolation.

    Parameters
    ----------
    x : ndarray of shape (N, D)
        Inputs at this time step.
    h_prev : ndarray of shape (N, H)
        Hidden state from the previous step.
    Wx : ndarray of shape (D, 3H)
        Input-to-hidden weights, gate blocks in the order r, z, n.
    Wh : ndarray of shape (H, 3H)
        Hidden-to-hidden weights, same order.
    bx : ndarray of shape (3H,)
        Input bias (torch's ``bias_ih``).
    bh : ndarray of shape (3H,)
        Hidden bias (torch's ``bias_hh``); its n block is multiplied by the reset gate.

    Returns
    -------
    h : ndarray of shape (N, H)
        The new hidden state, the interpolation :math:`h_t` of the candidate and :math:`h_{t-1}`.
    cache : GRUStepCache
        Values needed by :func:`gru_step_backward`.

    Raises
    ------
    ValueError
        If a shape does not match the others.
    TypeError
        If an argument is not a floating-point ndarray.

    Notes
    -----
    Equations (gru-gates), (gru-candidate) and (gru-update) of chapter 6:
    :math:`r, z = \\sigma(\\cdot)`, :math:`n = \\tanh(x W_x^n + b_x^n + r \\odot (h_{t-1} W_h^n + b_h^n))`,
    :math:`h_t = (1 - z) \\odot n + z \\odot h_{t-1}`.

    See Also
    --------
    torch.nn.GRUCell : the same computation with weights stored transposed.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> N, D, H = 2, 3, 4
    >>> h, cache = gru_step_forward(rng.normal(size=(N, D)), np.zeros((N, H)),
    ...                             rng.normal(size=(D, 3 * H)), rng.normal(size=(H, 3 * H)),
    ...                             np.zeros(3 * H), np.zeros(3 * H))
    >>> h.shape
    (2, 4)
    """
    dims = Dims("gru_step_forward")
    dims.check("x", x, "N D")
    dims.check("h_prev", h_prev, "N H")
    check_weights(dims, 3, Wx, Wh, bx=bx, bh=bh)
    H = dims["H"]
    ax = x @ Wx + bx  # (N, 3H)
    ah = h_prev @ Wh + bh  # (N, 3H)
    rz = sigmoid(ax[:, : 2 * H] + ah[:, : 2 * H])  # (N, 2H)
    hn = ah[:, 2 * H :]  # (N, H)
    n = np.tanh(ax[:, 2 * H :] + rz[:, :H] * hn)  # (N, H)
    z = rz[:, H:]  # (N, H)
    h = (1.0 - z) * n + z * h_prev  # (N, H)
    gates = np.concatenate([rz, n], axis=1)  # (N, 3H)
    return h, GRUStepCache(x, h_prev, gates, hn, Wx, Wh)


def gru_step_backward(dh, cache: GRUStepCache):
    """Backward pass of one GRU step.

    Parameters
    ----------
    dh : ndarray of shape (N, H)
        Gradient of the loss with respect to this step's ``h`` (upstream plus carried).
    cache : GRUStepCache
        From :func:`gru_step_forward`.

    Returns
    -------
    dx : ndarray of shape (N, D)
    dh_prev : ndarray of shape (N, H)
        What flows back to the previous state, directly and through the three gates' products.
    dWx, dWh, dbx, dbh : ndarray
        This step's terms of the parameter gradients, shaped like ``Wx``, ``Wh``, ``bx`` and ``bh``.

    Raises
    ------
    ValueError
        If ``dh`` does not have the shape of the hidden state.

    Notes
    -----
    With :math:`\\delta n = dh \\odot (1 - z) \\odot (1 - n^2)`: the reset gate receives
    :math:`\\delta n \\odot (h_{t-1} W_h^n + b_h^n) \\cdot r(1-r)`, the update gate
    :math:`dh \\odot (h_{t-1} - n) \\cdot z(1-z)`, the hidden candidate product :math:`\\delta n \\odot r`,
    and :math:`dh_{t-1}` collects the direct path :math:`dh \\odot z` plus the three matrix paths.
    The r and z blocks of ``dbx`` and ``dbh`` are equal; their n blocks differ by the factor r.

    See Also
    --------
    torch.nn.GRUCell : autograd computes the same gradients.
    """
    N, H = cache.hn.shape
    Dims("gru_step_backward", N=N, H=H).check("dh", dh, "N H")
    r, z, n = np.split(cache.gates, 3, axis=1)  # 3 x (N, H)
    dan = dh * (1.0 - z) * (1.0 - n**2)  # candidate pre-activation, (N, H)
    dar = dan * cache.hn * r * (1.0 - r)  # (N, H)
    daz = dh * (cache.h_prev - n) * z * (1.0 - z)  # (N, H)
    dax = np.concatenate([dar, daz, dan], axis=1)  # (N, 3H)
    dah = np.concatenate([dar, daz, dan * r], axis=1)  # (N, 3H)
    dx = dax @ cache.Wx.T  # (N, D)
    dh_prev = dh * z + dah @ cache.Wh.T  # (N, H)
    dWx = cache.x.T @ dax  # (D, 3H)
    dWh = cache.h_prev.T @ dah  # (H, 3H)
    return dx, dh_prev, dWx, dWh, dax.sum(axis=0), dah.sum(axis=0)


@fill()
def gru_forward(x, h0, Wx, Wh, bx, bh, lengths=None):
    """Run the GRU over a whole batch of sequences.

    Parameters
    ----------
    %(sequences)s
    Wx : ndarray of shape (D, 3H)
        Input-to-hidden weights, gates r, z, n.
    Wh : ndarray of shape (H, 3H)
        Hidden-to-hidden weights, shared by every time step.
    bx : ndarray of shape (3H,)
        Input bias.
    bh : ndarray of shape (3H,)
        Hidden bias.
    %(lengths)s

    Returns
    -------
    h : ndarray of shape (N, T, H)
        Hidden state at every step; ``h[:, -1]`` is the final one of full sequences, ``cache.h_n``
        that of each sequence at its true end: the output of ``torch.nn.GRU(batch_first=True)``.
    cache : GRUCache
        Values needed by :func:`gru_backward`.

    %(sequence_raises)s

    Notes
    -----
    A loop over :func:`gru_step_forward` that stacks what each step caches: the activated gates, the
    hidden part of the candidate before the reset gate and :math:`h_t` of every step. With
    ``lengths``, a sequence's steps past its end come after all its valid ones: they run on zero
    inputs and are zeroed in the output and the cache, so the valid steps are exactly what
    ``torch.nn.GRU`` computes for a ``PackedSequence``, and :attr:`GRUCache.h_n` is read at each
    sequence's last valid step.

    See Also
    --------
    torch.nn.GRU : the same layer (``batch_first=True``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> N, T, D, H = 2, 5, 3, 4
    >>> h, _ = gru_forward(rng.normal(size=(N, T, D)), np.zeros((N, H)), rng.normal(size=(D, 3 * H)),
    ...                    rng.normal(size=(H, 3 * H)), np.zeros(3 * H), np.zeros(3 * H))
    >>> h.shape
    (2, 5, 4)
    """
    dims = Dims("gru_forward")
    dims.check("x", x, "N T D")
    dims.check("h0", h0, "N H")
    check_weights(dims, 3, Wx, Wh, bx=bx, bh=bh)
    N, T, _ = x.shape
    lengths = padding("gru_forward", lengths, N, T)
    x = zero_padded(x, lengths)  # (N, T, D): padded inputs are never read
    h_t, outputs = h0, []
    for t in range(T):
        h_t, step = gru_step_forward(x[:, t], h_t, Wx, Wh, bx, bh)  # (N, H), cache
        outputs.append((h_t, step.gates, step.hn))
    # every step's values side by side: (N, T, H), (N, T, 3H), (N, T, H)
    h, gates, hn = (zero_padded(np.stack(a, axis=1), lengths) for a in zip(*outputs, strict=True))
    return h, GRUCache(x, h0, gates, hn, h, Wx, Wh, lengths)


def gru_backward(dh, cache: GRUCache):
    """Backpropagation through time for the GRU.

    Parameters
    ----------
    dh : ndarray of shape (N, T, H)
        Upstream gradient with respect to every hidden state, as for
        :func:`companion.ref.lstm.lstm_backward`: padded steps are ignored, and a gradient of
        ``cache.h_n`` is added at each sequence's last valid step.
    cache : GRUCache
        From :func:`gru_forward`.

    Returns
    -------
    dx : ndarray of shape (N, T, D)
        Zero at padded steps.
    dh0 : ndarray of shape (N, H)
        Gradient of the initial state.
    dWx, dWh, dbx, dbh : ndarray
        Sums over the steps, shaped like ``Wx`` (D, 3H), ``Wh`` (H, 3H), ``bx`` and ``bh`` (3H,).

    Raises
    ------
    ValueError
        If ``dh`` does not have the shape of the hidden states.

    Notes
    -----
    Walks ``t = T-1, ..., 0`` carrying :math:`\\partial L/\\partial h_t`. Its direct path back is
    multiplied by the update gate :math:`z_t` (chapter 6, eq. (gru-dh)), which plays the role the
    forget gate plays for the LSTM cell state. Each step is :func:`gru_step_backward` on the step's
    cache, read back from the sequence cache (:meth:`GRUCache.step`); the weight and bias gradients
    are the sums over the steps of the per-step ones. With ``lengths``, the upstream gradient at
    padded steps is dropped; their cached gates are zero, so they pass no gradient back either.
    """
    N, T, H = cache.h.shape
    Dims("gru_backward", N=N, T=T, H=H).check("dh", dh, "N T H")
    dh = zero_padded(dh, cache.lengths)  # (N, T, H): padded outputs are constants
    dx = [None] * T
    dWx = dWh = dbx = dbh = 0.0  # sums over the steps
    dh_prev = np.zeros_like(cache.h0)  # what step t + 1 sends back to h_t
    for t in reversed(range(T)):
        dx[t], dh_prev, dWx_t, dWh_t, dbx_t, dbh_t = gru_step_backward(dh[:, t] + dh_prev, cache.step(t))
        dWx, dWh, dbx, dbh = dWx + dWx_t, dWh + dWh_t, dbx + dbx_t, dbh + dbh_t
    return np.stack(dx, axis=1), dh_prev, dWx, dWh, dbx, dbh  # dx (N, T, D)


@fill(torch="GRU", G="3H")
def to_torch(Wx, Wh, bx, bh, *, suffix: str = "_l0") -> dict[str, np.ndarray]:
    """Convert numpy-layout GRU parameters to ``torch.nn.GRU``'s names and layout.

    Parameters
    ----------
    %(numpy_weights)s
    bx : ndarray of shape (3H,)
        Becomes ``bias_ih{suffix}``.
    bh : ndarray of shape (3H,)
        Becomes ``bias_hh{suffix}``.
    %(suffix)s

    %(torch_state)s

    Examples
    --------
    >>> sd = to_torch(np.zeros((3, 6)), np.zeros((2, 6)), np.zeros(6), np.zeros(6))
    >>> sd["weight_hh_l0"].shape
    (6, 2)
    """
    check_weights(Dims("to_torch"), 3, Wx, Wh, bx=bx, bh=bh)
    return torch_state(Wx, Wh, bx, bh, suffix)


@fill(torch="GRU", G="3H")
def from_torch(params: Mapping, *, suffix: str = "_l0"):
    """Convert ``torch.nn.GRU`` (or ``GRUCell``) parameters to numpy layout.

    %(state_dict)s

    Returns
    -------
    %(numpy_weights)s
    bx : ndarray of shape (3H,)
        ``bias_ih`` (zeros if absent).
    bh : ndarray of shape (3H,)
        ``bias_hh`` (zeros if absent).

    %(state_dict_raises)s

    See Also
    --------
    to_torch : the exact inverse.
    """
    Wx, Wh, bx, bh = numpy_params(params, suffix)  # (D, 3H), (H, 3H), 2 x (3H,)
    check_weights(Dims("from_torch"), 3, Wx, Wh, bx=bx, bh=bh)
    return Wx, Wh, bx, bh
