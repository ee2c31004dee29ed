"""Encoder–decoder models, with and without attention, trained with teacher forcing (chapter 8).

An :class:`Encoder` reads the source tokens (N, Ts) with a recurrent layer of :mod:`companion.nn`
(``GRU`` or ``LSTM``, stacked, bidirectional, padded batches read with ``lengths``) and keeps two things,
a :class:`Memory`: its outputs (N, Ts, C), one vector per source position, and a summary (N, C), the
final states of the top layer (both directions concatenated). A :class:`Decoder` writes the target
one token at a time; its state starts from the encoder's final states and at each step it reads a
context vector :math:`c_t` (C) beside the previous token :math:`y_{t-1}`, and predicts

.. math::

    p(y_t \\mid y_{<t}, x) = \\operatorname{softmax}(W_o [s_t; c_t] + b_o).

- Without attention, :math:`c_t` is the summary, the same at every step (Cho et al., 2014), and
  :math:`s_t = \\operatorname{RNN}([e(y_{t-1}); c_t], s_{t-1})`: the whole source must squeeze
  through one vector.
- With attention, :math:`c_t = \\sum_j a_{tj} m_j` is a weighted average of the encoder outputs
  :math:`m_j`, padded positions masked out. Bahdanau et al. (2015) (``query="previous"``) take the
  weights from the previous state, :math:`a_t = \\operatorname{attention}(s_{t-1}, m)`, and feed
  :math:`c_t` into the recurrence, :math:`s_t = \\operatorname{RNN}([e(y_{t-1}); c_t], s_{t-1})`.
  Luong et al. (2015) (``query="current"``) run the recurrence first, on the summary as without
  attention, and attend from the new state, :math:`a_t = \\operatorname{attention}(s_t, m)`: the
  recurrence then never waits for attention, so teacher forcing runs the layer over all steps in one
  call and attends from all states at once (about 3× faster to train on a CPU).

:class:`Seq2Seq` puts the two together. Training feeds the true previous token (teacher forcing):
``forward(src, src_lengths, tgt_in)`` gives the logits of every target position at once. Generation
feeds the model its own choices: :meth:`Seq2Seq.greedy_decode` and :meth:`Seq2Seq.beam_decode` run
the searches of :mod:`companion.nn.search`, which work on any step function (a hand-set probability
table too).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from companion._validate import check_lengths
from companion.nn.errors import DTypeError, ShapeError
from companion.nn.layers import GRU, LSTM
from companion.nn.search import Hypotheses, beam_search, check_options, greedy_search

__all__ = ["Memory", "Encoder", "Decoder", "Seq2Seq"]

_CELLS = {"gru": GRU, "lstm": LSTM}


def _check_cell(where: str, cell) -> type:
    if cell not in _CELLS:
        raise ValueError(f"{where}: expected cell to be 'gru' or 'lstm', got {cell!r}")
    return _CELLS[cell]


def _check_tokens(where: str, name: str, tokens, N: int | None = None) -> None:
    if not isinstance(tokens, Tensor) or tokens.dtype != torch.int64:
        kind = tokens.dtype if isinstance(tokens, Tensor) else type(tokens).__name__
        raise DTypeError(f"{where}: expected {name} to be an int64 Tensor of token ids, got {kind}")
    if tokens.dim() != 2 or (N is not None and tokens.shape[0] != N):
        expected = "(N, T)" if N is None else f"(N, T) = ({N}, T)"
        raise ShapeError(f"{where}: expected {name} of shape {expected}, got {tuple(tokens.shape)}")


class Memory(NamedTuple):
    """What the decoder reads of the source.

    Attributes
    ----------
    outputs : Tensor of shape (N, Ts, C)
        Encoder outputs, C = directions · hidden size; zeros at padded positions.
    mask : Tensor of bool of shape (N, Ts)
        True at the valid source positions.
    summary : Tensor of shape (N, C)
        Final states of the encoder's top layer, directions concatenated.
    """

    outputs: Tensor
    mask: Tensor
    summary: Tensor


class Encoder(nn.Module):
    """Embedding, then a recurrent layer of :mod:`companion.nn` over the source tokens.

    Parameters
    ----------
    vocab_size : int
        Source vocabulary size.
    embed_size : int
        Embedding size E.
    hidden_size : int
        Hidden size H of each direction.
    num_layers : int, default 1
    cell : {"gru", "lstm"}, default "gru"
    bidirectional : bool, default True
    dropout : float, default 0.0
        Between stacked layers.
    padding_idx : int, default 0
        Id of the padding token (its embedding stays zero).

    Attributes
    ----------
    output_size : int
        C = (2 if bidirectional else 1) · H.

    Examples
    --------
    >>> enc = Encoder(10, 4, 8)
    >>> outputs, h_n = enc(torch.tensor([[3, 4, 5], [6, 7, 0]]), torch.tensor([3, 2]))
    >>> outputs.shape, h_n.shape
    (torch.Size([2, 3, 16]), torch.Size([2, 2, 8]))
    """

    def __init__(
        self,
        vocab_size: int,
        embed_size: int,
        hidden_size: int,
        num_layers: int = 1,
        *,
        cell: str = "gru",
        bidirectional: bool = True,
        dropout: float = 0.0,
        padding_idx: int = 0,
    ) -> None:
        super().__init__()
        layer = _check_cell("Encoder", cell)
        self.cell = cell
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=padding_idx)
        self.rnn = layer(
            embed_size,
            hidden_size,
            num_layers,
            batch_first=True,
            dropout=dropout,
            bidirectional=bidirectional,
        )
        self.output_size = hidden_size * (2 if bidirectional else 1)

    def forward(self, src: Tensor, lengths: Tensor):
        """Read a padded batch of source sequences.

        Parameters
        ----------
        src : Tensor of int64 of shape (N, Ts)
        lengths : Tensor of int of shape (N,)
            True length of each source, in [1, Ts].

        Returns
        -------
        outputs : Tensor of shape (N, Ts, C)
            Zero at padded positions.
        h_n : Tensor of shape (L·dirs, N, H), or the pair ``(h_n, c_n)`` for an LSTM
            States at each sequence's true end.
        """
        _check_tokens("Encoder", "src", src)
        return self.rnn(self.embedding(src), lengths=lengths)


class Decoder(nn.Module):
    """A recurrent decoder that reads a context vector at every step, with or without attention.

    Parameters
    ----------
    vocab_size : int
        Target vocabulary size V.
    embed_size : int
        Embedding size E.
    hidden_size : int
        Hidden size H of the decoder.
    context_size : int
        C, the encoder's ``output_size``.
    num_layers : int, default 1
        Must equal the encoder's: layer l starts from the encoder's layer l.
    cell : {"gru", "lstm"}, default "gru"
    attention : torch.nn.Module, optional
        Called as ``attention(queries (N, 1, H), keys (N, Ts, C), values (N, Ts, C), mask=(N, Ts))``
        and returning ``(context (N, 1, C), weights (N, 1, Ts))``, e.g.
        ``companion.nn.attention.AdditiveAttention``. None: the context is the encoder's summary.
    query : {"previous", "current"}, default "previous"
        Attend from the previous state and feed the context into the recurrence (Bahdanau), or attend
        from the new state (Luong); see the module docstring. Ignored without attention.
    dropout : float, default 0.0
        Between stacked layers.
    padding_idx : int, default 0

    Notes
    -----
    Initial state of layer l: :math:`s_0^{(l)} = \\tanh(W_b h^{(l)}_{enc} + b_b)` from the encoder's
    final states of layer l (directions concatenated); an LSTM's cell starts at zero.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_size: int,
        hidden_size: int,
        context_size: int,
        num_layers: int = 1,
        *,
        cell: str = "gru",
        attention: nn.Module | None = None,
        query: str = "previous",
        dropout: float = 0.0,
        padding_idx: int = 0,
    ) -> None:
        super().__init__()
        layer = _check_cell("Decoder", cell)
        if query not in ("previous", "current"):
            raise ValueError(f"Decoder: expected query to be 'previous' or 'current', got {query!r}")
        self.cell, self.attention, self.query = cell, attention, query
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=padding_idx)
        self.bridge = nn.Linear(context_size, hidden_size)
        self.rnn = layer(
            embed_size + context_size, hidden_size, num_layers, batch_first=True, dropout=dropout
        )
        self.out = nn.Linear(hidden_size + context_size, vocab_size)

    def init_state(self, encoder_final: Tensor):
        """Decoder state from the encoder's final states, ``encoder_final`` of shape (L, N, C)."""
        h = torch.tanh(self.bridge(encoder_final))  # (L, N, H)
        return (h, torch.zeros_like(h)) if self.cell == "lstm" else h

    def _attend(self, queries: Tensor, memory: Memory):
        """Contexts (N, Tq, C) and weights (N, Tq, Ts) of queries (N, Tq, H); no attention: the summary."""
        if self.attention is None:
            return memory.summary.unsqueeze(1).expand(-1, queries.shape[1], -1), None  # (N, Tq, C)
        return self.attention(queries, memory.outputs, memory.outputs, mask=memory.mask)

    def _top(self, state) -> Tensor:
        return (state[0] if self.cell == "lstm" else state)[-1].unsqueeze(1)  # top layer, (N, 1, H)

    def step(self, tokens: Tensor, state, memory: Memory):
        """One step: previous tokens (N,) and state -> logits (N, V), new state, weights (N, Ts) or None."""
        embedded = self.embedding(tokens).unsqueeze(1)  # (N, 1, E)
        if self.query == "previous":
            context, weights = self._attend(self._top(state), memory)  # (N, 1, C)
            output, state = self.rnn(torch.cat([embedded, context], dim=-1), state)  # (N, 1, H)
        else:
            summary = memory.summary.unsqueeze(1)  # (N, 1, C)
            output, state = self.rnn(torch.cat([embedded, summary], dim=-1), state)  # (N, 1, H)
            context, weights = self._attend(output, memory)  # (N, 1, C)
        logits = self.out(torch.cat([output, context], dim=-1)).squeeze(1)  # (N, V)
        return logits, state, None if weights is None else weights.squeeze(1)

    def forward(self, tgt_in: Tensor, state, memory: Memory):
        """All steps with teacher forcing.

        Parameters
        ----------
        tgt_in : Tensor of int64 of shape (N, Tt)
            The previous token of every position (start token, then the target shifted right).
        state : Tensor of shape (L, N, H), or a pair for an LSTM
        memory : Memory

        Returns
        -------
        logits : Tensor of shape (N, Tt, V)
        weights : Tensor of shape (N, Tt, Ts), or None without attention
        state : the final state

        Notes
        -----
        Unless attention reads the previous state, the recurrence does not depend on the contexts: the
        layer then runs over all Tt steps in one call and attention reads all Tt states at once.
        """
        if self.attention is None or self.query == "current":
            summary = memory.summary.unsqueeze(1).expand(-1, tgt_in.shape[1], -1)  # (N, Tt, C)
            output, state = self.rnn(torch.cat([self.embedding(tgt_in), summary], dim=-1), state)
            context, weights = self._attend(output, memory)  # (N, Tt, C), (N, Tt, Ts)
            return self.out(torch.cat([output, context], dim=-1)), weights, state  # (N, Tt, V)
        logits, weights = [], []
        for tokens in tgt_in.unbind(1):
            step_logits, state, step_weights = self.step(tokens, state, memory)
            logits.append(step_logits)
            weights.append(step_weights)
        return torch.stack(logits, 1), torch.stack(weights, 1), state  # (N, Tt, V), (N, Tt, Ts)


class Seq2Seq(nn.Module):
    """An :class:`Encoder` and a :class:`Decoder`, trained with teacher forcing, decoded greedily or by beam.

    Parameters
    ----------
    encoder : Encoder
    decoder : Decoder
        With ``context_size == encoder.output_size`` and as many layers as the encoder.
    sos, eos : int
        Ids of the start and end tokens of the target vocabulary.
    pad : int, default 0
        Id written after a hypothesis has ended.

    Raises
    ------
    ShapeError
        If the decoder does not fit the encoder.

    Examples
    --------
    >>> enc = Encoder(10, 4, 8)
    >>> model = Seq2Seq(enc, Decoder(7, 4, 8, enc.output_size), sos=1, eos=2)
    >>> src, lengths = torch.tensor([[3, 4, 5], [6, 7, 0]]), torch.tensor([3, 2])
    >>> logits, weights = model(src, lengths, torch.tensor([[1, 5], [1, 6]]))
    >>> logits.shape, weights
    (torch.Size([2, 2, 7]), None)
    >>> model.beam_decode(src, lengths, beam_size=3, max_len=4).tokens.shape[:2]
    torch.Size([2, 3])
    """

    def __init__(self, encoder: Encoder, decoder: Decoder, *, sos: int, eos: int, pad: int = 0) -> None:
        super().__init__()
        if decoder.bridge.in_features != encoder.output_size:
            raise ShapeError(
                f"Seq2Seq: expected decoder context_size = encoder.output_size = {encoder.output_size}, "
                f"got {decoder.bridge.in_features}"
            )
        if decoder.rnn.num_layers != encoder.rnn.num_layers:
            raise ShapeError(
                f"Seq2Seq: expected a decoder with num_layers = {encoder.rnn.num_layers} (the encoder's), "
                f"got {decoder.rnn.num_layers}"
            )
        self.encoder, self.decoder = encoder, decoder
        self.sos, self.eos, self.pad = sos, eos, pad

    def encode(self, src: Tensor, src_lengths: Tensor):
        """Run the encoder: the decoder's :class:`Memory` and its initial state."""
        _check_tokens("Seq2Seq", "src", src)
        (N, Ts), L = src.shape, self.encoder.rnn.num_layers
        lengths = check_lengths("Seq2Seq", src_lengths, N, Ts, shape_error=ShapeError, type_error=DTypeError)
        lengths = torch.from_numpy(lengths).to(src.device)  # (N,)
        mask = torch.arange(Ts, device=src.device) < lengths.unsqueeze(1)  # (N, Ts)
        outputs, h_n = self.encoder(src, src_lengths)
        h_n = h_n[0] if isinstance(h_n, tuple) else h_n  # (L·dirs, N, H)
        final = h_n.view(L, -1, N, h_n.shape[-1]).permute(0, 2, 1, 3).reshape(L, N, -1)  # (L, N, dirs·H)
        return Memory(outputs, mask, final[-1]), self.decoder.init_state(final)

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor):
        """Teacher forcing: the logits of every target position given the true previous tokens.

        Parameters
        ----------
        src : Tensor of int64 of shape (N, Ts)
        src_lengths : Tensor of int of shape (N,)
        tgt_in : Tensor of int64 of shape (N, Tt)
            Start token, then the target without its last token.

        Returns
        -------
        logits : Tensor of shape (N, Tt, V)
        weights : Tensor of shape (N, Tt, Ts), or None without attention
            Attention of each target position over the source.
        """
        _check_tokens("Seq2Seq", "src", src)
        _check_tokens("Seq2Seq", "tgt_in", tgt_in, src.shape[0])
        memory, state = self.encode(src, src_lengths)
        logits, weights, _ = self.decoder(tgt_in, state, memory)
        return logits, weights

    def step_function(self, src: Tensor, src_lengths: Tensor):
        """Encode the sources; the step function and initial state that the searches work on.

        Returns
        -------
        step : callable
            ``step(tokens (B,), state) -> (log_probs (B, V), state, weights (B, Ts) or None)``.
        state : tuple of Tensor
            Batch first: the decoder state (N, L, H) (two for an LSTM), then the :class:`Memory`.
        """
        memory, state = self.encode(src, src_lengths)
        lstm = isinstance(state, tuple)
        rows = [s.transpose(0, 1) for s in (state if lstm else (state,))]  # each (N, L, H)

        def step(tokens: Tensor, search_state: tuple):
            *states, outputs, mask, summary = search_state
            states = [s.transpose(0, 1).contiguous() for s in states]  # each (L, B, H)
            logits, new, weights = self.decoder.step(
                tokens, tuple(states) if lstm else states[0], Memory(outputs, mask, summary)
            )
            new = [s.transpose(0, 1) for s in (new if lstm else (new,))]  # each (B, L, H)
            return F.log_softmax(logits, dim=-1), (*new, outputs, mask, summary), weights

        return step, (*rows, *memory)

    def _search(self, search, src: Tensor, src_lengths: Tensor, **options) -> Hypotheses:
        """Run ``search`` (greedy or beam) on the step function of the encoded sources."""
        _check_tokens("Seq2Seq", "src", src)
        check_options("Seq2Seq", src.shape[0], **options)
        step, state = self.step_function(src, src_lengths)
        return search(step, state, src.shape[0], sos=self.sos, eos=self.eos, pad=self.pad, **options)

    @torch.no_grad()
    def greedy_decode(
        self, src: Tensor, src_lengths: Tensor, *, max_len: int, alpha: float = 0.0
    ) -> Hypotheses:
        """Greedy decoding, without gradients (call ``eval()`` first if the model has dropout).

        Parameters
        ----------
        src : Tensor of int64 of shape (N, Ts)
        src_lengths : Tensor of int of shape (N,)
        max_len : int
            Most tokens generated per example, the end token included.
        alpha : float, default 0.0
            Length normalisation exponent of the scores.

        Returns
        -------
        Hypotheses
            Tokens (N, T), lengths, scores and log-probabilities (N,), attention weights (N, T, Ts) or
            None; see :func:`~companion.nn.search.greedy_search`.
        """
        return self._search(greedy_search, src, src_lengths, max_len=max_len, alpha=alpha)

    @torch.no_grad()
    def beam_decode(
        self, src: Tensor, src_lengths: Tensor, *, beam_size: int, max_len: int, alpha: float = 0.0
    ) -> Hypotheses:
        """Beam search for all N examples at once, without gradients (call ``eval()`` first).

        The arguments are those of :meth:`greedy_decode` and ``beam_size``, k, the number of hypotheses
        kept and returned per example. Returns :class:`~companion.nn.search.Hypotheses` with tokens
        (N, k, T), lengths, scores and log-probabilities (N, k), best first, and attention weights
        (N, k, T, Ts) or None; see :func:`~companion.nn.search.beam_search`.
        """
        return self._search(beam_search, src, src_lengths, beam_size=beam_size, max_len=max_len, alpha=alpha)
