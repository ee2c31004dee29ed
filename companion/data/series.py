"""Real time series and leakage-free windows for forecasting (chapter 11).

:func:`co2` reads the monthly mean CO2 concentration at Mauna Loa and :func:`sunspots` the yearly mean
sunspot number, both shipped with the package (``files/co2_monthly.csv``, ``files/sunspots_yearly.csv``;
``files/README.md`` says where they come from). :class:`SeriesSplit` cuts a series into a training,
a validation and a test part, in this order along time, fits a :class:`Scaler` and serves
:class:`Windows`: pairs of (the last ``input_len`` values, the next ``horizon`` values).

Leakage is impossible by construction, in three ways:

- the scaling statistics are computed once, in the constructor, from the training part only;
- :meth:`SeriesSplit.windows` cuts the series at the end of the requested part *before* it computes
  anything, so no value after that part is ever read, and every target of a part's windows lies
  inside that part (the inputs may reach back into earlier parts: that is the past, known when the
  forecast is made);
- a window with origin ``t`` (its first target is ``y[t]``) has inputs ``y[t - input_len : t]``,
  strictly before the origin, and :attr:`Windows.past` carries the same past in the series' own
  units, so baselines read nothing else.

The tests perturb the values after a cut point and check that nothing computed for the past changes.
"""

from __future__ import annotations

import csv
from typing import NamedTuple

import numpy as np

from companion._validate import positive_int
from companion.data._files import shipped

__all__ = ["Series", "co2", "sunspots", "Scaler", "Windows", "SeriesSplit", "PARTS"]

#: Names of the parts of a :class:`SeriesSplit`, in time order.
PARTS = ("train", "valid", "test")


class Series(NamedTuple):
    """One univariate series as returned by :func:`co2` and :func:`sunspots`."""

    #: Time stamps of shape (T,), ``datetime64[M]`` (months) or ``datetime64[Y]`` (years).
    time: np.ndarray
    #: Observations of shape (T,), float64.
    values: np.ndarray
    #: What is measured, for labels.
    name: str
    #: Unit of ``values``, for labels.
    unit: str
    #: Length of the seasonal cycle in steps (12 for monthly CO2), or None where there is no fixed one.
    period: int | None


def _rows(filename: str) -> list[list[str]]:
    text = shipped(filename).read_text(encoding="utf-8")
    return list(csv.reader(text.splitlines()))[1:]  # the header row dropped


def co2(start_year: int = 1965) -> Series:
    """Monthly mean atmospheric CO2 at Mauna Loa, Hawaii, from ``start_year`` to December 2001.

    Parameters
    ----------
    start_year : int, default 1965
        First year returned, 1958 to 2001. From 1965 on every month has a value; before, five months
        (1958-06, 1958-10, 1964-02 to 1964-04) have none and are NaN.

    Returns
    -------
    Series
        ``time`` of dtype ``datetime64[M]``, ``values`` in ppm (float64), ``period`` 12. From 1965:
        444 months, 317.3 to 373.8 ppm.

    Raises
    ------
    ValueError
        If ``start_year`` is not an int in [1958, 2001].

    Notes
    -----
    Each month is the mean of the weekly means of Keeling's record that fall in it (the file keeps
    how many). The record starts in March 1958, so ``start_year=1958`` gives 526 months.

    Examples
    --------
    >>> s = co2()
    >>> s.values.shape, str(s.time[0]), str(s.time[-1])
    ((444,), '1965-01', '2001-12')
    """
    if not isinstance(start_year, (int, np.integer)) or isinstance(start_year, bool):
        raise ValueError(f"co2: expected start_year to be an int in [1958, 2001], got {start_year!r}")
    if not 1958 <= start_year <= 2001:
        raise ValueError(f"co2: expected start_year in [1958, 2001], got {start_year}")
    rows = [r for r in _rows("co2_monthly.csv") if int(r[0]) >= start_year]
    time = np.array([f"{int(y):04d}-{int(m):02d}" for y, m, _, _ in rows], dtype="datetime64[M]")
    values = np.array([float(v) if v else np.nan for _, _, v, _ in rows], dtype=np.float64)
    return Series(time, values, "atmospheric CO₂ at Mauna Loa", "ppm", 12)


def sunspots() -> Series:
    """Yearly mean sunspot number, 1700 to 2008 (309 years).

    Returns
    -------
    Series
        ``time`` of dtype ``datetime64[Y]``, ``values`` (float64, 0 to 190.2), ``period`` None: the
        solar cycle lasts about 11 years but its length varies from 9 to 14.

    Examples
    --------
    >>> s = sunspots()
    >>> s.values.shape, str(s.time[0]), s.period
    ((309,), '1700', None)
    """
    rows = _rows("sunspots_yearly.csv")
    time = np.array([r[0] for r in rows], dtype="datetime64[Y]")
    values = np.array([float(r[1]) for r in rows], dtype=np.float64)
    return Series(time, values, "sunspot number", "yearly mean", None)


class Scaler(NamedTuple):
    """Standardisation :math:`z = (u - \\mu) / \\sigma` with statistics fitted once.

    Create it with :meth:`fit`; a :class:`SeriesSplit` fits it on its training part only.
    """

    #: :math:`\mu`, the mean of the fitted values.
    mean: float
    #: :math:`\sigma`, their standard deviation (population, ``ddof=0``).
    std: float

    @classmethod
    def fit(cls, values: np.ndarray) -> Scaler:
        """Fit on ``values`` (any shape, at least two distinct finite numbers).

        Raises
        ------
        ValueError
            If ``values`` is empty, not finite, or constant (its standard deviation is 0).
        """
        u = np.asarray(values, dtype=np.float64)
        if u.size < 2 or not np.all(np.isfinite(u)):
            raise ValueError(f"Scaler.fit: expected at least 2 finite values, got {u.size} ({u!r:.60})")
        std = float(u.std())
        if std == 0:
            raise ValueError("Scaler.fit: expected values that vary, got a constant (standard deviation 0)")
        return cls(float(u.mean()), std)

    def transform(self, values: np.ndarray) -> np.ndarray:
        """:math:`(u - \\mu) / \\sigma`, same shape."""
        return (np.asarray(values, dtype=np.float64) - self.mean) / self.std

    def inverse(self, values: np.ndarray) -> np.ndarray:
        """:math:`\\sigma z + \\mu`, same shape."""
        return np.asarray(values, dtype=np.float64) * self.std + self.mean


class Windows(NamedTuple):
    """Input/target pairs of one part of a :class:`SeriesSplit`, one row per forecast origin.

    ``N`` windows, ``L`` = ``input_len``, ``h`` = ``horizon``. Row ``i`` forecasts from origin
    ``t = origin[i]``: its targets are ``y[t], ..., y[t + h - 1]``, its inputs come from before ``t``.
    """

    #: Model inputs of shape (N, L, 1), float32; the scaled values (or differences) before the origin.
    inputs: np.ndarray
    #: Model targets of shape (N, h), float32; the scaled values (or differences) to predict.
    targets: np.ndarray
    #: Index in the series of each window's first target, shape (N,), int64.
    origin: np.ndarray
    #: The series itself before the origin, ``y[t - P : t]`` of shape (N, P), float64, with P = L, or
    #: L + 1 when the split models differences. Baselines read this and nothing else.
    past: np.ndarray
    #: The targets in the series' own units, ``y[t : t + h]`` of shape (N, h), float64.
    truth: np.ndarray


class SeriesSplit:
    """A chronological train/validation/test split of one series, and its leakage-free windows.

    Parameters
    ----------
    values : array_like of shape (T,)
        The series :math:`y_0, \\dots, y_{T-1}`, finite numbers in time order.
    valid, test : int
        Lengths of the validation and test parts, taken from the end: the test part is the last
        ``test`` steps, the validation part the ``valid`` steps before it, the training part the rest.
    difference : bool, default False
        Model the changes :math:`u_t = y_t - y_{t-1}` instead of the values :math:`u_t = y_t`: for a
        series with a trend (CO2), so that test inputs do not lie outside the range seen in training.

    Attributes
    ----------
    bounds : dict of str to (int, int)
        ``(start, stop)`` of each part, e.g. ``{"train": (0, 348), "valid": (348, 396), ...}``.
    scaler : Scaler
        Fitted on the :math:`u_t` of the training part only (``t < bounds["train"][1]``).

    Raises
    ------
    TypeError
        If ``valid`` or ``test`` is not an int.
    ValueError
        If ``values`` is not 1-D and finite, ``valid`` or ``test`` is below 1, or fewer than 3 steps
        would be left for the training part.

    Notes
    -----
    Inputs and targets are scaled :math:`z_t = (u_t - \\mu) / \\sigma`. A window with origin :math:`t`
    has inputs :math:`z_{t-L}, \\dots, z_{t-1}` and targets :math:`z_t, \\dots, z_{t+h-1}`; the
    windows of a part are all those whose targets lie inside it. Nothing after a part's end is read
    when its windows are built, and the scaler sees the training part only (the module docstring).

    Examples
    --------
    >>> split = SeriesSplit(np.arange(20.0), valid=4, test=4)
    >>> w = split.windows("test", input_len=3, horizon=2)
    >>> w.origin.tolist(), w.past[0].tolist(), w.truth[0].tolist()
    ([16, 17, 18], [13.0, 14.0, 15.0], [16.0, 17.0])
    """

    def __init__(self, values, *, valid: int, test: int, difference: bool = False) -> None:
        y = np.array(values, dtype=np.float64)  # a private copy: later changes to `values` do not leak in
        if y.ndim != 1:
            raise ValueError(f"SeriesSplit: expected values of shape (T,), got {y.shape}")
        if not np.all(np.isfinite(y)):
            bad = np.flatnonzero(~np.isfinite(y))[:5].tolist()
            raise ValueError(f"SeriesSplit: expected finite values, got NaN or inf at steps {bad}")
        valid = positive_int("SeriesSplit", "valid", valid)
        test = positive_int("SeriesSplit", "test", test)
        train = len(y) - valid - test
        if train < 3:
            raise ValueError(
                f"SeriesSplit: expected at least valid + test + 3 = {valid + test + 3} values, got {len(y)}"
            )
        y.setflags(write=False)
        self.values = y
        self.difference = bool(difference)
        self.bounds = {"train": (0, train), "valid": (train, train + valid), "test": (train + valid, len(y))}
        self.scaler = Scaler.fit(self._u(y[:train]))  # the training part only

    def _u(self, y: np.ndarray) -> np.ndarray:
        """The modelled quantity: ``y`` itself, or its first differences (one shorter)."""
        return np.diff(y) if self.difference else y

    def part(self, name: str) -> np.ndarray:
        """The values of one part, shape (stop - start,), read-only."""
        start, stop = self._bounds(name)
        return self.values[start:stop]

    def _bounds(self, name: str) -> tuple[int, int]:
        if name not in self.bounds:
            raise ValueError(f"SeriesSplit: expected a part in {PARTS}, got {name!r}")
        return self.bounds[name]

    def windows(self, part: str, input_len: int, horizon: int = 1) -> Windows:
        """The windows whose targets all lie in ``part``.

        Parameters
        ----------
        part : {"train", "valid", "test"}
        input_len : int
            Number L of inputs per window.
        horizon : int, default 1
            Number h of steps to predict (1: one-step forecasts).

        Returns
        -------
        Windows
            One row per origin ``t`` with ``start + lag <= t <= stop - h`` (``lag`` = L, or L + 1 with
            ``difference``), in time order.

        Raises
        ------
        TypeError
            If ``input_len`` or ``horizon`` is not an int.
        ValueError
            For an unknown part, a non-positive ``input_len`` or ``horizon``, or a part too short to
            hold one window.
        """
        start, stop = self._bounds(part)
        L = positive_int("SeriesSplit.windows", "input_len", input_len)
        h = positive_int("SeriesSplit.windows", "horizon", horizon)
        known = self.values[:stop]  # cut first: nothing after the part is ever read
        lag = L + 1 if self.difference else L
        origins = np.arange(max(start, lag), stop - h + 1, dtype=np.int64)  # (N,)
        if len(origins) == 0:
            raise ValueError(
                f"SeriesSplit.windows: part {part!r} spans steps {start}..{stop - 1}; no window of "
                f"{lag} inputs and {h} targets fits (input_len={L}, horizon={h})"
            )
        z = self.scaler.transform(self._u(known))  # z[i] is u at step i (+1 with difference)
        shift = 1 if self.difference else 0
        steps = origins[:, None] - shift  # (N, 1): index of u_t in z
        inputs = z[steps + np.arange(-L, 0)]  # (N, L)
        targets = z[steps + np.arange(h)]  # (N, h)
        past = known[origins[:, None] + np.arange(-lag, 0)]  # (N, P)
        truth = known[origins[:, None] + np.arange(h)]  # (N, h)
        return Windows(
            inputs[:, :, None].astype(np.float32),  # (N, L, 1)
            targets.astype(np.float32),
            origins,
            past,
            truth,
        )

    def to_levels(self, predictions, windows: Windows) -> np.ndarray:
        """Scaled predictions back in the series' units.

        Parameters
        ----------
        predictions : array_like of shape (N, h)
            Predicted scaled targets for ``windows`` (a model's output).
        windows : Windows
            The windows they were made for (their ``past`` gives the last known value).

        Returns
        -------
        ndarray of shape (N, h), float64
            :math:`\\hat y_{t+k} = \\sigma \\hat z + \\mu`, or with ``difference`` the last known value
            plus the cumulated predicted changes, :math:`y_{t-1} + \\sum_{j \\le k} \\hat u_{t+j}`.

        Raises
        ------
        ValueError
            If ``predictions`` does not have the shape of ``windows.targets``.
        """
        p = np.asarray(predictions, dtype=np.float64)
        if p.shape != windows.targets.shape:
            raise ValueError(
                f"SeriesSplit.to_levels: expected predictions of shape {windows.targets.shape}, got {p.shape}"
            )
        u = self.scaler.inverse(p)
        if not self.difference:
            return u
        return windows.past[:, -1:] + np.cumsum(u, axis=1)  # (N, h)
