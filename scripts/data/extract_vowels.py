"""Rebuild ``japanese_vowels.npz`` from the copy of the UCI Japanese Vowels set in sktime (run once, by hand).

The course does not depend on sktime: the script reads the two ``.ts`` files straight from the
sktime wheel (a zip archive), without installing it::

    pip download --no-deps sktime==1.2.0 -d /tmp/dl
    python scripts/data/extract_vowels.py /tmp/dl/sktime-1.2.0-py3-none-any.whl \\
        companion/data/files/japanese_vowels.npz

Each line of a ``.ts`` file after ``@data`` is one utterance: 12 comma-separated series (the LPC
cepstrum coefficients, one value per frame), separated by ``:``, then the speaker (1 to 9). The
published split is kept: ``JapaneseVowels_TRAIN.ts`` (270 utterances, 30 per speaker) and
``JapaneseVowels_TEST.ts`` (370), in file order. The values have at most six decimals; they are
stored exactly as integers in millionths, all frames of a split concatenated, with each
utterance's length beside them.
"""

import sys
import zipfile

import numpy as np

MEMBER = "sktime/datasets/data/JapaneseVowels/JapaneseVowels_{}.ts"


def parse(text: str) -> tuple[list[np.ndarray], list[int]]:
    """The utterances (each (T, 12) in millionths) and the speakers (1..9) of one ``.ts`` file."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().lower() == "@data") + 1
    series, speakers = [], []
    for line in lines[start:]:
        if not line.strip():
            continue
        *dims, label = line.strip().split(":")
        if len(dims) != 12:
            raise ValueError(f"expected 12 dimensions, got {len(dims)}")
        values = [[round(float(v) * 1e6) for v in d.split(",")] for d in dims]  # 12 x T
        if len({len(v) for v in values}) != 1:
            raise ValueError("dimensions of unequal length in one utterance")
        series.append(np.array(values, dtype=np.int64).T)  # (T, 12)
        speakers.append(int(label))
    return series, speakers


def main(wheel: str, out: str) -> None:
    arrays = {}
    with zipfile.ZipFile(wheel) as archive:
        for split in ("TRAIN", "TEST"):
            series, speakers = parse(archive.read(MEMBER.format(split)).decode("ascii"))
            name = split.lower()
            frames = np.concatenate(series)  # (sum of lengths, 12)
            if np.abs(frames).max() >= 2**31:
                raise ValueError("a value does not fit in int32")
            arrays[f"{name}_frames"] = frames.astype(np.int32)
            arrays[f"{name}_lengths"] = np.array([len(s) for s in series], dtype=np.int16)
            arrays[f"{name}_speakers"] = np.array(speakers, dtype=np.int8)
    np.savez_compressed(out, **arrays)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
