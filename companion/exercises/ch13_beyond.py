"""Self-checks for the exercises of chapter 13, *Beyond recurrence*: causal multi-head self-attention,
and a linear recurrence computed without a loop over time.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion.exercises.engine import Exercise, Mistake
from companion.exercises.inputs import label, make_cases
from companion.exercises.report import CheckPassed, ExerciseError  # noqa: F401 (the Examples use it)

__all__ = ["check_causal_self_attention", "check_linear_scan"]


def check_causal_self_attention(fn: Callable) -> CheckPassed:
    """Check the reader's causal multi-head self-attention (chapter 13 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(x, Wq, Wk, Wv, num_heads)`` with ``x`` of shape (N, T, E) and the projections
        ``Wq``, ``Wk``, ``Wv`` of shape (E, E) (numpy layout, ``x @ Wq``), returning ``y`` of shape
        (N, T, E): the heads' outputs side by side (head i in features i·d … (i+1)·d − 1), without an
        output projection.

    Returns
    -------
    CheckPassed
        When every case agrees with the reference.

    Raises
    ------
    ExerciseError
        Naming the fault: no causal mask or one the wrong way round, the wrong scale, or one head
        instead of ``num_heads``.

    Examples
    --------
    >>> try:
    ...     check_causal_self_attention(lambda x, Wq, Wk, Wv, num_heads: x @ Wv)
    ... except ExerciseError as error:
    ...     print(str(error)[:56])
    ✗ check_causal_self_attention: y differs from the refere
    """
    return _ATTENTION.check(fn)


def check_linear_scan(fn: Callable) -> CheckPassed:
    """Check the reader's linear recurrence computed for all steps at once (chapter 13 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(log_a, b, h0)`` with ``log_a`` and ``b`` of shape (N, T, H) and ``h0`` of shape (N, H),
        returning ``h`` of shape (N, T, H) with :math:`h_t = e^{\\log a_t} h_{t-1} + b_t`. The last case
        has T = 2000 and gates whose product is below 1e-300, and ``b`` has both signs.

    Returns
    -------
    CheckPassed
        When every case agrees with the sequential loop.

    Raises
    ------
    ExerciseError
        Naming the fault: NaN or inf from an underflowing product or from the log of a negative
        input, h0 left out, the output shifted by one step, or the gate applied to the input.

    Examples
    --------
    >>> def loop(log_a, b, h0):
    ...     h, out = h0, []
    ...     for t in range(b.shape[1]):
    ...         h = np.exp(log_a[:, t]) * h + b[:, t]
    ...         out.append(h)
    ...     return np.stack(out, axis=1)
    >>> check_linear_scan(loop)
    ✓ check_linear_scan: all checks passed (3 cases)
    """
    return _SCAN.check(fn)


# --------------------------------------------------------------------------------------------------
# Exercise 13.1: causal multi-head self-attention.


def _attention_cases() -> list[dict]:
    return make_cases(
        1301,
        "N T E num_heads",
        [(2, 5, 4, 2), (3, 7, 6, 3), (1, 9, 8, 1), (2, 6, 8, 4)],
        lambda rng, N, T, E, num_heads: {
            "x": rng.normal(size=(N, T, E)),
            **{W: rng.normal(scale=1.0 / np.sqrt(E), size=(E, E)) for W in ("Wq", "Wk", "Wv")},
            "num_heads": num_heads,
        },
    )


def _attention(c: dict, *, heads=None, scale=None, allowed=None) -> np.ndarray:
    """Multi-head self-attention of the case; ``allowed`` (T, T) True where query t may read key s."""
    x, h = c["x"], c["num_heads"] if heads is None else heads
    N, T, E = x.shape
    d = E // h

    def split(W):  # (N, T, E) -> (N, h, T, d)
        return (x @ W).reshape(N, T, h, d).transpose(0, 2, 1, 3)

    q, k, v = split(c["Wq"]), split(c["Wk"]), split(c["Wv"])
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d if scale is None else scale)  # (N, h, T, T)
    allowed = np.tril(np.ones((T, T), dtype=bool)) if allowed is None else allowed
    scores = np.where(allowed, scores, -np.inf)
    p = np.exp(scores - scores.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return (p @ v).transpose(0, 2, 1, 3).reshape(N, T, E)  # heads side by side


def _reference_attention(c: dict) -> dict:
    return {"y": _attention(c)}


_ATTENTION = Exercise(
    "check_causal_self_attention(x, Wq, Wk, Wv, num_heads) -> y (N, T, E)",
    cases=_attention_cases,
    reference=_reference_attention,
    equation="q, k, v = x @ Wq, x @ Wk, x @ Wv, each split into num_heads heads of d = E / num_heads "
    "features; in each head p = softmax(q k^T / sqrt(d)) over the keys s <= t; y = p v, heads "
    "concatenated in order.",
    mistakes=[
        Mistake(
            "Position t reads every position, its future too: set the scores of keys s > t to -inf "
            "before the softmax.",
            lambda c: {"y": _attention(c, allowed=np.ones((c["x"].shape[1],) * 2, dtype=bool))},
        ),
        Mistake(
            "The mask is the wrong way round: position t reads s >= t (the future) instead of s <= t.",
            lambda c: {"y": _attention(c, allowed=np.triu(np.ones((c["x"].shape[1],) * 2, dtype=bool)))},
        ),
        Mistake(
            "The scores are scaled by 1/sqrt(E); each head's dot product has d = E / num_heads terms, "
            "so scale by 1/sqrt(d).",
            lambda c: {"y": _attention(c, scale=c["x"].shape[2])} if c["num_heads"] > 1 else {},
        ),
        Mistake(
            "One head over all E features: split q, k and v into num_heads heads of d features and "
            "attend in each separately.",
            lambda c: (
                {"y": _attention(c, heads=1, scale=c["x"].shape[2] // c["num_heads"])}
                if c["num_heads"] > 1
                else {}
            ),
        ),
        Mistake(
            "The scores are not scaled: divide q k^T by sqrt(d).",
            lambda c: {"y": _attention(c, scale=1.0)},
        ),
    ],
)


# --------------------------------------------------------------------------------------------------
# Exercise 13.2: a linear recurrence without a loop over time.


def _scan_case(rng, N, T, H, low, high) -> dict:
    a = rng.uniform(low, high, size=(N, T, H))
    b = rng.normal(size=(N, T, H))  # both signs
    h0 = rng.normal(size=(N, H))
    shown = label(N=N, T=T, H=H, smallest_product=f"1e{np.log(a).sum(1).min() / np.log(10):.0f}")
    return {"log_a": np.log(a), "b": b, "h0": h0, "_label": shown}


def _scan_cases() -> list[dict]:
    rows = [(2, 6, 3, 0.1, 0.99), (3, 40, 2, 0.3, 0.99), (2, 2000, 2, 0.5, 0.8)]
    return make_cases(1302, "N T H low high", rows, _scan_case)


def _loop(log_a, b, h0, *, inner=False) -> np.ndarray:
    a, h, states = np.exp(log_a), h0, []
    for t in range(b.shape[1]):
        h = a[:, t] * (h + b[:, t]) if inner else a[:, t] * h + b[:, t]
        states.append(h)
    return np.stack(states, axis=1)


def _reference_scan(c: dict) -> dict:
    return {"h": _loop(c["log_a"], c["b"], c["h0"])}


def _exclusive(c: dict) -> dict:
    h = _loop(c["log_a"], c["b"], c["h0"])
    return {"h": np.concatenate([c["h0"][:, None], h[:, :-1]], axis=1)}


_UNDERFLOW = (
    "The product of the gates underflows to 0 over a long sequence, and dividing by it gives inf or "
    "NaN: sum the terms in log space (log-sum-exp of log b_s - sum of log a), or never divide."
)
_NEGATIVE_LOG = (
    "log(b) of a negative b is NaN: split b into its positive and negative parts and sum each in log space."
)


def _scan_nonfinite_cause(c: dict, got: dict) -> str:
    underflows = np.exp(c["log_a"].sum(axis=1)).min() < np.finfo(np.float64).tiny
    return _UNDERFLOW if underflows else _NEGATIVE_LOG


_SCAN = Exercise(
    "check_linear_scan(log_a, b, h0) -> h (N, T, H)",
    cases=_scan_cases,
    explain_nonfinite=_scan_nonfinite_cause,
    quiet=True,
    reference=_reference_scan,
    equation="h[:, t] = exp(log_a[:, t]) * h[:, t-1] + b[:, t] for t = 0, ..., T-1, "
    "starting from h[:, -1] = h0.",
    mistakes=[
        Mistake(
            "h0 is left out: the first state is a_1 h0 + b_1, and h0's weight decays along the sequence.",
            lambda c: {"h": _loop(c["log_a"], c["b"], np.zeros_like(c["h0"]))},
        ),
        Mistake(
            "The output is shifted by one step (the state before each input, an exclusive scan); return "
            "h_1, ..., h_T.",
            _exclusive,
        ),
        Mistake(
            "The gate multiplies the input too, h_t = a_t (h_{t-1} + b_t); only the old state decays: "
            "h_t = a_t h_{t-1} + b_t.",
            lambda c: {"h": _loop(c["log_a"], c["b"], c["h0"], inner=True)},
        ),
    ],
)
