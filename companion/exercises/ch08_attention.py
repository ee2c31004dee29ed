"""Self-checks for the exercises of chapter 8, *Attention and sequence-to-sequence*: a softmax over
the unmasked keys only, and one step of beam search.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion.exercises.engine import Exercise, Mistake
from companion.exercises.inputs import label, make_cases, ref, softmax
from companion.exercises.report import CheckPassed

__all__ = ["check_masked_softmax", "check_beam_step"]


def check_masked_softmax(fn: Callable) -> CheckPassed:
    """Check the reader's softmax over the unmasked entries of each row (chapter 8 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(scores, mask)`` with ``scores`` of shape (N, T) (arbitrary, even huge, where masked) and a
        boolean ``mask`` of shape (N, T) (True = attend), returning ``p`` of shape (N, T): each row
        sums to 1 over its unmasked entries, masked entries are exactly 0, and a row with no unmasked
        entry is all zeros.

    Returns
    -------
    CheckPassed
        When every case agrees with :func:`companion.ref.attention.masked_softmax`.

    Raises
    ------
    ExerciseError
        Naming the fault: the mask ignored, applied after the softmax or as a zero score; a fully
        masked row given equal weights or NaN; the wrong axis; or an ``exp`` that overflows.

    Examples
    --------
    >>> from companion.ref.attention import masked_softmax
    >>> check_masked_softmax(masked_softmax)
    ✓ check_masked_softmax: all checks passed (3 cases)
    """
    return _MASKED_SOFTMAX.check(fn)


def check_beam_step(fn: Callable) -> CheckPassed:
    """Check the reader's single step of beam search for one example (chapter 8 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(log_prob, log_probs, beam_size)`` with ``log_prob`` of shape (k,), the log-probabilities of
        the k hypotheses kept so far (``-inf`` for a slot not yet filled, as at the first step),
        ``log_probs`` of shape (k, V), each hypothesis's next-token log-probabilities, and the number
        ``beam_size`` of hypotheses to keep. It returns, best first, ``log_prob`` of shape
        (beam_size,), the log-probabilities of the kept extensions, ``beams`` (beam_size,), which
        hypothesis each extends, and ``tokens`` (beam_size,), the token it appends.

    Returns
    -------
    CheckPassed
        When every case keeps the best ``beam_size`` of the k·V extensions, in order.

    Raises
    ------
    ExerciseError
        Naming the fault: each hypothesis extended only by its own best token, candidates ranked by
        the new token alone, the order reversed, or the flat index split the wrong way.

    See Also
    --------
    companion.nn.search.beam_search : the whole search, for a batch of examples.

    Examples
    --------
    >>> def step(log_prob, log_probs, beam_size):
    ...     candidates = (log_prob[:, None] + log_probs).ravel()
    ...     flat = np.argsort(-candidates)[:beam_size]
    ...     return candidates[flat], flat // log_probs.shape[1], flat % log_probs.shape[1]
    >>> check_beam_step(step)
    ✓ check_beam_step: all checks passed (4 cases)
    """
    return _BEAM_STEP.check(fn)


# --------------------------------------------------------------------------------------------------
# Exercise 8.1: the masked softmax.


def _masked_softmax_case(rng, N, T, scale, shift, empty) -> dict:
    scores = rng.normal(loc=shift, scale=scale, size=(N, T))  # (N, T); exp overflows above ~709
    mask = rng.random((N, T)) < 0.6  # (N, T): True = attend
    mask[:, 1], mask[0, 2] = True, False  # every row keeps a key, and row 0 leaves one out
    if empty:
        mask[2] = False  # a row with no key at all
    scores = np.where(mask, scores, shift + 20.0 * scale)  # masked entries large: they must not count
    shown = label(N=N, T=T, scores=f"{shift:g} ± {scale:g}", empty_row=empty)
    return {"scores": scores, "mask": mask, "_label": shown}


def _reference_softmax(c: dict) -> dict:
    return {"p": ref("attention").masked_softmax(c["scores"], c["mask"])}


def _empty_rows(c: dict) -> np.ndarray:
    return ~c["mask"].any(axis=1, keepdims=True)  # (N, 1)


def _unstable(c: dict) -> dict:
    """exp without subtracting the largest score: inf / inf once a score passes about 709."""
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.where(c["mask"], np.exp(c["scores"]), 0.0)
        total = e.sum(axis=1, keepdims=True)
        return {"p": np.where(_empty_rows(c), 0.0, e / np.where(total == 0, 1.0, total))}


def _nonfinite_cause(c: dict, got: dict) -> str | None:
    bad = ~np.all(np.isfinite(got["p"]), axis=1, keepdims=True)  # (N, 1): rows with NaN or inf
    if np.all(_empty_rows(c)[bad]):
        return _EMPTY_ROW_NAN
    return _OVERFLOW if np.abs(c["scores"][c["mask"]]).max() > 700 else None


_EMPTY_ROW_NAN = (
    "A row whose keys are all masked gives NaN (0/0, or -inf minus -inf): it has nothing to attend to, "
    "so its weights are defined as all zeros; treat such rows apart."
)
_OVERFLOW = (
    "exp overflows for large scores (inf/inf = NaN): subtract each row's largest unmasked score before "
    "exp; the softmax does not change."
)

_MASKED_SOFTMAX = Exercise(
    "check_masked_softmax(scores, mask) -> p (N, T)",
    cases=lambda: make_cases(
        801,
        "N T scale shift empty",
        [(3, 5, 1.0, 0.0, False), (4, 6, 3.0, 0.0, True), (2, 7, 100.0, 800.0, False)],
        _masked_softmax_case,
    ),
    explain_nonfinite=_nonfinite_cause,
    reference=_reference_softmax,
    equation="p[n, j] = mask[n, j] * exp(s[n, j] - m_n) / sum_l mask[n, l] * exp(s[n, l] - m_n), with "
    "m_n the row's largest unmasked score; a row with no unmasked entry is all zeros.",
    mistakes=[
        Mistake("The mask is ignored: masked keys get weight too.", lambda c: {"p": softmax(c["scores"])}),
        Mistake(
            "The mask is applied after the softmax, so the weights of each row no longer sum to 1: mask the "
            "scores (to -inf) before normalising.",
            lambda c: {"p": softmax(c["scores"]) * c["mask"]},
        ),
        Mistake(
            "Masked scores are set to 0, and exp(0) = 1 still gives them weight: set them to -inf.",
            lambda c: {"p": softmax(np.where(c["mask"], c["scores"], 0.0))},
        ),
        Mistake(
            "A row whose keys are all masked gets equal weights 1/T (what a large negative fill such as "
            "-1e9 gives); it must be all zeros, since no key may be read.",
            lambda c: {"p": np.where(_empty_rows(c), 1.0 / c["mask"].shape[1], _reference_softmax(c)["p"])},
        ),
        Mistake(
            "The softmax is taken over the wrong axis (the batch, axis 0); normalise each row over its "
            "T keys.",
            lambda c: {"p": ref("attention").masked_softmax(c["scores"].T, c["mask"].T).T},
        ),
        Mistake(
            _EMPTY_ROW_NAN, lambda c: {"p": np.where(_empty_rows(c), np.nan, _reference_softmax(c)["p"])}
        ),
        Mistake(_OVERFLOW, _unstable),
    ],
)


# --------------------------------------------------------------------------------------------------
# Exercise 8.2: one step of beam search.


def _beam_cases() -> list[dict]:
    rng = np.random.default_rng(802)
    hand = np.log([[0.05, 0.5, 0.3, 0.1, 0.05], [0.01, 0.02, 0.95, 0.01, 0.01]])  # (2, 5)
    cases = [{"log_prob": np.array([-0.2, -2.5]), "log_probs": hand, "beam_size": 2}]
    for k, V, beam_size, live in [(3, 6, 3, 1), (3, 7, 3, 3), (2, 6, 4, 2)]:
        log_prob = np.where(np.arange(k) < live, np.sort(rng.normal(-2.0, 1.0, size=k))[::-1], -np.inf)
        log_probs = np.log(rng.dirichlet(np.full(V, 0.5), size=k))  # (k, V), each row sums to 1
        cases.append({"log_prob": log_prob, "log_probs": log_probs, "beam_size": beam_size})
    for c in cases:
        k, V = c["log_probs"].shape
        c["_label"] = label(k=k, V=V, beam_size=c["beam_size"], live=int(np.isfinite(c["log_prob"]).sum()))
    return cases


def _ranked(c: dict) -> tuple[np.ndarray, np.ndarray]:
    """The flat indices of the best ``beam_size`` candidates, best first, and all candidate scores."""
    candidates = (c["log_prob"][:, None] + c["log_probs"]).ravel()  # (k·V,): hypothesis-major
    return np.argsort(-candidates, kind="stable")[: c["beam_size"]], candidates


def _reference_beam(c: dict) -> dict:
    flat, candidates = _ranked(c)
    V = c["log_probs"].shape[1]
    return {"log_prob": candidates[flat], "beams": flat // V, "tokens": flat % V}


def _own_best_only(c: dict) -> dict:
    best = c["log_prob"] + c["log_probs"].max(axis=1)  # (k,): each hypothesis's best extension
    order = np.argsort(-best, kind="stable")[: c["beam_size"]]
    return {"log_prob": best[order], "beams": order, "tokens": c["log_probs"].argmax(axis=1)[order]}


def _token_only(c: dict) -> dict:
    k, V = c["log_probs"].shape
    flat = np.argsort(-c["log_probs"].ravel(), kind="stable")[: c["beam_size"]]
    return {"log_prob": (c["log_prob"][:, None] + c["log_probs"]).ravel()[flat], "beams": flat // V,
            "tokens": flat % V}  # fmt: skip


def _split_wrong(c: dict) -> dict:
    flat, _ = _ranked(c)
    k = c["log_probs"].shape[0]
    return {"beams": flat % k, "tokens": flat // k}


_BEAM_STEP = Exercise(
    "check_beam_step(log_prob, log_probs, beam_size) -> log_prob (beam_size,), beams (beam_size,), "
    "tokens (beam_size,)",
    cases=_beam_cases,
    reference=_reference_beam,
    equation="Score every extension, candidates[j, v] = log_prob[j] + log_probs[j, v], and keep the "
    "beam_size best of all k·V, best first: beams = flat // V, tokens = flat % V.",
    mistakes=[
        Mistake(
            "Each hypothesis is extended by its own best token only (k greedy searches side by side); the "
            "best beam_size extensions of all hypotheses compete, and two may extend the same one.",
            _own_best_only,
        ),
        Mistake(
            "The candidates are ranked by the new token's log-probability alone; rank them by the whole "
            "hypothesis's, log_prob[j] + log_probs[j, v].",
            _token_only,
        ),
        Mistake(
            "The hypotheses are returned worst first; sort them best first.",
            lambda c: {k: v[::-1] for k, v in _reference_beam(c).items()},
        ),
        Mistake(
            "The flat index into the (k, V) candidates is split the wrong way: the hypothesis is flat // V, "
            "the token flat % V.",
            _split_wrong,
        ),
    ],
)
