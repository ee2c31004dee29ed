"""The recurrence kinds of :mod:`companion.nn`: one table that the layers, the fast path and the
seeds trained side by side all read (chapters 5-7).

A kind is torch's ``mode`` string (``"RNN_TANH"``, ``"RNN_RELU"``, ``"LSTM"``, ``"GRU"``); its entry
says how many gate blocks its weights stack (``weight_ih`` has ``gates * hidden_size`` rows), how
many state tensors it carries (the LSTM's ``(h, c)``, the others' ``h``), its step function from
:mod:`companion.nn.cells` (the plain path, :func:`companion.nn.unroll.unroll`) and its function of a
whole sequence from :mod:`companion.nn.fused` (the fast path). The fast path takes one layer's
parameters, or K models' stacked along a leading models dimension (``w_ih`` of shape (K, G·H, D), ``w_hh``
(K, G·H, H), biases (K, G·H), states (K, N, H)), which it runs side by side on inputs they share,
(T, N, D), or each its own, (T, K, N, D): the seeds of :mod:`companion.train.seeds`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from companion.nn import fused
from companion.nn.cells import gru_step, lstm_step, rnn_step

__all__ = ["Kind", "KINDS"]


def _sum(b_ih: Tensor | None, b_hh: Tensor | None) -> Tensor | None:
    return b_ih if b_hh is None else b_ih + b_hh


def _project(x: Tensor, w_ih: Tensor, b: Tensor | None) -> Tensor:
    """Every step's input projection ``x W_ihᵀ + b`` in one product: (T, N, G·H) for one layer's
    weights, (T, K, N, G·H) for K models' stacked ones from x of shape (T, N, D) or (T, K, N, D). The
    models' biases join the product as a last column of ``W_ih`` against a column of ones, so that their
    gradient is part of the product's too (a sum over steps and batch apart from it is slower)."""
    if w_ih.dim() == 2:
        return F.linear(x, w_ih, b)
    x = x if x.dim() == 4 else x[:, None]  # (T, K or 1, N, D)
    if b is not None:
        x = torch.cat([x, x.new_ones(*x.shape[:-1], 1)], dim=-1)  # (T, ·, N, D + 1)
        w_ih = torch.cat([w_ih, b[..., None]], dim=-1)  # (K, G·H, D + 1)
    return torch.matmul(x, w_ih.mT)  # (T, K, N, G·H)


def _fused_rnn(x: Tensor, states: tuple, params: tuple, *, mask, reverse: bool, relu: bool):
    w_ih, w_hh, b_ih, b_hh = params
    xp = _project(x, w_ih, _sum(b_ih, b_hh))  # every step's input projection, (T, [K,] N, H)
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
    xp = _project(x, w_ih, b_ih)  # (T, [K,] N, 3H); b_hh stays in the step, inside the reset gate's product
    output, h = fused.gru_recurrence(xp, states[0], w_hh, b_hh=b_hh, mask=mask, reverse=reverse)
    return output, (h,)


class Kind(NamedTuple):
    """One recurrence kind."""

    mode: str  #: torch's mode string
    gates: int  #: gate blocks stacked in the weights, in torch's order (LSTM i, f, g, o; GRU r, z, n)
    states: int  #: state tensors carried from step to step
    #: One step, ``step(xp_t, *states, weight_hh, bias_hh)``, a step function of :mod:`companion.nn.cells`.
    step: Callable
    #: A whole sequence on the fast path, ``fused(x, states, (w_ih, w_hh, b_ih, b_hh), mask=, reverse=)``
    #: returning ``(output, finals)``; x time first, (T, N, D), and for K models' stacked parameters
    #: (T, N, D) or (T, K, N, D).
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
