"""The UCI Japanese Vowels speaker-recognition set, shipped with the package (chapter 12).

Nine male speakers each uttered the Japanese vowels /ae/ (a then e) several times
{Kudo, Toyama & Shimbo 1999}. Every utterance was cut into frames and each frame analysed by a
12th-order linear prediction, giving 12 LPC cepstrum coefficients per frame: an utterance is a
sequence of 7 to 29 vectors of 12 numbers, and the task is to name the speaker. The published split
has 270 training utterances (30 per speaker) and 370 test utterances (24 to 88 per speaker, recorded
later). The data lie in ``companion/data/files/japanese_vowels.npz`` (source and licence, CC BY 4.0,
in the README there); nothing is downloaded.

Speakers are numbered 0 to 8 here (the original files number them 1 to 9), ready for a
cross-entropy loss.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np

from companion.data._files import check_split, shipped

__all__ = ["NUM_SPEAKERS", "NUM_COEFFICIENTS", "VowelsSplit", "japanese_vowels"]

#: The number of speakers (classes), labelled 0 to 8.
NUM_SPEAKERS = 9
#: LPC cepstrum coefficients per frame (features per step).
NUM_COEFFICIENTS = 12
_FILE = "japanese_vowels.npz"


class VowelsSplit(NamedTuple):
    """One split of the Japanese Vowels set.

    Attributes
    ----------
    sequences : list of ndarray of float32, each of shape (T_i, 12)
        The utterances, frame by frame: 12 LPC cepstrum coefficients per frame, 7 <= T_i <= 29.
    speakers : ndarray of int64 of shape (N,)
        The speaker of each utterance, 0 to 8.
    lengths : ndarray of int64 of shape (N,)
        ``T_i`` of each utterance.
    """

    sequences: list[np.ndarray]
    speakers: np.ndarray
    lengths: np.ndarray


@lru_cache(maxsize=1)
def _arrays() -> dict[str, np.ndarray]:
    with shipped(_FILE).open("rb") as f:
        with np.load(f) as data:
            return {k: data[k] for k in data.files}


def japanese_vowels(split: str = "train") -> VowelsSplit:
    """Load one split of the Japanese Vowels set, as published (no reshuffling).

    Parameters
    ----------
    split : {"train", "test"}, default "train"
        ``"train"``: 270 utterances, 30 per speaker; ``"test"``: 370 utterances.

    Returns
    -------
    VowelsSplit
        ``sequences`` (a list of N arrays of shape (T_i, 12), float32), ``speakers`` (N,) int64 in
        0..8 and ``lengths`` (N,) int64. Fresh arrays on every call: changing them changes nothing
        that a later call returns.

    Raises
    ------
    ValueError
        If ``split`` is not ``"train"`` or ``"test"``.

    Examples
    --------
    >>> train = japanese_vowels("train")
    >>> len(train.sequences), train.sequences[0].shape, train.sequences[0].dtype
    (270, (20, 12), dtype('float32'))
    >>> np.bincount(train.speakers).tolist()
    [30, 30, 30, 30, 30, 30, 30, 30, 30]
    """
    check_split("japanese_vowels", split)
    data = _arrays()
    millionths = data[f"{split}_frames"]  # (sum of T_i, 12), int32
    frames = (millionths / 1e6).astype(np.float32)  # the nearest float32 to each published value
    lengths = data[f"{split}_lengths"].astype(np.int64)  # (N,)
    sequences = np.split(frames, np.cumsum(lengths)[:-1])  # N arrays (T_i, 12)
    speakers = data[f"{split}_speakers"].astype(np.int64) - 1  # (N,): 1..9 in the file
    return VowelsSplit([s.copy() for s in sequences], speakers, lengths)
