"""Melodies as tokens: the soprano lines of Bach's chorales, shipped with the package (chapter 10).

A melody is a list of events ``(pitch, duration)``: ``pitch`` a MIDI note number (60 = middle C, one
step per semitone) or None for a rest, ``duration`` in quarter notes. For a language model an event
becomes two tokens, a pitch token then a duration token (``"p67", "d1"``, ``"r", "d0.5"`` for a
rest), and every melody ends with ``"<end>"``. The melodies of a split are joined into one sequence,
so :class:`companion.data.text.StreamBatches` and :class:`companion.lm.charlm.CharLM` apply unchanged.

:func:`chorales` reads the shipped file (``files/chorales.json``, 355 melodies from music21's
corpus; ``files/README.md`` says how it was made); :func:`melody_corpus` transposes them to a common
key, splits them into contiguous blocks of whole melodies, and encodes them. :func:`write_midi` and
:func:`read_midi` move melodies to and from standard MIDI files through ``mido``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from importlib import resources
from typing import NamedTuple

import numpy as np

from companion.data.text import TextCorpus, Vocab, split_blocks

__all__ = [
    "END",
    "Melody",
    "chorales",
    "transpose",
    "to_tokens",
    "from_tokens",
    "melody_corpus",
    "is_pitch",
    "write_midi",
    "read_midi",
]

#: Token that closes every melody.
END = "<end>"

_PITCH_CLASS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


class Melody(NamedTuple):
    """One melody of :func:`chorales`."""

    #: Name in music21's corpus, e.g. ``"bwv269"``.
    name: str
    #: Key found by music21's analysis, e.g. ``"G major"``, ``"F# minor"``.
    key: str
    #: Time signature, e.g. ``"4/4"``.
    time: str | None
    #: ``[(pitch or None, duration), ...]``.
    events: list[tuple[int | None, float]]


def chorales() -> list[Melody]:
    """The 355 soprano melodies of Bach's four-part chorales shipped with the package (public domain).

    18,269 events, pitches 57-81 (A3-A5), 180 rests; sorted by corpus name.
    """
    text = resources.files("companion.data").joinpath("files/chorales.json").read_text(encoding="utf-8")
    data = json.loads(text)["melodies"]
    return [Melody(m["name"], m["key"], m["time"], [(p, float(d)) for p, d in m["events"]]) for m in data]


def _tonic(key: str) -> int:
    """Pitch class of a key's tonic: ``"F# minor"`` -> 6."""
    name = key.split()[0]
    if not name or name[0] not in _PITCH_CLASS:
        raise ValueError(f"transpose: expected a key like 'G major' or 'B- minor', got {key!r}")
    return (_PITCH_CLASS[name[0]] + name[1:].count("#") - name[1:].count("-") - name[1:].count("b")) % 12


def transpose(melody: Melody, semitones: int | None = None) -> Melody:
    """Shift every pitch by ``semitones``; by default to C major or A minor, whichever is nearer.

    With ``semitones=None`` the shift is the one in [-6, 5] that moves the tonic to C (major keys)
    or A (minor keys), so that all melodies share one scale and a model need not learn each key.
    """
    if semitones is None:
        target = 9 if melody.key.endswith("minor") else 0
        semitones = (target - _tonic(melody.key) + 6) % 12 - 6
    events = [(None if p is None else p + semitones, d) for p, d in melody.events]
    return melody._replace(events=events)


def _duration_token(duration: float) -> str:
    return f"d{duration:g}"


def to_tokens(events: Sequence[tuple[int | None, float]], end: bool = True) -> list[str]:
    """Two tokens per event (pitch ``"p67"`` or rest ``"r"``, then duration ``"d1.5"``), then ``END``.

    Examples
    --------
    >>> to_tokens([(67, 1.0), (None, 0.5)])
    ['p67', 'd1', 'r', 'd0.5', '<end>']
    """
    tokens = []
    for pitch, duration in events:
        if not duration > 0:
            raise ValueError(f"to_tokens: expected positive durations, got {duration!r}")
        tokens += ["r" if pitch is None else f"p{int(pitch)}", _duration_token(float(duration))]
    return tokens + [END] if end else tokens


def from_tokens(tokens: Sequence[str]) -> list[tuple[int | None, float]]:
    """Events from tokens, the inverse of :func:`to_tokens`, reading up to the first ``END``.

    A sampled sequence need not alternate pitch and duration: a pitch token followed by anything
    but a duration, or a duration without a pitch, is skipped.
    """
    events, pitch = [], ...
    for token in tokens:
        if token == END:
            break
        if token == "r" or (token.startswith("p") and token[1:].isdigit()):
            pitch = None if token == "r" else int(token[1:])
        elif token.startswith("d") and pitch is not ...:
            events.append((pitch, float(token[1:])))
            pitch = ...
        else:
            pitch = ...
    return events


def is_pitch(vocab: Vocab) -> np.ndarray:
    """Boolean mask of shape (V,): which tokens are pitches or rests (not durations, END, specials)."""
    return np.array([t == "r" or (t.startswith("p") and t[1:].isdigit()) for t in vocab.tokens])


def melody_corpus(
    melodies: Sequence[Melody] | None = None,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    *,
    to_common_key: bool = True,
    vocab: Vocab | None = None,
) -> TextCorpus:
    """Tokenise melodies and split them into train, validation and test blocks of whole melodies.

    Parameters
    ----------
    melodies : sequence of Melody, optional
        Default :func:`chorales`.
    fractions : (float, float, float), default (0.8, 0.1, 0.1)
        Shares of the melodies (in their order) in each block.
    to_common_key : bool, default True
        Transpose each melody to C major or A minor first (:func:`transpose`).
    vocab : Vocab, optional
        Default: every token of the training block, in sorted order; tokens only seen in held-out
        melodies encode to ``UNK``.

    Returns
    -------
    TextCorpus
        ``(vocab, train, valid, test)``: each block one sequence of ids, every melody closed by ``END``.
    """
    melodies = chorales() if melodies is None else list(melodies)
    if to_common_key:
        melodies = [transpose(m) for m in melodies]
    index = np.arange(len(melodies))
    blocks = [[melodies[i] for i in block] for block in split_blocks(index, fractions)]
    tokens = [[t for m in block for t in to_tokens(m.events)] for block in blocks]
    if vocab is None:
        vocab = Vocab.from_text(tokens[0])
    return TextCorpus(vocab, *(vocab.encode(block) for block in tokens))


def write_midi(
    events: Sequence[tuple[int | None, float]],
    path: str | os.PathLike,
    *,
    tempo_bpm: float = 80.0,
    program: int = 19,
    velocity: int = 80,
) -> None:
    """Write a melody to a standard MIDI file (one track, format 1) with ``mido``.

    Parameters
    ----------
    events : sequence of (int or None, float)
        Pitches (MIDI numbers, None for rests) and durations in quarter notes.
    path : str or os.PathLike
    tempo_bpm : float, default 80.0
        Quarter notes per minute.
    program : int, default 19
        General MIDI instrument, 0-based (19: church organ).
    velocity : int, default 80
    """
    import mido

    ticks = 480
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm), time=0))
    track.append(mido.Message("program_change", program=program, time=0))
    wait = 0
    for pitch, duration in events:
        length = round(float(duration) * ticks)
        if pitch is None:
            wait += length
            continue
        if not 0 <= int(pitch) <= 127:
            raise ValueError(f"write_midi: expected MIDI pitches in [0, 127], got {pitch}")
        track.append(mido.Message("note_on", note=int(pitch), velocity=velocity, time=wait))
        track.append(mido.Message("note_off", note=int(pitch), velocity=0, time=length))
        wait = 0
    track.append(mido.MetaMessage("end_of_track", time=wait))
    midi = mido.MidiFile(type=1, ticks_per_beat=ticks)
    midi.tracks.append(track)
    midi.save(os.fspath(path))


def read_midi(path: str | os.PathLike) -> list[tuple[int | None, float]]:
    """The melody of a one-voice MIDI file as events (rests where no note sounds), with ``mido``.

    Reads back what :func:`write_midi` wrote, except that consecutive rests come back as one and a
    rest at the very end is lost (a MIDI file marks only when notes start and stop).
    """
    import mido

    midi = mido.MidiFile(os.fspath(path))
    events, now, sounding, last_end = [], 0, {}, 0
    for message in mido.merge_tracks(midi.tracks):
        now += message.time
        if message.type == "note_on" and message.velocity > 0:
            if now > last_end:
                events.append((None, (now - last_end) / midi.ticks_per_beat))
            sounding[message.note] = now
        elif message.type in ("note_off", "note_on") and message.note in sounding:
            start = sounding.pop(message.note)
            events.append((message.note, (now - start) / midi.ticks_per_beat))
            last_end = now
    return events
