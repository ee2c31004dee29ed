"""The book's figure style, and the small drawing helpers its diagrams share (every chapter).

Every plotting function of :mod:`companion.plots` draws on a matplotlib ``Axes`` (a new figure when
``ax`` is None), labels its axes and returns the ``Axes``, so a notebook can adjust or combine figures.
"""

from __future__ import annotations

import matplotlib.pyplot as plt

__all__ = ["BOOK_RC", "book_style"]


#: Matplotlib settings of the book's figures, sized for the text column (6.5 in), 200 dpi when saved.
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
