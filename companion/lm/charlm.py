"""Language models of tokens: a recurrent model, its evaluation, sampling and saving (chapters 9-10).

:class:`CharLM` is embedding -> a stack of :mod:`companion.nn` layers -> linear read-out, predicting
the next token at every step. It trains with stateful truncated BPTT (:class:`TBPTTLoss` with
:class:`companion.data.text.StreamBatches` and :func:`companion.train.loop.fit`), is measured by
:func:`token_nll` in nats per token (``exp`` gives the perplexity, ``/ ln 2`` the bits per
character), writes text with :func:`sample` and survives :func:`save` / :func:`load`. The count-based
baselines it has to beat are in :mod:`companion.lm.ngram`. The same pieces model melodies
(:mod:`companion.data.music`): only the vocabulary changes.

Example: a model of your own text file::

    corpus = text_corpus(pathlib.Path("my.txt"))
    model = CharLM(len(corpus.vocab), 256, embedding_dim=32)
    fit(model, TBPTTLoss(), StreamBatches(corpus.train, 32, 100),
        torch.optim.Adam(model.parameters(), 3e-3), steps=500, clip_norm=1.0)
    print(sample_text(model, corpus.vocab, "And ", 200, temperature=0.8, generator=0))
"""

from __future__ import annotations

import math
import os
import pickle
import zipfile
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import companion.nn as cnn
from companion.data.text import Vocab

__all__ = [
    "CharLM",
    "detach_state",
    "TBPTTLoss",
    "token_nll",
    "perplexity",
    "bits",
    "sample",
    "sample_text",
    "save",
    "load",
]

_CELLS = {"rnn": cnn.RNN, "lstm": cnn.LSTM, "gru": cnn.GRU}


class CharLM(nn.Module):
    """Next-token model: embedding, recurrent stack, linear read-out.

    Parameters
    ----------
    vocab_size : int
        V, the number of tokens (inputs and outputs).
    hidden_size : int
        H of every recurrent layer.
    embedding_dim : int, optional
        E, the size of a dense :class:`torch.nn.Embedding`. None feeds one-hot vectors of size V
        instead: the same function (a one-hot row times a matrix is a row of it), with a V x 4H
        input matrix in place of the V x E table and the E x 4H matrix.
    num_layers : int, default 1
    cell : {"lstm", "gru", "rnn"}, default "lstm"
        :class:`~companion.nn.layers.LSTM`, :class:`~companion.nn.layers.GRU` or
        :class:`~companion.nn.layers.RNN` (tanh).
    dropout : float, default 0.0
        On the embedding, between recurrent layers and before the read-out, in training mode only.
    device, dtype : optional
        As in ``torch.nn``.

    Inputs: ``input, state``
        ``input``: Tensor of int64 of shape (N, T); ``state``: the state returned by the previous
        call (``(h, c)`` for an LSTM, ``h`` of shape (L, N, H) otherwise) or None for zeros.

    Outputs: ``logits, state``
        ``logits``: Tensor of shape (N, T, V), unnormalised log-probabilities of the next token;
        ``state``: the final state, to pass to the next call.
    """

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        *,
        embedding_dim: int | None = None,
        num_layers: int = 1,
        cell: str = "lstm",
        dropout: float = 0.0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        if cell not in _CELLS:
            raise ValueError(f"CharLM: expected cell in {sorted(_CELLS)}, got {cell!r}")
        for name, value in (("vocab_size", vocab_size), ("hidden_size", hidden_size)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"CharLM: expected {name} to be a positive int, got {value!r}")
        if embedding_dim is not None and (not isinstance(embedding_dim, int) or embedding_dim < 1):
            raise ValueError(
                f"CharLM: expected embedding_dim to be None or a positive int, got {embedding_dim!r}"
            )
        factory = {"device": device, "dtype": dtype}
        self.config = {
            "vocab_size": vocab_size,
            "hidden_size": hidden_size,
            "embedding_dim": embedding_dim,
            "num_layers": num_layers,
            "cell": cell,
            "dropout": float(dropout),
        }
        self.embedding = None if embedding_dim is None else nn.Embedding(vocab_size, embedding_dim, **factory)
        self.rnn = _CELLS[cell](
            embedding_dim or vocab_size,
            hidden_size,
            num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
            **factory,
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size, **factory)

    def embed(self, input: Tensor) -> Tensor:
        """Input vectors of shape (N, T, E), or one-hot (N, T, V) when ``embedding_dim`` is None."""
        V = self.config["vocab_size"]
        if input.dim() != 2 or input.dtype != torch.long:
            raise ValueError(
                f"CharLM: expected input of int64 ids of shape (N, T), got {tuple(input.shape)} {input.dtype}"
            )
        if input.numel() and (int(input.min()) < 0 or int(input.max()) >= V):
            raise ValueError(
                f"CharLM: expected ids in [0, V) = [0, {V}), got {int(input.min())}..{int(input.max())}"
            )
        if self.embedding is None:
            return F.one_hot(input, V).to(self.head.weight.dtype)  # (N, T, V)
        return self.embedding(input)  # (N, T, E)

    def forward(self, input: Tensor, state=None):
        """Logits for the next token at every step, and the recurrent state after the last step.

        Parameters
        ----------
        input : Tensor of int64 of shape (N, T)
            Token ids.
        state : Tensor or tuple of Tensor, optional
            The state to start from (the layer's ``hx``); zeros if omitted.

        Returns
        -------
        logits : Tensor of shape (N, T, V)
        state : Tensor or tuple of Tensor
            The layer's final state, to carry into the next chunk (after :func:`detach_state`).
        """
        output, state = self.rnn(self.drop(self.embed(input)), state)  # (N, T, H)
        return self.head(self.drop(output)), state  # (N, T, V)


def detach_state(state):
    """The state with its history cut: ``h.detach()`` for a tensor, each part of a tuple, None as None."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    return tuple(detach_state(s) for s in state)


class TBPTTLoss:
    """The ``loss_fn`` of :func:`companion.train.loop.fit` for stateful truncated BPTT.

    Called with a :class:`companion.data.text.Batch`, it runs the model from the state left by the
    previous batch (zeros at the start of a pass), stores the final state detached for the next
    batch, and returns the mean cross-entropy of the targets in nats.

    Attributes
    ----------
    state : Tensor, tuple of Tensor or None
        The detached state carried to the next batch.
    """

    def __init__(self) -> None:
        self.state = None

    def __call__(self, model: nn.Module, batch) -> Tensor:
        inputs, targets, start = batch
        if start:
            self.state = None
        logits, state = model(inputs, self.state)  # (N, k, V)
        self.state = detach_state(state)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))  # (N k, V)


@torch.no_grad()
def token_nll(model: nn.Module, ids, *, seq_len: int = 256) -> np.ndarray:
    """Negative log-likelihood of every token of ``ids`` but the first, given all tokens before it.

    Parameters
    ----------
    model : CharLM
        Or any module with its ``(input, state) -> (logits, state)`` interface; run in eval mode.
    ids : array_like of int of shape (L,) or (N, L)
        One sequence, or N sequences of equal length scored side by side (one batch row each,
        each from the zero state: the same numbers as N separate calls, in one pass).
    seq_len : int, default 256
        Chunk length; the state is carried across chunks, so the value only changes the speed.

    Returns
    -------
    ndarray of float64 of shape (L - 1,) or (N, L - 1)
        ``-log p(ids[t] | ids[:t])`` in nats for t = 1 .. L-1. Its mean m gives the perplexity
        ``exp(m)`` and the bits per token ``m / ln 2``.
    """
    ids = torch.as_tensor(np.asarray(ids), dtype=torch.long)
    if ids.dim() not in (1, 2) or ids.shape[-1] < 2 or ids.numel() == 0:
        raise ValueError(
            f"token_nll: expected ids of shape (L,) or (N, L) with L >= 2, got {tuple(ids.shape)}"
        )
    rows = ids if ids.dim() == 2 else ids[None]  # (N, L)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out, state = [], None
    try:
        for start in range(0, rows.shape[1] - 1, seq_len):
            chunk = rows[:, start : min(start + seq_len + 1, rows.shape[1])].to(device)  # (N, k + 1)
            logits, state = model(chunk[:, :-1], state)  # (N, k, V)
            logp = F.log_softmax(logits.double(), dim=-1)  # (N, k, V)
            out.append(-logp.gather(2, chunk[:, 1:, None])[..., 0].cpu())  # (N, k)
    finally:
        model.train(was_training)
    nll = torch.cat(out, dim=1).numpy()  # (N, L - 1)
    return nll if ids.dim() == 2 else nll[0]


def perplexity(nll: float | np.ndarray) -> float:
    """``exp`` of the mean negative log-likelihood in nats: the model's effective branching factor."""
    return float(math.exp(float(np.mean(nll))))


def bits(nll: float | np.ndarray) -> float:
    """Mean negative log-likelihood in bits (per character, for a character model): nats / ln 2."""
    return float(np.mean(nll) / math.log(2))


def _generator(generator, temperature: float) -> torch.Generator | None:
    if isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, int) and not isinstance(generator, bool):
        return torch.Generator().manual_seed(generator)
    if generator is None and temperature == 0:
        return None
    raise TypeError(f"sample: expected generator to be an int seed or a torch.Generator, got {generator!r}")


def _next_token(logits: Tensor, temperature: float, top_k: int | None, generator) -> int:
    """Draw one id from logits of shape (V,)."""
    if temperature == 0:
        return int(logits.argmax())
    logits = logits.double() / temperature
    if top_k is not None and top_k < logits.numel():
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, -math.inf)
    probs = torch.softmax(logits, dim=-1)  # (V,)
    return int(torch.multinomial(probs.cpu(), 1, generator=generator))


@torch.no_grad()
def sample(
    model: nn.Module,
    prime: Sequence[int],
    length: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: int | torch.Generator | None = None,
    stop: int | None = None,
    exclude: Sequence[int] = (),
) -> list[int]:
    """Continue ``prime`` by drawing ``length`` tokens, one at a time, from the model's predictions.

    Parameters
    ----------
    model : CharLM
    prime : sequence of int
        At least one id; the model reads it first (its last prediction gives the first new token).
    length : int
        Number of tokens to draw.
    temperature : float, default 1.0
        Logits are divided by it: below 1 sharpens, above 1 flattens the distribution. 0 takes the
        most probable token every time (greedy decoding, the limit as the temperature goes to 0).
    top_k : int, optional
        Draw only among the k most probable tokens (ties with the k-th included).
    generator : int or torch.Generator
        Seed or generator of the draws; required unless ``temperature == 0``.
    stop : int, optional
        Stop after drawing this id (e.g. an end-of-melody token); it is included.
    exclude : sequence of int, default ()
        Ids never drawn (e.g. padding and unknown tokens).

    Returns
    -------
    list of int
        The drawn ids (without the prime).
    """
    if not prime:
        raise ValueError("sample: expected a prime of at least one id, got an empty one")
    if not (isinstance(temperature, (int, float)) and temperature >= 0):
        raise ValueError(f"sample: expected temperature >= 0, got {temperature!r}")
    if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"sample: expected top_k to be None or a positive int, got {top_k!r}")
    generator = _generator(generator, temperature)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        input = torch.as_tensor(list(prime), dtype=torch.long, device=device)[None]  # (1, P)
        logits, state = model(input, None)
        banned = torch.as_tensor(list(exclude), dtype=torch.long, device=device)
        out = []
        for _ in range(length):
            token = _next_token(
                logits[0, -1].index_fill(0, banned, -math.inf), float(temperature), top_k, generator
            )
            out.append(token)
            if token == stop:
                break
            logits, state = model(torch.tensor([[token]], device=device), state)  # (1, 1, V)
    finally:
        model.train(was_training)
    return out


def sample_text(model: nn.Module, vocab: Vocab, prime: str, length: int, **kwargs) -> str:
    """:func:`sample` on characters: encode ``prime``, draw ``length`` characters, return them as a str.

    Keyword arguments (``temperature``, ``top_k``, ``generator``) go to :func:`sample`; the padding
    and unknown tokens are never drawn.
    """
    kwargs.setdefault("exclude", (vocab.pad_id, vocab.unk_id))
    return vocab.decode(sample(model, vocab.encode(prime).tolist(), length, **kwargs))


_FORMAT = "companion.CharLM/1"


def save(model: CharLM, path: str | os.PathLike, vocab: Vocab | None = None) -> None:
    """Write a model's configuration, weights and (optionally) vocabulary to one file.

    The file holds only tensors, strings and numbers, so :func:`load` reads it with
    ``torch.load(..., weights_only=True)``: loading never runs code from the file.
    """
    if not isinstance(model, CharLM):
        raise TypeError(f"save: expected a CharLM, got {type(model).__name__}")
    tokens = None if vocab is None else vocab.tokens[2:]
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"format": _FORMAT, "config": model.config, "state_dict": state, "vocab": tokens}, path)


def load(path: str | os.PathLike, device=None) -> tuple[CharLM, Vocab | None]:
    """Read a file written by :func:`save`: the model (in eval mode) and its vocabulary (or None).

    Raises
    ------
    ValueError
        If the file cannot be read as a saved model, or its weights do not fit its configuration.
    """
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError) as error:
        raise ValueError(
            f"load: cannot read {path} as a saved CharLM ({type(error).__name__}: {error})"
        ) from error
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        got = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"load: expected a file written by companion.lm.save ({_FORMAT}), got {got!r}")
    try:
        model = CharLM(**data["config"])
        model.load_state_dict(data["state_dict"])
    except (TypeError, RuntimeError) as error:
        raise ValueError(
            f"load: the weights in {path} do not fit the model they describe: {error}"
        ) from error
    vocab = None if data["vocab"] is None else Vocab(data["vocab"])
    if vocab is not None and len(vocab) != model.config["vocab_size"]:
        raise ValueError(
            f"load: expected a vocabulary of {model.config['vocab_size']} tokens, got {len(vocab)}"
        )
    return model.to(device).eval(), vocab
