"""Self-checks for the exercises of chapter 10, *Generating music*: a melody as a piano-roll matrix,
and bits per pitch from the per-token losses of a model of event tokens.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion.exercises.engine import Exercise
from companion.exercises.inputs import label, make_cases
from companion.exercises.report import CheckPassed

__all__ = ["check_piano_roll", "check_bits_per_pitch"]


def check_piano_roll(fn: Callable) -> CheckPassed:
    """Check the reader's conversion of a melody into a piano-roll matrix (chapter 10 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(events, low, high, step)`` with ``events`` a list of ``(pitch, duration)`` (pitch a MIDI
        number or None for a rest, duration in quarter notes, a multiple of ``step``), the lowest and
        highest pitch ``low`` and ``high`` of the matrix and the frame length ``step`` in quarter notes;
        returns ``roll`` of shape (high - low + 1, T), T the total duration in frames, with
        ``roll[p - low, t] = 1`` while a note of pitch p sounds in frame t and 0 elsewhere.

    Returns
    -------
    CheckPassed

    Raises
    ------
    ExerciseError
        Naming the fault: rests that do not move time on, durations not converted to frames, notes one
        frame too long, or the pitch axis upside down; a transposed matrix is named by its shape.

    Examples
    --------
    >>> def roll(events, low, high, step):
    ...     frames = [round(d / step) for _, d in events]
    ...     out, start = np.zeros((high - low + 1, sum(frames))), 0
    ...     for (pitch, _), n in zip(events, frames, strict=True):
    ...         if pitch is not None:
    ...             out[pitch - low, start : start + n] = 1
    ...         start += n
    ...     return out
    >>> check_piano_roll(roll)
    ✓ check_piano_roll: all checks passed (3 cases)
    """
    return _PIANO_ROLL.check(fn)


def check_bits_per_pitch(fn: Callable) -> CheckPassed:
    """Check the reader's bits per pitch and per token from a model's per-token losses (chapter 10).

    Parameters
    ----------
    fn : callable
        ``fn(nll, ids, is_pitch)`` with ``ids`` of shape (L,), a sequence of token ids, ``nll`` of shape
        (L - 1,), ``nll[t] = -ln p(ids[t + 1] | ids[:t + 1])`` in nats (what
        :func:`companion.lm.charlm.token_nll` returns), and ``is_pitch`` of shape (V,), True for the
        tokens that are pitches (:func:`companion.data.music.is_pitch`); returns ``bits_per_pitch``,
        the mean loss in bits over the targets that are pitches, and ``bits_per_token``, over all.

    Returns
    -------
    CheckPassed

    Raises
    ------
    ExerciseError
        Naming the fault: pitches selected at the inputs instead of the targets, losses left in nats
        or converted with the wrong logarithm, or the pitch losses averaged over all tokens.

    Examples
    --------
    >>> def bits(nll, ids, is_pitch):
    ...     pitch = is_pitch[ids[1:]]
    ...     return nll[pitch].mean() / np.log(2), nll.mean() / np.log(2)
    >>> check_bits_per_pitch(bits)
    ✓ check_bits_per_pitch: all checks passed (3 cases)
    """
    return _BITS.check(fn)


# --------------------------------------------------------------------------------------------------
# Exercise 10.1: a melody as a piano-roll matrix.


def _roll_case(rng, n, step, low, high, rests) -> dict:
    frames = rng.choice([1, 2, 3, 4, 6, 8], size=n)  # durations in frames of `step` quarter notes
    pitches = rng.integers(low, high + 1, size=n)
    pitches[0], pitches[-1] = low, high  # the lowest and highest rows are used
    events = [(int(p), float(f * step)) for p, f in zip(pitches, frames, strict=True)]
    for i in rng.choice(np.arange(1, n - 1), size=rests, replace=False):
        events[i] = (None, events[i][1])  # a rest keeps its duration
    shown = label(events=n, rests=rests, step=step, pitches=f"{low}..{high}")
    return {"events": events, "low": low, "high": high, "step": step, "_label": shown}


def _roll_cases() -> list[dict]:
    rows = [(6, 0.5, 60, 72, 1), (9, 0.25, 55, 79, 2), (12, 0.5, 57, 81, 3)]
    return make_cases(1001, "n step low high rests", rows, _roll_case)


def _roll(c: dict, *, skip_rests=False, in_frames=True, extra=0, flip=False) -> dict:
    """The reference (all keywords at their defaults) and the known mistakes, on the same (P, T) grid."""
    T = round(sum(d for _, d in c["events"]) / c["step"])  # the whole melody in frames
    events = [e for e in c["events"] if not (skip_rests and e[0] is None)]
    frames = [round(d / c["step"]) if in_frames else round(d) for _, d in events]
    roll = np.zeros((c["high"] - c["low"] + 1, T))  # (P, T)
    start = 0
    for (pitch, _), length in zip(events, frames, strict=True):
        if pitch is not None:
            roll[pitch - c["low"], start : start + length + extra] = 1.0
        start += length
    return {"roll": roll[::-1] if flip else roll}


def _roll_shape_hint(name: str, got: tuple, want: tuple) -> str:
    if len(got) == 2 and got[0] == want[0]:
        return " (T is the whole duration in frames, rests included: the sum of the durations / step)"
    return ""


_PIANO_ROLL = Exercise(
    "check_piano_roll(events, low, high, step) -> roll (high - low + 1, total duration / step)",
    cases=_roll_cases,
    reference=_roll,
    shape_hint=_roll_shape_hint,
    equation="roll[p - low, t] = 1 when a note of pitch p sounds during frame t, i.e. onset / step <= t < "
    "(onset + duration) / step, with onsets the running sum of all durations, rests included.",
    keyword_mistakes={
        "Rests are skipped without moving time on: a rest is silence that lasts, so the notes after it "
        "start later.": {"skip_rests": True},
        "Durations are used as numbers of frames; a note of duration d quarter notes lasts d / step "
        "frames.": {"in_frames": False},
        "Each note lasts one frame too long: the frame where the next event starts belongs to it, not "
        "to this note (the end is exclusive).": {"extra": 1},
        "The pitch axis is upside down: row 0 is the lowest pitch, low, as in an array (flip it only to "
        "draw it).": {"flip": True},
    },
)


# --------------------------------------------------------------------------------------------------
# Exercise 10.2: bits per pitch from per-token losses.


_LN2 = float(np.log(2))


def _bits_case(rng, V, L) -> dict:
    is_pitch = np.zeros(V, dtype=bool)
    is_pitch[rng.choice(V, size=V // 2, replace=False)] = True  # (V,)
    ids = rng.integers(0, V, size=L)  # (L,)
    ids[0] = np.flatnonzero(~is_pitch)[0]  # the first token (never scored) is not a pitch
    nll = rng.gamma(2.0, 0.8, size=L - 1) * np.where(is_pitch[ids[1:]], 1.5, 0.5)  # (L-1,) nats
    return {"nll": nll, "ids": ids, "is_pitch": is_pitch}


def _bits_cases() -> list[dict]:
    return make_cases(1002, "V L", [(8, 30), (20, 101), (49, 400)], _bits_case)


def _bits(c: dict, *, at_inputs=False, unit=_LN2, over_all=False) -> dict:
    """The reference (all keywords at their defaults) and the known mistakes."""
    ids = c["ids"][:-1] if at_inputs else c["ids"][1:]  # (L-1,): the token each loss is about
    pitch = c["is_pitch"][ids]  # (L-1,)
    per_pitch = c["nll"][pitch].sum() / (len(ids) if over_all else pitch.sum())
    return {"bits_per_pitch": per_pitch / unit, "bits_per_token": c["nll"].mean() / unit}


_BITS = Exercise(
    "check_bits_per_pitch(nll, ids, is_pitch) -> bits_per_pitch (), bits_per_token ()",
    cases=_bits_cases,
    reference=_bits,
    equation="nll[t] = -ln p(ids[t + 1] | ids[:t + 1]); bits_per_token = mean(nll) / ln 2, and "
    "bits_per_pitch = the mean of nll[t] over the t whose target ids[t + 1] is a pitch, / ln 2.",
    keyword_mistakes={
        "The pitch positions are read off the inputs, ids[:-1]; nll[t] is the loss of the target "
        "ids[t + 1], so select with is_pitch[ids[1:]].": {"at_inputs": True},
        "The losses are in nats (natural logarithms); divide by ln 2 for bits.": {"unit": 1.0},
        "The losses were divided by log 10 (to base 10, 'decimal digits'); bits need ln 2.": {
            "unit": np.log(10)
        },
        "The sum of the pitch losses is divided by the number of all tokens; average over the pitch "
        "targets only.": {"over_all": True},
    },
)
