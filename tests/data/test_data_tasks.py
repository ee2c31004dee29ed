"""companion.data.tasks: every generator's shapes, values, determinism from its seed and bad input."""

import numpy as np
import pytest

from companion.data import tasks

GENERATOR_NAMES = {
    "sum_task",
    "sine_task",
    "echo_task",
    "adding_problem",
    "copy_task",
    "peak_tagging",
    "between_tagging",
}


def test_all_names_exist():
    assert set(tasks.__all__) == GENERATOR_NAMES | {"PAD_LABEL"}
    for name in GENERATOR_NAMES:
        assert callable(getattr(tasks, name))
    assert tasks.PAD_LABEL == -1


# the lead's chapter-1 generators, called the same way: (arguments, keyword arguments)
GENERATORS = {
    "sum_task": ((5, 7), {}),
    "sine_task": ((5, 7), {}),
    "echo_task": ((5, 7, 2), {}),
    "adding_problem": ((5, 7), {}),
    "copy_task": ((5, 3, 4), {}),
    "peak_tagging": ((5, 2, 7), {}),
    "between_tagging": ((5, 2, 7), {}),
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_same_seed_same_data_and_generator_is_accepted(name):
    args, kwargs = GENERATORS[name]
    f = getattr(tasks, name)
    a, b = f(*args, rng=3, **kwargs), f(*args, rng=3, **kwargs)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    c = f(*args, rng=np.random.default_rng(3), **kwargs)
    for u, v in zip(a, c, strict=True):
        np.testing.assert_array_equal(u, v)
    d = f(*args, rng=4, **kwargs)
    assert not np.array_equal(a[0], d[0])
    gen = np.random.default_rng(0)
    first, second = f(*args, rng=gen, **kwargs), f(*args, rng=gen, **kwargs)
    assert not np.array_equal(first[0], second[0]), "a shared generator advances between calls"


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_randomness_must_be_explicit(name):
    args, kwargs = GENERATORS[name]
    with pytest.raises(TypeError, match="int seed or a numpy.random.Generator"):
        getattr(tasks, name)(*args, rng=None, **kwargs)


@pytest.mark.parametrize("name", sorted(GENERATORS))
@pytest.mark.parametrize(
    "bad, error, message",
    [
        (0, ValueError, "expected n >= 1, got 0"),
        (-1, ValueError, "expected n >= 1, got -1"),
        (2.0, TypeError, "expected n to be an int, got float 2.0"),
        (True, TypeError, "expected n to be an int, got bool True"),
    ],
)
def test_first_size_must_be_a_positive_int(name, bad, error, message):
    args, kwargs = GENERATORS[name]
    with pytest.raises(error, match=f"{name}: {message}"):
        getattr(tasks, name)(bad, *args[1:], rng=0, **kwargs)


def test_sum_task_values():
    x, y = tasks.sum_task(6, 9, rng=0)
    assert x.shape == (6, 9, 1) and y.shape == (6, 1)
    assert x.dtype == y.dtype == np.float64
    assert np.all(np.abs(x) <= 1.0)
    np.testing.assert_allclose(y[:, 0], [sum(x[n, :, 0]) for n in range(6)], rtol=1e-13)
    with pytest.raises(ValueError, match="sum_task: expected length >= 1, got 0"):
        tasks.sum_task(2, 0, rng=0)


def test_sine_task_values():
    x, y = tasks.sine_task(5, 12, rng=1, max_freq=0.3)
    assert x.shape == (5, 2) and y.shape == (5, 12, 1)
    omega, phi = x[:, 0], x[:, 1]
    assert np.all((0.1 <= omega) & (omega <= 0.3)) and np.all(np.abs(phi) <= np.pi)
    for n in range(5):
        for t in range(12):
            assert y[n, t, 0] == pytest.approx(np.sin(omega[n] * t + phi[n]), abs=1e-14)
    for bad in (0.05, 4.0):
        with pytest.raises(ValueError, match="sine_task: expected 0.1 < max_freq <= pi"):
            tasks.sine_task(2, 3, rng=0, max_freq=bad)


@pytest.mark.parametrize("delay", [0, 1, 3, 6])
def test_echo_task_is_a_delayed_copy(delay):
    x, y = tasks.echo_task(4, 7, delay, rng=2)
    assert x.shape == y.shape == (4, 7, 1)
    for t in range(7):
        expected = x[:, t - delay] if t >= delay else np.zeros((4, 1))
        np.testing.assert_array_equal(y[:, t], expected)


@pytest.mark.parametrize("delay", [-1, 7, 8, 1.5])
def test_echo_task_rejects_bad_delays(delay):
    with pytest.raises(ValueError, match=r"echo_task: expected 0 <= delay < length=7"):
        tasks.echo_task(2, 7, delay, rng=0)


@pytest.mark.parametrize("length", [2, 3, 10, 51])
def test_adding_problem_has_one_marker_in_each_half_and_sums_the_marked_values(length):
    x, y = tasks.adding_problem(200, length, rng=length)
    assert x.shape == (200, length, 2) and y.shape == (200, 1)
    assert x.dtype == y.dtype == np.float64
    values, marker = x[..., 0], x[..., 1]
    assert np.all((0 <= values) & (values < 1))
    assert set(np.unique(marker)) <= {0.0, 1.0}
    half = length // 2
    np.testing.assert_array_equal(marker[:, :half].sum(axis=1), 1.0)
    np.testing.assert_array_equal(marker[:, half:].sum(axis=1), 1.0)
    for n in range(200):
        i, j = np.flatnonzero(marker[n])
        assert y[n, 0] == values[n, i] + values[n, j]


def test_adding_problem_markers_cover_every_position():
    x, _ = tasks.adding_problem(2000, 10, rng=0)
    counts = x[..., 1].sum(axis=0)  # (T,)
    assert np.all(counts > 0.1 * 2000 / 5), "each position of a half is marked about 1/5 of the time"


def test_adding_problem_constant_baseline_is_one_sixth():
    _, y = tasks.adding_problem(200_000, 20, rng=0)
    assert abs(np.mean((y - 1.0) ** 2) - 1 / 6) < 0.01
    assert abs(np.var(y) - 1 / 6) < 0.01  # the best constant, the mean, does no better


def test_adding_problem_rejects_too_short_sequences():
    with pytest.raises(ValueError, match="adding_problem: expected length >= 2"):
        tasks.adding_problem(3, 1, rng=0)
    with pytest.raises(ValueError, match="adding_problem: expected length >= 1, got 0"):
        tasks.adding_problem(3, 0, rng=0)


@pytest.mark.parametrize("seq_len, delay, K", [(3, 4, 5), (1, 1, 2), (10, 20, 8)])
def test_copy_task_layout(seq_len, delay, K):
    x, y = tasks.copy_task(50, seq_len, delay, rng=0, n_symbols=K)
    T = 2 * seq_len + delay
    assert x.shape == (50, T, K + 2) and y.shape == (50, seq_len)
    assert x.dtype == np.float64 and y.dtype == np.int64
    assert set(np.unique(x)) <= {0.0, 1.0}
    np.testing.assert_array_equal(x.sum(axis=2), 1.0)  # one-hot at every step
    codes = x.argmax(axis=2)  # (N, T)
    np.testing.assert_array_equal(codes[:, :seq_len], y)
    assert np.all((0 <= y) & (y < K))
    go = seq_len + delay - 1
    np.testing.assert_array_equal(codes[:, seq_len:go], K)  # blanks while waiting
    np.testing.assert_array_equal(codes[:, go], K + 1)  # the cue
    np.testing.assert_array_equal(codes[:, go + 1 :], K)  # blanks while the model writes
    assert T - (go + 1) == seq_len, "the last seq_len steps are the scored ones"


def test_copy_task_symbols_are_uniform():
    _, y = tasks.copy_task(4000, 5, 3, rng=1, n_symbols=4)
    freq = np.bincount(y.ravel(), minlength=4) / y.size
    np.testing.assert_allclose(freq, 0.25, atol=0.02)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"seq_len": 0}, ValueError, "expected seq_len >= 1, got 0"),
        ({"delay": 0}, ValueError, "expected delay >= 1, got 0"),
        ({"n_symbols": 1}, ValueError, "expected n_symbols >= 2"),
        ({"n_symbols": 2.5}, TypeError, "expected n_symbols to be an int, got float 2.5"),
    ],
)
def test_copy_task_rejects_bad_sizes(kwargs, error, message):
    args = {"seq_len": 3, "delay": 2, "n_symbols": 4} | kwargs
    with pytest.raises(error, match="copy_task: " + message):
        tasks.copy_task(2, args["seq_len"], args["delay"], rng=0, n_symbols=args["n_symbols"])


# ---- chapter 7: variable-length tagging ------------------------------------------------------------

TAGGERS = ["peak_tagging", "between_tagging"]


def brute_force_label(name, v):
    """Label of every position of one unpadded sequence ``v``, by looping over its neighbours."""
    labels = []
    for t in range(len(v)):
        nbrs = [v[s] for s in (t - 1, t + 1) if 0 <= s < len(v)]
        if name == "peak_tagging":
            labels.append(int(all(v[t] > u for u in nbrs)))
        else:
            inner = 0 < t < len(v) - 1
            labels.append(int(inner and (v[t - 1] < v[t] < v[t + 1] or v[t - 1] > v[t] > v[t + 1])))
    return labels


@pytest.mark.parametrize("name", TAGGERS)
@pytest.mark.parametrize("lo, hi", [(2, 2), (2, 9), (5, 12)])
def test_tagging_shapes_padding_and_labels(name, lo, hi):
    x, y, lengths = getattr(tasks, name)(300, lo, hi, rng=7)
    assert x.shape == (300, hi, 1) and y.shape == (300, hi) and lengths.shape == (300,)
    assert x.dtype == np.float64 and y.dtype == np.int64 and lengths.dtype == np.int64
    assert np.all((lo <= lengths) & (lengths <= hi))
    for i in range(300):
        n_valid = lengths[i]
        v = x[i, :n_valid, 0]
        assert np.all((0 <= v) & (v < 1))
        assert y[i, :n_valid].tolist() == brute_force_label(name, v.tolist())
        np.testing.assert_array_equal(y[i, n_valid:], tasks.PAD_LABEL)
        np.testing.assert_array_equal(x[i, n_valid:], 0.0)


@pytest.mark.parametrize("name", TAGGERS)
def test_tagging_lengths_cover_the_range_uniformly(name):
    _, _, lengths = getattr(tasks, name)(6000, 3, 8, rng=0)
    counts = np.bincount(lengths, minlength=9)[3:]  # lengths 3 .. 8
    np.testing.assert_allclose(counts / 6000, 1 / 6, atol=0.02)


@pytest.mark.parametrize("name", TAGGERS)
def test_inner_positions_are_labelled_1_a_third_of_the_time(name):
    # peak: x[t] largest of three i.i.d. values; between: x[t] the middle one. Either has probability 1/3.
    _, y, lengths = getattr(tasks, name)(20000, 10, 10, rng=1)
    np.testing.assert_allclose(y[:, 1:-1].mean(), 1 / 3, atol=0.01)


def test_peak_tagging_a_causal_tagger_is_capped_at_seven_eighths():
    # the best rule that sees only x[t-1] and x[t] (Notes of peak_tagging)
    x, y, _ = tasks.peak_tagging(40000, 12, 12, rng=2)
    v = x[..., 0]  # (N, T)
    guess = (v[:, 1:-1] > v[:, :-2]) & (v[:, 1:-1] > 0.5)  # (N, T-2)
    assert abs((guess == y[:, 1:-1]).mean() - 7 / 8) < 0.005
    future = (v[:, 1:-1] > v[:, :-2]) & (v[:, 1:-1] > v[:, 2:])  # with x[t+1] the label is exact
    np.testing.assert_array_equal(future, y[:, 1:-1])


def test_the_two_taggers_label_the_same_sequences_for_the_same_seed():
    x_peak, y_peak, lengths_peak = tasks.peak_tagging(50, 3, 9, rng=7)
    x_between, y_between, lengths_between = tasks.between_tagging(50, 3, 9, rng=7)
    np.testing.assert_array_equal(x_peak, x_between)
    np.testing.assert_array_equal(lengths_peak, lengths_between)
    assert not np.array_equal(y_peak, y_between)


def test_between_tagging_caps_of_a_causal_and_of_a_sum_of_one_sided_scores():
    x, y, _ = tasks.between_tagging(40000, 12, 12, rng=3)
    v, target = x[:, 1:-1, 0], y[:, 1:-1]  # inner positions, (N, T-2)
    a, b = x[:, :-2, 0] < v, x[:, 2:, 0] < v  # what the past and the future say
    np.testing.assert_array_equal(a ^ b, target)
    causal = np.where(a, v < 0.5, v > 0.5)  # best guess of a ^ b when P(b) = x[t]
    assert abs((causal == target).mean() - 3 / 4) < 0.005
    three_of_four = np.where(
        v < 0.5, a | b, ~(a & b)
    )  # a linear threshold of a + b, wrong w.p. min(v, 1-v)^2
    assert abs((three_of_four == target).mean() - 11 / 12) < 0.005


@pytest.mark.parametrize("name", TAGGERS)
@pytest.mark.parametrize(
    "lo, hi, error, message",
    [
        (1, 5, ValueError, "expected 2 <= min_length <= max_length, got min_length=1, max_length=5"),
        (6, 5, ValueError, "expected 2 <= min_length <= max_length, got min_length=6, max_length=5"),
        (0, 5, ValueError, "expected min_length >= 1, got 0"),
        (2, 5.0, TypeError, "expected max_length to be an int, got float 5.0"),
    ],
)
def test_tagging_rejects_bad_lengths(name, lo, hi, error, message):
    with pytest.raises(error, match=f"{name}: {message}"):
        getattr(tasks, name)(4, lo, hi, rng=0)
