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

from companion._checks import Dims, as_numpy
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
    """What the sequence backward pass needs: inputs, every gate and every state (memory grows with T)."""

    x: np.ndarray  #: (N, T, D)
    h0: np.ndarray  #: (N, H)
    gates: np.ndarray  #: (N, T, 3H) activated gates [r | z | n] at every step
    hn: np.ndarray  #: (N, T, H)
    h: np.ndarray  #: (N, T, H)
    Wx: np.ndarray  #: (D, 3H)
    Wh: np.ndarray  #: (H, 3H)


def _check_params(dims: Dims, Wx, Wh, bx, bh) -> None:
    dims.check("Wx", Wx, "D 3H")
    dims.check("Wh", Wh, "H 3H")
    dims.check("bx", bx, "3H")
    dims.check("bh", bh, "3H")


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
        The new hidden state.
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
    _check_params(dims, Wx, Wh, bx, bh)
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
    dWx : ndarray of shape (D, 3H)
    dWh : ndarray of shape (H, 3H)
    dbx : ndarray of shape (3H,)
    dbh : ndarray of shape (3H,)

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


def gru_forward(x, h0, Wx, Wh, bx, bh):
    """Run the GRU over a whole batch of sequences.

    Parameters
    ----------
    x : ndarray of shape (N, T, D)
        Input sequences, batch first.
    h0 : ndarray of shape (N, H)
        Initial hidden state.
    Wx : ndarray of shape (D, 3H)
        Input-to-hidden weights, gates r, z, n.
    Wh : ndarray of shape (H, 3H)
        Hidden-to-hidden weights, shared by every time step.
    bx : ndarray of shape (3H,)
        Input bias.
    bh : ndarray of shape (3H,)
        Hidden bias.

    Returns
    -------
    h : ndarray of shape (N, T, H)
        Hidden state at every step; ``h[:, -1]`` is the final one.
    cache : GRUCache
        Values needed by :func:`gru_backward`.

    Raises
    ------
    ValueError
        If a shape does not match the others (including T = 0).
    TypeError
        If an argument is not a floating-point ndarray.

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
    _check_params(dims, Wx, Wh, bx, bh)
    N, T, _ = x.shape
    H = dims["H"]
    dtype = np.result_type(x, h0, Wx, Wh, bx, bh)
    gates = np.empty((N, T, 3 * H), dtype=dtype)  # (N, T, 3H)
    hn, h = (np.empty((N, T, H), dtype=dtype) for _ in range(2))  # 2 x (N, T, H)
    h_t = h0
    for t in range(T):
        h_t, step = gru_step_forward(x[:, t], h_t, Wx, Wh, bx, bh)
        h[:, t], gates[:, t], hn[:, t] = h_t, step.gates, step.hn
    return h, GRUCache(x, h0, gates, hn, h, Wx, Wh)


def gru_backward(dh, cache: GRUCache):
    """Backpropagation through time for the GRU.

    Parameters
    ----------
    dh : ndarray of shape (N, T, H)
        Upstream gradient of the loss with respect to every hidden state ``h[:, t]``.
    cache : GRUCache
        From :func:`gru_forward`.

    Returns
    -------
    dx : ndarray of shape (N, T, D)
    dh0 : ndarray of shape (N, H)
    dWx : ndarray of shape (D, 3H)
    dWh : ndarray of shape (H, 3H)
    dbx : ndarray of shape (3H,)
    dbh : ndarray of shape (3H,)

    Raises
    ------
    ValueError
        If ``dh`` does not have the shape of the hidden states.

    Notes
    -----
    Walks ``t = T-1, ..., 0`` carrying :math:`\\partial L/\\partial h_t`. Its direct path back is
    multiplied by the update gate :math:`z_t` (chapter 6, eq. (gru-dh)), which plays the role the
    forget gate plays for the LSTM cell state.
    """
    N, T, H = cache.h.shape
    Dims("gru_backward", N=N, T=T, H=H).check("dh", dh, "N T H")
    dtype = np.result_type(dh, cache.x)
    dx = np.empty(cache.x.shape, dtype=dtype)  # (N, T, D)
    dWx = np.zeros(cache.Wx.shape, dtype=dtype)  # (D, 3H)
    dWh = np.zeros(cache.Wh.shape, dtype=dtype)  # (H, 3H)
    dbx = np.zeros(3 * H, dtype=dtype)  # (3H,)
    dbh = np.zeros(3 * H, dtype=dtype)  # (3H,)
    dh_next = np.zeros((N, H), dtype=dtype)  # carried from step t+1
    for t in reversed(range(T)):
        h_prev = cache.h[:, t - 1] if t > 0 else cache.h0
        step = GRUStepCache(cache.x[:, t], h_prev, cache.gates[:, t], cache.hn[:, t], cache.Wx, cache.Wh)
        dx[:, t], dh_next, dWx_t, dWh_t, dbx_t, dbh_t = gru_step_backward(dh[:, t] + dh_next, step)
        dWx += dWx_t
        dWh += dWh_t
        dbx += dbx_t
        dbh += dbh_t
    return dx, dh_next, dWx, dWh, dbx, dbh


def to_torch(Wx, Wh, bx, bh, *, suffix: str = "_l0") -> dict[str, np.ndarray]:
    """Convert numpy-layout GRU parameters to ``torch.nn.GRU``'s names and layout.

    Parameters
    ----------
    Wx : ndarray of shape (D, 3H)
    Wh : ndarray of shape (H, 3H)
    bx : ndarray of shape (3H,)
    bh : ndarray of shape (3H,)
    suffix : str, default ``"_l0"``
        Suffix of the parameter names: ``"_l0"`` for ``nn.GRU``, ``""`` for ``nn.GRUCell``.

    Returns
    -------
    dict of str to ndarray
        ``weight_ih{suffix}`` (3H, D), ``weight_hh{suffix}`` (3H, H), ``bias_ih{suffix}`` = ``bx`` and
        ``bias_hh{suffix}`` = ``bh`` (3H,). Wrap the values with ``torch.from_numpy`` and pass them
        to ``load_state_dict``.

    Raises
    ------
    ValueError
        If the shapes do not fit together.

    See Also
    --------
    from_torch : the inverse.

    Examples
    --------
    >>> sd = to_torch(np.zeros((3, 6)), np.zeros((2, 6)), np.zeros(6), np.zeros(6))
    >>> sd["weight_hh_l0"].shape
    (6, 2)
    """
    _check_params(Dims("to_torch"), Wx, Wh, bx, bh)
    return {
        f"weight_ih{suffix}": np.ascontiguousarray(Wx.T),  # (3H, D)
        f"weight_hh{suffix}": np.ascontiguousarray(Wh.T),  # (3H, H)
        f"bias_ih{suffix}": bx.copy(),  # (3H,)
        f"bias_hh{suffix}": bh.copy(),  # (3H,)
    }


def from_torch(params: Mapping, *, suffix: str = "_l0"):
    """Convert ``torch.nn.GRU`` (or ``GRUCell``) parameters to numpy layout.

    Parameters
    ----------
    params : mapping of str to tensor or ndarray
        A ``state_dict``: ``weight_ih{suffix}`` (3H, D) and ``weight_hh{suffix}`` (3H, H); the
        biases ``bias_ih{suffix}`` and ``bias_hh{suffix}`` (3H,) are optional (``bias=False``).
    suffix : str, default ``"_l0"``
        ``""`` for a cell's ``state_dict``.

    Returns
    -------
    Wx : ndarray of shape (D, 3H)
    Wh : ndarray of shape (H, 3H)
    bx : ndarray of shape (3H,)
        ``bias_ih`` (zeros if absent).
    bh : ndarray of shape (3H,)
        ``bias_hh`` (zeros if absent).

    Raises
    ------
    KeyError
        If a weight is missing, naming the keys that were found.
    ValueError
        If the shapes are not those of a GRU (a leading dimension that is not 3H).

    See Also
    --------
    to_torch : the exact inverse.
    """
    try:
        W_ih = as_numpy(params[f"weight_ih{suffix}"])
        W_hh = as_numpy(params[f"weight_hh{suffix}"])
    except KeyError as err:
        raise KeyError(f"from_torch: expected key {err.args[0]!r}; found {sorted(params)}") from None
    zeros = np.zeros(W_hh.shape[0], dtype=W_hh.dtype)  # (3H,)
    bx = as_numpy(params[f"bias_ih{suffix}"]) if f"bias_ih{suffix}" in params else zeros.copy()
    bh = as_numpy(params[f"bias_hh{suffix}"]) if f"bias_hh{suffix}" in params else zeros.copy()
    Wx, Wh = W_ih.T.copy(), W_hh.T.copy()  # (D, 3H), (H, 3H)
    _check_params(Dims("from_torch"), Wx, Wh, bx, bh)
    return Wx, Wh, bx, bh
