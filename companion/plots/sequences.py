"""Plots of arrays over time: sequences, hidden states, padded and packed batches, and attention
weights (chapters 1, 2, 7 and 8)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from companion._validate import check_lengths
from companion.plots.style import _axes

__all__ = [
    "plot_hidden_states",
    "plot_sequences",
    "plot_padded_batch",
    "plot_packed_batch",
    "plot_attention",
]


def plot_hidden_states(h, ax=None, title: str | None = None):
    """Heat map of one sequence's hidden states: time on the x-axis, hidden unit on the y-axis.

    Time is counted as in the equations: column ``t`` of the map is :math:`h_t`, ``t = 1, ..., T``
    (``h[t - 1]`` in the array).

    Parameters
    ----------
    h : ndarray of shape (T, H)
        Hidden states of a single sequence (index a batch first: ``h[0]``).
    ax : matplotlib Axes, optional
    title : str, optional
    """
    h = np.asarray(h)
    if h.ndim != 2:
        raise ValueError(f"plot_hidden_states: expected h of shape (T, H), got {h.shape}")
    ax = _axes(ax, (6.5, 3))
    T, H = h.shape
    image = ax.imshow(
        h.T,  # (H, T)
        aspect="auto",
        cmap="RdBu_r",
        vmin=-1,
        vmax=1,
        interpolation="nearest",
        extent=(0.5, T + 0.5, H - 0.5, -0.5),  # column t is step t = 1, ..., T
    )
    ax.figure.colorbar(image, ax=ax, label="$h_t$ component")
    ax.set_xlabel("time step $t$")
    ax.set_ylabel("hidden unit")
    if title:
        ax.set_title(title)
    return ax


def plot_sequences(*series, labels=(), ax=None, xlabel="time step $t$", ylabel="value"):
    """Line plot of one or more 1-d sequences against time, with a legend.

    Entry ``s[t - 1]`` is drawn at time step ``t = 1, ..., T``, the way the equations count.

    Parameters
    ----------
    *series : array_like of shape (T,)
    labels : sequence of str
        One label per series.
    """
    ax = _axes(ax, (6.5, 2.8))
    for i, s in enumerate(series):
        s = np.asarray(s)
        if s.ndim != 1:
            raise ValueError(f"plot_sequences: expected each series of shape (T,), got {s.shape}")
        ax.plot(np.arange(1, len(s) + 1), s, marker=".", label=labels[i] if i < len(labels) else None)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if labels:
        ax.legend(loc="best", fontsize=9)
    return ax


_SEQUENCE_COLOURS = ("#cfe2f3", "#fce5cd", "#d9ead3", "#ead1dc", "#fff2cc", "#d0e0e3", "#f4cccc", "#d9d2e9")


_MAX_STEPS = 20


def _drawable_lengths(where: str, lengths) -> np.ndarray:
    """The checked lengths of a batch small enough to draw: one colour per sequence, 1..20 steps each."""
    lengths = check_lengths(where, lengths, None, _MAX_STEPS)
    if not 1 <= lengths.size <= len(_SEQUENCE_COLOURS):
        raise ValueError(
            f"{where}: expected lengths of shape (N,) with 1 <= N <= {len(_SEQUENCE_COLOURS)} (one colour "
            f"per sequence), got shape {lengths.shape}"
        )
    return lengths


def _cell(ax, x, y, text, colour, hatch=None):
    ax.add_patch(
        plt.Rectangle((x - 0.5, y - 0.5), 1, 1, facecolor=colour, edgecolor="0.3", hatch=hatch, lw=0.8)
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=9, color="0.1" if hatch is None else "0.45")


def _name(n: int, t: int) -> str:
    """The label of step t (0-based) of sequence n: A1, A2, ..., B1, ..."""
    return f"{chr(ord('A') + n)}{t + 1}"


def plot_padded_batch(lengths, ax=None):
    """A batch of sequences of unequal length padded to a common length: an (N, T) grid.

    Row n is sequence n (named A, B, ...), column t its step t + 1 (``A3`` is the third element of
    A); the cells past a sequence's end are padding (grey, hatched, value 0).

    Parameters
    ----------
    lengths : array_like of int of shape (N,)
        The true lengths, 1 <= N <= 8, each in 1..20; ``T = max(lengths)``.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        One row per sequence and one column per step: a cell per entry of the padded (N, T) array.

    Raises
    ------
    TypeError
        If ``lengths`` does not hold integers.
    ValueError
        If ``lengths`` is not a 1-d array of 1 to 8 lengths, each in 1..20.

    Examples
    --------
    >>> ax = plot_padded_batch([4, 2, 3])
    """
    lengths = _drawable_lengths("plot_padded_batch", lengths)
    N, T = lengths.size, int(lengths.max())
    ax = _axes(ax, (min(6.5, 1.0 + 0.6 * T), 0.8 + 0.5 * N))
    for n in range(N):
        for t in range(T):
            if t < lengths[n]:
                _cell(ax, t, n, _name(n, t), _SEQUENCE_COLOURS[n])
            else:
                _cell(ax, t, n, "0", "0.92", hatch="//")
    ax.set_xlim(-0.6, T - 0.4)
    ax.set_ylim(N - 0.4, -0.6)
    ax.set_xticks(range(T), [str(t + 1) for t in range(T)])
    ax.set_yticks(range(N), [f"{chr(ord('A') + n)} (length {lengths[n]})" for n in range(N)])
    ax.set_xlabel("time step $t$")
    ax.set_ylabel("sequence")
    ax.set_title(f"padded batch, shape (N, T) = ({N}, {T}); hatched: padding", fontsize=10)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    return ax


def plot_packed_batch(lengths, sorted_indices=None, ax=None):
    """The same batch packed: the valid steps only, time step by time step, as one column of rows.

    The sequences are sorted by decreasing length (``sorted_indices``); the packed ``data`` holds
    step 1 of every sequence, then step 2 of every sequence still running, and so on, and
    ``batch_sizes[t]`` counts the sequences still running at step t + 1. Cells are named and coloured
    as in :func:`plot_padded_batch`.

    Parameters
    ----------
    lengths : array_like of int of shape (N,)
        The true lengths, 1 <= N <= 8, each in 1..20.
    sorted_indices : array_like of int of shape (N,), optional
        The order of the sequences in the packed data, longest first (a ``PackedSequence``'s
        ``sorted_indices``); by default a stable sort of ``lengths``, longest first.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        A cell per row of the packed ``data``, grouped by time step, with ``batch_sizes`` beneath.

    Raises
    ------
    TypeError
        If ``lengths`` does not hold integers.
    ValueError
        If ``lengths`` is not a 1-d array of 1 to 8 lengths, each in 1..20, or ``sorted_indices`` is
        not a permutation that orders them longest first.

    Examples
    --------
    >>> ax = plot_packed_batch([4, 2, 3])
    """
    lengths = _drawable_lengths("plot_packed_batch", lengths)
    N, T = lengths.size, int(lengths.max())
    order = np.argsort(-lengths, kind="stable") if sorted_indices is None else np.asarray(sorted_indices)
    if sorted(order.tolist()) != list(range(N)) or np.any(np.diff(lengths[order]) > 0):
        raise ValueError(
            f"plot_packed_batch: expected sorted_indices to order lengths {lengths.tolist()} longest "
            f"first, got {order.tolist()}"
        )
    batch_sizes = [int(np.sum(lengths > t)) for t in range(T)]
    ax = _axes(ax, (min(6.5, 0.5 + 0.45 * (lengths.sum() + 2)), 1.9))
    i = 0
    for t, size in enumerate(batch_sizes):
        start = i
        for n in order[:size]:
            _cell(ax, i, 0, _name(int(n), t), _SEQUENCE_COLOURS[n])
            i += 1
        ax.plot([start - 0.45, i - 0.55], [0.62, 0.62], color="0.3", lw=1.2)
        ax.text((start + i - 1) / 2, 0.7, f"$t={t + 1}$", ha="center", va="bottom", fontsize=9)
        ax.text((start + i - 1) / 2, -0.75, str(size), ha="center", va="center", fontsize=10, color="#c0392b")
    ax.text(-0.7, -0.75, "batch_sizes", ha="right", va="center", fontsize=9, color="#c0392b")
    ax.text(-0.7, 0, "data", ha="right", va="center", fontsize=9)
    ax.set_xlim(-2.6, i - 0.4)
    ax.set_ylim(-1.1, 1.3)
    ax.set_xticks(range(i))
    ax.tick_params(labelsize=8, length=0)
    ax.set_yticks([])
    ax.set_xlabel("row of the packed data")
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(
        f"packed: {i} rows, sequences in the order {', '.join(chr(65 + n) for n in order)}", fontsize=10
    )
    return ax


def _token_labels(tokens) -> list[str]:
    """Tick labels of a string's characters or a sequence of tokens; a space is shown as ␣."""
    return ["␣" if t == " " else str(t) for t in tokens]


def plot_attention(weights, source, target, ax=None, colorbar: bool = True):
    """Heat map of one example's attention weights, with the source and output tokens on the axes.

    Row i holds the weights with which output token i read the source positions: the soft
    alignment of the output to the input. Each row of a decoder's weights sums to 1.

    Parameters
    ----------
    weights : array_like of shape (Tt, Ts)
        Attention weights of the Tt output tokens over the Ts source positions, in [0, 1].
    source : str or sequence of str
        The Ts source tokens (a string: its characters), shown along the x-axis.
    target : str or sequence of str
        The Tt output tokens, shown down the y-axis (e.g. ``list("1979-05-03") + ["</s>"]``).
    ax : matplotlib Axes, optional
    colorbar : bool, default True
        Draw a colour bar for the weights beside the axes.

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    ValueError
        If ``weights`` is not 2-d, its shape is not (len(target), len(source)), or a weight lies
        outside [0, 1].

    Examples
    --------
    >>> ax = plot_attention(np.eye(3), "abc", "xyz")
    """
    weights = np.asarray(weights, dtype=np.float64)
    source, target = _token_labels(source), _token_labels(target)
    if weights.ndim != 2 or weights.shape != (len(target), len(source)):
        raise ValueError(
            f"plot_attention: expected weights of shape (Tt, Ts) = ({len(target)}, {len(source)}) "
            f"(the target and source lengths), got {weights.shape}"
        )
    if weights.size and not (np.all(weights >= 0) and np.all(weights <= 1)):
        raise ValueError(
            f"plot_attention: expected weights in [0, 1], got values from {weights.min():.3g} to "
            f"{weights.max():.3g}"
        )
    Tt, Ts = weights.shape
    ax = _axes(ax, (min(6.5, 1.2 + 0.17 * Ts), 0.9 + 0.17 * Tt))
    image = ax.imshow(weights, cmap="Greys", vmin=0, vmax=1, aspect="equal", interpolation="nearest")
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label="weight", fraction=0.04, pad=0.02)
    ax.set_xticks(range(Ts), source, fontsize=8, fontfamily="monospace")
    ax.set_yticks(range(Tt), target, fontsize=8, fontfamily="monospace")
    ax.tick_params(length=0, pad=2)
    ax.set_xlabel("source character")
    ax.set_ylabel("output character")
    return ax
