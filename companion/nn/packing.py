"""Batches of sequences of unequal length, as the sequence layers see them (chapter 7).

A layer accepts three forms of input and reduces each to one: a **time-first padded tensor**
(T, N, D) in the caller's batch order, plus a boolean **mask** (T, N, 1) of valid steps (None when all
steps are valid).

- a dense tensor, every sequence of length T (no mask);
- a padded tensor with ``lengths``, the true length of each sequence;
- a :class:`torch.nn.utils.rnn.PackedSequence`, unpacked with ``pad_packed_sequence`` (which restores
  the caller's order), and packed again on the way out with the *same* ``sorted_indices``.

Where the mask is False a sequence's state is frozen and its output is zero, so padding of any
length or value never reaches the states: this is what packing achieves in ``torch.nn``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from companion._validate import check_lengths
from companion.nn.errors import DTypeError, ShapeError

__all__ = ["Batch", "as_time_first", "restore"]


class Batch(NamedTuple):
    """A batch in the one form the layers compute on.

    Attributes
    ----------
    x : Tensor of shape (T, N, D)
        Time first, the caller's batch order.
    mask : Tensor of bool of shape (T, N, 1) or None
        True at valid steps; None when every step is valid.
    lengths : Tensor of int64 of shape (N,) or None
        The true lengths (on the CPU), None for a dense batch.
    packed : torch.nn.utils.rnn.PackedSequence or None
        The input, if it was packed (its ``batch_sizes`` and orderings are reused for the output).
    batched : bool
        False for an unbatched (T, D) input.
    """

    x: Tensor
    mask: Tensor | None
    lengths: Tensor | None
    packed: PackedSequence | None
    batched: bool


def lengths_tensor(where: str, lengths, N: int | None, T: int | None) -> Tensor:
    """``lengths`` checked by :func:`companion._validate.check_lengths`, as an int64 CPU tensor (N,)."""
    return torch.from_numpy(
        check_lengths(where, lengths, N, T, shape_error=ShapeError, type_error=DTypeError)
    )


def _mask(lengths: Tensor, T: int, device) -> Tensor:
    steps = torch.arange(T, device=device).unsqueeze(1)  # (T, 1)
    return (steps < lengths.to(device).unsqueeze(0)).unsqueeze(2)  # (T, N, 1)


def as_time_first(where: str, input, input_size: int, batch_first: bool, lengths=None) -> Batch:
    """Validate a layer's input and bring it to the form of :class:`Batch`.

    Parameters
    ----------
    where : str
        The module's name, for error messages.
    input : Tensor of shape (N, T, D) or (T, N, D) or (T, D), or torch.nn.utils.rnn.PackedSequence
    input_size : int
        D.
    batch_first : bool
    lengths : sequence of int or Tensor of shape (N,), optional
        True lengths of a padded batch.

    Returns
    -------
    Batch

    Raises
    ------
    ShapeError
        For a wrong shape, lengths that do not fit the batch, or lengths with a packed or unbatched input.
    DTypeError
        For an input that is not a tensor or PackedSequence, or non-integer lengths.
    """
    D = input_size
    if isinstance(input, PackedSequence):
        if lengths is not None:
            raise ShapeError(f"{where}: a PackedSequence carries its lengths; got lengths= as well")
        if input.data.dim() != 2 or input.data.shape[1] != D:
            raise ShapeError(
                f"{where}: expected packed data of shape (sum of lengths, {D}), got {tuple(input.data.shape)}"
            )
        x, lens = pad_packed_sequence(input)  # (T, N, D) in the caller's order, (N,)
        return Batch(x, _mask(lens, x.shape[0], x.device), lens, input, True)
    if not isinstance(input, Tensor):
        raise DTypeError(
            f"{where}: expected input to be a torch.Tensor or PackedSequence, got {type(input).__name__}"
        )
    shape = tuple(input.shape)
    layout = f"(N, T, {D})" if batch_first else f"(T, N, {D})"
    if len(shape) == 3 and shape[-1] == D and shape[1 if batch_first else 0] > 0:
        x = input.transpose(0, 1) if batch_first else input  # (T, N, D)
        if lengths is None:
            return Batch(x, None, None, None, True)
        lens = lengths_tensor(where, lengths, x.shape[1], x.shape[0])
        return Batch(x, _mask(lens, x.shape[0], x.device), lens, None, True)
    if len(shape) == 2 and shape[-1] == D and shape[0] > 0:
        if lengths is not None:
            raise ShapeError(f"{where}: lengths= needs a batched input {layout}, got unbatched {shape}")
        return Batch(input.unsqueeze(1), None, None, None, False)  # (T, 1, D)
    if len(shape) == 2:
        raise ShapeError(f"{where}: expected unbatched input of shape (T, {D}), got {shape} (T > 0)")
    raise ShapeError(f"{where}: expected input of shape {layout}, got {shape} (T > 0; or unbatched (T, {D}))")


def restore(batch: Batch, output: Tensor, batch_first: bool):
    """The layer's output (T, N, H·dirs), time first, in the form of the input.

    Returns a PackedSequence with the input's ``batch_sizes`` and orderings for packed input, (N, T, ·) or
    (T, N, ·) for a padded or dense batch (zeros at padded steps), (T, ·) for an unbatched one.
    """
    if batch.packed is not None:
        packed = batch.packed
        if packed.sorted_indices is not None:
            output = output.index_select(1, packed.sorted_indices)  # (T, N, ·) in decreasing length
            lens = batch.lengths.index_select(0, packed.sorted_indices.cpu())
        else:
            lens = batch.lengths
        data = pack_padded_sequence(output, lens, enforce_sorted=True).data  # (sum of lengths, ·)
        return PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
    if not batch.batched:
        return output.squeeze(1)  # (T, ·)
    return output.transpose(0, 1) if batch_first else output
