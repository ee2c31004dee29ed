"""One direction of one recurrent layer over a whole sequence: the plain path and the fast path.

:func:`run_direction` projects the inputs of all steps with one matrix product and then runs the
recurrence, either

- **plain** (:func:`plain_recurrence`): a loop over time calling the step functions of
  :mod:`companion.nn.cells`, the equations as written in chapters 2, 5 and 6, differentiated by autograd;
- **fast** (:mod:`companion.nn.fused`): the same function with a hand-written BPTT backward pass.

Both take a mask of valid steps (chapter 7): outside them a sequence's state is frozen and its output
is zero. The LSTM with a projection (``proj_size > 0``) always runs the plain path.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from companion.nn import fused
from companion.nn.cells import gru_step, lstm_step, rnn_step

__all__ = ["run_direction", "plain_recurrence"]


def plain_recurrence(
    mode: str,
    xp: Tensor,
    states: tuple[Tensor, ...],
    w_hh: Tensor,
    b_hh: Tensor | None,
    w_hr: Tensor | None,
    mask: Tensor | None,
    reverse: bool,
):
    """The recurrence step by step, as the chapters write it.

    Parameters
    ----------
    mode : {"RNN_TANH", "RNN_RELU", "LSTM", "GRU"}
    xp : Tensor of shape (T, N, G·H)
        Input projection of every step (with ``b_hh`` folded in, except for the GRU).
    states : tuple of Tensor
        ``(h0,)`` of shape (N, H), or ``(h0, c0)`` for the LSTM (h0 of shape (N, P) with a projection).
    w_hh : Tensor of shape (G·H, H) (or (4H, P))
    b_hh : Tensor of shape (G·H,) or None
        Only for the GRU (the others fold it into ``xp``).
    w_hr : Tensor of shape (P, H) or None
        The LSTM's projection.
    mask : Tensor of bool of shape (T, N, 1) or None
    reverse : bool

    Returns
    -------
    output : Tensor of shape (T, N, H)
    finals : tuple of Tensor
        The states after each sequence's last valid step, like ``states``.
    """
    T = xp.shape[0]
    outputs: list[Tensor | None] = [None] * T
    xs = xp.unbind(0)  # T x (N, G·H); unbind, not xp[t]: a much cheaper backward
    for t in range(T - 1, -1, -1) if reverse else range(T):
        if mode == "LSTM":
            new = lstm_step(xs[t], states[0], states[1], w_hh, None)
            if w_hr is not None:
                new = (F.linear(new[0], w_hr), new[1])  # h_t = W_hr (o ⊙ tanh c_t), (N, P)
        elif mode == "GRU":
            new = (gru_step(xs[t], states[0], w_hh, b_hh),)
        else:
            new = (rnn_step(xs[t], states[0], w_hh, None, "relu" if mode == "RNN_RELU" else "tanh"),)
        if mask is None:
            states, outputs[t] = new, new[0]
        else:
            states = tuple(torch.where(mask[t], n, s) for n, s in zip(new, states, strict=True))
            outputs[t] = new[0] * mask[t]  # zero at padded steps
    return torch.stack(outputs), states  # (T, N, H)


def run_direction(
    mode: str,
    x: Tensor,
    states: tuple[Tensor, ...],
    params: tuple[Tensor | None, ...],
    mask: Tensor | None,
    reverse: bool,
    use_fused: bool,
):
    """Project the inputs, then run one direction of one layer.

    Parameters
    ----------
    mode : {"RNN_TANH", "RNN_RELU", "LSTM", "GRU"}
    x : Tensor of shape (T, N, D)
    states : tuple of Tensor of shape (N, ·)
    params : tuple
        ``(weight_ih, weight_hh, bias_ih, bias_hh, weight_hr)``, absent ones None.
    mask : Tensor of bool of shape (T, N, 1) or None
    reverse : bool
    use_fused : bool
        Take the fast path where it exists.

    Returns
    -------
    output : Tensor of shape (T, N, H)
    finals : tuple of Tensor
    """
    w_ih, w_hh, b_ih, b_hh, w_hr = params
    # b_hh joins the input projection (it is added at every step) except in the GRU, whose reset gate
    # scales W_hn h + b_hn. (x made contiguous first, e.g. after batch_first's transpose.)
    x = x.contiguous()
    b_in = b_ih if mode == "GRU" or b_hh is None else b_ih + b_hh
    if use_fused and mode == "LSTM" and w_hr is None:  # the LSTM's fast path projects the inputs itself
        output, h, c = fused.lstm_recurrence(x, w_ih, b_in, states[0], states[1], w_hh, mask, reverse)
        return output, (h, c)
    xp = F.linear(x, w_ih, b_in)  # every step's input projection in one product, (T, N, G·H)
    b_rec = b_hh if mode == "GRU" else None
    if not use_fused or w_hr is not None:
        return plain_recurrence(mode, xp, states, w_hh, b_rec, w_hr, mask, reverse)
    if mode == "GRU":
        output, h = fused.gru_recurrence(xp, states[0], w_hh, b_hh, mask, reverse)
    else:
        output, h = fused.rnn_recurrence(xp, states[0], w_hh, mask, reverse, mode == "RNN_RELU")
    return output, (h,)
