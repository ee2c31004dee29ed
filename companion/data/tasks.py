"""Synthetic sequence tasks, generated in memory from an explicit seed (chapter 1 onwards).

Every generator takes ``rng`` (an int seed or a ``numpy.random.Generator``) and returns float64
numpy arrays, batch first: inputs ``x`` of shape (N, T, D) and targets whose shape says which kind
of problem it is (many-to-one, one-to-many, many-to-many).
"""

from __future__ import annotations

import numpy as np

from companion._checks import as_rng

__all__ = ["sum_task", "sine_task", "echo_task"]


def _check_sizes(where: str, **sizes: int) -> None:
    for name, value in sizes.items():
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{where}: expected {name} to be a positive int, got {value!r}")


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
        Output length T.
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
        Sequence length T.
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
