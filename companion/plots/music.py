"""Piano rolls of melodies (chapter 10).

A melody is a sequence of events ``(pitch, duration)``, as in :mod:`companion.data.music`: ``pitch``
a MIDI note number (60 = middle C) or None for a rest, ``duration`` in quarter notes. A piano roll
draws each note as a bar: time runs left to right in quarter notes, pitch bottom to top in
semitones, so a bar's left end is the note's onset, its length the duration, and its height the
pitch; a rest is a gap.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

__all__ = ["note_name", "onsets", "plot_piano_roll"]

_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def note_name(pitch: int) -> str:
    """Scientific pitch name of a MIDI note number: 60 -> ``"C4"``, 69 -> ``"A4"``, 70 -> ``"A#4"``.

    Raises
    ------
    ValueError
        If ``pitch`` is not an integer in [0, 127].
    """
    if isinstance(pitch, bool) or not isinstance(pitch, (int, np.integer)) or not 0 <= pitch <= 127:
        raise ValueError(f"note_name: expected a MIDI note number, an int in [0, 127], got {pitch!r}")
    return f"{_NAMES[pitch % 12]}{pitch // 12 - 1}"


def _check_events(where: str, events) -> list[tuple[int | None, float]]:
    checked = []
    for i, event in enumerate(events):
        if not isinstance(event, (tuple, list)) or len(event) != 2:
            raise ValueError(f"{where}: expected events (pitch, duration), got {event!r} at index {i}")
        pitch, duration = event
        if pitch is not None and (
            isinstance(pitch, bool) or not isinstance(pitch, (int, np.integer)) or not 0 <= pitch <= 127
        ):
            raise ValueError(f"{where}: expected a pitch in [0, 127] or None, got {pitch!r} at index {i}")
        if not (isinstance(duration, (int, float, np.integer, np.floating)) and duration > 0):
            raise ValueError(f"{where}: expected a positive duration, got {duration!r} at index {i}")
        checked.append((None if pitch is None else int(pitch), float(duration)))
    return checked


def onsets(events: Sequence[tuple[int | None, float]]) -> np.ndarray:
    """Start time of every event in quarter notes: 0, then the running sum of the durations.

    Returns
    -------
    ndarray of float64 of shape (len(events),)

    Examples
    --------
    >>> onsets([(67, 1.0), (None, 0.5), (69, 2.0)]).tolist()
    [0.0, 1.0, 1.5]
    """
    durations = np.array([d for _, d in _check_events("onsets", events)], dtype=np.float64)
    return np.concatenate([[0.0], np.cumsum(durations)[:-1]]) if len(durations) else durations


def plot_piano_roll(
    events: Sequence[tuple[int | None, float]],
    ax=None,
    *,
    title: str | None = None,
    colour: str = "#3d85c6",
    beats_per_bar: float | None = 4.0,
    pitch_range: tuple[int, int] | None = None,
):
    """Draw a melody as a piano roll: one bar per note, time in quarter notes against pitch.

    Parameters
    ----------
    events : sequence of (int or None, float)
        Pitches (MIDI note numbers, None for rests) and durations in quarter notes, as in
        :func:`companion.data.music.chorales`.
    ax : matplotlib Axes, optional
        Where to draw; a new figure 6.5 inches wide when None.
    title : str, optional
    colour : str, default a blue
        Fill colour of the notes.
    beats_per_bar : float or None, default 4.0
        Draw a thin vertical line every ``beats_per_bar`` quarter notes (barlines of 4/4); None for
        none.
    pitch_range : (int, int), optional
        Lowest and highest pitch shown; by default the melody's own, with a semitone to spare.

    Returns
    -------
    matplotlib Axes
        The notes are its :class:`~matplotlib.patches.Rectangle` patches, in order: the one of a
        note with onset t, duration d and pitch p has its lower-left corner at (t, p - 0.4), width
        d and height 0.8. The y ticks name the C and G of every octave shown (``"C4"``, ``"G4"``).

    Raises
    ------
    ValueError
        If an event is not a (pitch, duration) pair with a pitch in [0, 127] or None and a positive
        duration, or the melody has no note.

    Examples
    --------
    >>> ax = plot_piano_roll([(67, 1.0), (69, 1.0), (None, 0.5), (71, 1.5)], title="a melody")
    >>> [(p.get_x(), p.get_width()) for p in ax.patches]
    [(0.0, 1.0), (1.0, 1.0), (2.5, 1.5)]
    """
    events = _check_events("plot_piano_roll", events)
    starts = onsets(events)
    notes = [(t, p, d) for t, (p, d) in zip(starts, events, strict=True) if p is not None]
    if not notes:
        raise ValueError(f"plot_piano_roll: expected at least one note, got {len(events)} events and no note")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 2.2))
    pitches = [p for _, p, _ in notes]
    low, high = pitch_range if pitch_range is not None else (min(pitches) - 1, max(pitches) + 1)
    end = float(starts[-1] + events[-1][1])
    for start, pitch, duration in notes:
        ax.add_patch(Rectangle((start, pitch - 0.4), duration, 0.8, fc=colour, ec="0.2", lw=0.5))
    if beats_per_bar:
        for bar in np.arange(beats_per_bar, end, beats_per_bar):
            ax.axvline(bar, color="0.85", lw=0.6, zorder=0)
    ax.set_xlim(0, end)
    ax.set_ylim(low - 0.5, high + 0.5)
    ticks = [p for p in range(low, high + 1) if p % 12 in (0, 7)]
    ax.set_yticks(ticks, [note_name(p) for p in ticks])
    ax.set_xlabel("time (quarter notes)")
    ax.set_ylabel("pitch")
    if title:
        ax.set_title(title)
    return ax
