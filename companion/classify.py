"""Classifying whole sequences: padded batches, a recurrent classifier and a video classifier (chapter 12).

A many-to-one model reads a sequence and returns one score per class. Real sequences differ in
length, so a batch is padded to a common length T and kept with ``lengths`` (N,)
(:func:`pad_sequences`); the recurrent layers of :mod:`companion.nn` take ``lengths=`` and leave
the padded steps out of the recurrence, and the readout skips them too
(:func:`companion.nn.utils.masked_mean`, or each direction's final state). A padded batch therefore
gives, for every sequence, exactly what the sequence gives alone.

- :class:`SequenceClassifier`: an optional embedding for token ids, a (bidirectional) GRU, LSTM or
  RNN, a readout over time (mean of the valid outputs, or the final states) and a linear layer.
- :class:`FrameEncoder` and :class:`VideoClassifier`: a small convolutional network applied to
  every frame, its features read in order by a GRU or LSTM.
- :func:`train_classifier`, :func:`predict` and :func:`confusion_matrix`: seeded training with
  :func:`companion.train.loop.fit`, predictions in batches, and the table of true against predicted
  classes.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from companion import nn as cnn
from companion.nn.utils import masked_mean
from companion.train import fit

__all__ = [
    "pad_sequences",
    "SequenceClassifier",
    "FrameEncoder",
    "VideoClassifier",
    "train_classifier",
    "predict",
    "confusion_matrix",
]

_CELLS = {"gru": cnn.GRU, "lstm": cnn.LSTM, "rnn": cnn.RNN}


def pad_sequences(sequences, *, padding_value: float = 0.0, dtype: torch.dtype | None = None):
    """Pad a list of sequences of different lengths into one batch.

    Parameters
    ----------
    sequences : list of array_like, each of shape (T_i, ...)
        numpy arrays, tensors or nested lists; the trailing shape ``...`` (e.g. ``(D,)`` for
        feature vectors, ``()`` for token ids, ``(H, W)`` for frames) must be the same for all.
    padding_value : float, default 0.0
        Value put at the steps after each sequence's end.
    dtype : torch.dtype, optional
        Type of the batch; by default float32 for floating-point input, int64 for integers.

    Returns
    -------
    padded : Tensor of shape (N, T, ...)
        ``padded[i, :T_i] = sequences[i]``, T = max T_i.
    lengths : Tensor of int64 of shape (N,)

    Raises
    ------
    ValueError
        If the list is empty, a sequence has no steps or no time axis, or trailing shapes differ.

    Examples
    --------
    >>> padded, lengths = pad_sequences([np.ones((2, 3)), np.ones((4, 3))])
    >>> padded.shape, lengths.tolist()
    (torch.Size([2, 4, 3]), [2, 4])
    """
    if isinstance(sequences, (np.ndarray, Tensor)) or len(sequences) == 0:
        raise ValueError("pad_sequences: expected a non-empty list of sequences of shape (T_i, ...)")
    items = [torch.as_tensor(np.asarray(s) if not isinstance(s, Tensor) else s) for s in sequences]
    for i, s in enumerate(items):
        if s.dim() == 0 or len(s) == 0:
            raise ValueError(f"pad_sequences: expected sequence {i} of shape (T_i, ...) with T_i >= 1, "
                             f"got {tuple(s.shape)}")  # fmt: skip
        if s.shape[1:] != items[0].shape[1:]:
            raise ValueError(
                f"pad_sequences: expected every sequence of shape (T_i, *{tuple(items[0].shape[1:])}) "
                f"like sequence 0, got {tuple(s.shape)} for sequence {i}"
            )
    if dtype is None:
        dtype = torch.float32 if any(s.is_floating_point() for s in items) else torch.int64
    lengths = torch.tensor([len(s) for s in items], dtype=torch.int64)  # (N,)
    padded = torch.full((len(items), int(lengths.max()), *items[0].shape[1:]), padding_value, dtype=dtype)
    for i, s in enumerate(items):
        padded[i, : len(s)] = s.to(dtype)
    return padded, lengths


def _check_input(where: str, x, lengths, trailing: int, integer: bool):
    """Validate a padded batch (N, T, ...) with ``trailing`` dims after T; returns checked lengths or None."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{where}: expected a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 2 + trailing:
        layout = {0: "(N, T)", 1: "(N, T, D)", 2: "(N, T, H, W)"}[trailing]
        raise ValueError(f"{where}: expected input of shape {layout}, got {tuple(x.shape)}")
    if integer and (x.is_floating_point() or x.is_complex()):
        raise TypeError(f"{where}: expected integer token ids (N, T), got dtype {x.dtype}")
    if not integer and not x.is_floating_point():
        raise TypeError(f"{where}: expected a floating-point input, got dtype {x.dtype}")
    if lengths is None:
        return None
    lengths = torch.as_tensor(lengths).to("cpu")
    if lengths.shape != (x.shape[0],):
        raise ValueError(f"{where}: expected lengths of shape ({x.shape[0]},), got {tuple(lengths.shape)}")
    if (
        lengths.is_floating_point()
        or len(lengths)
        and not 1 <= int(lengths.min()) <= int(lengths.max()) <= x.shape[1]
    ):
        raise ValueError(f"{where}: expected integer lengths in [1, {x.shape[1]}], got {lengths.tolist()}")
    return lengths


class SequenceClassifier(nn.Module):
    """Recurrent many-to-one classifier over padded batches of variable-length sequences.

    Parameters
    ----------
    input_size : int
        Features per step D, or the embedding size when ``num_embeddings`` is given.
    hidden_size : int
        Hidden units H per direction.
    num_classes : int
        Number of classes C.
    cell : {"gru", "lstm", "rnn"}, default "gru"
        The recurrent layer, from :mod:`companion.nn`.
    num_layers : int, default 1
    bidirectional : bool, default True
    readout : {"mean", "last"}, default "mean"
        ``"mean"``: the mean of the last layer's outputs over each sequence's valid steps
        (:func:`~companion.nn.utils.masked_mean`); ``"last"``: the final state of each direction
        (the forward one at step ``lengths[n] - 1``, the backward one at step 0).
    num_embeddings : int, optional
        If given, the input is token ids (N, T) looked up in an embedding table of this many rows.
    padding_idx : int, default 0
        Id whose embedding is kept at zero (with ``num_embeddings``).
    dropout : float, default 0.0
        Dropout on the summary before the linear layer.

    Notes
    -----
    ``forward(input, lengths=None)``: ``input`` (N, T, D) floats, or (N, T) token ids;
    ``lengths`` (N,) the true lengths (all T when omitted). Returns the logits (N, C).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_classes: int,
        *,
        cell: str = "gru",
        num_layers: int = 1,
        bidirectional: bool = True,
        readout: str = "mean",
        num_embeddings: int | None = None,
        padding_idx: int = 0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if cell not in _CELLS:
            raise ValueError(f"SequenceClassifier: expected cell 'gru', 'lstm' or 'rnn', got {cell!r}")
        if readout not in ("mean", "last"):
            raise ValueError(f"SequenceClassifier: expected readout 'mean' or 'last', got {readout!r}")
        self.readout, self.cell = readout, cell
        self.embedding = (
            nn.Embedding(num_embeddings, input_size, padding_idx=padding_idx) if num_embeddings else None
        )
        self.rnn = _CELLS[cell](
            input_size, hidden_size, num_layers, batch_first=True, bidirectional=bidirectional
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), num_classes)

    def summary(self, input: Tensor, lengths=None) -> Tensor:
        """The fixed-size summary of each sequence, (N, dirs·H), that the linear layer reads."""
        lengths = _check_input(
            "SequenceClassifier", input, lengths, 0 if self.embedding else 1, bool(self.embedding)
        )
        if self.embedding is None and input.shape[2] != self.rnn.input_size:
            raise ValueError(
                f"SequenceClassifier: expected input of shape (N, T, {self.rnn.input_size}), "
                f"got {tuple(input.shape)}"
            )
        x = self.embedding(input) if self.embedding is not None else input  # (N, T, D)
        output, h_n = self.rnn(x, lengths=lengths)  # (N, T, dirs·H), (L·dirs, N, H)
        if self.readout == "mean":
            return masked_mean(output, lengths if lengths is not None else [x.shape[1]] * len(x))
        h_n = h_n[0] if self.cell == "lstm" else h_n
        dirs = 2 if self.rnn.bidirectional else 1
        return h_n[-dirs:].transpose(0, 1).reshape(len(x), -1)  # (N, dirs·H): the last layer's states

    def forward(self, input: Tensor, lengths=None) -> Tensor:
        """Logits (N, C) of a padded batch ``input`` (N, T, D) or token ids (N, T), with ``lengths`` (N,)."""
        return self.head(self.dropout(self.summary(input, lengths)))


class FrameEncoder(nn.Module):
    """A small convolutional network that turns one grey-level frame into a feature vector.

    Two blocks of 3x3 convolution (padding 1), ReLU and 2x2 max pooling, then a linear layer with
    ReLU on the flattened maps, which keep where things are in the frame.

    Parameters
    ----------
    frame_size : int
        Height and width of a frame, a multiple of 4.
    out_features : int, default 32
    channels : (int, int), default (8, 16)

    Notes
    -----
    ``forward(frames)``: frames (M, H, W) -> features (M, out_features).
    """

    def __init__(self, frame_size: int, out_features: int = 32, channels: tuple[int, int] = (8, 16)) -> None:
        super().__init__()
        if frame_size < 4 or frame_size % 4:
            raise ValueError(f"FrameEncoder: expected frame_size a positive multiple of 4, got {frame_size}")
        self.frame_size = frame_size
        c1, c2 = channels
        self.conv = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )  # fmt: skip
        self.fc = nn.Linear(c2 * (frame_size // 4) ** 2, out_features)

    def forward(self, frames: Tensor) -> Tensor:
        """Encode each frame on its own.

        Parameters
        ----------
        frames : Tensor of shape (M, H, W)
            M grey-level frames, H = W = ``frame_size``.

        Returns
        -------
        Tensor of shape (M, out_features)
            One feature vector per frame, each entry in (-1, 1) (a tanh).
        """
        if not isinstance(frames, Tensor) or frames.shape[1:] != (self.frame_size,) * 2 or frames.dim() != 3:
            got = tuple(frames.shape) if isinstance(frames, Tensor) else type(frames).__name__
            raise ValueError(
                f"FrameEncoder: expected frames of shape (M, {self.frame_size}, {self.frame_size}), got {got}"
            )
        maps = self.conv(frames.unsqueeze(1))  # (M, c2, H/4, W/4)
        return torch.tanh(self.fc(maps.flatten(1)))  # (M, out_features)


class VideoClassifier(nn.Module):
    """Frame encoder + recurrent layer: a CNN reads each frame, a GRU/LSTM reads the features in order.

    Parameters
    ----------
    frame_size : int
        Height and width H = W of the frames, a multiple of 4.
    num_classes : int
    hidden_size : int, default 32
    features : int, default 32
        Size of each frame's feature vector.
    cell : {"gru", "lstm", "rnn"}, default "gru"
    channels : (int, int), default (8, 16)
        Channels of the encoder's two convolutions.

    Notes
    -----
    ``forward(video, lengths=None)``: video (N, T, H, W) -> logits (N, C), read from the final state
    at each clip's last valid frame. The frames are encoded independently, (N·T, H, W) at once, so
    anything about their order is left to the recurrent layer.
    """

    def __init__(
        self,
        frame_size: int,
        num_classes: int,
        *,
        hidden_size: int = 32,
        features: int = 32,
        cell: str = "gru",
        channels: tuple[int, int] = (8, 16),
    ) -> None:
        super().__init__()
        self.encoder = FrameEncoder(frame_size, features, channels)
        self.classifier = SequenceClassifier(
            features, hidden_size, num_classes, cell=cell, bidirectional=False, readout="last"
        )

    def forward(self, video: Tensor, lengths=None) -> Tensor:
        """Class scores of each clip.

        Parameters
        ----------
        video : Tensor of shape (N, T, H, W)
        lengths : sequence of int or Tensor of shape (N,), optional
            Valid frames of each clip; all T when None.

        Returns
        -------
        Tensor of shape (N, num_classes)
            Logits read from the final state at each clip's last valid frame.
        """
        lengths = _check_input("VideoClassifier", video, lengths, 2, False)
        N, T, H, W = video.shape
        if (H, W) != (self.encoder.frame_size,) * 2:
            size = self.encoder.frame_size
            raise ValueError(
                f"VideoClassifier: expected video of shape (N, T, {size}, {size}), got {tuple(video.shape)}"
            )
        features = self.encoder(video.reshape(N * T, H, W)).reshape(N, T, -1)  # (N, T, F)
        return self.classifier(features, lengths)


def _rows(model: nn.Module, inputs: Tensor, lengths, index: Tensor):
    """The batch ``index`` of a padded set, cut to its own longest sequence."""
    if lengths is None:
        return model(inputs[index])
    sub = lengths[index]
    return model(inputs[index, : int(sub.max())], sub)


def train_classifier(
    model: nn.Module,
    inputs: Tensor,
    lengths,
    labels,
    *,
    steps: int,
    batch_size: int = 32,
    lr: float = 1e-2,
    seed: int,
    clip_norm: float | None = 1.0,
):
    """Train a classifier with Adam on minibatches drawn from a seeded generator.

    Parameters
    ----------
    model : Module
        Called as ``model(x, lengths)`` (or ``model(x)`` when ``lengths`` is None); returns logits (B, C).
    inputs : Tensor of shape (N, T, ...)
        The whole padded training set.
    lengths : Tensor of shape (N,), or None
    labels : array_like of int of shape (N,)
    steps, batch_size, lr : int, int, float
        Optimizer steps, sequences per step (drawn without replacement within a pass over the data),
        Adam's learning rate.
    seed : int
        Seeds the order of the minibatches (the initial weights are the model's own).
    clip_norm : float, optional, default 1.0

    Returns
    -------
    companion.train.loop.History
    """
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    if labels.shape != (len(inputs),):
        raise ValueError(
            f"train_classifier: expected labels of shape ({len(inputs)},), got {tuple(labels.shape)}"
        )
    lengths = None if lengths is None else torch.as_tensor(lengths)
    generator = torch.Generator().manual_seed(seed)
    order: list[Tensor] = []

    def batch(step: int) -> Tensor:
        if not order:
            order.extend(torch.randperm(len(inputs), generator=generator).split(batch_size))
        return order.pop(0)

    def loss(m: nn.Module, index: Tensor) -> Tensor:
        return F.cross_entropy(_rows(m, inputs, lengths, index), labels[index])

    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    return fit(model, loss, batch, optimizer, steps, clip_norm=clip_norm, progress=False)


@torch.no_grad()
def predict(model: nn.Module, inputs: Tensor, lengths=None, *, batch_size: int = 512) -> np.ndarray:
    """The most likely class of every sequence, (N,) int64, in evaluation mode and in batches."""
    was_training = model.training
    model.eval()
    lengths = None if lengths is None else torch.as_tensor(lengths)
    out = [
        _rows(model, inputs, lengths, index).argmax(1)
        for index in torch.arange(len(inputs)).split(batch_size)
    ]
    model.train(was_training)
    return torch.cat(out).numpy()


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """Counts ``M[i, j]`` of the examples of class i predicted as class j, (C, C) int64.

    Raises
    ------
    ValueError
        If the two label arrays differ in shape or hold a class outside ``[0, num_classes)``.

    Examples
    --------
    >>> confusion_matrix([0, 1, 1], [0, 0, 1], 2).tolist()
    [[1, 0], [1, 1]]
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(
            "confusion_matrix: expected two label arrays of one shape (N,), "
            f"got {y_true.shape} and {y_pred.shape}"
        )
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if len(y) and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(
                f"confusion_matrix: expected {name} in [0, {num_classes}), got values {y.min()} to {y.max()}"
            )
    return np.bincount(y_true * num_classes + y_pred, minlength=num_classes**2).reshape(
        num_classes, num_classes
    )
