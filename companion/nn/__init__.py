"""torch modules written from the equations, drop-in compatible with ``torch.nn`` (chapters 5–8, 13).

:mod:`companion.nn.cells` holds one step of each recurrence (``RNNCell``, ``LSTMCell``, ``GRUCell``)
and :mod:`companion.nn.layers` the sequence layers (``RNN``, ``LSTM``, ``GRU``: stacked, bidirectional,
with dropout between layers, the LSTM's projection, and ``PackedSequence`` or padded batches with
``lengths``). They have ``torch.nn``'s constructor arguments, parameter names, inputs and outputs, so a
``state_dict`` moves between them and ``torch.nn`` in both directions; the tests check that outputs and
gradients agree. :mod:`companion.nn.fused` is the layers' fast path (the BPTT of chapter 3 as a custom
autograd function) and :mod:`companion.nn.unroll` their plain path (the steps in a loop);
:mod:`companion.nn.kinds` is the table of recurrence kinds, :mod:`companion.nn.packing` and
:mod:`companion.nn.recurrence` are the other parts a layer is built from, and :mod:`companion.nn.utils`
has helpers for padded batches (masks from lengths, each sequence's last valid output). Chapter 8
adds :mod:`companion.nn.attention`, :mod:`companion.nn.seq2seq` (encoder, decoder, teacher forcing)
and :mod:`companion.nn.search` (greedy decoding and beam search); chapter 13 adds
:mod:`companion.nn.mha` (multi-head self-attention), :mod:`companion.nn.transformer` (the
Transformer encoder layer, a causal decoder block with a key/value cache) and
:mod:`companion.nn.scan` (linear recurrences computed by a scan, minGRU and minLSTM). Bad input raises
:class:`~companion.nn.errors.ShapeError` (a shape), :class:`~companion.nn.errors.ArgumentError` (a
value) or :class:`~companion.nn.errors.DTypeError` (a type or dtype), each also a ``RuntimeError`` as
in ``torch.nn``.
"""

from companion.nn.attention import AdditiveAttention, DotProductAttention
from companion.nn.cells import GRUCell, LSTMCell, RNNCell
from companion.nn.errors import ArgumentError, DTypeError, ShapeError
from companion.nn.layers import GRU, LSTM, RNN
from companion.nn.mha import MultiheadAttention, causal_mask
from companion.nn.scan import MinGRU, MinLSTM, linear_scan, linear_scan_blocked
from companion.nn.search import Hypotheses, beam_search, greedy_search
from companion.nn.seq2seq import Decoder, Encoder, Memory, Seq2Seq
from companion.nn.transformer import (
    DecoderBlock,
    KVCache,
    PositionalEncoding,
    TransformerEncoderLayer,
    sinusoidal_encoding,
)
from companion.nn.utils import last_valid, lengths_to_mask, masked_mean

__all__ = [
    "RNNCell",
    "LSTMCell",
    "GRUCell",
    "RNN",
    "LSTM",
    "GRU",
    "ShapeError",
    "ArgumentError",
    "DTypeError",
    "lengths_to_mask",
    "last_valid",
    "masked_mean",
    "AdditiveAttention",
    "DotProductAttention",
    "Encoder",
    "Decoder",
    "Memory",
    "Seq2Seq",
    "Hypotheses",
    "greedy_search",
    "beam_search",
    "MultiheadAttention",
    "TransformerEncoderLayer",
    "DecoderBlock",
    "KVCache",
    "PositionalEncoding",
    "causal_mask",
    "sinusoidal_encoding",
    "MinGRU",
    "MinLSTM",
    "linear_scan",
    "linear_scan_blocked",
]
