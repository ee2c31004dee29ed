"""Tests for companion.data.series: the shipped CO2 and sunspot series, the chronological split and
windows that never read the future. (conftest.py refuses every network connection, so the loaders
are also checked to read only the package's files.)"""

import doctest

import numpy as np
import pytest

from companion.data import series
from companion.data.series import PARTS, Scaler, SeriesSplit, Windows, co2, sunspots

# --------------------------------------------------------------------------------------------------
# The shipped series.


def test_co2_is_monthly_without_gaps_from_1965():
    s = co2()
    assert s.values.shape == (444,) and s.values.dtype == np.float64
    assert s.time.dtype == np.dtype("datetime64[M]") and s.time.shape == (444,)
    assert str(s.time[0]) == "1965-01" and str(s.time[-1]) == "2001-12"
    assert np.all(np.diff(s.time).astype(int) == 1)  # one value per month, none missing
    assert np.all(np.isfinite(s.values)) and 317 < s.values.min() < s.values.max() < 374
    assert s.period == 12 and s.unit == "ppm"


def test_co2_has_keelings_trend_and_seasonal_cycle():
    months = co2().values.reshape(37, 12)  # (year, month), January 1965 to December 2001
    assert np.all(np.diff(months.mean(axis=1)) > 0)  # every year's mean is above the year before
    cycle = (months - months.mean(axis=1, keepdims=True)).mean(axis=0)  # (12,): the mean seasonal cycle
    assert np.argmax(cycle) == 4 and np.argmin(cycle) in (8, 9)  # a peak in May, a low in Sep/Oct
    assert 5 < cycle.max() - cycle.min() < 8  # about 6 ppm from peak to trough


def test_co2_from_1958_keeps_the_months_without_data_as_nan():
    s = co2(1958)
    assert s.values.shape == (526,) and str(s.time[0]) == "1958-03"
    missing = [str(t) for t in s.time[np.isnan(s.values)]]
    assert missing == ["1958-06", "1958-10", "1964-02", "1964-03", "1964-04"]
    np.testing.assert_array_equal(s.values[-444:], co2().values)


@pytest.mark.parametrize("year", [1957, 2002, 1965.0, "1965", True])
def test_co2_refuses_a_start_outside_the_record(year):
    with pytest.raises(ValueError, match="co2: expected start_year"):
        co2(year)


def test_sunspots_are_yearly_from_1700_to_2008():
    s = sunspots()
    assert s.values.shape == (309,) and s.values.dtype == np.float64
    assert s.time.dtype == np.dtype("datetime64[Y]")
    assert str(s.time[0]) == "1700" and str(s.time[-1]) == "2008"
    assert np.all(np.diff(s.time).astype(int) == 1)
    assert s.values.min() == 0 and s.period is None
    assert str(s.time[np.argmax(s.values)]) == "1957" and s.values.max() == 190.2  # the largest cycle, 19


def test_sunspot_cycle_lasts_about_eleven_years():
    y = sunspots().values
    z = y - y.mean()
    acf = np.array([np.dot(z[:-k], z[k:]) / np.dot(z, z) for k in range(1, 16)])  # lags 1..15
    assert np.argmax(acf[7:]) + 8 in (10, 11)  # the autocorrelation peaks again after 10-11 years
    assert acf[4] < 0  # and is negative half a cycle on


# --------------------------------------------------------------------------------------------------
# The split.


@pytest.mark.parametrize("difference", [False, True])
def test_parts_are_chronological_contiguous_and_do_not_overlap(difference):
    values = np.arange(100.0) ** 1.5
    split = SeriesSplit(values, valid=15, test=10, difference=difference)
    assert list(split.bounds) == list(PARTS)
    assert split.bounds == {"train": (0, 75), "valid": (75, 90), "test": (90, 100)}
    indices = [set(range(*split.bounds[p])) for p in PARTS]
    assert set.union(*indices) == set(range(100)) and sum(map(len, indices)) == 100
    np.testing.assert_array_equal(np.concatenate([split.part(p) for p in PARTS]), values)
    for part in PARTS:  # every target lies inside its part
        w = split.windows(part, input_len=5, horizon=3)
        start, stop = split.bounds[part]
        assert w.origin.min() >= start and w.origin.max() + 3 <= stop
        assert np.all(np.diff(w.origin) == 1)


def test_scaler_statistics_come_from_the_training_part_only():
    values = np.r_[np.linspace(0, 10, 60) ** 2, np.full(20, 1000.0), np.full(20, -1000.0)]
    split = SeriesSplit(values, valid=20, test=20)
    assert split.scaler == Scaler(float(values[:60].mean()), float(values[:60].std()))
    diffs = SeriesSplit(values, valid=20, test=20, difference=True)
    changes = np.diff(values[:60])  # (59,): the changes within the training part, none across its end
    assert diffs.scaler == Scaler(float(changes.mean()), float(changes.std()))


def test_windows_hold_the_past_and_the_next_values():
    values = np.arange(20.0) ** 2
    split = SeriesSplit(values, valid=4, test=4)
    w = split.windows("test", input_len=3, horizon=2)
    assert isinstance(w, Windows)
    assert w.inputs.shape == (3, 3, 1) and w.inputs.dtype == np.float32
    assert w.targets.shape == (3, 2) and w.targets.dtype == np.float32
    assert w.origin.dtype == np.int64 and w.origin.tolist() == [16, 17, 18]
    np.testing.assert_array_equal(w.past, [[169, 196, 225], [196, 225, 256], [225, 256, 289]])
    np.testing.assert_array_equal(w.truth, [[256, 289], [289, 324], [324, 361]])
    mean, std = values[:12].mean(), values[:12].std()
    np.testing.assert_allclose(w.inputs[:, :, 0], (w.past - mean) / std, rtol=1e-6)
    np.testing.assert_allclose(w.targets, (w.truth - mean) / std, rtol=1e-6)


def test_windows_of_differences_read_one_more_past_value():
    values = np.arange(30.0) ** 2  # differences 1, 3, 5, ...
    split = SeriesSplit(values, valid=5, test=5, difference=True)
    w = split.windows("train", input_len=4, horizon=2)
    assert w.origin[0] == 5 and w.past.shape == (len(w.origin), 5)
    d = np.diff(values)
    u = (d - d[:19].mean()) / d[:19].std()  # the training part's 19 differences only
    np.testing.assert_allclose(w.inputs[0, :, 0], u[0:4], rtol=1e-6)  # y1-y0 ... y4-y3
    np.testing.assert_allclose(w.targets[0], u[4:6], rtol=1e-6)  # y5-y4, y6-y5


@pytest.mark.parametrize("difference", [False, True])
def test_to_levels_inverts_the_scaling_and_the_differencing(difference):
    values = np.cumsum(np.random.default_rng(0).normal(size=80))
    split = SeriesSplit(values, valid=10, test=10, difference=difference)
    w = split.windows("valid", input_len=6, horizon=4)
    np.testing.assert_allclose(split.to_levels(w.targets, w), w.truth, atol=1e-5)
    with pytest.raises(ValueError, match=r"to_levels: expected predictions of shape \(7, 4\), got \(7, 3\)"):
        split.to_levels(w.targets[:, :3], w)


@pytest.mark.parametrize("difference", [False, True])
@pytest.mark.parametrize("cut", [40, 60, 61, 75, 89])
def test_changing_the_future_changes_nothing_computed_for_the_past(difference, cut):
    """Values from step ``cut`` on are replaced by noise: the scaler (when the cut is past the
    training part) and every window whose origin is at or before the cut are unchanged, in every part."""
    rng = np.random.default_rng(cut)
    values = np.cumsum(rng.normal(size=100)) + 5 * np.sin(np.arange(100) / 3)
    future = values.copy()
    future[cut:] = rng.normal(scale=100.0, size=100 - cut)
    a = SeriesSplit(values, valid=20, test=20, difference=difference)
    b = SeriesSplit(future, valid=20, test=20, difference=difference)
    assert (a.scaler == b.scaler) == (cut >= 60)
    for part in PARTS:
        for L, h in [(5, 1), (8, 4)]:
            wa, wb = a.windows(part, L, h), b.windows(part, L, h)
            np.testing.assert_array_equal(wa.origin, wb.origin)
            known = wa.origin <= cut  # forecasts made before the change
            if cut >= 60:
                np.testing.assert_array_equal(wa.inputs[known], wb.inputs[known])
            np.testing.assert_array_equal(wa.past[known], wb.past[known])
            if a.bounds[part][1] <= cut:  # the whole part lies before the change
                for x, y in zip(wa, wb, strict=True):
                    np.testing.assert_array_equal(x, y)


def test_the_split_keeps_its_own_read_only_copy():
    values = np.arange(50.0)
    split = SeriesSplit(values, valid=5, test=5)
    values[:] = -1.0
    assert split.values[0] == 0.0 and not split.values.flags.writeable
    with pytest.raises(ValueError):
        split.part("train")[0] = 3.0


# --------------------------------------------------------------------------------------------------
# Bad input.


@pytest.mark.parametrize(
    "values, kwargs, error, message",
    [
        (np.zeros((10, 2)), {}, ValueError, r"expected values of shape \(T,\), got \(10, 2\)"),
        (
            np.r_[np.arange(10.0), np.nan],
            {},
            ValueError,
            r"expected finite values, got NaN or inf at steps \[10\]",
        ),
        (np.arange(10.0), {"valid": 0}, ValueError, "expected valid >= 1, got 0"),
        (np.arange(10.0), {"test": 2.5}, TypeError, "expected test to be an int, got float 2.5"),
        (
            np.arange(10.0),
            {"valid": 4, "test": 4},
            ValueError,
            r"expected at least valid \+ test \+ 3 = 11 values, got 10",
        ),
    ],
)
def test_split_refuses_bad_series(values, kwargs, error, message):
    with pytest.raises(error, match=f"SeriesSplit: {message}"):
        SeriesSplit(values, **{"valid": 2, "test": 2, **kwargs})


def test_windows_refuse_bad_arguments():
    split = SeriesSplit(np.arange(40.0), valid=5, test=5)
    with pytest.raises(
        ValueError, match=r"expected a part in \('train', 'valid', 'test'\), got 'validation'"
    ):
        split.windows("validation", 3)
    with pytest.raises(ValueError, match="SeriesSplit.windows: expected input_len >= 1, got 0"):
        split.windows("train", 0)
    with pytest.raises(ValueError, match="SeriesSplit.windows: expected horizon >= 1, got -1"):
        split.windows("train", 3, -1)
    with pytest.raises(
        ValueError, match=r"part 'test' spans steps 35..39; no window of 3 inputs and 6 targets"
    ):
        split.windows("test", 3, 6)


def test_scaler_round_trip_and_errors():
    s = Scaler.fit([1.0, 2.0, 3.0, 6.0])
    assert s == Scaler(3.0, float(np.std([1.0, 2.0, 3.0, 6.0])))
    np.testing.assert_allclose(s.inverse(s.transform([0.5, 7.0])), [0.5, 7.0])
    with pytest.raises(ValueError, match="Scaler.fit: expected values that vary"):
        Scaler.fit([2.0, 2.0])
    with pytest.raises(ValueError, match="Scaler.fit: expected at least 2 finite values"):
        Scaler.fit([1.0, np.inf])


def test_docstring_examples():
    result = doctest.testmod(series, extraglobs={"np": np})
    assert result.failed == 0 and result.attempted == 7
