"""Text as integer ids for language models: vocabulary, splits and truncated-BPTT batches (chapter 9).

A corpus is read once as a long sequence of token ids. :class:`Vocab` maps tokens (characters, or
any strings) to ids, with a padding and an unknown token; :func:`split_blocks` cuts the sequence into
three contiguous blocks (train, validation, test), so held-out text is text the model never saw and
not characters drawn from the middle of training sentences. :class:`StreamBatches` reads a block as
N parallel streams and serves consecutive chunks of k steps: the hidden state at the end of one chunk
is the right initial state for the next, which is how chapter 3's truncated BPTT trains on a long
sequence (the state is carried, the gradient is cut; see :class:`companion.lm.charlm.TBPTTLoss`).

Everything works on any text: :func:`text_corpus` takes a string, or a :class:`pathlib.Path` to a file.
The package ships one, the Book of Genesis in the King James Version (:func:`genesis`).
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from importlib import resources
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "PAD",
    "UNK",
    "Vocab",
    "read_text",
    "split_blocks",
    "TextCorpus",
    "text_corpus",
    "genesis",
    "Batch",
    "StreamBatches",
]

#: Padding token, id 0 in every :class:`Vocab`.
PAD = "<pad>"
#: Unknown token, id 1 in every :class:`Vocab`: what a token outside the vocabulary encodes to.
UNK = "<unk>"


class Vocab:
    """A bijection between tokens and integer ids, with padding (id 0) and unknown (id 1) tokens.

    Parameters
    ----------
    tokens : iterable of str
        The ordinary tokens, in id order from 2 on. Duplicates and the special tokens are refused.

    Attributes
    ----------
    tokens : list of str
        All tokens by id: ``[PAD, UNK, *tokens]``; V = ``len(vocab)``.
    pad_id, unk_id : int
        0 and 1.

    Raises
    ------
    TypeError
        If a token is not a str.
    ValueError
        If a token repeats, is empty, or is one of the special tokens.

    Examples
    --------
    >>> vocab = Vocab.from_text("abba")
    >>> len(vocab), vocab.encode("abc").tolist()
    (4, [2, 3, 1])
    >>> vocab.decode([2, 3, 3, 2])
    'abba'
    """

    pad_id = 0
    unk_id = 1

    def __init__(self, tokens: Iterable[str]) -> None:
        tokens = list(tokens)
        for token in tokens:
            if not isinstance(token, str):
                raise TypeError(f"Vocab: expected tokens to be str, got {type(token).__name__} {token!r}")
            if token in (PAD, UNK) or not token:
                raise ValueError(
                    f"Vocab: expected ordinary tokens, got the reserved or empty token {token!r}"
                )
        repeated = [token for token, count in Counter(tokens).items() if count > 1]
        if repeated:
            raise ValueError(f"Vocab: expected distinct tokens, got repeats {repeated[:5]}")
        self.tokens = [PAD, UNK, *tokens]
        self._index = {token: i for i, token in enumerate(self.tokens)}

    @classmethod
    def from_text(cls, text: str | Sequence[str], min_count: int = 1) -> Vocab:
        """The sorted distinct tokens of ``text`` (its characters, for a str) seen ``min_count`` times.

        Parameters
        ----------
        text : str or sequence of str
        min_count : int, default 1
            Rarer tokens are left out and will encode to ``UNK``.
        """
        if not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"Vocab.from_text: expected min_count to be a positive int, got {min_count!r}")
        counts = Counter(text)
        return cls(sorted(token for token, count in counts.items() if count >= min_count))

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token) -> bool:
        return token in self._index

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocab) and self.tokens == other.tokens

    def __hash__(self) -> int:
        return hash(tuple(self.tokens))

    def __repr__(self) -> str:
        shown = "".join(self.tokens[2:12]) if all(len(t) == 1 for t in self.tokens[2:]) else self.tokens[2:6]
        return f"Vocab(V={len(self)}, tokens={shown!r}...)"

    def encode(self, text: str | Sequence[str]) -> np.ndarray:
        """Ids of the tokens of ``text`` (characters, for a str); unknown tokens give ``unk_id``.

        Returns
        -------
        ndarray of int64 of shape (L,)
        """
        if not isinstance(text, (str, Sequence)):
            raise TypeError(f"Vocab.encode: expected a str or a sequence of str, got {type(text).__name__}")
        return np.fromiter((self._index.get(t, 1) for t in text), dtype=np.int64, count=len(text))

    def decode(self, ids, sep: str = "") -> str:
        """The tokens of ``ids`` joined by ``sep``; the inverse of :meth:`encode` on known tokens.

        Parameters
        ----------
        ids : array_like of int of shape (L,), or a 1-D tensor
        sep : str, default ""
            ``""`` for characters, ``" "`` for words or event tokens.

        Raises
        ------
        ValueError
            If ``ids`` is not 1-D or holds an id outside ``[0, V)``.
        """
        return sep.join(self.lookup(ids))

    def lookup(self, ids) -> list[str]:
        """The list of tokens of ``ids`` (see :meth:`decode`)."""
        if isinstance(ids, Tensor):
            ids = ids.detach().cpu().numpy()
        ids = np.asarray(ids)
        if ids.ndim != 1 or (ids.size and not np.issubdtype(ids.dtype, np.integer)):
            raise ValueError(
                f"Vocab.decode: expected a 1-D array of int ids, got shape {ids.shape} {ids.dtype}"
            )
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            got = f"{ids.min()}..{ids.max()}"
            raise ValueError(f"Vocab.decode: expected ids in [0, V) = [0, {len(self)}), got values {got}")
        return [self.tokens[i] for i in ids.tolist()]

    def save(self, path: str | os.PathLike) -> None:
        """Write the vocabulary to a JSON file (:meth:`load` reads it back)."""
        with open(path, "w", encoding="utf-8") as file:
            json.dump({"format": "companion.Vocab", "tokens": self.tokens[2:]}, file, ensure_ascii=False)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocab:
        """Read a vocabulary written by :meth:`save`.

        Raises
        ------
        ValueError
            If the file is not a saved vocabulary.
        """
        try:
            with open(path, encoding="utf-8") as file:
                data = json.load(file)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"Vocab.load: {path} is not a JSON vocabulary file ({error})") from error
        if not isinstance(data, dict) or data.get("format") != "companion.Vocab":
            raise ValueError(f"Vocab.load: expected a file written by Vocab.save, got {str(data)[:60]!r}")
        return cls(data["tokens"])


def read_text(path: str | os.PathLike, encoding: str = "utf-8") -> str:
    """The contents of a text file, line endings normalised to ``"\\n"``."""
    with open(path, encoding=encoding) as file:
        return file.read()


def split_blocks(ids, fractions: Sequence[float] = (0.9, 0.05, 0.05)) -> tuple[np.ndarray, ...]:
    """Cut a sequence into contiguous blocks: the first ``fractions[0]`` of it, the next, and so on.

    Parameters
    ----------
    ids : array_like of shape (L,)
    fractions : sequence of float, default (0.9, 0.05, 0.05)
        Positive, summing to 1. Block sizes are rounded down; the last block takes the remainder.

    Returns
    -------
    tuple of ndarray
        One view of ``ids`` per fraction; together they are ``ids``, in order, without overlap.

    Raises
    ------
    ValueError
        If the fractions are not positive or do not sum to 1, or a block would hold fewer than
        2 tokens (a block needs an input and a target).

    Examples
    --------
    >>> [b.tolist() for b in split_blocks(np.arange(10), (0.6, 0.2, 0.2))]
    [[0, 1, 2, 3, 4, 5], [6, 7], [8, 9]]
    """
    ids = np.asarray(ids)
    fractions = [float(f) for f in fractions]
    if not fractions or min(fractions) <= 0 or not math.isclose(sum(fractions), 1.0):
        raise ValueError(f"split_blocks: expected positive fractions summing to 1, got {fractions}")
    if ids.ndim != 1:
        raise ValueError(f"split_blocks: expected ids of shape (L,), got {ids.shape}")
    bounds = np.floor(np.cumsum([0.0, *fractions]) * len(ids) + 1e-9).astype(int)
    bounds[-1] = len(ids)
    blocks = tuple(ids[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True))
    sizes = [len(b) for b in blocks]
    if min(sizes) < 2:
        raise ValueError(f"split_blocks: expected every block to hold >= 2 tokens, got sizes {sizes}")
    return blocks


class TextCorpus(NamedTuple):
    """A vocabulary and the ids of three contiguous blocks of a text."""

    vocab: Vocab
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray


def text_corpus(
    text: str | os.PathLike,
    fractions: Sequence[float] = (0.9, 0.05, 0.05),
    *,
    vocab: Vocab | None = None,
    min_count: int = 1,
) -> TextCorpus:
    """Encode a text and split it into train, validation and test blocks.

    Parameters
    ----------
    text : str or os.PathLike
        The text itself, or a path object (e.g. ``pathlib.Path("my.txt")``) to a UTF-8 file.
    fractions : (float, float, float), default (0.9, 0.05, 0.05)
        Sizes of the train, validation and test blocks, in this order along the text.
    vocab : Vocab, optional
        By default, the characters of the training block seen ``min_count`` times; characters
        that only occur in held-out text then encode to ``UNK`` (they cannot be predicted by name).
    min_count : int, default 1

    Returns
    -------
    TextCorpus
        ``(vocab, train, valid, test)``, the ids as int64 arrays.

    Examples
    --------
    >>> corpus = text_corpus("to be or not to be, " * 10, (0.8, 0.1, 0.1))
    >>> len(corpus.vocab), len(corpus.train), len(corpus.valid), len(corpus.test)
    (10, 160, 20, 20)
    """
    if isinstance(text, os.PathLike):
        text = read_text(text)
    if not isinstance(text, str):
        raise TypeError(f"text_corpus: expected a str or a path object, got {type(text).__name__}")
    if len(fractions) != 3:
        raise ValueError(f"text_corpus: expected 3 fractions (train, valid, test), got {len(fractions)}")
    chars = np.array(list(text), dtype=object)
    train, valid, test = split_blocks(chars, fractions)
    if vocab is None:
        vocab = Vocab.from_text(train.tolist(), min_count=min_count)
    return TextCorpus(vocab, *(vocab.encode(block.tolist()) for block in (train, valid, test)))


def genesis() -> str:
    """The Book of Genesis, King James Version (public domain), as the package ships it (~205 KB).

    Fifty chapters, each verse a paragraph starting with its number, lines wrapped at 80 columns;
    70 distinct characters. ``companion/data/files/README.md`` records where it comes from.
    """
    return resources.files("companion.data").joinpath("files/genesis.txt").read_text(encoding="utf-8")


class Batch(NamedTuple):
    """One chunk of a :class:`StreamBatches` pass."""

    #: The ids at steps s .. s+k-1 of every stream, an int64 tensor of shape (N, k).
    inputs: Tensor
    #: The ids at steps s+1 .. s+k (the next token of each input), an int64 tensor of shape (N, k).
    targets: Tensor
    #: Whether this is the first chunk of a pass (where the carried state must be reset).
    start: bool


class StreamBatches:
    """Read a sequence as N parallel streams, in consecutive chunks of ``seq_len`` steps.

    Parameters
    ----------
    ids : array_like of int of shape (L,), or a 1-D tensor
    batch_size : int
        N, the number of streams. Stream n is ``ids[n * S : (n + 1) * S]`` with ``S = L // N``;
        the last ``L - N S`` ids are dropped.
    seq_len : int
        k, the truncation length: the steps each chunk backpropagates through.
    device : torch.device, optional

    Attributes
    ----------
    streams : Tensor of int64 of shape (N, S)

    Notes
    -----
    Chunk i holds inputs ``streams[:, ik : ik + k]`` and targets one step later; the last chunk of
    a pass may be shorter. Row n of chunk i + 1 continues row n of chunk i, so the final state of a
    model on chunk i is the initial state for chunk i + 1 (detached: the gradient stops at the
    boundary, as in :func:`companion.ref.tbptt.truncated_rnn_backward`). A pass predicts every
    step of every stream but the first: ``N (S - 1)`` targets in ``ceil((S - 1) / k)`` chunks.

    Iterating yields one pass of :class:`Batch` es; calling ``batches(step)`` returns chunk
    ``step % len(batches)``, passes following each other forever, which is what
    :func:`companion.train.loop.fit` expects.

    Examples
    --------
    >>> b = StreamBatches(np.arange(20), batch_size=2, seq_len=4)
    >>> b.streams.tolist()
    [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]]
    >>> first = b(0)
    >>> first.inputs.tolist(), first.targets.tolist(), first.start
    ([[0, 1, 2, 3], [10, 11, 12, 13]], [[1, 2, 3, 4], [11, 12, 13, 14]], True)
    >>> len(b), b(2).inputs.tolist()
    (3, [[8], [18]])
    """

    def __init__(self, ids, batch_size: int, seq_len: int, device: torch.device | str | None = None) -> None:
        for name, value in (("batch_size", batch_size), ("seq_len", seq_len)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"StreamBatches: expected {name} to be a positive int, got {value!r}")
        ids = torch.as_tensor(np.asarray(ids) if not isinstance(ids, Tensor) else ids)
        if ids.dim() != 1 or ids.dtype.is_floating_point or ids.dtype == torch.bool:
            raise ValueError(
                f"StreamBatches: expected int ids of shape (L,), got {tuple(ids.shape)} {ids.dtype}"
            )
        S = len(ids) // batch_size
        if S < 2:
            raise ValueError(
                f"StreamBatches: expected at least 2 * batch_size = {2 * batch_size} ids, got {len(ids)}"
            )
        self.streams = ids[: batch_size * S].reshape(batch_size, S).to(torch.long).to(device)  # (N, S)
        self.seq_len = seq_len

    def __len__(self) -> int:
        return math.ceil((self.streams.shape[1] - 1) / self.seq_len)

    def __call__(self, step: int) -> Batch:
        i = step % len(self)
        start, stop = i * self.seq_len, min((i + 1) * self.seq_len, self.streams.shape[1] - 1)
        return Batch(self.streams[:, start:stop], self.streams[:, start + 1 : stop + 1], i == 0)

    def __iter__(self) -> Iterator[Batch]:
        return (self(i) for i in range(len(self)))
