"""Tests for companion.forecasting (baselines, error measures, the recurrent forecaster),
companion.plots_series and the self-checks of chapter 11's exercises."""

import doctest

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from companion import forecasting  # noqa: E402
from companion.data.series import SeriesSplit  # noqa: E402
from companion.exercises import ExerciseError, _engine, ch11_forecasting  # noqa: E402
from companion.exercises.ch11_forecasting import (  # noqa: E402
    check_mase,
    check_recursive_ar,
    check_seasonal_naive,
    check_windows,
)
from companion.forecasting import (  # noqa: E402
    Forecaster,
    LinearAR,
    mae,
    mase,
    naive,
    predict,
    recursive,
    rmse,
    seasonal_naive,
    train_forecaster,
)
from companion.plots_series import plot_forecasts, plot_split  # noqa: E402
from companion.train import Readout  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# --------------------------------------------------------------------------------------------------
# Baselines on series whose right answer is known.


def test_seasonal_naive_has_zero_error_on_a_periodic_series():
    pattern = np.array([3.0, -1.0, 4.0, 1.0, -5.0, 9.0, 2.0])  # period 7
    y = np.tile(pattern, 10)  # (70,)
    split = SeriesSplit(y, valid=14, test=14)
    w = split.windows("test", input_len=7, horizon=10)  # beyond one period too
    assert mae(w.truth, seasonal_naive(w.past, 10, period=7)) == 0.0
    assert mae(w.truth, naive(w.past, 10)) > 1.0


def test_baselines_by_hand():
    past = np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [10.0, 20.0, 30.0, 40.0, 50.0]])
    np.testing.assert_array_equal(naive(past, 3), [[5, 5, 5], [50, 50, 50]])
    np.testing.assert_array_equal(seasonal_naive(past, 5, period=2), [[4, 5, 4, 5, 4], [40, 50, 40, 50, 40]])
    np.testing.assert_array_equal(seasonal_naive(past, 2, period=1), naive(past, 2))
    np.testing.assert_array_equal(naive(past[:, :, None], 1), [[5], [50]])  # (N, P, 1) is accepted


def test_naive_is_exact_on_a_constant_and_ar_on_a_line():
    y = 2.0 + 0.5 * np.arange(60.0)  # a straight line: y_t = 2 y_{t-1} - y_{t-2}
    split = SeriesSplit(y, valid=10, test=10)
    tr, te = split.windows("train", 4), split.windows("test", 4, horizon=5)
    ar = LinearAR(2).fit(tr.inputs, tr.targets)
    pred = split.to_levels(recursive(ar.predict, te.inputs, 5), te)
    np.testing.assert_allclose(pred, te.truth, atol=1e-8)
    assert mae(te.truth, naive(te.past, 5)) == pytest.approx(0.5 * np.mean(np.arange(1, 6)))


def test_linear_ar_recovers_the_coefficients_of_a_noiseless_process():
    y = np.zeros(200)
    y[:2] = [1.0, 0.3]
    for t in range(2, 200):
        y[t] = 0.2 + 1.5 * y[t - 1] - 0.8 * y[t - 2]  # a damped oscillation towards 0.2 / 0.3
    x = np.stack([y[t - 3 : t] for t in range(3, 200)])  # (197, 3)
    ar = LinearAR(2).fit(x, y[3:])
    np.testing.assert_allclose(ar.coef[:, 0], [-0.8, 1.5], atol=1e-8)  # oldest first
    np.testing.assert_allclose(ar.intercept, [0.2], atol=1e-8)
    direct = LinearAR(2).fit(x[:-2], np.stack([y[3:-2], y[4:-1], y[5:]], axis=1))  # three steps at once
    np.testing.assert_allclose(direct.predict(x[:5]), recursive(ar.predict, x[:5], 3), atol=1e-7)


def test_recursive_feeds_each_forecast_back():
    seen = []

    def step(window):
        seen.append(window.copy())
        return window.sum(axis=1)

    out = recursive(step, [[1.0, 2.0]], 3)
    np.testing.assert_array_equal(out, [[3.0, 5.0, 8.0]])
    np.testing.assert_array_equal(np.concatenate(seen), [[1, 2], [2, 3], [3, 5]])


# --------------------------------------------------------------------------------------------------
# Error measures.


def test_mae_and_rmse_by_hand():
    y, f = np.array([1.0, 2.0, 4.0, 8.0]), np.array([2.0, 2.0, 1.0, 8.0])
    assert mae(y, f) == 1.0  # (1 + 0 + 3 + 0) / 4
    assert rmse(y, f) == pytest.approx(np.sqrt(10 / 4))


def test_mase_definition_by_hand():
    train = np.array([10.0, 12.0, 11.0, 14.0, 13.0, 17.0])
    # seasonal scale, m = 2: |11-10|, |14-12|, |13-11|, |17-14| -> mean (1 + 2 + 2 + 3) / 4 = 2
    assert mase([18.0, 20.0], [17.0, 17.0], train, period=2) == pytest.approx(2.0 / 2.0)
    # naive scale, m = 1: 2, 1, 3, 1, 4 -> mean 11 / 5
    assert mase([18.0, 20.0], [17.0, 17.0], train) == pytest.approx(2.0 / (11 / 5))
    # a forecast with the training part's own seasonal-naive error scores exactly 1
    assert mase([0.0], [2.0], train, period=2) == 1.0


def test_metrics_refuse_bad_input():
    with pytest.raises(ValueError, match=r"mae: expected y_true and y_pred of the same non-empty shape"):
        mae([1.0, 2.0], [1.0])
    with pytest.raises(
        ValueError, match=r"mase: expected y_train of shape \(n,\) with n > period=12, got \(12,\)"
    ):
        mase([1.0], [1.0], np.arange(12.0), period=12)
    with pytest.raises(ValueError, match="mase: the training part's 2-step changes are all 0"):
        mase([1.0], [1.0], [1.0, 2.0, 1.0, 2.0], period=2)
    with pytest.raises(ValueError, match="seasonal_naive: expected past of at least period=12 values, got 6"):
        seasonal_naive(np.zeros((2, 6)), 3, period=12)
    with pytest.raises(
        ValueError, match=r"naive: expected past of shape \(N, L\) or \(N, L, 1\), got \(5,\)"
    ):
        naive(np.zeros(5), 1)
    with pytest.raises(ValueError, match="LinearAR: expected windows of at least order=5 inputs, got 3"):
        LinearAR(5).fit(np.zeros((10, 3)), np.zeros(10))
    with pytest.raises(ValueError, match="LinearAR.fit: expected at least p \\+ 1 = 3 windows, got 2"):
        LinearAR(2).fit(np.zeros((2, 4)), np.zeros(2))
    with pytest.raises(RuntimeError, match="call fit first"):
        LinearAR(2).predict(np.zeros((1, 2)))


# --------------------------------------------------------------------------------------------------
# The recurrent forecaster.


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_forecaster_shapes(cell):
    torch.manual_seed(0)
    model = Forecaster(6, horizon=4, cell=cell)
    assert model(torch.zeros(3, 10, 1)).shape == (3, 4)
    assert predict(model, np.zeros((5, 7))).shape == (5, 4)  # (N, L) gains its feature axis
    assert predict(model, np.zeros((5, 7, 1))).dtype == np.float64


@pytest.mark.parametrize("cell, layer", [("gru", torch.nn.GRU), ("lstm", torch.nn.LSTM)])
def test_forecaster_reads_out_the_last_state_as_torch_nn_would(cell, layer):
    torch.manual_seed(1)
    model = Forecaster(5, horizon=3, cell=cell, num_layers=2)
    reference = Readout(layer(1, 5, num_layers=2, batch_first=True), 3)  # torch.nn, last output read out
    reference.load_state_dict(model.state_dict())
    x = torch.randn(4, 9, 1)
    torch.testing.assert_close(model(x), reference(x))


def test_forecaster_refuses_bad_input():
    model = Forecaster(4)
    with pytest.raises(ValueError, match=r"Forecaster: expected input of shape \(N, L, 1\), got \(3, 10\)"):
        model(torch.zeros(3, 10))
    with pytest.raises(
        ValueError, match=r"Forecaster: expected input of shape \(N, L, 1\), got \(3, 10, 2\)"
    ):
        model(torch.zeros(3, 10, 2))
    with pytest.raises(ValueError, match="Forecaster: expected cell in"):
        Forecaster(4, cell="rnn")
    with pytest.raises(ValueError, match="Forecaster: expected horizon to be a positive int, got 0"):
        Forecaster(4, horizon=0)
    with pytest.raises(
        ValueError, match=r"train_forecaster: expected inputs \(N, L, D\) and targets \(N, h\)"
    ):
        train_forecaster(model, np.zeros((4, 5, 1)), np.zeros((3, 1)), steps=1)


def test_forecaster_learns_a_sine_and_is_reproducible():
    torch.set_num_threads(1)
    y = np.sin(np.arange(300) * 2 * np.pi / 12)
    split = SeriesSplit(y, valid=24, test=24)
    tr, te = split.windows("train", 10), split.windows("test", 10)

    def run(seed):
        torch.manual_seed(seed)
        model = Forecaster(8)
        history = train_forecaster(model, tr.inputs, tr.targets, steps=120, lr=2e-2, generator=seed)
        return history, split.to_levels(predict(model, te.inputs), te)

    history, pred = run(0)
    assert history.steps == 120 and np.mean(history.loss[-10:]) < 0.05 * history.loss[0]
    assert mae(te.truth, pred) < 0.5 * mae(te.truth, naive(te.past, 1))
    np.testing.assert_array_equal(run(0)[1], pred)  # the same seeds give the same forecasts


# --------------------------------------------------------------------------------------------------
# Figures.


def test_plot_split_draws_each_part_with_its_length():
    split = SeriesSplit(np.arange(30.0), valid=5, test=5)
    ax = plot_split(np.arange(30), split, ylabel="ppm", xlabel="year")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "training (20)",
        "validation (5)",
        "test (5)",
    ]
    assert ax.get_ylabel() == "ppm" and ax.get_xlabel() == "year"
    assert ax.lines[1].get_xdata()[0] == 19  # the validation line starts from the last training point
    with pytest.raises(ValueError, match=r"plot_split: expected time of shape \(30,\), got \(29,\)"):
        plot_split(np.arange(29), split)


def test_plot_forecasts_draws_the_truth_and_each_forecast():
    t = np.arange("2000-01", "2000-07", dtype="datetime64[M]")
    ax = plot_forecasts(t, np.arange(6.0), {"AR": np.ones(6), "GRU": np.zeros(6)}, ylabel="ppm")
    assert [line.get_label() for line in ax.lines] == ["truth", "AR", "GRU"]
    np.testing.assert_array_equal(ax.lines[2].get_ydata(), np.zeros(6))
    with pytest.raises(
        ValueError, match=r"plot_forecasts: expected forecast 'AR' of shape \(6,\), got \(5,\)"
    ):
        plot_forecasts(t, np.arange(6.0), {"AR": np.ones(5)})


# --------------------------------------------------------------------------------------------------
# Exercises: the solutions as in the chapter, the mistakes readers make, and each known mistake.


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


# The solutions and the wrong implementations run in tests/test_exercises.py with every chapter's.
SOLUTIONS = [
    (check_windows, my_windows),
    (check_seasonal_naive, my_seasonal_naive),
    (check_mase, my_mase),
    (check_recursive_ar, my_recursive_ar),
]


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


WRONG = [
    (check_windows, windows_target_is_last_input, r"targets differs .*The first target is the last input"),
    (check_windows, windows_inputs_reach_the_target, r"inputs differs .*a leak"),
    (check_windows, windows_one_too_few, r"inputs has shape .*one window too few"),
    (check_seasonal_naive, seasonal_naive_is_naive, r"that is the naive forecast"),
    (check_seasonal_naive, seasonal_naive_without_wrap, r"Beyond one period"),
    (check_seasonal_naive, seasonal_naive_off_by_one, r"Off by one season step"),
    (check_mase, mase_scaled_on_test, r"computed on the held-out values"),
    (check_mase, mase_lag_one, r"uses one-step changes"),
    (check_mase, mase_divided_by_n, r"divided by n; there are only n - m"),
    (check_recursive_ar, ar_not_fed_back, r"not fed back"),
    (check_recursive_ar, ar_coef_newest_first, r"coef is applied newest first"),
    (check_recursive_ar, ar_reads_the_first_values, r"reads the first p values"),
]


EXERCISES = [
    (
        check_windows,
        ch11_forecasting._WINDOWS,
        ch11_forecasting._window_cases,
        ("values", "input_len", "horizon"),
    ),
    (
        check_seasonal_naive,
        ch11_forecasting._SEASONAL_NAIVE,
        ch11_forecasting._snaive_cases,
        ("past", "horizon", "period"),
    ),
    (
        check_mase,
        ch11_forecasting._MASE,
        ch11_forecasting._mase_cases,
        ("y_true", "y_pred", "y_train", "period"),
    ),
    (
        check_recursive_ar,
        ch11_forecasting._RECURSIVE_AR,
        ch11_forecasting._ar_cases,
        ("window", "coef", "intercept", "horizon"),
    ),
]
MISTAKES = [(*e, k) for e in EXERCISES for k in range(len(e[1].mistakes))]


def imitate(exercise, cases, args, mistake):
    """A function that returns what ``mistake`` computes, for the inputs of any case."""
    known = cases()

    def fn(*values):
        case = next(
            c for c in known if all(_engine._same(c[a], v) for a, v in zip(args, values, strict=True))
        )
        outputs = {**exercise.reference(case), **mistake.outputs(case)}
        result = [outputs[n] for n in exercise.outputs]
        return result[0] if len(result) == 1 else result

    return fn


@pytest.mark.parametrize(
    "check, exercise, cases, args, k", MISTAKES, ids=[f"{m[0].__name__}-{m[4]}" for m in MISTAKES]
)
def test_each_known_mistake_is_recognised(check, exercise, cases, args, k):
    mistake = exercise.mistakes[k]
    with pytest.raises(ExerciseError) as info:
        check(imitate(exercise, cases, args, mistake))
    assert mistake.says in str(info.value)


@pytest.mark.parametrize(
    "module, examples", [(forecasting, 9), (ch11_forecasting, 8)], ids=lambda m: getattr(m, "__name__", "")
)
def test_docstring_examples(module, examples):
    result = doctest.testmod(module, extraglobs={"np": np, "torch": torch})
    assert result.failed == 0 and result.attempted == examples
