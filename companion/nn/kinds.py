"""The recurrence kinds of :mod:`companion.nn`: one table that the layers, the fast path and the
seeds trained side by side all read (chapters 5-7).

A kind is torch's ``mode`` string (``"RNN_TANH"``, ``"RNN_RELU"``, ``"LSTM"``, ``"GRU"``); its entry
says how many gate blocks its weights stack (``weight_ih`` has ``gates * hidden_size`` rows) and how
many state tensors it carries (the LSTM's ``(h, c)``, the others' ``h``).
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Kind", "KINDS"]


class Kind(NamedTuple):
    """One recurrence kind."""

    mode: str  #: torch's mode string
    gates: int  #: gate blocks stacked in the weights (torch's order: LSTM i, f, g, o; GRU r, z, n)
    states: int  #: state tensors carried from step to step


#: Every kind, by torch's mode string.
KINDS = {
    "RNN_TANH": Kind("RNN_TANH", gates=1, states=1),
    "RNN_RELU": Kind("RNN_RELU", gates=1, states=1),
    "LSTM": Kind("LSTM", gates=4, states=2),
    "GRU": Kind("GRU", gates=3, states=1),
}
