"""Rebuild ``chorales.json`` from the Bach chorales in music21's corpus (run once, by hand).

The course does not depend on music21: this script runs in a separate environment, e.g.::

    python -m venv /tmp/m21venv && /tmp/m21venv/bin/pip install music21
    /tmp/m21venv/bin/python scripts/data/extract_chorales.py companion/data/files/chorales.json

For every four-part chorale in ``music21.corpus`` (``bach/bwv*.mxl`` and ``.xml``) it keeps the
soprano line (the part named Soprano, else the first part) with ties merged, as a list of
``[pitch, duration]`` events: ``pitch`` a MIDI note number (60 = middle C) or ``null`` for a rest,
``duration`` in quarter notes. Grace notes (duration 0) are dropped. A melody whose sequence of
intervals and durations equals one already kept (the same tune harmonised twice, possibly in another
key) is dropped, so that no tune lands in two splits. Melodies are written in the corpus order sorted
by name.
"""

import json
import sys

from music21 import corpus, key, meter


def soprano(score):
    for part in score.parts:
        name = (part.partName or "").lower()
        if name.startswith("soprano") or name.startswith("s."):
            return part
    return score.parts[0]


def events_of(part):
    events = []
    for element in part.stripTies().flatten().notesAndRests:
        duration = float(element.quarterLength)
        if duration <= 0:
            continue
        if element.isRest:
            pitch = None
        elif element.isChord:
            pitch = max(p.midi for p in element.pitches)
        else:
            pitch = element.pitch.midi
        events.append([pitch, round(duration, 4)])
    return events


def shape(events):
    pitched = [p for p, _ in events if p is not None]
    steps = tuple(b - a for a, b in zip(pitched, pitched[1:], strict=False))
    return steps, tuple(d for _, d in events), tuple(p is None for p, _ in events)


def main(out: str) -> None:
    paths = sorted(p for p in corpus.getComposer("bach") if p.suffix in (".mxl", ".xml"))
    melodies, seen, skipped = [], set(), []
    for path in paths:
        score = corpus.parse(path)
        if len(score.parts) != 4:
            skipped.append((path.stem, f"{len(score.parts)} parts"))
            continue
        part = soprano(score)
        events = events_of(part)
        if len(events) < 8:
            skipped.append((path.stem, "fewer than 8 events"))
            continue
        signature = shape(events)
        if signature in seen:
            skipped.append((path.stem, "duplicate tune"))
            continue
        seen.add(signature)
        keys = part.flatten().getElementsByClass(key.KeySignature)
        times = part.flatten().getElementsByClass(meter.TimeSignature)
        analysed = score.analyze("key")
        melodies.append(
            {
                "name": path.stem,
                "key": f"{analysed.tonic.name} {analysed.mode}",
                "sharps": keys[0].sharps if keys else 0,
                "time": times[0].ratioString if times else None,
                "events": events,
            }
        )
        print(path.stem, len(events), file=sys.stderr)
    header = {
        "source": "music21 corpus (bach/), soprano lines of the four-part chorales by J. S. Bach",
        "format": "events are [pitch, duration]: MIDI note number or null for a rest, quarter notes",
        "music21_version": __import__("music21").__version__,
        "skipped": skipped,
    }
    with open(out, "w") as file:
        json.dump({"about": header, "melodies": melodies}, file, separators=(",", ":"))
        file.write("\n")
    print(f"{len(melodies)} melodies written, {len(skipped)} skipped", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "chorales.json")
