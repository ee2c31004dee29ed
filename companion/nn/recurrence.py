"""One direction of one recurrent layer over a whole sequence: the plain path and the fast path.

:func:`run_direction` runs the recurrence of one kind of :data:`companion.nn.kinds.KINDS`, either

- **plain** (:func:`companion.nn.unroll.unroll`): one matrix product projects the inputs of all steps,
  then a loop over time calls the kind's step function of :mod:`companion.nn.cells`, the equations as
  written in chapters 2, 5 and 6, differentiated by autograd;
- **fast** (the kind's function of :mod:`companion.nn.fused`): the same values with a hand-written
  BPTT backward pass.

Both take a mask of valid steps (chapter 7): outside them a sequence's state is frozen and its output
is zero. The LSTM with a projection (``proj_size > 0``) always runs the plain path.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from companion.nn.kinds import KINDS
from companion.nn.unroll import unroll

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
    """The recurrence of the kind ``mode`` step by step, as the chapters write it.

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
    return unroll(KINDS[mode].step, xp, states, (w_hh, b_hh, w_hr), mask=mask, reverse=reverse)


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
    kind = KINDS[mode]
    w_ih, w_hh, b_ih, b_hh, w_hr = params
    x = x.contiguous()  # e.g. after batch_first's transpose
    if use_fused and w_hr is None:
        return kind.fused(x, states, (w_ih, w_hh, b_ih, b_hh), mask=mask, reverse=reverse)
    b_in, b_step = kind.biases(b_ih, b_hh)
    xp = F.linear(x, w_ih, b_in)  # every step's input projection in one product, (T, N, G·H)
    return unroll(kind.step, xp, states, (w_hh, b_step, w_hr), mask=mask, reverse=reverse)
