"""Tests for companion.data.music: the shipped chorales, melody tokens and MIDI files."""

import pytest

from companion.data.music import (
    END,
    Melody,
    chorales,
    from_tokens,
    is_pitch,
    melody_corpus,
    read_midi,
    to_tokens,
    transpose,
    write_midi,
)


def test_chorales_ship_with_the_package():
    melodies = chorales()
    assert len(melodies) == 355 and len({m.name for m in melodies}) == 355
    events = [e for m in melodies for e in m.events]
    pitches = [p for p, _ in events if p is not None]
    assert 55 <= min(pitches) and max(pitches) <= 84 and all(d > 0 for _, d in events)


def test_tokens_round_trip():
    events = [(67, 1.0), (None, 0.5), (69, 1.5), (71, 0.25)]
    tokens = to_tokens(events)
    assert tokens[:4] == ["p67", "d1", "r", "d0.5"] and tokens[-1] == END
    assert from_tokens(tokens) == events
    assert from_tokens(["d1", "p60", "p62", "d2", END, "p64", "d1"]) == [(62, 2.0)]


def test_transpose_to_common_key():
    melody = Melody("x", "G major", "4/4", [(67, 1.0), (None, 1.0), (74, 2.0)])
    assert transpose(melody).events == [(72, 1.0), (None, 1.0), (79, 2.0)]  # G up a fourth to C
    minor = Melody("y", "F# minor", "4/4", [(66, 1.0)])
    assert transpose(minor).events == [(69, 1.0)]
    assert transpose(minor, -12).events == [(54, 1.0)]


def test_melody_corpus_splits_whole_melodies():
    melodies = chorales()[:50]
    corpus = melody_corpus(melodies, (0.8, 0.1, 0.1), to_common_key=False)
    end = corpus.vocab.tokens.index(END)
    for block, count in ((corpus.train, 40), (corpus.valid, 5), (corpus.test, 5)):
        assert block[-1] == end and (block == end).sum() == count
    tokens = corpus.vocab.lookup(corpus.train)
    assert from_tokens(tokens) == melodies[0].events
    mask = is_pitch(corpus.vocab)
    assert mask[corpus.vocab.tokens.index("p67")] and not mask[corpus.vocab.tokens.index("d1")]


def test_midi_round_trip(tmp_path):
    pytest.importorskip("mido")
    events = [(60, 1.0), (62, 0.5), (None, 0.5), (64, 2.0), (72, 0.25)]
    write_midi(events, tmp_path / "m.mid")
    assert read_midi(tmp_path / "m.mid") == events
    for melody in chorales()[:20] + chorales()[120:125]:
        write_midi(melody.events, tmp_path / "c.mid")
        notes = []
        for pitch, duration in melody.events:  # a MIDI file has no boundary between two rests
            if pitch is None and notes and notes[-1][0] is None:
                notes[-1] = (None, notes[-1][1] + duration)
            else:
                notes.append((pitch, duration))
        while notes[-1][0] is None:  # nor a trace of a rest at the very end
            notes.pop()
        assert read_midi(tmp_path / "c.mid") == notes
