"""Recurrent sequence layers in torch, written from the equations (chapters 5 and 6).

``RNN``, ``LSTM`` and ``GRU`` take ``torch.nn``'s constructor arguments with the same defaults, hold
the same parameters (``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``), accept the
same inputs (``batch_first`` either way, unbatched 2-D input, optional initial states) and return
the same structures (``(output, h_n)``, and ``(output, (h_n, c_n))`` for the LSTM). Each step is
one of the functions of :mod:`companion.nn.cells`; the input projection of all time steps is one
matrix product before the loop. This issue covers a single layer in one direction: ``num_layers``,
``bidirectional``, ``dropout`` and ``proj_size`` keep their place in the signature and raise a
``ValueError`` for any value but the default. ``PackedSequence`` inputs raise a ``TypeError``.
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from companion.nn.cells import (
    _NONLINEARITIES,
    _check_flag,
    _check_forget_bias,
    _check_size,
    _check_tensor,
    _pair,
    _register_gate_parameters,
    _reset_uniform,
    gru_step,
    lstm_step,
    rnn_step,
)

__all__ = ["RNN", "LSTM", "GRU"]


class _Layer(nn.Module):
    """Arguments, parameters, validation and the time loop shared by the three layers."""

    _chunks = 1
    _fold_bias_hh = True  # False where b_hh cannot join the input projection (the GRU's reset gate)

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers,
        bias,
        batch_first,
        dropout,
        bidirectional,
        proj_size,
        factory,
    ) -> None:
        super().__init__()
        where = type(self).__name__
        _check_size(where, "input_size", input_size)
        _check_size(where, "hidden_size", hidden_size)
        _check_size(where, "num_layers", num_layers)
        for name, flag in [("bias", bias), ("batch_first", batch_first), ("bidirectional", bidirectional)]:
            _check_flag(where, name, flag)
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1:
            raise ValueError(f"{where}: expected dropout to be a number in [0, 1], got {dropout!r}")
        unsupported = {
            "num_layers": (num_layers, 1),
            "bidirectional": (bidirectional, False),
            "dropout": (dropout, 0),
            "proj_size": (proj_size, 0),
        }
        for name, (value, default) in unsupported.items():
            if value != default:
                raise ValueError(
                    f"{where}: {name}={value!r} is not supported yet (single layer, one direction only); "
                    f"use the default {name}={default!r}, or torch.nn.{where}"
                )
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        _register_gate_parameters(self, "_l0", self._chunks, input_size, hidden_size, bias, factory)

    def reset_parameters(self) -> None:
        """Draw every parameter from U(-1/√H, 1/√H), in torch's order (same seed, same values)."""
        _reset_uniform(self)

    def flatten_parameters(self) -> None:
        """Does nothing: kept so that code written for ``torch.nn`` (which calls it for cuDNN) runs."""

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        s += "" if self.bias else ", bias=False"
        return s + (", batch_first=True" if self.batch_first else "")

    def _input(self, input) -> tuple[Tensor, bool]:
        """Validate ``input``; return it with a batch dimension, and whether it had one."""
        where, D = type(self).__name__, self.input_size
        if isinstance(input, PackedSequence):
            raise TypeError(f"{where}: PackedSequence input is not supported yet; pass a padded tensor")
        if not isinstance(input, Tensor):
            raise TypeError(f"{where}: expected input to be a torch.Tensor, got {type(input).__name__}")
        shape = tuple(input.shape)
        layout = f"(N, T, {D})" if self.batch_first else f"(T, N, {D})"
        if len(shape) == 3 and shape[-1] == D and shape[0] > 0 and shape[1] > 0:
            batched = True
        elif len(shape) == 2 and shape[-1] == D and shape[0] > 0:
            batched = False
        elif len(shape) == 2:
            raise ValueError(f"{where}: expected unbatched input of shape (T, {D}), got {shape}")
        else:
            raise ValueError(f"{where}: expected input of shape {layout}, got {shape}")
        _check_tensor(where, "input", input, shape, self.weight_ih_l0.dtype)
        return (input if batched else input.unsqueeze(self._batch_dim)), batched

    @property
    def _batch_dim(self) -> int:
        return 0 if self.batch_first else 1

    def _state(self, name: str, value, x: Tensor, batched: bool) -> Tensor:
        """Validate one initial state (1, N, H) or unbatched (1, H); zeros when None; return (N, H)."""
        N = x.shape[self._batch_dim]
        if value is None:
            return x.new_zeros(N, self.hidden_size)  # (N, H)
        shape = (1, N, self.hidden_size) if batched else (1, self.hidden_size)
        _check_tensor(type(self).__name__, name, value, shape, self.weight_ih_l0.dtype)
        return value[0] if batched else value  # (N, H)

    def _run(self, x: Tensor, states: tuple[Tensor, ...], batched: bool):
        """The time loop: project all inputs at once, then one step per time slice (``unbind``)."""
        time_dim = 1 - self._batch_dim
        xp = F.linear(x, self.weight_ih_l0, self.bias_ih_l0)  # (N, T, G·H) or (T, N, G·H)
        if self._fold_bias_hh and self.bias_hh_l0 is not None:
            xp = xp + self.bias_hh_l0  # added to x W_ihᵀ at every step: add it once, before the loop
        outputs = []
        for xp_t in xp.unbind(time_dim):  # (N, G·H); unbind, not xp[t]: a much cheaper backward
            states = self._step(xp_t, states)
            outputs.append(states[0])
        output = torch.stack(outputs, dim=time_dim)  # (N, T, H) or (T, N, H)
        finals = tuple(s.unsqueeze(0) for s in states)  # each (1, N, H)
        if not batched:
            output = output.squeeze(self._batch_dim)  # (T, H)
            finals = tuple(s.squeeze(1) for s in finals)  # each (1, H)
        return output, finals

    def _step(self, xp_t: Tensor, states: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        raise NotImplementedError


class RNN(_Layer):
    """Elman RNN layer, a drop-in replacement for a single-layer ``torch.nn.RNN``.

    Parameters
    ----------
    input_size : int
        Number of input features D.
    hidden_size : int
        Number of hidden units H.
    num_layers : int, default 1
        Only 1 is supported for now.
    nonlinearity : {"tanh", "relu"}, default "tanh"
    bias : bool, default True
        If False, no ``bias_ih_l0`` / ``bias_hh_l0``.
    batch_first : bool, default False
        If True, ``input`` and ``output`` are (N, T, ·); states are (1, N, H) either way.
    dropout : float, default 0.0
        Only 0 is supported for now.
    bidirectional : bool, default False
        Only False is supported for now.
    device, dtype : optional
        Where and in which floating type the parameters are created.
    Raises
    ------
    ValueError
        If a size is not positive, ``nonlinearity`` is unknown, ``dropout`` is outside [0, 1], or
        an option this single-layer version does not support yet is requested (``num_layers`` > 1,
        ``bidirectional``, ``dropout``).
    TypeError
        If a size is not an int or a flag not a bool.

    Notes
    -----
    :math:`h_t = \\phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})` (chapter 2). Forward takes
    ``(input, hx=None)`` with ``hx`` of shape (1, N, H) (or (1, H) unbatched) and returns ``(output, h_n)``.

    See Also
    --------
    torch.nn.RNN : same constructor, parameters, inputs and outputs.

    Examples
    --------
    >>> rnn = RNN(3, 5, batch_first=True)
    >>> output, h_n = rnn(torch.randn(4, 7, 3))
    >>> output.shape, h_n.shape
    (torch.Size([4, 7, 5]), torch.Size([1, 4, 5]))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        if nonlinearity not in _NONLINEARITIES:
            raise ValueError(f"RNN: expected nonlinearity 'tanh' or 'relu', got {nonlinearity!r}")
        factory = {"device": device, "dtype": dtype}
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, 0, factory
        )
        self.nonlinearity = nonlinearity
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + f", nonlinearity={self.nonlinearity!r}"

    def _step(self, xp_t, states):
        return (rnn_step(xp_t, states[0], self.weight_hh_l0, None, self.nonlinearity),)  # b_hh is in xp_t

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Run the layer over the sequence.

        Parameters
        ----------
        input : Tensor of shape (N, T, D) if ``batch_first`` else (T, N, D), or (T, D) unbatched
        hx : Tensor of shape (1, N, H), or (1, H) unbatched, optional
            Initial hidden state; zeros if omitted.

        Returns
        -------
        output : Tensor of shape (N, T, H) if ``batch_first`` else (T, N, H), or (T, H) unbatched
            The hidden state at every step.
        h_n : Tensor of shape (1, N, H), or (1, H) unbatched
            The final hidden state.

        Raises
        ------
        ValueError
            If a shape is wrong (the message names the expected and the actual shape).
        TypeError
            If an argument is not a tensor of the parameters' dtype, or is a ``PackedSequence``.
        """
        x, batched = self._input(input)
        h = self._state("hx", hx, x, batched)
        output, (h_n,) = self._run(x, (h,), batched)
        return output, h_n


class LSTM(_Layer):
    """Long short-term memory layer, a drop-in replacement for a single-layer ``torch.nn.LSTM``.

    Parameters
    ----------
    input_size : int
        Number of input features D.
    hidden_size : int
        Number of hidden units H.
    num_layers : int, default 1
        Only 1 is supported for now.
    bias : bool, default True
        If False, no ``bias_ih_l0`` / ``bias_hh_l0``.
    batch_first : bool, default False
        If True, ``input`` and ``output`` are (N, T, ·); states are (1, N, H) either way.
    dropout : float, default 0.0
        Only 0 is supported for now.
    bidirectional : bool, default False
        Only False is supported for now.
    proj_size : int, default 0
        Only 0 is supported for now.
    device, dtype : optional
        Where and in which floating type the parameters are created.
    forget_bias : float, default 0.0
        Keyword only: added to the forget-gate block of ``bias_ih_l0`` after the uniform draw. 1.0 is
        the recommendation of Gers et al. (2000) and Jozefowicz et al. (2015); 0.0 reproduces torch.
    Raises
    ------
    ValueError
        If a size is not positive, ``dropout`` is outside [0, 1], or an option this single-layer
        version does not support yet is requested (``num_layers`` > 1, ``bidirectional``, ``dropout``,
        ``proj_size``).
    TypeError
        If a size is not an int or a flag not a bool.

    Notes
    -----
    :math:`[i, f, g, o] = [\\sigma, \\sigma, \\tanh, \\sigma](W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})`,
    :math:`c_t = f \\odot c_{t-1} + i \\odot g`, :math:`h_t = o \\odot \\tanh(c_t)` (chapter 5).
    Forward takes ``(input, hx=None)`` with ``hx = (h_0, c_0)``, each (1, N, H) (or (1, H)
    unbatched), and returns ``(output, (h_n, c_n))``.

    See Also
    --------
    torch.nn.LSTM : same constructor (without ``forget_bias``), parameters, inputs and outputs.

    Examples
    --------
    >>> lstm = LSTM(3, 5, batch_first=True, forget_bias=1.0)
    >>> output, (h_n, c_n) = lstm(torch.randn(4, 7, 3))
    >>> output.shape, c_n.shape
    (torch.Size([4, 7, 5]), torch.Size([1, 4, 5]))
    """

    _chunks = 4

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
        *,
        forget_bias: float = 0.0,
    ) -> None:
        factory = {"device": device, "dtype": dtype}
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, proj_size, factory
        )
        self.mode = "LSTM"
        self.forget_bias = _check_forget_bias("LSTM", forget_bias, bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """U(-1/√H, 1/√H) as torch, then ``forget_bias`` added to the forget block of ``bias_ih_l0``."""
        super().reset_parameters()
        if self.bias and self.forget_bias:
            H = self.hidden_size
            with torch.no_grad():
                self.bias_ih_l0[H : 2 * H] += self.forget_bias

    def _step(self, xp_t, states):
        return lstm_step(xp_t, states[0], states[1], self.weight_hh_l0, None)  # b_hh is in xp_t

    def forward(
        self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Run the layer over the sequence.

        Parameters
        ----------
        input : Tensor of shape (N, T, D) if ``batch_first`` else (T, N, D), or (T, D) unbatched
        hx : tuple of Tensor, optional
            ``(h_0, c_0)``, the initial hidden and cell states, each of shape (1, N, H), or (1, H)
            unbatched; zeros if omitted.

        Returns
        -------
        output : Tensor of shape (N, T, H) if ``batch_first`` else (T, N, H), or (T, H) unbatched
            The hidden state at every step.
        (h_n, c_n) : tuple of Tensor
            The final hidden and cell states, each of shape (1, N, H), or (1, H) unbatched.

        Raises
        ------
        ValueError
            If a shape is wrong (the message names the expected and the actual shape).
        TypeError
            If an argument is not a tensor of the parameters' dtype, or is a ``PackedSequence``.
        """
        x, batched = self._input(input)
        h0, c0 = _pair("LSTM", hx)
        states = (self._state("h_0", h0, x, batched), self._state("c_0", c0, x, batched))
        output, (h_n, c_n) = self._run(x, states, batched)
        return output, (h_n, c_n)


class GRU(_Layer):
    """Gated recurrent unit layer, a drop-in replacement for a single-layer ``torch.nn.GRU``.

    Parameters
    ----------
    input_size : int
        Number of input features D.
    hidden_size : int
        Number of hidden units H.
    num_layers : int, default 1
        Only 1 is supported for now.
    bias : bool, default True
        If False, no ``bias_ih_l0`` / ``bias_hh_l0``.
    batch_first : bool, default False
        If True, ``input`` and ``output`` are (N, T, ·); states are (1, N, H) either way.
    dropout : float, default 0.0
        Only 0 is supported for now.
    bidirectional : bool, default False
        Only False is supported for now.
    device, dtype : optional
        Where and in which floating type the parameters are created.
    Raises
    ------
    ValueError
        If a size is not positive, ``dropout`` is outside [0, 1], or an option this single-layer
        version does not support yet is requested (``num_layers`` > 1, ``bidirectional``, ``dropout``,
        ``proj_size``).
    TypeError
        If a size is not an int or a flag not a bool.

    Notes
    -----
    :math:`r_t, z_t = \\sigma(\\cdot)`,
    :math:`n_t = \\tanh(W_{in} x_t + b_{in} + r_t \\odot (W_{hn} h_{t-1} + b_{hn}))`,
    :math:`h_t = (1 - z_t) \\odot n_t + z_t \\odot h_{t-1}` (chapter 6). Forward takes
    ``(input, hx=None)`` with ``hx`` of shape (1, N, H) (or (1, H) unbatched) and returns ``(output, h_n)``.

    See Also
    --------
    torch.nn.GRU : same constructor, parameters, inputs and outputs.

    Examples
    --------
    >>> gru = GRU(3, 5)
    >>> output, h_n = gru(torch.randn(7, 4, 3))
    >>> output.shape, h_n.shape
    (torch.Size([7, 4, 5]), torch.Size([1, 4, 5]))
    """

    _chunks = 3
    _fold_bias_hh = False

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        factory = {"device": device, "dtype": dtype}
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, 0, factory
        )
        self.mode = "GRU"
        self.reset_parameters()

    def _step(self, xp_t, states):
        return (gru_step(xp_t, states[0], self.weight_hh_l0, self.bias_hh_l0),)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Run the layer over the sequence.

        Parameters
        ----------
        input : Tensor of shape (N, T, D) if ``batch_first`` else (T, N, D), or (T, D) unbatched
        hx : Tensor of shape (1, N, H), or (1, H) unbatched, optional
            Initial hidden state; zeros if omitted.

        Returns
        -------
        output : Tensor of shape (N, T, H) if ``batch_first`` else (T, N, H), or (T, H) unbatched
            The hidden state at every step.
        h_n : Tensor of shape (1, N, H), or (1, H) unbatched
            The final hidden state.

        Raises
        ------
        ValueError
            If a shape is wrong (the message names the expected and the actual shape).
        TypeError
            If an argument is not a tensor of the parameters' dtype, or is a ``PackedSequence``.
        """
        x, batched = self._input(input)
        h = self._state("hx", hx, x, batched)
        output, (h_n,) = self._run(x, (h,), batched)
        return output, h_n
