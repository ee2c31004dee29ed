"""The book's figures, one module per family; every plotting function is re-exported here.

:mod:`~companion.plots.style` (the figure style), :mod:`~companion.plots.diagrams` (problem shapes,
unrolled networks, the BPTT graph), :mod:`~companion.plots.sequences` (sequences, hidden states,
padded and packed batches, attention weights), :mod:`~companion.plots.cells` (the RNN, LSTM and GRU
cell diagrams), :mod:`~companion.plots.music` (piano rolls), :mod:`~companion.plots.series` (series,
splits and forecasts) and :mod:`~companion.plots.classify` (confusion matrices, video frames).
Every function draws on a matplotlib ``Axes`` (a new figure when ``ax`` is None), labels its axes and
returns the ``Axes``.
"""

from companion.plots.cells import plot_gru_cell, plot_lstm_cell, plot_rnn_cell
from companion.plots.classify import plot_confusion, plot_frames
from companion.plots.diagrams import plot_bptt_graph, plot_problem_shape, plot_unrolled
from companion.plots.music import note_name, onsets, plot_piano_roll
from companion.plots.sequences import (
    plot_attention,
    plot_hidden_states,
    plot_packed_batch,
    plot_padded_batch,
    plot_sequences,
)
from companion.plots.series import plot_forecasts, plot_split
from companion.plots.style import book_style

__all__ = [
    "book_style",
    "plot_problem_shape",
    "plot_unrolled",
    "plot_bptt_graph",
    "plot_hidden_states",
    "plot_sequences",
    "plot_padded_batch",
    "plot_packed_batch",
    "plot_attention",
    "plot_rnn_cell",
    "plot_lstm_cell",
    "plot_gru_cell",
    "note_name",
    "onsets",
    "plot_piano_roll",
    "plot_split",
    "plot_forecasts",
    "plot_confusion",
    "plot_frames",
]
