"""Self-checks for the exercises of chapter 11, *Forecasting time series*: windows of a series, the
seasonal-naive forecast, the mean absolute scaled error, and recursive forecasts of a linear
autoregressive model.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion.exercises.engine import Exercise
from companion.exercises.inputs import make_cases
from companion.exercises.report import CheckPassed

__all__ = ["check_windows", "check_seasonal_naive", "check_mase", "check_recursive_ar"]


def check_windows(fn: Callable) -> CheckPassed:
    """Check the reader's windowing of a series into inputs and targets (chapter 11 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(values, input_len, horizon)`` with ``values`` of shape (T,). It returns ``inputs`` of
        shape (N, L) and ``targets`` of shape (N, h), one row per origin t = L, ..., T - h:
        ``values[t - L : t]`` and ``values[t : t + h]``.

    Returns
    -------
    CheckPassed

    Raises
    ------
    ExerciseError
        Naming the fault: a target that is also an input, inputs that reach the target, inputs
        newest first, or a window too few or too many.

    Examples
    --------
    >>> def windows(values, input_len, horizon):
    ...     t = np.arange(input_len, len(values) - horizon + 1)[:, None]
    ...     return values[t + np.arange(-input_len, 0)], values[t + np.arange(horizon)]
    >>> check_windows(windows)
    ✓ check_windows: all checks passed (3 cases)
    """
    return _WINDOWS.check(fn)


def check_seasonal_naive(fn: Callable) -> CheckPassed:
    """Check the reader's seasonal-naive forecast (chapter 11 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(past, horizon, period)`` with ``past`` of shape (N, P), the values before each origin,
        oldest first (P >= period). It returns the forecast of shape (N, horizon): step k is the
        value one season earlier, ``past[:, (k % period) - period]``.

    Returns
    -------
    CheckPassed

    Raises
    ------
    ExerciseError
        Naming the fault: the naive forecast, an index off by one, or no repetition beyond one
        period.

    Examples
    --------
    >>> def seasonal(past, horizon, period):
    ...     return past[:, np.arange(horizon) % period - period]
    >>> check_seasonal_naive(seasonal)
    ✓ check_seasonal_naive: all checks passed (3 cases)
    """
    return _SEASONAL_NAIVE.check(fn)


def check_mase(fn: Callable) -> CheckPassed:
    """Check the reader's mean absolute scaled error (chapter 11 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(y_true, y_pred, y_train, period)``: held-out values and forecasts of shape (k,), the
        training part of shape (n,) and the period m. It returns the MAE of the forecasts divided by
        the mean of ``|y_train[t] - y_train[t - m]|`` over t = m, ..., n - 1 (a float).

    Returns
    -------
    CheckPassed

    Raises
    ------
    ExerciseError
        Naming the fault: a scale from the held-out values, lag 1 instead of m, squared errors, a
        mean over n instead of n - m, or signed changes.

    See Also
    --------
    companion.forecasting.mase : the package's implementation.

    Examples
    --------
    >>> def my_mase(y_true, y_pred, y_train, period):
    ...     scale = np.mean(np.abs(y_train[period:] - y_train[:-period]))
    ...     return np.mean(np.abs(y_true - y_pred)) / scale
    >>> check_mase(my_mase)
    ✓ check_mase: all checks passed (3 cases)
    """
    return _MASE.check(fn)


def check_recursive_ar(fn: Callable) -> CheckPassed:
    """Check the reader's recursive multi-step forecast of a linear AR model (chapter 11 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(window, coef, intercept, horizon)`` with ``window`` of shape (N, L), oldest first,
        ``coef`` of shape (p,) (p <= L, ``coef[0]`` for the oldest of the last p values) and a float
        ``intercept``. It returns the forecast of shape (N, horizon): each step is
        ``window[:, -p:] @ coef + intercept``, appended to the window before the next step.

    Returns
    -------
    CheckPassed

    Raises
    ------
    ExerciseError
        Naming the fault: forecasts not fed back, coefficients reversed, the first p values read, or
        the intercept added once.

    See Also
    --------
    companion.forecasting.recursive, companion.forecasting.LinearAR

    Examples
    --------
    >>> def rec(window, coef, intercept, horizon):
    ...     w, out = window.copy(), []
    ...     for _ in range(horizon):
    ...         out.append(w[:, -len(coef):] @ coef + intercept)
    ...         w = np.concatenate([w[:, 1:], out[-1][:, None]], axis=1)
    ...     return np.stack(out, axis=1)
    >>> check_recursive_ar(rec)
    ✓ check_recursive_ar: all checks passed (3 cases)
    """
    return _RECURSIVE_AR.check(fn)


def _series(rng: np.random.Generator, T: int, period: int) -> np.ndarray:
    """A trend, a season and noise: consecutive values differ, so an index off by one shows."""
    t = np.arange(T)
    return 0.3 * t + 2.0 * np.sin(2 * np.pi * t / period) + rng.normal(scale=0.5, size=T)


# --------------------------------------------------------------------------------------------------
# Exercise 11.1: windows of a series.


def _window_cases() -> list[dict]:
    return make_cases(1101, "T L h", [(10, 3, 1), (30, 12, 4), (25, 5, 3)], _window_case)


def _window_case(rng, T, L, h) -> dict:
    return {"values": _series(rng, T, 12), "input_len": L, "horizon": h}


def _windows(c: dict, *, first: int = 0, shift: int = 0, reverse: bool = False) -> dict:
    """The reference (keywords at their defaults) and the known mistakes."""
    y, L, h = c["values"], c["input_len"], c["horizon"]
    t = np.arange(L, len(y) - h + 1)  # (N,): every origin whose h targets exist
    inputs = y[t[:, None] + np.arange(-L, 0) + shift]  # (N, L)
    targets = y[t[:, None] + np.arange(h) + first]  # (N, h)
    return {"inputs": inputs[:, ::-1] if reverse else inputs, "targets": targets}


def _window_shape_hint(name: str, got: tuple, want: tuple) -> str:
    if len(got) == 2 and got[1:] == want[1:] and got[0] == want[0] - 1:
        return " (one window too few: the last origin t = T - h has its h targets, so range(L, T - h + 1))"
    if len(got) == 2 and got[1:] == want[1:] and got[0] > want[0]:
        return " (windows whose targets run past the end of the series: the last origin is T - h)"
    return ""


_WINDOWS = Exercise(
    "check_windows(values, input_len, horizon) -> inputs (T - L - h + 1, L), targets (T - L - h + 1, h)",
    cases=_window_cases,
    reference=_windows,
    shape_hint=_window_shape_hint,
    equation="For origins t = L, ..., T - h: inputs[i] = values[t - L : t], targets[i] = values[t : t + h].",
    keyword_mistakes={
        "The first target is the last input (values[t - 1]): a target must come after every input.": {
            "first": -1
        },
        "The inputs end at the first target (values[t - L + 1 : t + 1]): the model would read what it "
        "is asked to predict, a leak.": {"shift": 1},
        "The inputs are newest first; keep them in time order, oldest first, as the recurrence reads them.": {
            "reverse": True
        },
    },
)


# --------------------------------------------------------------------------------------------------
# Exercise 11.2: the seasonal-naive forecast.


def _snaive_cases() -> list[dict]:
    return make_cases(1102, "N P h m", [(2, 15, 6, 12), (3, 24, 30, 12), (2, 8, 10, 4)], _snaive_case)


def _snaive_case(rng, N, P, h, m) -> dict:
    return {"past": np.stack([_series(rng, P, m) for _ in range(N)]), "horizon": h, "period": m}  # (N, P)


def _snaive(c: dict, *, index="k mod m - m") -> dict:
    """The seasonal-naive forecast (keywords at their defaults) and the known mistakes: the last value
    repeated (the naive forecast), an index one step early, no wrap beyond one period."""
    m, h, past = c["period"], c["horizon"], c["past"]
    k = np.arange(h)
    if index == "k - m" and (h <= m or h - m > past.shape[1]):
        return {}  # within one period, or past the start of the past: the mistake does not show
    columns = {
        "k mod m - m": k % m - m,
        "k mod m - m - 1": k % m - m - 1,
        "k - m": k - m,
        "-1": np.full(h, -1),
    }
    return {"forecast": past[:, columns[index]]}  # (N, h)


_SEASONAL_NAIVE = Exercise(
    "check_seasonal_naive(past, horizon, period) -> forecast (N, horizon)",
    cases=_snaive_cases,
    reference=_snaive,
    equation="forecast[:, k] = past[:, (k mod m) - m]: the value one season before, the last season "
    "repeated beyond one period.",
    keyword_mistakes={
        "Every step gets the last value, past[:, -1]: that is the naive forecast, not the seasonal one.": {
            "index": "-1"
        },
        "Off by one season step: step k (k = 0 is the first forecast) takes past[:, k - m], the value "
        "exactly m steps before it, not past[:, k - m - 1].": {"index": "k mod m - m - 1"},
        "Beyond one period (k >= m) the index k - m counts from the start of the past; use "
        "(k mod m) - m, so that the last observed season repeats.": {"index": "k - m"},
    },
)


# --------------------------------------------------------------------------------------------------
# Exercise 11.3: the mean absolute scaled error.


def _mase_case(rng, n_train, n_test, period) -> dict:
    y = _series(rng, n_train + n_test, period)
    y_pred = y[n_train:] + rng.normal(scale=1.0, size=n_test)
    return {"y_true": y[n_train:], "y_pred": y_pred, "y_train": y[:n_train], "period": period}


def _mase_cases() -> list[dict]:
    return make_cases(1103, "n_train n_test period", [(36, 18, 12), (60, 15, 12), (40, 10, 4)], _mase_case)


def _mase(c: dict, *, on="y_train", lag=None, power=1, denominator="n - m", signed=False) -> dict:
    if lag == 1 and c["period"] == 1:
        return {}  # lag 1 is the seasonal lag: the mistake does not show
    y, m = c[on], lag or c["period"]
    d = y[m:] - y[:-m]
    diffs = d if signed else np.abs(d)
    scale = diffs.sum() / (len(y) - m if denominator == "n - m" else len(y))
    err = np.mean(np.abs(c["y_true"] - c["y_pred"]) ** power)
    return {"mase": np.asarray(err / scale**power)}


_MASE = Exercise(
    "check_mase(y_true, y_pred, y_train, period) -> mase ()",
    cases=_mase_cases,
    reference=_mase,
    equation="mase = mean|y_true - y_pred| / ((1 / (n - m)) sum_{t=m}^{n-1} |y_train[t] - y_train[t - m]|).",
    keyword_mistakes={
        "The scale is computed on the held-out values y_true: it must come from the training part, "
        "known before the forecasts are made.": {"on": "y_true"},
        "The scale uses one-step changes (lag 1); with a period m it is the seasonal-naive error, lag m.": {
            "lag": 1
        },
        "Squared errors are scaled (a ratio of mean squared errors); MASE compares absolute errors.": {
            "power": 2
        },
        "The sum of the |y_t - y_{t-m}| is divided by n; there are only n - m such differences.": {
            "denominator": "n"
        },
        "The seasonal changes are not made absolute before averaging: with a trend they do not cancel, "
        "but the scale is the mean of |y_t - y_{t-m}|.": {"signed": True},
    },
)


# --------------------------------------------------------------------------------------------------
# Exercise 11.4: recursive forecasts of a linear autoregressive model.


def _ar_cases() -> list[dict]:
    return make_cases(1104, "N L p h", [(2, 4, 2, 3), (3, 6, 3, 5), (2, 5, 5, 4)], _ar_case)


def _ar_case(rng, N, L, p, h) -> dict:
    return {
        "window": rng.normal(size=(N, L)),
        "coef": rng.normal(scale=0.5, size=p),
        "intercept": float(rng.normal()),
        "horizon": h,
    }


def _ar(c: dict, *, feed_back=True, reverse=False, head=False, intercept_once=False) -> dict:
    w, a, h = c["window"].copy(), c["coef"], c["horizon"]
    a = a[::-1] if reverse else a
    p = len(a)
    if (reverse and p == 1) or (head and p == w.shape[1]):
        return {}  # one coefficient, or a window of p values: the mistake does not show
    out = np.empty((len(w), h))
    for k in range(h):
        x = w[:, :p] if head else w[:, -p:]  # (N, p)
        out[:, k] = x @ a + (c["intercept"] if k == 0 or not intercept_once else 0.0)
        if feed_back:
            w = np.concatenate([w[:, 1:], out[:, k : k + 1]], axis=1)  # (N, L)
    return {"forecast": out}


_RECURSIVE_AR = Exercise(
    "check_recursive_ar(window, coef, intercept, horizon) -> forecast (N, horizon)",
    cases=_ar_cases,
    reference=_ar,
    equation="Step k: forecast[:, k] = window[:, -p:] @ coef + intercept, then the window drops its oldest "
    "value and appends forecast[:, k].",
    keyword_mistakes={
        "The forecasts are not fed back: every step reads the same window, so all steps get the same "
        "value.": {"feed_back": False},
        "coef is applied newest first; coef[0] multiplies the oldest of the last p values (window order).": {
            "reverse": True
        },
        "The model reads the first p values of the window; it reads the last p, window[:, -p:].": {
            "head": True
        },
        "The intercept is added at the first step only; every step is a full one-step forecast.": {
            "intercept_once": True
        },
    },
)
