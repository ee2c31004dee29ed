"""Self-checks for the exercises of chapter 11, *Forecasting time series*: windows of a series, the
seasonal-naive forecast, the mean absolute scaled error, and recursive forecasts of a linear
autoregressive model.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion.exercises._engine import _Exercise, _label, _Mistake, _run
from companion.exercises.report import CheckPassed

__all__ = ["check_windows", "check_seasonal_naive", "check_mase", "check_recursive_ar"]


def _series(rng: np.random.Generator, T: int, period: int) -> np.ndarray:
    """A trend, a season and noise: consecutive values differ, so an index off by one shows."""
    t = np.arange(T)
    return 0.3 * t + 2.0 * np.sin(2 * np.pi * t / period) + rng.normal(scale=0.5, size=T)


# --------------------------------------------------------------------------------------------------
# Exercise 11.1: windows of a series.


def _window_cases() -> list[dict]:
    rng = np.random.default_rng(1101)
    return [
        {"values": _series(rng, T, 12), "input_len": L, "horizon": h, "_label": _label(T=T, L=L, h=h)}
        for T, L, h in [(10, 3, 1), (30, 12, 4), (25, 5, 3)]
    ]


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


_WINDOWS = _Exercise(
    name="check_windows",
    outputs=("inputs", "targets"),
    reference=_windows,
    shapes={"inputs": "(T - L - h + 1, L)", "targets": "(T - L - h + 1, h)"},
    shape_hint=_window_shape_hint,
    equation="For origins t = L, ..., T - h: inputs[i] = values[t - L : t], targets[i] = values[t : t + h].",
    mistakes=[
        _Mistake(
            "The first target is the last input (values[t - 1]): a target must come after every input.",
            lambda c: {"targets": _windows(c, first=-1)["targets"]},
        ),
        _Mistake(
            "The inputs end at the first target (values[t - L + 1 : t + 1]): the model would read what it "
            "is asked to predict, a leak.",
            lambda c: {"inputs": _windows(c, shift=1)["inputs"]},
        ),
        _Mistake(
            "The inputs are newest first; keep them in time order, oldest first, as the recurrence reads "
            "them.",
            lambda c: {"inputs": _windows(c, reverse=True)["inputs"]},
        ),
    ],
)


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
    return _run(_WINDOWS, fn, _window_cases(), ("values", "input_len", "horizon"))


# --------------------------------------------------------------------------------------------------
# Exercise 11.2: the seasonal-naive forecast.


def _snaive_cases() -> list[dict]:
    rng = np.random.default_rng(1102)
    cases = []
    for N, P, h, m in [(2, 15, 6, 12), (3, 24, 30, 12), (2, 8, 10, 4)]:
        past = np.stack([_series(rng, P, m) for _ in range(N)])  # (N, P)
        cases.append({"past": past, "horizon": h, "period": m, "_label": _label(N=N, P=P, h=h, m=m)})
    return cases


def _snaive(c: dict, *, offset: int = 0) -> dict:
    m, k = c["period"], np.arange(c["horizon"])
    return {"forecast": c["past"][:, k % m - m - offset]}  # (N, h)


def _snaive_no_wrap(c: dict) -> dict:
    m, h, P = c["period"], c["horizon"], c["past"].shape[1]
    if h <= m or h - m > P:
        return {}
    return {"forecast": c["past"][:, np.arange(h) - m]}  # beyond one period, indices from the start


_SEASONAL_NAIVE = _Exercise(
    name="check_seasonal_naive",
    outputs=("forecast",),
    reference=_snaive,
    shapes={"forecast": "(N, horizon)"},
    equation="forecast[:, k] = past[:, (k mod m) - m]: the value one season before, the last season "
    "repeated beyond one period.",
    mistakes=[
        _Mistake(
            "Every step gets the last value, past[:, -1]: that is the naive forecast, not the seasonal one.",
            lambda c: {"forecast": np.repeat(c["past"][:, -1:], c["horizon"], axis=1)},
        ),
        _Mistake(
            "Off by one season step: step k (k = 0 is the first forecast) takes past[:, k - m], the value "
            "exactly m steps before it, not past[:, k - m - 1].",
            lambda c: _snaive(c, offset=1),
        ),
        _Mistake(
            "Beyond one period (k >= m) the index k - m counts from the start of the past; use "
            "(k mod m) - m, so that the last observed season repeats.",
            _snaive_no_wrap,
        ),
    ],
)


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
    return _run(_SEASONAL_NAIVE, fn, _snaive_cases(), ("past", "horizon", "period"))


# --------------------------------------------------------------------------------------------------
# Exercise 11.3: the mean absolute scaled error.


def _mase_cases() -> list[dict]:
    rng = np.random.default_rng(1103)
    cases = []
    for n, k, m in [(36, 18, 12), (60, 15, 12), (40, 10, 4)]:
        y = _series(rng, n + k, m)
        y_pred = y[n:] + rng.normal(scale=1.0, size=k)
        label = _label(n_train=n, n_test=k, period=m)
        cases.append({"y_true": y[n:], "y_pred": y_pred, "y_train": y[:n], "period": m, "_label": label})
    return cases


def _mase(c: dict, *, on="y_train", lag=None, power=1, denominator="n - m", signed=False) -> dict:
    y, m = c[on], lag or c["period"]
    d = y[m:] - y[:-m]
    diffs = d if signed else np.abs(d)
    scale = diffs.sum() / (len(y) - m if denominator == "n - m" else len(y))
    err = np.mean(np.abs(c["y_true"] - c["y_pred"]) ** power)
    return {"mase": np.asarray(err / scale**power)}


_MASE = _Exercise(
    name="check_mase",
    outputs=("mase",),
    reference=_mase,
    shapes={"mase": "()"},
    equation="mase = mean|y_true - y_pred| / ((1 / (n - m)) sum_{t=m}^{n-1} |y_train[t] - y_train[t - m]|).",
    mistakes=[
        _Mistake(
            "The scale is computed on the held-out values y_true: it must come from the training part, "
            "known before the forecasts are made.",
            lambda c: _mase(c, on="y_true"),
        ),
        _Mistake(
            "The scale uses one-step changes (lag 1); with a period m it is the seasonal-naive error, lag m.",
            lambda c: _mase(c, lag=1) if c["period"] != 1 else {},
        ),
        _Mistake(
            "Squared errors are scaled (a ratio of mean squared errors); MASE compares absolute errors.",
            lambda c: _mase(c, power=2),
        ),
        _Mistake(
            "The sum of the |y_t - y_{t-m}| is divided by n; there are only n - m such differences.",
            lambda c: _mase(c, denominator="n"),
        ),
        _Mistake(
            "The seasonal changes are not made absolute before averaging: with a trend they do not cancel, "
            "but the scale is the mean of |y_t - y_{t-m}|.",
            lambda c: _mase(c, signed=True),
        ),
    ],
)


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
    return _run(_MASE, fn, _mase_cases(), ("y_true", "y_pred", "y_train", "period"))


# --------------------------------------------------------------------------------------------------
# Exercise 11.4: recursive forecasts of a linear autoregressive model.


def _ar_cases() -> list[dict]:
    rng = np.random.default_rng(1104)
    cases = []
    for N, L, p, h in [(2, 4, 2, 3), (3, 6, 3, 5), (2, 5, 5, 4)]:
        windows = rng.normal(size=(N, L))
        coef = rng.normal(scale=0.5, size=p)
        intercept = float(rng.normal())
        label = _label(N=N, L=L, p=p, h=h)
        cases.append({"window": windows, "coef": coef, "intercept": intercept, "horizon": h, "_label": label})
    return cases


def _ar(c: dict, *, feed_back=True, reverse=False, head=False, intercept_once=False) -> dict:
    w, a, h = c["window"].copy(), c["coef"], c["horizon"]
    a = a[::-1] if reverse else a
    p = len(a)
    out = np.empty((len(w), h))
    for k in range(h):
        x = w[:, :p] if head else w[:, -p:]  # (N, p)
        out[:, k] = x @ a + (c["intercept"] if k == 0 or not intercept_once else 0.0)
        if feed_back:
            w = np.concatenate([w[:, 1:], out[:, k : k + 1]], axis=1)  # (N, L)
    return {"forecast": out}


_RECURSIVE_AR = _Exercise(
    name="check_recursive_ar",
    outputs=("forecast",),
    reference=_ar,
    shapes={"forecast": "(N, horizon)"},
    equation="Step k: forecast[:, k] = window[:, -p:] @ coef + intercept, then the window drops its oldest "
    "value and appends forecast[:, k].",
    mistakes=[
        _Mistake(
            "The forecasts are not fed back: every step reads the same window, so all steps get the same "
            "value.",
            lambda c: _ar(c, feed_back=False),
        ),
        _Mistake(
            "coef is applied newest first; coef[0] multiplies the oldest of the last p values (window "
            "order).",
            lambda c: _ar(c, reverse=True) if len(c["coef"]) > 1 else {},
        ),
        _Mistake(
            "The model reads the first p values of the window; it reads the last p, window[:, -p:].",
            lambda c: _ar(c, head=True) if c["coef"].shape[0] < c["window"].shape[1] else {},
        ),
        _Mistake(
            "The intercept is added at the first step only; every step is a full one-step forecast.",
            lambda c: _ar(c, intercept_once=True),
        ),
    ],
)


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
    return _run(_RECURSIVE_AR, fn, _ar_cases(), ("window", "coef", "intercept", "horizon"))
