"""Synthetic sequence tasks, generated in memory from an explicit seed (chapter 1 onwards).

Every generator takes ``rng`` (an int seed or a ``numpy.random.Generator``) and returns float64
numpy arrays, batch first: inputs ``x`` of shape (N, T, D) and targets whose shape says which kind
of problem it is (many-to-one, one-to-many, many-to-many).
"""

from __future__ import annotations

import numpy as np

from companion._validate import as_rng, positive_int

__all__ = [
    "sum_task",
    "sine_task",
    "echo_task",
    "adding_problem",
    "copy_task",
    "PAD_LABEL",
    "peak_tagging",
    "between_tagging",
]

PAD_LABEL = -1
"""Label at the padded positions of the variable-length tagging tasks (``ignore_index`` of the loss)."""


def _check_sizes(where: str, **sizes: int) -> None:
    for name, value in sizes.items():
        positive_int(where, name, value)


def sum_task(n: int, length: int, *, rng):
    """Many-to-one: read a sequence of numbers, output their sum.

    Parameters
    ----------
    n : int
        Number of sequences N.
    length : int
        Sequence length T.
    rng : int or numpy.random.Generator
        Seed or generator.

    Returns
    -------
    x : ndarray of shape (N, T, 1)
        Values drawn uniformly from [-1, 1].
    y : ndarray of shape (N, 1)
        ``x.sum(axis=1)``.

    Examples
    --------
    >>> x, y = sum_task(4, 10, rng=0)
    >>> x.shape, y.shape
    ((4, 10, 1), (4, 1))
    """
    _check_sizes("sum_task", n=n, length=length)
    x = as_rng(rng).uniform(-1.0, 1.0, size=(n, length, 1))  # (N, T, 1)
    return x, x.sum(axis=1)  # (N, 1)


def sine_task(n: int, length: int, *, rng, max_freq: float = 0.5):
    """One-to-many: from one input vector (frequency, phase), output a whole sine wave.

    Parameters
    ----------
    n : int
        Number of sequences N.
    length : int
        Length T of the output sequence (the input has no time axis).
    rng : int or numpy.random.Generator
        Seed or generator.
    max_freq : float, default 0.5
        Angular frequencies are drawn uniformly from [0.1, max_freq] radians per step.

    Returns
    -------
    x : ndarray of shape (N, 2)
        ``(omega, phi)`` for each sequence: one input, no time axis.
    y : ndarray of shape (N, T, 1)
        ``sin(omega * t + phi)`` for ``t = 0, ..., T-1``.
    """
    _check_sizes("sine_task", n=n, length=length)
    if not 0.1 < max_freq <= np.pi:
        raise ValueError(f"sine_task: expected 0.1 < max_freq <= pi, got {max_freq}")
    gen = as_rng(rng)
    omega = gen.uniform(0.1, max_freq, size=n)  # (N,)
    phi = gen.uniform(-np.pi, np.pi, size=n)  # (N,)
    t = np.arange(length)  # (T,)
    y = np.sin(omega[:, None] * t + phi[:, None])[:, :, None]  # (N, T, 1)
    return np.stack([omega, phi], axis=1), y


def echo_task(n: int, length: int, delay: int, *, rng):
    """Many-to-many: output at step t the input seen ``delay`` steps earlier.

    Parameters
    ----------
    n : int
        Number of sequences N.
    length : int
        Sequence length T of the inputs and of the targets.
    delay : int
        How far back the target lies; ``y[:, t] = x[:, t - delay]``, and 0 for ``t < delay``.
    rng : int or numpy.random.Generator
        Seed or generator.

    Returns
    -------
    x : ndarray of shape (N, T, 1)
        Standard normal values.
    y : ndarray of shape (N, T, 1)
        ``x`` delayed by ``delay`` steps.
    """
    _check_sizes("echo_task", n=n, length=length)
    if not isinstance(delay, (int, np.integer)) or not 0 <= delay < length:
        raise ValueError(f"echo_task: expected 0 <= delay < length={length}, got {delay!r}")
    x = as_rng(rng).standard_normal(size=(n, length, 1))  # (N, T, 1)
    y = np.zeros_like(x)
    y[:, delay:] = x[:, : length - delay]
    return x, y


def adding_problem(n: int, length: int, *, rng):
    """Many-to-one, long range: add the two numbers that carry a marker.

    The adding problem of Hochreiter & Schmidhuber (1997) in the form used by Le et al. (2015): every
    step shows a value and a marker; exactly two steps are marked, one in each half of the sequence,
    and the target is the sum of the two marked values. Everything between the marks is distraction,
    so a model must carry the first value across up to ``length - 1`` steps.

    Parameters
    ----------
    n : int
        Number of sequences N.
    length : int
        Sequence length T, at least 2. The first marker lies in steps ``0 .. T//2 - 1``, the second in
        ``T//2 .. T-1``, both uniformly.
    rng : int or numpy.random.Generator
        Seed or generator.

    Returns
    -------
    x : ndarray of shape (N, T, 2)
        ``x[..., 0]``: values drawn uniformly from [0, 1); ``x[..., 1]``: the marker, 1.0 at the two
        marked steps and 0.0 elsewhere.
    y : ndarray of shape (N, 1)
        ``(x[..., 0] * x[..., 1]).sum(axis=1)``, a number in [0, 2).

    Raises
    ------
    TypeError
        If ``n`` or ``length`` is not an int.
    ValueError
        If ``n < 1`` or ``length < 2``.

    Notes
    -----
    The best constant prediction is :math:`E[y] = 1` and its mean squared error is
    :math:`\\mathrm{Var}(u_1 + u_2) = 2 \\cdot \\frac{1}{12} = \\frac{1}{6} \\approx 0.167`: a model
    whose error stays there has learned nothing about the marked values.

    Examples
    --------
    >>> x, y = adding_problem(3, 10, rng=0)
    >>> x.shape, y.shape, x[..., 1].sum(axis=1).tolist()
    ((3, 10, 2), (3, 1), [2.0, 2.0, 2.0])
    >>> import torch
    >>> xt, yt = torch.from_numpy(x).float(), torch.from_numpy(y).float()  # (N, T, 2), (N, 1)
    """
    _check_sizes("adding_problem", n=n, length=length)
    if length < 2:
        raise ValueError(f"adding_problem: expected length >= 2 (one marker per half), got {length}")
    gen = as_rng(rng)
    half = length // 2
    values = gen.uniform(0.0, 1.0, size=(n, length))  # (N, T)
    first = gen.integers(0, half, size=n)  # (N,)
    second = gen.integers(half, length, size=n)  # (N,)
    marker = np.zeros((n, length))  # (N, T)
    rows = np.arange(n)
    marker[rows, first] = 1.0
    marker[rows, second] = 1.0
    x = np.stack([values, marker], axis=2)  # (N, T, 2)
    y = (values[rows, first] + values[rows, second])[:, None]  # (N, 1)
    return x, y


def copy_task(n: int, seq_len: int, delay: int, *, rng, n_symbols: int = 8):
    """Many-to-many, long range: read a sequence of symbols, wait, then write it out again.

    The copy (memory) task of Hochreiter & Schmidhuber (1997) in the form of Arjovsky et al. (2016).
    A sequence has ``T = seq_len + delay + seq_len`` steps:

    * steps ``0 .. S-1`` show the S symbols to remember (S = ``seq_len``), drawn uniformly from
      ``0 .. K-1`` (K = ``n_symbols``);
    * steps ``S .. S+delay-2`` show the blank symbol ``K``;
    * step ``S+delay-1`` shows the go symbol ``K+1``, the cue to start writing;
    * steps ``S+delay .. T-1`` show blanks again, and at these last S steps the model must output the
      S symbols in their original order.

    Only the last S steps are scored: ``y`` holds their targets, so with ``logits`` of shape
    (N, T, K) the loss is ``cross_entropy(logits[:, -S:].reshape(-1, K), y.reshape(-1))``.

    Parameters
    ----------
    n : int
        Number of sequences N.
    seq_len : int
        Number of symbols to copy S.
    delay : int
        Number of steps between the symbols and the outputs, at least 1: ``delay - 1`` blanks and
        then the go symbol at step ``S+delay-1`` (``delay=1``: the go symbol follows the symbols).
    rng : int or numpy.random.Generator
        Seed or generator.
    n_symbols : int, default 8
        Alphabet size K of the symbols to copy (at least 2). Inputs have K + 2 channels.

    Returns
    -------
    x : ndarray of shape (N, T, K + 2)
        One-hot inputs, float64: channels ``0 .. K-1`` the symbols, ``K`` blank, ``K+1`` go.
    y : ndarray of shape (N, S)
        int64 class indices in ``0 .. K-1``: the symbols of steps ``0 .. S-1``, to be output at steps
        ``T-S .. T-1``.

    Raises
    ------
    TypeError
        If a size is not an int.
    ValueError
        If ``n``, ``seq_len`` or ``delay`` is below 1, or ``n_symbols < 2``.

    Notes
    -----
    A model that remembers nothing can do no better than guessing: cross-entropy
    :math:`\\log K` per scored step and accuracy :math:`1/K`.

    Examples
    --------
    >>> x, y = copy_task(2, seq_len=3, delay=4, rng=0, n_symbols=5)
    >>> x.shape, y.shape, y.dtype
    ((2, 10, 7), (2, 3), dtype('int64'))
    >>> x[0].argmax(axis=1)[:3].tolist() == y[0].tolist()
    True
    >>> import torch
    >>> xt, yt = torch.from_numpy(x).float(), torch.from_numpy(y)  # (N, T, K+2) float32, (N, S) int64
    """
    _check_sizes("copy_task", n=n, seq_len=seq_len, delay=delay, n_symbols=n_symbols)
    if n_symbols < 2:
        raise ValueError(f"copy_task: expected n_symbols >= 2, got {n_symbols}")
    length = 2 * seq_len + delay
    symbols = as_rng(rng).integers(0, n_symbols, size=(n, seq_len))  # (N, S)
    codes = np.full((n, length), n_symbols, dtype=np.int64)  # (N, T) blank everywhere
    codes[:, :seq_len] = symbols
    codes[:, seq_len + delay - 1] = n_symbols + 1  # the go symbol
    x = np.eye(n_symbols + 2)[codes]  # (N, T, K + 2)
    return x, symbols.astype(np.int64)


def _neighbour_task(where: str, n: int, min_length: int, max_length: int, rng):
    """Variable-length sequences of uniform values, padded, with their left and right neighbours."""
    _check_sizes(where, n=n, min_length=min_length, max_length=max_length)
    if not 2 <= min_length <= max_length:
        raise ValueError(
            f"{where}: expected 2 <= min_length <= max_length, got min_length={min_length}, "
            f"max_length={max_length}"
        )
    gen = as_rng(rng)
    lengths = gen.integers(min_length, max_length + 1, size=n).astype(np.int64)  # (N,)
    valid = np.arange(max_length)[None, :] < lengths[:, None]  # (N, T)
    values = np.where(valid, gen.uniform(0.0, 1.0, size=(n, max_length)), 0.0)  # (N, T)
    left = np.full_like(values, np.nan)  # (N, T) nan where there is no neighbour
    left[:, 1:] = values[:, :-1]
    right = np.where(
        np.arange(max_length)[None, :] < lengths[:, None] - 1, np.roll(values, -1, axis=1), np.nan
    )
    return values, left, right, valid, lengths


def peak_tagging(n: int, min_length: int, max_length: int, *, rng):
    """Many-to-many tagging: mark every value that is larger than its neighbours (a local peak).

    Each sequence has its own length L, drawn uniformly from ``min_length .. max_length``, and holds
    L values drawn uniformly from [0, 1). The label of position t is 1 if ``x[t]`` is larger than each
    neighbour it has (``x[t-1]`` and ``x[t+1]``; the first and last values have only one), else 0.
    Sequences are padded to ``max_length``: inputs with 0.0, labels with :data:`PAD_LABEL`.

    Parameters
    ----------
    n : int
        Number of sequences N.
    min_length, max_length : int
        Range of the lengths, ``2 <= min_length <= max_length``; ``T = max_length``.
    rng : int or numpy.random.Generator
        Seed or generator.

    Returns
    -------
    x : ndarray of shape (N, T, 1)
        float64 values, 0.0 at padded positions.
    y : ndarray of shape (N, T)
        int64 labels in {0, 1}, ``PAD_LABEL`` (-1) at padded positions ``t >= lengths[i]``.
    lengths : ndarray of shape (N,)
        int64 true lengths.

    Raises
    ------
    TypeError
        If a size is not an int.
    ValueError
        If ``n < 1`` or not ``2 <= min_length <= max_length``.

    Notes
    -----
    The label at t depends on the value that comes next, which a tagger reading left to right has not
    seen when it must answer. Knowing :math:`x_{t-1}` and :math:`x_t` only, it can be sure of a 0
    when :math:`x_t < x_{t-1}`; otherwise :math:`x_t` is a peak with probability
    :math:`P(x_{t+1} < x_t) = x_t`, and the best guess is 1 when :math:`x_t > 1/2`. Its error at an
    inner position is :math:`\\int_0^1 u \\min(u, 1-u)\\,du = 1/8`: no causal tagger beats 7/8
    accuracy there, while a bidirectional one, which also reads :math:`x_{t+1}`, can reach 1.

    Examples
    --------
    >>> x, y, lengths = peak_tagging(2, 3, 6, rng=0)
    >>> x.shape, y.shape, lengths.dtype
    ((2, 6, 1), (2, 6), dtype('int64'))
    >>> bool(np.all(y[0, lengths[0]:] == PAD_LABEL))
    True
    """
    values, left, right, valid, lengths = _neighbour_task("peak_tagging", n, min_length, max_length, rng)
    with np.errstate(invalid="ignore"):  # nan neighbours compare False: no neighbour, no constraint
        peak = ~(left >= values) & ~(right >= values)  # (N, T)
    y = np.where(valid, peak, PAD_LABEL).astype(np.int64)  # (N, T)
    return values[:, :, None], y, lengths  # (N, T, 1)


def between_tagging(n: int, min_length: int, max_length: int, *, rng):
    """Many-to-many tagging: mark every value that lies strictly between its two neighbours.

    Sequences as in :func:`peak_tagging`. The label of position t is 1 if
    ``x[t-1] < x[t] < x[t+1]`` or ``x[t-1] > x[t] > x[t+1]`` (the sequence passes through x[t]
    without turning), else 0; the first and last values, with one neighbour only, are labelled 0.

    Parameters
    ----------
    n, min_length, max_length : int
        As in :func:`peak_tagging`.
    rng : int or numpy.random.Generator
        Seed or generator: the same seed draws the same sequences as :func:`peak_tagging`, so the
        two labellings of one set of sequences can be compared.

    Returns
    -------
    x : ndarray of shape (N, T, 1)
        float64 values, 0.0 at padded positions; those of :func:`peak_tagging` for the same arguments.
    y : ndarray of shape (N, T)
        int64 labels in {0, 1}, ``PAD_LABEL`` (-1) at padded positions.
    lengths : ndarray of shape (N,)
        int64 true lengths, as in :func:`peak_tagging`.

    Raises
    ------
    TypeError, ValueError
        As in :func:`peak_tagging`.

    Notes
    -----
    With :math:`a = [x_{t-1} < x_t]` (known from the past) and :math:`b = [x_{t+1} < x_t]` (known
    from the future), the label is :math:`a \\oplus b`. A single bidirectional layer with a linear
    read-out scores :math:`f(\\text{past}, x_t) + g(\\text{future}, x_t)` and no such sum expresses
    an exclusive or; it can at best get three of the four cases right, which costs
    :math:`\\min(x_t, 1-x_t)^2` and caps its accuracy at inner positions at 11/12. A second layer
    reads both directions of the first at once and can combine them. A causal tagger, which never
    sees :math:`b`, is capped at 3/4.
    """
    values, left, right, valid, lengths = _neighbour_task("between_tagging", n, min_length, max_length, rng)
    with np.errstate(invalid="ignore"):  # nan neighbours compare False: ends are labelled 0
        rising = (left < values) & (values < right)  # (N, T)
        falling = (left > values) & (values > right)  # (N, T)
    y = np.where(valid, rising | falling, PAD_LABEL).astype(np.int64)  # (N, T)
    return values[:, :, None], y, lengths  # (N, T, 1)
