"""The book's figures: diagrams of unrolled networks and batches, plots of sequences, hidden states and
attention weights.

Every function draws on a matplotlib ``Axes`` (a new figure when ``ax`` is None), labels its axes
and returns the ``Axes``, so a notebook can adjust or combine figures.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

__all__ = [
    "book_style",
    "plot_problem_shape",
    "plot_unrolled",
    "plot_hidden_states",
    "plot_sequences",
    "plot_bptt_graph",
    "plot_padded_batch",
    "plot_packed_batch",
    "plot_attention",
    "plot_rnn_cell",
    "plot_lstm_cell",
    "plot_gru_cell",
]

_PROBLEM_SHAPES = ("many-to-one", "one-to-many", "many-to-many", "encoder-decoder")

#: Matplotlib settings of the book's figures: sized for the text column (6.5 in), 200 dpi when saved.
BOOK_RC = {
    "figure.figsize": (6.5, 3.0),
    "figure.dpi": 100,
    "savefig.dpi": 200,
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def book_style() -> None:
    """Apply the book's figure style, ``BOOK_RC``, and draw inline figures at twice the resolution.

    Inside a Jupyter kernel, inline figures are drawn as PNGs at 200 dpi that display at their size
    in inches (``retina``), so a 6.5-inch figure fills the text column and stays sharp on any screen.
    Outside one, only the rcParams change.

    Examples
    --------
    >>> book_style()
    """
    plt.rcParams.update(BOOK_RC)
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # plain Python: rcParams only
        return
    if get_ipython() is not None:
        set_matplotlib_formats("retina")


_COLOURS = {"x": "#cfe2f3", "h": "#fce5cd", "y": "#d9ead3"}


def _axes(ax, size=(6, 2.5)):
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def _box(ax, x, y, text, kind):
    ax.text(
        x,
        y,
        text,
        ha="center",
        va="center",
        fontsize=11,
        bbox={"boxstyle": "round,pad=0.35", "fc": _COLOURS[kind], "ec": "0.3"},
    )


def _arrow(ax, start, end, label=None, offset=(0.0, 0.0)):
    ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "->", "color": "0.3"})
    if label:
        mid = ((start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1])
        ax.text(*mid, label, fontsize=9, color="0.25", ha="center", va="center")


def plot_problem_shape(kind: str, length: int = 4, ax=None):
    """Diagram of one problem shape: which steps take an input and which emit an output.

    Parameters
    ----------
    kind : {"many-to-one", "one-to-many", "many-to-many", "encoder-decoder"}
        ``"encoder-decoder"``: an encoder reads ``length`` inputs into states :math:`h_t`, its last
        state :math:`z` starts a decoder whose states :math:`s_t` emit ``max(1, length // 2)`` outputs,
        each fed back as the next step's input: a sequence to a sequence of another length.
    length : int, default 4
        Number of time steps drawn (input steps for ``"encoder-decoder"``).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    if kind not in _PROBLEM_SHAPES:
        raise ValueError(f"plot_problem_shape: expected kind in {_PROBLEM_SHAPES}, got {kind!r}")
    if kind == "encoder-decoder":
        return _plot_encoder_decoder(length, max(1, length // 2), ax)
    ax = _axes(ax, (1.2 * length, 2.6))
    for t in range(length):
        takes_input = kind != "one-to-many" or t == 0
        emits_output = kind != "many-to-one" or t == length - 1
        _box(ax, t, 1, f"$h_{t + 1}$", "h")
        if takes_input:
            _box(ax, t, 0, f"$x_{t + 1}$", "x")
            _arrow(ax, (t, 0.18), (t, 0.8))
        if emits_output:
            _box(ax, t, 2, f"$y_{t + 1}$", "y")
            _arrow(ax, (t, 1.2), (t, 1.82))
        if t > 0:
            _arrow(ax, (t - 0.72, 1), (t - 0.28, 1))
    ax.set_xlim(-0.6, length - 0.4)
    ax.set_ylim(-0.5, 2.5)
    ax.set_title(kind)
    ax.axis("off")
    return ax


def _plot_encoder_decoder(n_in: int, n_out: int, ax=None):
    ax = _axes(ax, (1.1 * (n_in + n_out), 2.6))
    for t in range(n_in):
        _box(ax, t, 1, f"$h_{t + 1}$", "h")
        _box(ax, t, 0, f"$x_{t + 1}$", "x")
        _arrow(ax, (t, 0.18), (t, 0.8))
        if t > 0:
            _arrow(ax, (t - 0.72, 1), (t - 0.28, 1))
    for k in range(n_out):
        t = n_in + k
        _box(ax, t, 1, f"$s_{k + 1}$", "h")
        _box(ax, t, 2, f"$y_{k + 1}$", "y")
        _arrow(ax, (t, 1.2), (t, 1.82))
        _arrow(ax, (t - 0.72, 1), (t - 0.28, 1), "$z$" if k == 0 else None, (0, 0.16))
        if k > 0:
            ax.annotate(
                "",
                xy=(t - 0.15, 0.82),
                xytext=(t - 1 + 0.15, 1.82),
                arrowprops={"arrowstyle": "->", "color": "0.55", "linestyle": "--"},
            )
    ax.axvline(n_in - 0.5, color="0.6", lw=0.8, linestyle=":")
    ax.text(n_in / 2 - 0.5, 2.35, "encoder", ha="center", fontsize=9, color="0.35")
    ax.text(n_in + n_out / 2 - 0.5, 2.5, "decoder", ha="center", fontsize=9, color="0.35")
    ax.set_xlim(-0.6, n_in + n_out - 0.4)
    ax.set_ylim(-0.5, 2.7)
    ax.set_title(f"encoder-decoder ({n_in} in, {n_out} out)")
    ax.axis("off")
    return ax


def plot_unrolled(length: int = 4, ax=None):
    """Diagram of the vanilla RNN folded (a loop) and unrolled over ``length`` steps.

    The same three weight matrices label every step: the unrolled network shares its weights.
    """
    ax = _axes(ax, (min(6.5, 1.1 * (length + 2)), 2.8))
    _box(ax, 0, 0, "$x_t$", "x")
    _box(ax, 0, 1, "$h_t$", "h")
    _box(ax, 0, 2, "$y_t$", "y")
    _arrow(ax, (0, 0.18), (0, 0.8), "$W_{xh}$", (0.22, 0))
    _arrow(ax, (0, 1.2), (0, 1.82), "$W_{hy}$", (0.22, 0))
    ax.annotate(
        "",
        xy=(0.22, 0.9),
        xytext=(0.22, 1.1),
        arrowprops={
            "arrowstyle": "->",
            "connectionstyle": "arc3,rad=-2.2",
            "color": "0.3",
            "shrinkA": 0,
            "shrinkB": 0,
        },
    )
    ax.text(0.68, 1.0, "$W_{hh}$", fontsize=9, color="0.25", va="center")
    ax.text(1.15, 1.0, "=", fontsize=18, va="center", ha="center")
    _box(ax, 1.75, 1, "$h_0$", "h")
    for t in range(1, length + 1):
        xpos = 1.75 + 1.3 * t
        _box(ax, xpos, 0, f"$x_{t}$", "x")
        _box(ax, xpos, 1, f"$h_{t}$", "h")
        _box(ax, xpos, 2, f"$y_{t}$", "y")
        _arrow(ax, (xpos, 0.18), (xpos, 0.8))
        _arrow(ax, (xpos, 1.2), (xpos, 1.82))
        _arrow(ax, (xpos - 1.0, 1), (xpos - 0.3, 1), "$W_{hh}$", (0, 0.16))
    ax.set_xlim(-0.5, 1.75 + 1.3 * length + 0.5)
    ax.set_ylim(-0.5, 2.5)
    ax.set_title("folded (left) and unrolled in time (right): one set of weights at every step")
    ax.axis("off")
    return ax


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


def plot_bptt_graph(length: int = 5, k: int | None = None, ax=None):
    """The unrolled graph of a vanilla RNN with a loss at every step, forward and backward.

    Grey arrows carry values forward (:math:`x_t \\to h_t`, :math:`h_{t-1} \\to h_t`,
    :math:`h_t \\to \\ell_t`); red dashed arrows carry gradients backward. Every :math:`h_t` receives
    gradient from its own loss :math:`\\ell_t` and from :math:`h_{t+1}`. With truncation length
    ``k``, the red arrow from :math:`h_{t+1}` to :math:`h_t` is removed wherever t is a multiple of
    k (a dotted line marks each cut) while the grey arrow stays: the state still flows forward.

    Parameters
    ----------
    length : int, default 5
        Number of time steps T drawn (1 to 12).
    k : int, optional
        Truncation length; ``None`` draws full backpropagation through time.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    ValueError
        If ``length`` is not in 1..12 or ``k`` is not a positive int.

    Examples
    --------
    >>> ax = plot_bptt_graph(4, k=2)
    """
    if not isinstance(length, (int, np.integer)) or not 1 <= length <= 12:
        raise ValueError(f"plot_bptt_graph: expected length to be an int in 1..12, got {length!r}")
    if k is not None and (not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1):
        raise ValueError(f"plot_bptt_graph: expected k to be None or a positive int, got {k!r}")
    ax = _axes(ax, (min(6.5, 0.75 * (length + 1.5)), 3.2))
    back = {"arrowstyle": "->", "color": "#c0392b", "linestyle": "--", "lw": 1.3}
    _box(ax, 0, 1, "$h_0$", "h")
    for t in range(1, length + 1):
        _box(ax, t, 0, f"$x_{{{t}}}$", "x")
        _box(ax, t, 1, f"$h_{{{t}}}$", "h")
        _box(ax, t, 2, f"$\\ell_{{{t}}}$", "y")
        _arrow(ax, (t, 0.2), (t, 0.78))
        _arrow(ax, (t - 0.05, 1.22), (t - 0.05, 1.78))
        _arrow(ax, (t - 0.72, 1.06), (t - 0.28, 1.06))
        ax.annotate("", xy=(t + 0.05, 1.22), xytext=(t + 0.05, 1.78), arrowprops=back)
        cut = k is not None and t < length and t % k == 0
        if t < length and not cut:
            ax.annotate("", xy=(t + 0.28, 0.9), xytext=(t + 0.72, 0.9), arrowprops=back)
        if cut:
            ax.axvline(t + 0.5, color="0.4", linestyle=":", lw=1.5)
            ax.text(t + 0.5, 2.45, "gradient\nstopped", ha="center", va="center", fontsize=8, color="0.3")
    ax.annotate("", xy=(0.28, 0.9), xytext=(0.72, 0.9), arrowprops=back)
    ax.plot([], [], color="0.3", label="forward: values")
    ax.plot([], [], color="#c0392b", linestyle="--", label="backward: gradients")
    ax.legend(loc="lower left", fontsize=8, frameon=False, bbox_to_anchor=(0.0, -0.12), ncol=2)
    ax.set_xlim(-0.5, length + 0.5)
    ax.set_ylim(-0.6, 2.75)
    title = "backpropagation through time" if k is None else f"truncated BPTT, k = {k}"
    ax.set_title(f"{title}: the unrolled graph with a loss $\\ell_t$ at every step")
    ax.axis("off")
    return ax


_SEQUENCE_COLOURS = ("#cfe2f3", "#fce5cd", "#d9ead3", "#ead1dc", "#fff2cc", "#d0e0e3", "#f4cccc", "#d9d2e9")


def _check_lengths(where: str, lengths) -> np.ndarray:
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or not 1 <= lengths.size <= len(_SEQUENCE_COLOURS):
        raise ValueError(
            f"{where}: expected lengths of shape (N,) with 1 <= N <= {len(_SEQUENCE_COLOURS)}, "
            f"got shape {lengths.shape}"
        )
    if not np.issubdtype(lengths.dtype, np.integer) or lengths.min() < 1 or lengths.max() > 20:
        raise ValueError(f"{where}: expected integer lengths in 1..20, got {lengths.tolist()}")
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

    Raises
    ------
    ValueError
        If ``lengths`` is not a short 1-d array of integers in 1..20.

    Examples
    --------
    >>> ax = plot_padded_batch([4, 2, 3])
    """
    lengths = _check_lengths("plot_padded_batch", lengths)
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

    Raises
    ------
    ValueError
        If ``lengths`` is not a short 1-d array of integers in 1..20, or ``sorted_indices`` is not a
        permutation that orders them longest first.

    Examples
    --------
    >>> ax = plot_packed_batch([4, 2, 3])
    """
    lengths = _check_lengths("plot_packed_batch", lengths)
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


from companion.plots_cells import plot_gru_cell, plot_lstm_cell, plot_rnn_cell  # noqa: E402
