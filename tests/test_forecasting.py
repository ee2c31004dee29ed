"""Tests for companion.forecasting (baselines, error measures, the recurrent forecaster) and
companion.plots.series; the self-checks of chapter 11's exercises are in tests/exercises/."""

import doctest

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from companion import forecasting  # noqa: E402
from companion.data.series import SeriesSplit  # noqa: E402
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
from companion.plots.series import plot_forecasts, plot_split  # noqa: E402
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
    with pytest.raises(ValueError, match="Forecaster: expected horizon >= 1, got 0"):
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


def test_docstring_examples():
    result = doctest.testmod(forecasting, extraglobs={"np": np, "torch": torch})
    assert result.failed == 0 and result.attempted == 9
