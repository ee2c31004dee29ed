"""Chapter 11's exercises: windows of a series, the seasonal-naive forecast, the mean absolute scaled
error and recursive forecasts (the references are the package's).
"""

import doctest

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from exercise_suite import chapter_tests  # noqa: E402

from companion import exercises as ex  # noqa: E402
from companion.exercises import ch11_forecasting  # noqa: E402
from companion.forecasting import LinearAR, mase, recursive, seasonal_naive  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def my_windows(values, input_len, horizon):
    t = np.arange(input_len, len(values) - horizon + 1)[:, None]  # (N, 1): the origins
    return values[t + np.arange(-input_len, 0)], values[t + np.arange(horizon)]


def my_seasonal_naive(past, horizon, period):
    k = np.arange(horizon)
    return past[:, k % period - period]


def my_mase(y_true, y_pred, y_train, period):
    scale = np.mean(np.abs(y_train[period:] - y_train[:-period]))
    return np.mean(np.abs(y_true - y_pred)) / scale


def my_recursive_ar(window, coef, intercept, horizon):
    w, out = window.copy(), []
    for _ in range(horizon):
        out.append(w[:, -len(coef) :] @ coef + intercept)  # (N,)
        w = np.concatenate([w[:, 1:], out[-1][:, None]], axis=1)  # (N, L)
    return np.stack(out, axis=1)


def windows_target_is_last_input(values, input_len, horizon):
    t = np.arange(input_len, len(values) - horizon + 1)[:, None]
    return values[t + np.arange(-input_len, 0)], values[t - 1 + np.arange(horizon)]


def windows_inputs_reach_the_target(values, input_len, horizon):
    inputs, targets = [], []
    for t in range(input_len, len(values) - horizon + 1):
        inputs.append(values[t - input_len + 1 : t + 1])
        targets.append(values[t : t + horizon])
    return np.array(inputs), np.array(targets)


def windows_one_too_few(values, input_len, horizon):
    inputs, targets = [], []
    for t in range(input_len, len(values) - horizon):
        inputs.append(values[t - input_len : t])
        targets.append(values[t : t + horizon])
    return np.array(inputs), np.array(targets)


def seasonal_naive_is_naive(past, horizon, period):
    return np.repeat(past[:, -1:], horizon, axis=1)


def seasonal_naive_without_wrap(past, horizon, period):
    return np.stack([past[:, k - period] for k in range(horizon)], axis=1)


def seasonal_naive_off_by_one(past, horizon, period):
    return np.stack([past[:, (k % period) - period - 1] for k in range(horizon)], axis=1)


def mase_scaled_on_test(y_true, y_pred, y_train, period):
    return my_mase(y_true, y_pred, y_true, period)


def mase_lag_one(y_true, y_pred, y_train, period):
    return my_mase(y_true, y_pred, y_train, 1)


def mase_divided_by_n(y_true, y_pred, y_train, period):
    scale = np.sum(np.abs(y_train[period:] - y_train[:-period])) / len(y_train)
    return np.mean(np.abs(y_true - y_pred)) / scale


def ar_not_fed_back(window, coef, intercept, horizon):
    step = window[:, -len(coef) :] @ coef + intercept
    return np.repeat(step[:, None], horizon, axis=1)


def ar_coef_newest_first(window, coef, intercept, horizon):
    return my_recursive_ar(window, coef[::-1], intercept, horizon)


def ar_reads_the_first_values(window, coef, intercept, horizon):
    w, out = window.copy(), []
    for _ in range(horizon):
        out.append(w[:, : len(coef)] @ coef + intercept)
        w = np.concatenate([w[:, 1:], out[-1][:, None]], axis=1)
    return np.stack(out, axis=1)


SOLUTIONS = [
    (ex.check_windows, my_windows),
    (ex.check_seasonal_naive, my_seasonal_naive),
    (ex.check_mase, my_mase),
    (ex.check_recursive_ar, my_recursive_ar),
]


WRONG = [
    (ex.check_windows, windows_target_is_last_input, r"targets differs .*The first target is the last input"),
    (ex.check_windows, windows_inputs_reach_the_target, r"inputs differs .*a leak"),
    (ex.check_windows, windows_one_too_few, r"inputs has shape .*one window too few"),
    (ex.check_seasonal_naive, seasonal_naive_is_naive, r"that is the naive forecast"),
    (ex.check_seasonal_naive, seasonal_naive_without_wrap, r"Beyond one period"),
    (ex.check_seasonal_naive, seasonal_naive_off_by_one, r"Off by one season step"),
    (ex.check_mase, mase_scaled_on_test, r"computed on the held-out values"),
    (ex.check_mase, mase_lag_one, r"uses one-step changes"),
    (ex.check_mase, mase_divided_by_n, r"divided by n; there are only n - m"),
    (ex.check_recursive_ar, ar_not_fed_back, r"not fed back"),
    (ex.check_recursive_ar, ar_coef_newest_first, r"coef is applied newest first"),
    (ex.check_recursive_ar, ar_reads_the_first_values, r"reads the first p values"),
]


EXERCISES = [
    (ex.check_windows, ch11_forecasting._WINDOWS),
    (ex.check_seasonal_naive, ch11_forecasting._SEASONAL_NAIVE),
    (ex.check_mase, ch11_forecasting._MASE),
    (ex.check_recursive_ar, ch11_forecasting._RECURSIVE_AR),
]


globals().update(chapter_tests(SOLUTIONS, WRONG, exercises=EXERCISES))


def test_checks_agree_with_the_package():
    for case in ch11_forecasting._snaive_cases():
        want = seasonal_naive(case["past"], case["horizon"], case["period"])
        np.testing.assert_array_equal(ch11_forecasting._snaive(case)["forecast"], want)
    for case in ch11_forecasting._mase_cases():
        want = mase(case["y_true"], case["y_pred"], case["y_train"], case["period"])
        assert float(ch11_forecasting._mase(case)["mase"]) == pytest.approx(want, rel=1e-12)
    for case in ch11_forecasting._ar_cases():
        ar = LinearAR(len(case["coef"]))
        ar.coef, ar.intercept = case["coef"][:, None], np.array([case["intercept"]])
        want = recursive(ar.predict, case["window"], case["horizon"])
        np.testing.assert_allclose(ch11_forecasting._ar(case)["forecast"], want, rtol=1e-12)


def test_docstring_examples():
    result = doctest.testmod(ch11_forecasting, extraglobs={"np": np, "torch": torch})
    assert result.failed == 0 and result.attempted == 8
