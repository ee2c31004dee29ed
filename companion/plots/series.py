"""Figures of time series and their forecasts (chapter 11).

Each function draws on a matplotlib ``Axes`` (a new figure when ``ax`` is None), labels its axes
and returns the ``Axes``. Time stamps may be numbers or ``numpy.datetime64`` values.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from companion.data.series import PARTS, SeriesSplit
from companion.plots.style import _axes

__all__ = ["plot_split", "plot_forecasts"]

_PART_COLOURS = {"train": "C0", "valid": "C1", "test": "C2"}
_PART_NAMES = {"train": "training", "valid": "validation", "test": "test"}


def plot_split(time, split: SeriesSplit, *, ylabel: str = "value", xlabel: str = "time", ax=None):
    """The whole series, each part of a chronological split in its own colour.

    Parameters
    ----------
    time : array_like of shape (T,)
        Time stamps of ``split.values``.
    split : SeriesSplit
    ylabel, xlabel : str
        Axis labels.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        One line per part, labelled "training", "validation", "test" with their lengths.

    Raises
    ------
    ValueError
        If ``time`` does not have one entry per value.
    """
    t = np.asarray(time)
    if t.shape != split.values.shape:
        raise ValueError(f"plot_split: expected time of shape {split.values.shape}, got {t.shape}")
    ax = _axes(ax, (6.5, 2.6))
    for part in PARTS:
        start, stop = split.bounds[part]
        lo = max(start - 1, 0)  # joined to the previous part's last point
        ax.plot(t[lo:stop], split.values[lo:stop], color=_PART_COLOURS[part], lw=1.0,
                label=f"{_PART_NAMES[part]} ({stop - start})")  # fmt: skip
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(loc="best")
    return ax


def plot_forecasts(
    time,
    truth,
    forecasts: Mapping[str, np.ndarray],
    *,
    ylabel: str = "value",
    xlabel: str = "time",
    ax=None,
):
    """Forecasts against the truth over the same time stamps.

    Parameters
    ----------
    time : array_like of shape (n,)
    truth : array_like of shape (n,)
        Drawn as black dots joined by a thin line, labelled "truth".
    forecasts : mapping of str to array_like of shape (n,)
        One line each, in the order given, labelled by its key.
    ylabel, xlabel : str
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        With a legend: "truth" first, then the forecasts.

    Raises
    ------
    ValueError
        If ``truth`` or a forecast does not have the shape of ``time``.
    """
    t = np.asarray(time)
    y = np.asarray(truth, dtype=np.float64)
    if t.ndim != 1 or y.shape != t.shape:
        raise ValueError(
            f"plot_forecasts: expected time and truth of the same shape (n,), got {t.shape} and {y.shape}"
        )
    ax = _axes(ax, (6.5, 2.8))
    ax.plot(t, y, color="black", lw=0.8, marker="o", ms=2.5, label="truth")
    for i, (name, values) in enumerate(forecasts.items()):
        f = np.asarray(values, dtype=np.float64)
        if f.shape != t.shape:
            raise ValueError(f"plot_forecasts: expected forecast {name!r} of shape {t.shape}, got {f.shape}")
        ax.plot(t, f, color=f"C{i}", lw=1.3, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(loc="best")
    return ax
