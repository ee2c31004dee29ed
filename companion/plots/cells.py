"""Diagrams of the recurrent cells: the vanilla RNN cell (chapter 2), the LSTM cell (chapter 5) and
the GRU cell (chapter 6), labelled with the book's symbols.

Each function draws one cell as a box with its inputs entering from the left and from below and its
outputs leaving to the right (and upward): squares are learned layers (an affine map followed by the
nonlinearity written inside), circles are elementwise operations. Every function draws on a
matplotlib ``Axes`` (a new figure, 6.5 inches wide, when ``ax`` is None) and returns the ``Axes``.
"""

from __future__ import annotations

import matplotlib.patheffects as path_effects
import matplotlib.pyplot as plt
from matplotlib.patches import Circle, FancyBboxPatch

__all__ = ["plot_rnn_cell", "plot_lstm_cell", "plot_gru_cell", "HIGHLIGHT"]

#: Colour of the highlighted state path (the LSTM's cell state, the GRU's carried state).
HIGHLIGHT = "#e67e22"
_LAYER = "#fce5cd"
_OP = "#ffffff"
_LINE = "0.25"


def _new_axes(ax, size):
    if ax is None:
        fig, ax = plt.subplots(figsize=size)
        fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.93)
    return ax


def _line(ax, points, colour=_LINE, lw=1.4, arrow=False, halo=False, zorder=1):
    """A polyline through ``points``; with ``arrow`` its last segment ends in an arrow head."""
    xs, ys = zip(*points, strict=True)
    effects = [path_effects.withStroke(linewidth=lw + 5, foreground="white")] if halo else None
    ax.plot(xs, ys, color=colour, lw=lw, solid_capstyle="round", zorder=zorder, path_effects=effects)
    if arrow:
        ax.annotate(
            "",
            xy=points[-1],
            xytext=points[-2],
            arrowprops={"arrowstyle": "-|>", "color": colour, "lw": lw, "shrinkA": 0, "shrinkB": 0},
            zorder=zorder,
        )


def _layer(ax, x, y, text, width=0.8, height=0.55, fontsize=11):
    """A learned layer: a rounded square with its nonlinearity written inside."""
    box = FancyBboxPatch(
        (x - width / 2, y - height / 2),
        width,
        height,
        boxstyle="round,pad=0.02,rounding_size=0.08",
        fc=_LAYER,
        ec=_LINE,
        lw=1.2,
        zorder=3,
    )
    ax.add_patch(box)
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=4)


def _op(ax, x, y, text, radius=0.24, fontsize=11):
    """An elementwise operation: a circle with its symbol."""
    ax.add_patch(Circle((x, y), radius, fc=_OP, ec=_LINE, lw=1.2, zorder=3))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=4)


def _label(ax, x, y, text, ha="center", colour="0.1", fontsize=11):
    ax.text(x, y, text, ha=ha, va="center", fontsize=fontsize, color=colour, zorder=5)


def _cell_box(ax, x0, y0, x1, y1):
    ax.add_patch(
        FancyBboxPatch(
            (x0, y0), x1 - x0, y1 - y0, boxstyle="round,pad=0.05,rounding_size=0.3", fc="0.96", ec="0.6", lw=1
        )
    )


def _gated_cell(ax, box, top, end, state, highlight):
    """The axes of a gated cell, its box, and the carried state along its top, from x = -0.2 to ``end``.

    ``state`` is (label on the left, label on the right, name above the path).
    """
    ax = _new_axes(ax, (6.5, 4.2))
    _cell_box(ax, *box)
    before, after, name = state
    colour, lw = (HIGHLIGHT, 3.2) if highlight else (_LINE, 1.4)
    _line(ax, [(-0.2, top), (end, top)], colour=colour, lw=lw, arrow=True, zorder=2)
    _label(ax, -0.3, top, before, ha="right")
    _label(ax, end + 0.1, top, after, ha="left")
    _label(ax, 5.0, top + 0.35, name, colour=colour, fontsize=9)
    return ax


def _finish(ax, xlim, ylim, title):
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=10)
    ax.axis("off")
    return ax


def plot_rnn_cell(ax=None):
    """The vanilla RNN cell of chapter 2: :math:`h_t = \\tanh(W_{hh} h_{t-1} + W_{xh} x_t + b)`.

    The previous state enters from the left through :math:`W_{hh}`, the input from below through
    :math:`W_{xh}`; one tanh layer gives the new state :math:`h_t`, which leaves to the right (to the
    next step) and upward through :math:`W_{hy}` to the output :math:`y_t = W_{hy} h_t + c`.

    Parameters
    ----------
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> ax = plot_rnn_cell()
    """
    ax = _new_axes(ax, (6.5, 3.4))
    _cell_box(ax, 1.2, 0.5, 7.0, 3.6)
    _line(ax, [(-0.2, 2.0), (3.75, 2.0)], arrow=True)
    _label(ax, -0.3, 2.0, "$h_{t-1}$", ha="right")
    _label(ax, 2.0, 2.3, "$W_{hh}$", colour="0.3", fontsize=10)
    _line(ax, [(4.2, -0.6), (4.2, 1.7)], arrow=True)
    _label(ax, 4.2, -0.85, "$x_t$")
    _label(ax, 4.5, 0.9, "$W_{xh}$", colour="0.3", fontsize=10)
    _layer(ax, 4.2, 2.0, "tanh", width=0.9)
    _label(ax, 4.2, 2.65, "$+\\,b$", colour="0.3", fontsize=10)
    _line(ax, [(4.65, 2.0), (8.3, 2.0)], arrow=True)
    _label(ax, 8.4, 2.0, "$h_t$", ha="left")
    _line(ax, [(6.0, 2.0), (6.0, 4.6)], arrow=True)
    _label(ax, 6.3, 3.0, "$W_{hy}$", colour="0.3", fontsize=10, ha="left")
    _label(ax, 6.0, 4.85, "$y_t = W_{hy} h_t + c$")
    return _finish(ax, (-1.3, 9.2), (-1.1, 5.1), "vanilla RNN cell: one tanh layer, one state $h_t$")


def plot_lstm_cell(ax=None, highlight: bool = True):
    """The LSTM cell of chapter 5, with its four gates and the cell-state path.

    The cell state runs along the top from :math:`c_{t-1}` to :math:`c_t`, touched only by the forget
    gate's product :math:`f_t \\odot c_{t-1}` and the addition of :math:`i_t \\odot g_t`
    (:math:`c_t = f_t \\odot c_{t-1} + i_t \\odot g_t`); below it, :math:`h_{t-1}` and :math:`x_t`
    feed the forget, input and output gates (σ) and the candidate :math:`g_t` (tanh); the new state is
    :math:`h_t = o_t \\odot \\tanh(c_t)`.

    Parameters
    ----------
    ax : matplotlib Axes, optional
    highlight : bool, default True
        Draw the cell-state path :math:`c_{t-1} \\to c_t` thick and in
        :data:`~companion.plots.cells.HIGHLIGHT`.

    Returns
    -------
    matplotlib Axes
        The cell state along the top, the four gate layers in a row below it.

    Examples
    --------
    >>> ax = plot_lstm_cell(highlight=False)
    """
    top, bus, gate = 5.0, 1.3, 2.5
    # the cell state: c_{t-1} -> x f_t -> + i_t g_t -> c_t
    ax = _gated_cell(ax, (1.0, 0.6, 9.1, 5.5), top, 10.3, ("$c_{t-1}$", "$c_t$", "cell state"), highlight)
    # h_{t-1} and x_t join on one bus that feeds the four gates
    _line(ax, [(-0.2, bus), (6.4, bus)])
    _label(ax, -0.3, bus, "$h_{t-1}$", ha="right")
    _line(ax, [(1.6, -0.6), (1.6, bus)])
    _label(ax, 1.6, -0.85, "$x_t$")
    gates = [(2.6, "f"), (3.8, "i"), (5.0, "g"), (6.4, "o")]
    for x, name in gates:
        _line(ax, [(x, bus), (x, gate - 0.28)], arrow=True)
        _layer(ax, x, gate, "tanh" if name == "g" else "$\\sigma$", width=0.9, fontsize=10)
    # forget: f_t (x) c_{t-1}
    _line(ax, [(2.6, gate + 0.28), (2.6, top - 0.24)], arrow=True)
    _label(ax, 2.35, 3.6, "$f_t$", ha="right")
    _op(ax, 2.6, top, "$\\times$")
    # input: i_t (x) g_t, added to the cell state
    _line(ax, [(3.8, gate + 0.28), (3.8, 3.7), (4.16, 3.7)], arrow=True)
    _line(ax, [(5.0, gate + 0.28), (5.0, 3.7), (4.64, 3.7)], arrow=True)
    _label(ax, 3.55, 3.2, "$i_t$", ha="right")
    _label(ax, 5.25, 3.2, "$g_t$", ha="left")
    _op(ax, 4.4, 3.7, "$\\times$")
    _line(ax, [(4.4, 3.94), (4.4, top - 0.24)], arrow=True)
    _op(ax, 4.4, top, "$+$")
    # output: h_t = o_t (x) tanh(c_t)
    _line(ax, [(7.6, top), (7.6, 4.14)], arrow=True)
    _op(ax, 7.6, 3.8, "tanh", radius=0.34, fontsize=9)
    _line(ax, [(7.6, 3.46), (7.6, gate + 0.24)], arrow=True)
    _line(ax, [(6.85, gate), (7.36, gate)], arrow=True)
    _label(ax, 7.08, gate - 0.32, "$o_t$")
    _op(ax, 7.6, gate, "$\\times$")
    _line(ax, [(7.84, gate), (8.5, gate), (8.5, bus), (10.3, bus)], arrow=True)
    _line(ax, [(8.5, gate), (8.5, top - 0.5)])
    _line(ax, [(8.5, top - 0.5), (8.5, 6.4)], arrow=True, halo=True, zorder=2)
    _label(ax, 10.4, bus, "$h_t$", ha="left")
    _label(ax, 8.5, 6.65, "$h_t$")
    _label(ax, 4.5, 0.25, "forget, input, candidate, output", colour="0.4", fontsize=8)
    return _finish(ax, (-1.4, 11.2), (-1.1, 6.9), "LSTM cell: gates $f_t, i_t, o_t$, candidate $g_t$")


def plot_gru_cell(ax=None, highlight: bool = True):
    """The GRU cell of chapter 6, with its reset and update gates and the candidate state.

    The state runs along the top from :math:`h_{t-1}` to :math:`h_t`, scaled by the update gate
    :math:`z_t` and added to :math:`(1 - z_t) \\odot n_t`
    (:math:`h_t = (1 - z_t) \\odot n_t + z_t \\odot h_{t-1}`). The candidate
    :math:`n_t = \\tanh(x_t W_x^n + b_x^n + r_t \\odot (h_{t-1} W_h^n + b_h^n))` receives the previous
    state only through the reset gate :math:`r_t`, applied after the affine map :math:`W_h^n` as in
    PyTorch.

    Parameters
    ----------
    ax : matplotlib Axes, optional
    highlight : bool, default True
        Draw the carried state's path thick and in :data:`~companion.plots.cells.HIGHLIGHT`: the
        way :math:`h_{t-1}` reaches :math:`h_t` unchanged when :math:`z_t = 1`.

    Returns
    -------
    matplotlib Axes
        The carried state along the top; the two gates and the candidate layer below it.

    Examples
    --------
    >>> ax = plot_gru_cell()
    """
    top, bus, gate, cand = 5.0, 1.3, 2.3, 3.5
    ax = _gated_cell(ax, (0.6, 0.3, 9.0, 5.5), top, 10.2, ("$h_{t-1}$", "$h_t$", "carried state"), highlight)
    # h_{t-1} drops to the bus, x_t joins it; the bus feeds the reset and update gates
    _line(ax, [(1.0, top), (1.0, bus), (6.6, bus)])
    _line(ax, [(1.6, -0.6), (1.6, bus)])
    _label(ax, 1.6, -0.85, "$x_t$")
    for x in (2.4, 6.6):
        _line(ax, [(x, bus), (x, gate - 0.28)], arrow=True)
        _layer(ax, x, gate, "$\\sigma$")
    # candidate: n_t = tanh(x_t W_x^n + b_x^n + r_t (h_{t-1} W_h^n + b_h^n))
    _line(ax, [(3.6, top), (3.6, 4.55)], arrow=True)
    _layer(ax, 3.6, 4.3, "$W_h^n$", width=0.7, height=0.45)
    _line(ax, [(3.6, 4.07), (3.6, cand + 0.24)], arrow=True)
    _line(ax, [(2.4, gate + 0.28), (2.4, cand), (3.36, cand)], arrow=True)
    _label(ax, 2.15, 3.0, "$r_t$", ha="right")
    _op(ax, 3.6, cand, "$\\times$")
    _line(ax, [(3.84, cand), (4.55, cand)], arrow=True)
    _line(ax, [(1.6, 0.7), (5.0, 0.7), (5.0, 1.0)])
    _line(ax, [(5.0, 1.0), (5.0, cand - 0.28)], arrow=True, halo=True, zorder=2)
    _layer(ax, 5.0, cand, "tanh", width=0.9, fontsize=10)
    # update: h_t = (1 - z_t) n_t + z_t h_{t-1}
    _line(ax, [(6.6, gate + 0.28), (6.6, top - 0.24)], arrow=True)
    _label(ax, 6.35, 3.45, "$z_t$", ha="right")
    _op(ax, 6.6, top, "$\\times$")
    _line(ax, [(6.6, 2.9), (7.9, 2.9)], arrow=True)
    _op(ax, 8.2, 2.9, "$1-$", radius=0.3, fontsize=9)
    _line(ax, [(8.2, 3.2), (8.2, cand + 0.36)], arrow=True)
    _line(ax, [(5.0, cand + 0.28), (5.0, cand + 0.6), (6.0, cand + 0.6)])
    _line(ax, [(6.0, cand + 0.6), (7.96, cand + 0.6)], arrow=True, halo=True, zorder=2)
    _label(ax, 5.7, cand + 0.85, "$n_t$")
    _op(ax, 8.2, cand + 0.6, "$\\times$")
    _line(ax, [(8.2, cand + 0.84), (8.2, top - 0.24)], arrow=True)
    _op(ax, 8.2, top, "$+$")
    return _finish(
        ax, (-1.4, 11.1), (-1.1, 6.0), "GRU cell: reset gate $r_t$, update gate $z_t$, candidate $n_t$"
    )
