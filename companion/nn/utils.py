"""Padded batches without packing: masks, last valid outputs and masked means (chapter 7).

A batch of sequences of unequal length is padded to a common length T and kept with ``lengths``
(N,), the true length of each sequence. A layer fed ``lengths`` (or a ``PackedSequence``) leaves
zeros at the padded steps; what a model reads from the output must skip them too:

- :func:`lengths_to_mask`: the boolean mask of valid steps, for masked losses and attention;
- :func:`last_valid`: each sequence's output at its last valid step, for a many-to-one model
  (``output[:, -1]`` would read padding for every sequence shorter than T);
- :func:`masked_mean`: the mean of the outputs over the valid steps only, a pooled summary for a
  classifier.

All three are differentiable in ``output`` and send gradient only to valid positions.
"""

from __future__ import annotations

import torch
from torch import Tensor

from companion._validate import check_size
from companion.nn._common import TORCH_ERRORS
from companion.nn._docs import fill
from companion.nn.errors import DTypeError, ShapeError
from companion.nn.packing import lengths_tensor

__all__ = ["lengths_to_mask", "last_valid", "masked_mean"]


def _lengths(where: str, lengths, T: int | None):
    """``(lengths as an int64 CPU tensor (N,), T, device of the given lengths)``; T = max(lengths) if None."""
    device = lengths.device if isinstance(lengths, Tensor) else torch.device("cpu")
    lengths = lengths_tensor(where, lengths, None, T)
    return lengths, (int(lengths.max()) if len(lengths) else 0) if T is None else T, device


def _output(where: str, output, lengths, batch_first: bool):
    """Validate ``output`` (N, T, H) or (T, N, H) against ``lengths``; returns lengths, T and time dim."""
    if not isinstance(output, Tensor):
        raise DTypeError(f"{where}: expected output to be a torch.Tensor, got {type(output).__name__}")
    layout = "(N, T, H)" if batch_first else "(T, N, H)"
    if output.dim() != 3:
        raise ShapeError(f"{where}: expected output of shape {layout}, got {tuple(output.shape)}")
    time_dim, batch_dim = (1, 0) if batch_first else (0, 1)
    T = output.shape[time_dim]
    lengths, _, _ = _lengths(where, lengths, T)
    if len(lengths) != output.shape[batch_dim]:
        raise ShapeError(
            f"{where}: expected lengths of shape (N,) = ({output.shape[batch_dim]},) for output {layout} = "
            f"{tuple(output.shape)}, got ({len(lengths)},)"
        )
    return lengths.to(output.device), T, time_dim


def lengths_to_mask(lengths, max_len: int | None = None, *, batch_first: bool = True) -> Tensor:
    """Boolean mask of the valid steps of a padded batch: ``mask[n, t] = t < lengths[n]``.

    Parameters
    ----------
    lengths : sequence of int or Tensor of integers of shape (N,)
        True length of each sequence, each in ``[1, max_len]``.
    max_len : int, optional
        The padded length T; by default ``max(lengths)``.
    batch_first : bool, default True
        Shape (N, T) if True, (T, N) otherwise.

    Returns
    -------
    mask : Tensor of bool of shape (N, T) or (T, N)
        True at valid steps, on the device of ``lengths`` (the CPU for a list).

    Raises
    ------
    ShapeError
        (a ``ValueError``) If ``lengths`` is not 1-D, or a length is below 1 or above ``max_len``.
    ArgumentError
        (a ``ValueError``) If ``max_len`` is negative.
    DTypeError
        (a ``TypeError``) If ``lengths`` does not hold integers or ``max_len`` is not an int.

    See Also
    --------
    torch.nn.utils.rnn.pad_packed_sequence : returns the lengths this mask is made from.

    Examples
    --------
    >>> lengths_to_mask([3, 1], max_len=4)
    tensor([[ True,  True,  True, False],
            [ True, False, False, False]])
    """
    where = "lengths_to_mask"
    if max_len is not None:
        max_len = check_size(where, "max_len", max_len, zero=True, integral=False, **TORCH_ERRORS)
    lengths, T, device = _lengths(where, lengths, max_len)
    mask = torch.arange(T, device=device) < lengths.to(device).unsqueeze(1)  # (N, T)
    return mask if batch_first else mask.T


@fill
def last_valid(output: Tensor, lengths, *, batch_first: bool = True) -> Tensor:
    """Each sequence's output at its last valid step, ``output[n, lengths[n] - 1]``.

    Parameters
    ----------
    output : Tensor of shape (N, T, H) if ``batch_first`` else (T, N, H)
        Outputs of a recurrent layer over a padded batch.
    %(lengths_layout)s

    Returns
    -------
    Tensor of shape (N, H)
        Differentiable in ``output`` (a ``gather``): the gradient reaches only the selected steps.

    Raises
    ------
    ShapeError
        If ``output`` is not 3-D or ``lengths`` does not fit it.
    DTypeError
        If ``output`` is not a tensor or ``lengths`` does not hold integers.

    Notes
    -----
    For a unidirectional layer this is the last layer's final state ``h_n[-1]``. For a bidirectional
    layer it holds the forward direction's final state in its first half only: the backward direction
    ends at step 0, so read its final state from ``h_n``.

    See Also
    --------
    torch.gather : the operation used.

    Examples
    --------
    >>> output = torch.arange(12.0).reshape(2, 3, 2)  # (N, T, H)
    >>> last_valid(output, [1, 3])
    tensor([[ 0.,  1.],
            [10., 11.]])
    """
    lengths, _, time_dim = _output("last_valid", output, lengths, batch_first)
    N, H = len(lengths), output.shape[2]
    index = (lengths - 1).view(N, 1, 1).expand(N, 1, H)  # (N, 1, H)
    if not batch_first:
        index = index.transpose(0, 1)  # (1, N, H)
    return output.gather(time_dim, index).squeeze(time_dim)  # (N, H)


@fill
def masked_mean(output: Tensor, lengths, *, batch_first: bool = True) -> Tensor:
    """Mean of each sequence's outputs over its valid steps only.

    Parameters
    ----------
    output : Tensor of floats of shape (N, T, H) if ``batch_first`` else (T, N, H)
        Outputs over a padded batch. Values at padded steps are never read (NaN there is harmless).
    %(lengths_layout)s

    Returns
    -------
    Tensor of shape (N, H)
        :math:`\\frac{1}{L_n} \\sum_{t < L_n} \\text{output}_{n, t}`; the gradient reaches only valid steps.

    Raises
    ------
    ShapeError
        If ``output`` is not 3-D or ``lengths`` does not fit it.
    DTypeError
        If ``output`` is not a floating-point tensor or ``lengths`` does not hold integers.

    Examples
    --------
    >>> output = torch.tensor([[[1.0], [3.0], [99.0]]])  # (N, T, H) = (1, 3, 1)
    >>> masked_mean(output, [2])
    tensor([[2.]])
    """
    lengths, T, time_dim = _output("masked_mean", output, lengths, batch_first)
    if not output.is_floating_point():
        raise DTypeError(f"masked_mean: expected a floating-point output, got dtype {output.dtype}")
    mask = torch.arange(T, device=output.device) < lengths.unsqueeze(1)  # (N, T)
    if not batch_first:
        mask = mask.T  # (T, N)
    total = torch.where(mask.unsqueeze(2), output, 0.0).sum(dim=time_dim)  # (N, H)
    return total / lengths.unsqueeze(1).to(output.dtype)
