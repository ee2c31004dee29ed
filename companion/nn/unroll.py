"""The plain path of the sequence layers: a recurrence unrolled over time, one step at a time (chapters
2, 5 to 7).

:func:`unroll` calls a step function of :mod:`companion.nn.cells` at every step, the equations as the
chapters write them, and autograd differentiates the loop. The fast path of :mod:`companion.nn.fused`
computes the same values with a hand-written backward pass, and runs this loop itself when its backward
pass must be differentiable (double backward). With a mask of valid steps (chapter 7) a sequence's state
is frozen outside its valid steps and its output there is zero.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["unroll"]


def unroll(
    step: Callable,
    xp: Tensor,
    states: tuple[Tensor, ...],
    weights: tuple[Tensor, Tensor | None, Tensor | None],
    mask: Tensor | None = None,
    reverse: bool = False,
):
    """The recurrence step by step, as the chapters write it.

    Parameters
    ----------
    step : callable
        One step, ``step(xp_t, *states, weight_hh, bias_hh)``, returning the new state or, for the LSTM,
        the pair ``(h, c)``: :func:`~companion.nn.cells.rnn_step`, :func:`~companion.nn.cells.lstm_step`
        or :func:`~companion.nn.cells.gru_step`.
    xp : Tensor of shape (T, N, G·H)
        Input projection of every step, time first.
    states : tuple of Tensor
        ``(h0,)`` of shape (N, H), or ``(h0, c0)`` for the LSTM (h0 of shape (N, P) with a projection).
    weights : tuple
        ``(w_hh, b_hh, w_hr)``: W_hh of shape (G·H, H) (or (4H, P)); the bias the step adds, of shape
        (G·H,), or None; the LSTM's projection W_hr of shape (P, H), or None.
    mask : Tensor of bool of shape (T, N, 1), optional
        Valid steps; None when every step is valid.
    reverse : bool, default False
        Read the sequence from its end.

    Returns
    -------
    output : Tensor of shape (T, N, H)
        The hidden state after every step (zero at invalid steps).
    finals : tuple of Tensor
        The states after each sequence's last valid step, like ``states``.

    Examples
    --------
    >>> from companion.nn.cells import rnn_step
    >>> xp, h0, weights = torch.zeros(5, 2, 3), torch.zeros(2, 3), (torch.eye(3), None, None)
    >>> output, (h,) = unroll(rnn_step, xp, (h0,), weights)
    >>> output.shape, h.shape
    (torch.Size([5, 2, 3]), torch.Size([2, 3]))
    """
    w_hh, b_hh, w_hr = weights
    T = xp.shape[0]
    outputs: list[Tensor | None] = [None] * T
    xs = xp.unbind(0)  # T x (N, G·H); unbind, not xp[t]: a much cheaper backward
    for t in range(T - 1, -1, -1) if reverse else range(T):
        new = step(xs[t], *states, w_hh, b_hh)
        new = new if isinstance(new, tuple) else (new,)
        if w_hr is not None:
            new = (F.linear(new[0], w_hr), *new[1:])  # h_t = W_hr (o ⊙ tanh c_t), (N, P)
        if mask is None:
            states, outputs[t] = new, new[0]
        else:
            states = tuple(torch.where(mask[t], n, s) for n, s in zip(new, states, strict=True))
            outputs[t] = new[0] * mask[t]  # zero at padded steps
    return torch.stack(outputs), states  # (T, N, H)
