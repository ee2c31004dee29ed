"""Self-checks for the exercises of chapter 9, *Language models*: bits per character and perplexity
from a model's predictions, and the distribution that sampling with a temperature and top-k draws from.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from companion.exercises.engine import Exercise, Mistake
from companion.exercises.inputs import label, make_cases, softmax
from companion.exercises.report import CheckPassed

__all__ = ["check_bits_and_perplexity", "check_sampling_distribution"]


def check_bits_and_perplexity(fn: Callable) -> CheckPassed:
    """Check the reader's bits per character and perplexity of a model's predictions (chapter 9 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(probs, targets)`` with ``probs`` of shape (T, V), row t the model's distribution of the
        token at step t, and ``targets`` of shape (T,), the ids that actually came. It returns
        ``bits``, the mean of ``-log2 probs[t, targets[t]]``, and ``perplexity``, ``2 ** bits``
        (two floats).

    Returns
    -------
    CheckPassed
        When every case agrees with the definitions.

    Raises
    ------
    ExerciseError
        Naming the fault: nats for bits, ``2 ** nats``, an arithmetic mean of ``1 / p``, a sum for a
        mean, or the wrong probabilities scored.

    See Also
    --------
    companion.lm.charlm.bits, companion.lm.charlm.perplexity : the same from negative log-likelihoods.

    Examples
    --------
    >>> def measure(probs, targets):
    ...     nll = -np.log2(probs[np.arange(len(targets)), targets])
    ...     return nll.mean(), 2 ** nll.mean()
    >>> check_bits_and_perplexity(measure)
    ✓ check_bits_and_perplexity: all checks passed (3 cases)
    """
    return _BITS.check(fn)


def check_sampling_distribution(fn: Callable) -> CheckPassed:
    """Check the reader's next-token distribution for sampling with temperature and top-k (chapter 9).

    Parameters
    ----------
    fn : callable
        ``fn(logits, temperature, top_k)`` with ``logits`` of shape (N, V), one row of unnormalised
        log-probabilities per example, a ``temperature`` > 0 and ``top_k`` (an int, or None for no
        cut). It returns ``p`` of shape (N, V): ``softmax(logits / temperature)`` restricted to each
        row's ``top_k`` largest logits and renormalised, 0 elsewhere.

    Returns
    -------
    CheckPassed
        When every case agrees with the distribution :func:`companion.lm.charlm.sample` draws from.

    Raises
    ------
    ExerciseError
        Naming the fault: logits multiplied by the temperature, the temperature applied to
        probabilities, a top-k cut not renormalised, the k smallest kept, top_k ignored, or the wrong
        axis.

    Examples
    --------
    >>> def distribution(logits, temperature, top_k):
    ...     z = logits / temperature
    ...     if top_k is not None:
    ...         z = np.where(z >= np.sort(z, axis=1)[:, [-top_k]], z, -np.inf)
    ...     e = np.exp(z - z.max(axis=1, keepdims=True))
    ...     return e / e.sum(axis=1, keepdims=True)
    >>> check_sampling_distribution(distribution)
    ✓ check_sampling_distribution: all checks passed (4 cases)
    """
    return _SAMPLING.check(fn)


# --------------------------------------------------------------------------------------------------
# Exercise 9.1: bits per character and perplexity.


def _bits_case(rng, T, V, concentration) -> dict:
    probs = rng.dirichlet(np.full(V, concentration), size=T)  # (T, V): each row sums to 1
    probs = np.maximum(probs, 1e-3)
    probs /= probs.sum(axis=1, keepdims=True)
    targets = rng.integers(0, V, size=T)  # (T,)
    targets[0] = int(np.argmin(probs[0]))  # the most likely token is not always the target
    return {"probs": probs, "targets": targets, "_label": label(T=T, V=V)}


def _bits_cases() -> list[dict]:
    return make_cases(901, "T V concentration", [(6, 4, 1.0), (20, 7, 0.3), (50, 12, 3.0)], _bits_case)


def _target_probs(c: dict) -> np.ndarray:
    return c["probs"][np.arange(len(c["targets"])), c["targets"]]  # (T,)


def _reference_bits(c: dict) -> dict:
    nats = -np.log(_target_probs(c)).mean()
    return {"bits": np.asarray(nats / math.log(2)), "perplexity": np.asarray(math.exp(nats))}


_BITS = Exercise(
    "check_bits_and_perplexity(probs, targets) -> bits (), perplexity ()",
    cases=_bits_cases,
    reference=_reference_bits,
    equation="bits = -(1/T) sum_t log2 probs[t, targets[t]]; perplexity = 2 ** bits = exp(mean nats).",
    mistakes=[
        Mistake(
            "bits is the mean negative log-likelihood in nats (natural log): divide it by ln 2.",
            lambda c: {"bits": -np.log(_target_probs(c)).mean()},
        ),
        Mistake(
            "perplexity is 2 to the power of the mean in nats: use exp of nats, or 2 of bits.",
            lambda c: {"perplexity": 2.0 ** (-np.log(_target_probs(c)).mean())},
        ),
        Mistake(
            "perplexity is the mean of 1 / p over the tokens (an arithmetic mean); it is the geometric "
            "mean of 1 / p, the exponential of the mean negative log-likelihood.",
            lambda c: {"perplexity": (1.0 / _target_probs(c)).mean()},
        ),
        Mistake(
            "The negative log-likelihoods are summed over the tokens, not averaged: bits per character "
            "is a mean.",
            lambda c: {
                "bits": -np.log2(_target_probs(c)).sum(),
                "perplexity": 2.0 ** -np.log2(_target_probs(c)).sum(),
            },
        ),
        Mistake(
            "The probability of each row's most likely token is scored, not the probability of the "
            "token that actually came next (probs[t, targets[t]]).",
            lambda c: {
                "bits": -np.log2(c["probs"].max(axis=1)).mean(),
                "perplexity": 2.0 ** -np.log2(c["probs"].max(axis=1)).mean(),
            },
        ),
        Mistake(
            "Every entry of probs is scored (the entropy-like mean over the whole table), not the "
            "probability of the token that came next.",
            lambda c: {
                "bits": -np.log2(c["probs"]).mean(),
                "perplexity": 2.0 ** -np.log2(c["probs"]).mean(),
            },
        ),
    ],
)


# --------------------------------------------------------------------------------------------------
# Exercise 9.2: the distribution that temperature and top-k sampling draw from.


def _sampling_cases() -> list[dict]:
    return make_cases(
        902,
        "N V temperature top_k",
        [(2, 5, 1.0, None), (3, 8, 0.5, 3), (3, 10, 2.0, 4), (2, 6, 0.8, None)],
        lambda rng, N, V, temperature, top_k: {
            "logits": rng.normal(scale=2.0, size=(N, V)),  # (N, V)
            "temperature": temperature,
            "top_k": top_k,
        },
    )


def _keep_top(logits: np.ndarray, top_k: int | None) -> np.ndarray:
    """The logits with all but each row's ``top_k`` largest set to -inf (ties with the k-th kept)."""
    if top_k is None or top_k >= logits.shape[-1]:
        return logits
    kth = np.sort(logits, axis=-1)[:, -top_k][:, None]  # (N, 1): the k-th largest of each row
    return np.where(logits >= kth, logits, -np.inf)


def _reference_sampling(c: dict) -> dict:
    return {"p": softmax(_keep_top(c["logits"], c["top_k"]) / c["temperature"])}


def _top_k_unnormalised(c: dict) -> dict:
    p = softmax(c["logits"] / c["temperature"])
    return {"p": np.where(np.isfinite(_keep_top(c["logits"], c["top_k"])), p, 0.0)}


def _bottom_k(c: dict) -> dict:
    if c["top_k"] is None:
        return {}
    kth = np.sort(c["logits"], axis=-1)[:, c["top_k"] - 1][:, None]  # (N, 1): the k-th smallest
    return {"p": softmax(np.where(c["logits"] <= kth, c["logits"], -np.inf) / c["temperature"])}


def _wrong_axis(c: dict) -> dict:
    with np.errstate(invalid="ignore"):  # a column of -inf gives NaN, as the mistake itself would
        return {"p": softmax((_keep_top(c["logits"], c["top_k"]) / c["temperature"]).T).T}


_SAMPLING = Exercise(
    "check_sampling_distribution(logits, temperature, top_k) -> p (N, V)",
    cases=_sampling_cases,
    reference=_reference_sampling,
    equation="p = softmax(z / temperature) over each row's top_k largest logits z (all of them when "
    "top_k is None), 0 elsewhere.",
    mistakes=[
        Mistake(
            "The logits are multiplied by the temperature; they are divided by it (a low temperature "
            "sharpens the distribution).",
            lambda c: {"p": softmax(_keep_top(c["logits"], c["top_k"]) * c["temperature"])},
        ),
        Mistake(
            "The temperature divides the probabilities, not the logits; a constant factor on "
            "probabilities changes nothing after normalising.",
            lambda c: {"p": softmax(_keep_top(c["logits"], c["top_k"]))} if c["temperature"] != 1 else {},
        ),
        Mistake(
            "The probabilities outside the top k are set to 0 but the rest are not renormalised: each "
            "row must sum to 1.",
            _top_k_unnormalised,
        ),
        Mistake("The k smallest logits are kept instead of the k largest.", _bottom_k),
        Mistake(
            "top_k is ignored: only the k most probable tokens may be drawn.",
            lambda c: {"p": softmax(c["logits"] / c["temperature"])} if c["top_k"] is not None else {},
        ),
        Mistake(
            "The softmax is taken over the wrong axis (the batch, axis 0); normalise each row over its "
            "V tokens.",
            _wrong_axis,
        ),
    ],
)
