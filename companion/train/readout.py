"""A recurrent layer with a linear read-out: the small task models of chapters 4-7."""

from __future__ import annotations

import torch
from torch import nn

from companion._validate import positive_int

__all__ = ["Readout"]


class Readout(nn.Module):
    """A recurrent layer followed by a linear layer on its outputs: a small task model.

    Parameters
    ----------
    rnn : torch.nn.Module
        A recurrent layer with ``torch.nn``'s forward signature and ``batch_first=True``:
        ``rnn(x)`` returns ``(output, h_n)`` or ``(output, (h_n, c_n))`` with ``output`` of shape
        (N, T, H_out) — ``torch.nn.RNN``, ``LSTM``, ``GRU`` or the package's equivalents.
    out_features : int
        Size O of the prediction. The linear layer is created on the device and with the dtype of
        ``rnn``'s parameters.
    every_step : bool, default False
        False: predict from the last output only (many-to-one). True: predict at every step
        (many-to-many).

    Raises
    ------
    ValueError
        If ``rnn`` is not batch first, or ``out_features < 1``.
    TypeError
        If ``out_features`` is not an int.

    Notes
    -----
    :math:`\\hat y = W h_T + b`, or :math:`\\hat y_t = W h_t + b` at every step, with
    :math:`h_t` = ``output[:, t]``. The two parts are the attributes ``rnn`` and ``head``.

    Examples
    --------
    >>> model = Readout(torch.nn.GRU(2, 16, batch_first=True), 1)
    >>> model(torch.zeros(4, 10, 2)).shape
    torch.Size([4, 1])
    """

    def __init__(self, rnn: nn.Module, out_features: int, *, every_step: bool = False) -> None:
        super().__init__()
        if not getattr(rnn, "batch_first", False):
            raise ValueError(f"Readout: expected a recurrent layer with batch_first=True, got {rnn!r}")
        positive_int("Readout", "out_features", out_features)
        directions = 2 if getattr(rnn, "bidirectional", False) else 1
        hidden = (getattr(rnn, "proj_size", 0) or rnn.hidden_size) * directions
        self.rnn = rnn
        weight = next(rnn.parameters())
        self.head = nn.Linear(hidden, out_features, device=weight.device, dtype=weight.dtype)
        self.every_step = every_step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predict from a batch of sequences.

        Parameters
        ----------
        x : Tensor of shape (N, T, D)
            A batch of N sequences of T steps, batch first, as ``rnn`` reads it.

        Returns
        -------
        Tensor of shape (N, O), or (N, T, O) with ``every_step=True``
        """
        output, _ = self.rnn(x)  # (N, T, H_out)
        return self.head(output if self.every_step else output[:, -1])  # (N, [T,] O)
