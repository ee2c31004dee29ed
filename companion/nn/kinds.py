"""The recurrence kinds of :mod:`companion.nn`: one table that the layers, the fast path and the
seeds trained side by side all read (chapters 5-7).

A kind is torch's ``mode`` string (``"RNN_TANH"``, ``"RNN_RELU"``, ``"LSTM"``, ``"GRU"``); its entry
says how many gate blocks its weights stack (``weight_ih`` has ``gates * hidden_size`` rows), how
many state tensors it carries (the LSTM's ``(h, c)``, the others' ``h``), its step function from
:mod:`companion.nn.cells` (the plain path, :func:`companion.nn.unroll.unroll`) and its function of a
whole sequence from :mod:`companion.nn.fused` (the fast path).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import torch.nn.functional as F
from torch import Tensor

from companion.nn import fused
from companion.nn.cells import gru_step, lstm_step, rnn_step

__all__ = ["Kind", "KINDS"]


def _sum(b_ih: Tensor | None, b_hh: Tensor | None) -> Tensor | None:
    return b_ih if b_hh is None else b_ih + b_hh


def _fused_rnn(x: Tensor, states: tuple, params: tuple, *, mask, reverse: bool, relu: bool):
    w_ih, w_hh, b_ih, b_hh = params
    xp = F.linear(x, w_ih, _sum(b_ih, b_hh))  # every step's input projection in one product, (T, N, H)
    output, h = fused.rnn_recurrence(xp, states[0], w_hh, mask=mask, reverse=reverse, relu=relu)
    return output, (h,)


def _fused_lstm(x: Tensor, states: tuple, params: tuple, *, mask, reverse: bool):
    w_ih, w_hh, b_ih, b_hh = params  # the LSTM's fast path projects the inputs itself
    h0, c0 = states
    output, h, c = fused.lstm_recurrence(
        x, w_ih, _sum(b_ih, b_hh), h0=h0, c0=c0, w_hh=w_hh, mask=mask, reverse=reverse
    )
    return output, (h, c)


def _fused_gru(x: Tensor, states: tuple, params: tuple, *, mask, reverse: bool):
    w_ih, w_hh, b_ih, b_hh = params
    xp = F.linear(x, w_ih, b_ih)  # (T, N, 3H); b_hh stays in the step, inside the reset gate's product
    output, h = fused.gru_recurrence(xp, states[0], w_hh, b_hh=b_hh, mask=mask, reverse=reverse)
    return output, (h,)


class Kind(NamedTuple):
    """One recurrence kind."""

    mode: str  #: torch's mode string
    gates: int  #: gate blocks stacked in the weights (torch's order: LSTM i, f, g, o; GRU r, z, n)
    states: int  #: state tensors carried from step to step
    #: One step, ``step(xp_t, *states, weight_hh, bias_hh)``: a step function of :mod:`companion.nn.cells`.
    step: Callable
    #: A whole sequence on the fast path, ``fused(x, states, (w_ih, w_hh, b_ih, b_hh), mask=, reverse=)``
    #: returning ``(output, finals)``.
    fused: Callable
    #: Whether the step adds ``b_hh`` itself (the GRU's reset gate scales ``W_hn h + b_hn``); the other
    #: kinds add it to the input projection of every step.
    step_bias: bool = False

    def biases(self, b_ih: Tensor | None, b_hh: Tensor | None) -> tuple[Tensor | None, Tensor | None]:
        """``(bias of the input projection, bias the step adds)`` from a layer's ``b_ih`` and ``b_hh``."""
        return (b_ih, b_hh) if self.step_bias else (_sum(b_ih, b_hh), None)


#: Every kind, by torch's mode string.
KINDS = {
    "RNN_TANH": Kind("RNN_TANH", gates=1, states=1, step=rnn_step, fused=partial(_fused_rnn, relu=False)),
    "RNN_RELU": Kind(
        "RNN_RELU",
        gates=1,
        states=1,
        step=partial(rnn_step, nonlinearity="relu"),
        fused=partial(_fused_rnn, relu=True),
    ),
    "LSTM": Kind("LSTM", gates=4, states=2, step=lstm_step, fused=_fused_lstm),
    "GRU": Kind("GRU", gates=3, states=1, step=gru_step, fused=_fused_gru, step_bias=True),
}
