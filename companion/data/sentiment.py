"""Sentences from film reviews rated for sentiment by people, shipped with the package (chapter 12).

The snippets come from the data set that Hutto & Gilbert (2014) collected to evaluate VADER: 10,605
sentences from Rotten Tomatoes reviews (the sentences of Pang & Lee's review data), each rated by
about 20 people on a scale from -4 (extremely negative) to +4 (extremely positive). The file keeps
the 9,171 distinct clearly polar ones, ``|mean rating| >= 1``, with a fixed 80/20 train/test split; the
label is 1 for a positive mean rating and 0 for a negative one. The data lie in
``companion/data/files/movie_snippets.tsv.gz`` (source and licence in the README there); nothing
is downloaded.
"""

from __future__ import annotations

import gzip
import re
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from companion.data._files import check_split, shipped
from companion.data.text import Vocab

__all__ = ["Snippets", "movie_snippets", "tokenize", "encode_texts"]

_FILE = "movie_snippets.tsv.gz"
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


class Snippets(NamedTuple):
    """One split of the rated film-review sentences.

    Attributes
    ----------
    texts : list of str
        The sentences, whitespace normalised.
    labels : ndarray of int64 of shape (N,)
        1 if the mean rating is positive, 0 if negative.
    ratings : ndarray of float64 of shape (N,)
        The mean human rating, in [-4, -1] or [1, 4].
    """

    texts: list[str]
    labels: np.ndarray
    ratings: np.ndarray


@lru_cache(maxsize=1)
def _rows() -> tuple[tuple[str, float, str], ...]:
    with shipped(_FILE).open("rb") as f:
        text = gzip.decompress(f.read()).decode("utf-8")
    rows = []
    for line in text.splitlines():
        split, rating, snippet = line.split("\t")
        rows.append((split, float(rating), snippet))
    return tuple(rows)


def movie_snippets(split: str = "train") -> Snippets:
    """Load one split of the rated sentences: 7,358 for training, 1,813 for testing.

    Parameters
    ----------
    split : {"train", "test"}, default "train"

    Returns
    -------
    Snippets
        ``texts`` (N strings), ``labels`` (N,) int64 in {0, 1}, ``ratings`` (N,) float64.

    Raises
    ------
    ValueError
        If ``split`` is not ``"train"`` or ``"test"``: the file has no validation part (hold one out
        of the training sentences).

    Examples
    --------
    >>> test = movie_snippets("test")
    >>> len(test.texts), test.labels.dtype
    (1813, dtype('int64'))
    """
    check_split("movie_snippets", split)
    rows = [(rating, text) for s, rating, text in _rows() if s == split]
    ratings = np.array([r for r, _ in rows], dtype=np.float64)  # (N,)
    return Snippets([t for _, t in rows], (ratings > 0).astype(np.int64), ratings)


def tokenize(text: str) -> list[str]:
    """Lower-case words (with a clitic such as ``'s`` kept on its word) and punctuation marks.

    Examples
    --------
    >>> tokenize("It's not THAT good -- really.")
    ["it's", 'not', 'that', 'good', '-', '-', 'really', '.']
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize: expected a str, got {type(text).__name__}")
    return _TOKEN.findall(text.lower())


def encode_texts(texts, vocab: Vocab | None = None, *, min_count: int = 2, max_len: int | None = None):
    """Token ids of each text, and the vocabulary (built from ``texts`` when not given).

    Parameters
    ----------
    texts : list of str
    vocab : Vocab, optional
        Built from the tokens of ``texts`` seen at least ``min_count`` times when omitted (pass the
        training vocabulary when encoding test texts: a word never seen in training becomes
        ``<unk>``, id 1).
    min_count : int, default 2
    max_len : int, optional
        Keep at most the first ``max_len`` tokens of each text.

    Returns
    -------
    ids : list of ndarray of int64, each of shape (L_i,), L_i >= 1
        An empty text encodes as one ``<unk>``.
    vocab : Vocab
    """
    if isinstance(texts, str):
        raise TypeError("encode_texts: expected a list of str, got one str")
    tokens = [tokenize(t)[:max_len] or ["<unk>"] for t in texts]
    if vocab is None:
        vocab = Vocab.from_text([w for ts in tokens for w in ts if w != "<unk>"], min_count=min_count)
    return [vocab.encode(ts) for ts in tokens], vocab
