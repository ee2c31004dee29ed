"""Chapter 10's exercises: a melody as a piano-roll matrix, and bits per pitch."""

import numpy as np
import pytest
from exercise_suite import chapter_tests

from companion import exercises as ex
from companion.exercises import ch10_music


def my_piano_roll(events, low, high, step):
    frames = [round(duration / step) for _, duration in events]  # each event's length in frames
    roll = np.zeros((high - low + 1, sum(frames)))  # (P, T): row 0 is the lowest pitch
    start = 0
    for (pitch, _), length in zip(events, frames, strict=True):
        if pitch is not None:  # a rest leaves its frames empty but still moves time on
            roll[pitch - low, start : start + length] = 1.0
        start += length
    return roll


def my_bits_per_pitch(nll, ids, is_pitch):
    pitch = is_pitch[ids[1:]]  # (L - 1,): nll[t] is the loss of the target ids[t + 1]
    return nll[pitch].mean() / np.log(2), nll.mean() / np.log(2)


def roll_rests_skipped(events, low, high, step):
    notes = [e for e in events if e[0] is not None]
    roll = my_piano_roll(notes, low, high, step)
    return np.pad(roll, ((0, 0), (0, round(sum(d for _, d in events) / step) - roll.shape[1])))


def roll_end_inclusive(events, low, high, step):
    roll, start = my_piano_roll(events, low, high, step) * 0, 0
    for pitch, duration in events:
        if pitch is not None:
            roll[pitch - low, start : start + round(duration / step) + 1] = 1.0
        start += round(duration / step)
    return roll


def roll_high_pitch_first(events, low, high, step):
    return my_piano_roll(events, low, high, step)[::-1]


def roll_time_by_pitch(events, low, high, step):
    return my_piano_roll(events, low, high, step).T


def roll_only_the_notes(events, low, high, step):
    return my_piano_roll([e for e in events if e[0] is not None], low, high, step)


def bits_at_the_inputs(nll, ids, is_pitch):
    pitch = is_pitch[ids[:-1]]  # the inputs of the losses, not their targets
    return nll[pitch].mean() / np.log(2), nll.mean() / np.log(2)


def bits_in_nats(nll, ids, is_pitch):
    return nll[is_pitch[ids[1:]]].mean(), nll.mean()


def bits_pitch_over_all(nll, ids, is_pitch):
    return nll[is_pitch[ids[1:]]].sum() / len(nll) / np.log(2), nll.mean() / np.log(2)


SOLUTIONS = [
    (ex.check_piano_roll, my_piano_roll),
    (ex.check_bits_per_pitch, my_bits_per_pitch),
]


WRONG = [
    (ex.check_piano_roll, roll_rests_skipped, r"Rests are skipped without moving time on"),
    (ex.check_piano_roll, roll_end_inclusive, r"one frame too long"),
    (ex.check_piano_roll, roll_high_pitch_first, r"pitch axis is upside down"),
    (ex.check_piano_roll, roll_time_by_pitch, r"roll has shape \(25, 13\); expected .* \(transposed\?\)"),
    (ex.check_piano_roll, roll_only_the_notes, r"roll has shape \(13, 19\); .* rests included"),
    (ex.check_bits_per_pitch, bits_at_the_inputs, r"bits_per_token is correct\. The pitch positions"),
    (ex.check_bits_per_pitch, bits_in_nats, r"The losses are in nats"),
    (ex.check_bits_per_pitch, bits_pitch_over_all, r"divided by the number of all tokens"),
]


EXERCISES = [
    (ex.check_piano_roll, ch10_music._PIANO_ROLL),
    (ex.check_bits_per_pitch, ch10_music._BITS),
]


globals().update(chapter_tests(SOLUTIONS, WRONG, exercises=EXERCISES))


@pytest.mark.parametrize("check, solution", SOLUTIONS, ids=lambda f: f.__name__)
def test_every_check_has_three_cases(check, solution):
    report = check(solution)
    assert isinstance(report, ex.CheckPassed) and report.cases == 3


def test_piano_roll_reference_starts_each_note_at_its_onset():
    from companion.plots.music import onsets

    for case in ch10_music._roll_cases():
        roll = ch10_music._roll(case)["roll"]  # (P, T)
        starts = onsets(case["events"]) / case["step"]
        for (pitch, duration), start in zip(case["events"], starts, strict=True):
            if pitch is not None:
                a, b = round(start), round(start + duration / case["step"])
                assert roll[pitch - case["low"], a:b].all() and roll[:, a:b].sum() == b - a
        assert roll.sum() == sum(d for p, d in case["events"] if p is not None) / case["step"]
