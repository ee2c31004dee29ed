"""Diagrams of recurrent networks: the problem shapes, the unrolled network and the graph that
backpropagation through time walks (chapters 1-3)."""

from __future__ import annotations

import numpy as np

from companion.plots.style import _arrow, _axes, _box

__all__ = ["plot_problem_shape", "plot_unrolled", "plot_bptt_graph"]


_PROBLEM_SHAPES = ("many-to-one", "one-to-many", "many-to-many", "encoder-decoder")


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
        The graph, with a legend for the two kinds of arrow, and no axis lines.

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
