"""Recurrent cells in torch, written from the equations (chapters 2, 5 and 6).

One step of each recurrence, as a function of the *input projection* ``xp = x W_ihᵀ + b_ih`` (so a
sequence layer can compute it for all time steps in one matrix product) and as a module with
``torch.nn``'s constructor, parameter names (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``),
initialisation, inputs and outputs. Gate order is torch's: LSTM **i, f, g, o**; GRU **r, z, n** with
the reset gate applied to ``W_hn h + b_hn``. A ``state_dict`` therefore moves between these cells
and ``torch.nn.RNNCell`` / ``LSTMCell`` / ``GRUCell`` unchanged, and the tests check that outputs and
gradients agree.
"""

from __future__ import annotations

import contextlib
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from companion import _validate
from companion.nn._common import (
    NONLINEARITIES,
    TORCH_ERRORS,
    check_cell_size,
    check_flag,
    check_forget_bias,
    check_tensor,
    compute_dtype,
    pair,
    register_gate_parameters,
    reset_uniform,
    shift_forget_gate,
)
from companion.nn._docs import fill
from companion.nn.errors import ShapeError

__all__ = ["rnn_step", "lstm_step", "gru_step", "RNNCell", "LSTMCell", "GRUCell"]


def _recurrent_sum(xp: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None) -> Tensor:
    """``xp + h W_hhᵀ (+ b_hh)`` as one fused ``addmm`` (a sequence layer folds ``b_hh`` into ``xp``)."""
    return torch.addmm(xp if bias_hh is None else xp + bias_hh, h, weight_hh.t())


def rnn_step(xp: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None, nonlinearity: str = "tanh"):
    """One vanilla RNN step from the input projection: ``h' = φ(xp + h W_hhᵀ + b_hh)``.

    Parameters
    ----------
    xp : Tensor of shape (N, H)
        Input projection ``x W_ihᵀ + b_ih``.
    h : Tensor of shape (N, H)
        Previous hidden state.
    weight_hh : Tensor of shape (H, H)
    bias_hh : Tensor of shape (H,) or None
    nonlinearity : {"tanh", "relu"}, default "tanh"

    Returns
    -------
    Tensor of shape (N, H)
        The new hidden state.

    Notes
    -----
    :math:`h_t = \\phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})`, chapter 2.

    See Also
    --------
    torch.nn.RNNCell

    Examples
    --------
    >>> rnn_step(torch.zeros(2, 3), torch.zeros(2, 3), torch.eye(3), None).shape
    torch.Size([2, 3])
    """
    a = _recurrent_sum(xp, h, weight_hh, bias_hh)  # (N, H)
    return torch.tanh(a) if nonlinearity == "tanh" else torch.relu(a)


def lstm_step(xp: Tensor, h: Tensor, c: Tensor, weight_hh: Tensor, bias_hh: Tensor | None):
    """One LSTM step from the input projection.

    Parameters
    ----------
    xp : Tensor of shape (N, 4H)
        Input projection ``x W_ihᵀ + b_ih``, gate blocks i, f, g, o.
    h : Tensor of shape (N, H)
        Previous hidden state.
    c : Tensor of shape (N, H)
        Previous cell state.
    weight_hh : Tensor of shape (4H, H)
    bias_hh : Tensor of shape (4H,) or None

    Returns
    -------
    h : Tensor of shape (N, H)
    c : Tensor of shape (N, H)

    Notes
    -----
    :math:`[i, f, g, o] = [\\sigma, \\sigma, \\tanh, \\sigma](xp + W_{hh} h + b_{hh})`,
    :math:`c' = f \\odot c + i \\odot g`, :math:`h' = o \\odot \\tanh(c')` (chapter 5).

    See Also
    --------
    torch.nn.LSTMCell

    Examples
    --------
    >>> h, c = lstm_step(torch.zeros(2, 12), torch.zeros(2, 3), torch.ones(2, 3), torch.zeros(12, 3), None)
    >>> c  # f = 0.5 halves the cell state, i * g = 0
    tensor([[0.5000, 0.5000, 0.5000],
            [0.5000, 0.5000, 0.5000]])
    """
    gates = _recurrent_sum(xp, h, weight_hh, bias_hh)  # (N, 4H) pre-activations
    i, f, _, o = torch.sigmoid(gates).chunk(4, dim=1)  # 4 x (N, H); the g block is not used
    H = c.shape[1]  # h has H features too, or P with a projection (chapter 7)
    g = torch.tanh(gates[:, 2 * H : 3 * H])  # (N, H)
    c = torch.addcmul(f * c, i, g)  # f ⊙ c + i ⊙ g, (N, H)
    h = o * torch.tanh(c)  # (N, H)
    return h, c


def gru_step(xp: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None):
    """One GRU step from the input projection.

    Parameters
    ----------
    xp : Tensor of shape (N, 3H)
        Input projection ``x W_ihᵀ + b_ih``, gate blocks r, z, n.
    h : Tensor of shape (N, H)
        Previous hidden state.
    weight_hh : Tensor of shape (3H, H)
    bias_hh : Tensor of shape (3H,) or None

    Returns
    -------
    Tensor of shape (N, H)
        The new hidden state.

    Notes
    -----
    :math:`r, z = \\sigma(\\cdot)`, :math:`n = \\tanh(W_{in} x + b_{in} + r \\odot (W_{hn} h + b_{hn}))`,
    :math:`h' = (1 - z) \\odot n + z \\odot h` (chapter 6), computed as :math:`n + z \\odot (h - n)`.

    See Also
    --------
    torch.nn.GRUCell

    Examples
    --------
    >>> gru_step(torch.zeros(2, 9), torch.ones(2, 3), torch.zeros(9, 3), None)  # z = 0.5, n = 0
    tensor([[0.5000, 0.5000, 0.5000],
            [0.5000, 0.5000, 0.5000]])
    """
    H = h.shape[1]
    hp = F.linear(h, weight_hh, bias_hh)  # (N, 3H): h W_hhᵀ + b_hh
    r, z = torch.sigmoid(xp[:, : 2 * H] + hp[:, : 2 * H]).chunk(2, dim=1)  # 2 x (N, H)
    n = torch.tanh(torch.addcmul(xp[:, 2 * H :], r, hp[:, 2 * H :]))  # (N, H)
    return torch.lerp(n, h, z)  # n + z ⊙ (h - n) = (1 - z) ⊙ n + z ⊙ h


class _Cell(nn.Module):
    """Parameters, initialisation, validation and the computation of one step shared by the three cells.

    A subclass names its gate blocks (``_gates``, as in :data:`companion.nn.kinds.KINDS`) and its step
    function (``_step_function``)."""

    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool, device=None, dtype=None) -> None:
        super().__init__()
        where = type(self).__name__
        input_size = check_cell_size(where, "input_size", input_size)
        hidden_size = check_cell_size(where, "hidden_size", hidden_size)
        self._bias_arg = bias  # shown by repr as given, like torch
        bias = check_flag(where, "bias", bias, allow_int=True)
        factory = {"device": device, "dtype": dtype}
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        register_gate_parameters(self, "", self._gates, input_size, hidden_size, bias, factory)

    def reset_parameters(self) -> None:
        """Draw every parameter from U(-1/√H, 1/√H), in torch's order (same seed, same values)."""
        reset_uniform(self)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        return s if self._bias_arg is True else s + f", bias={self._bias_arg}"

    def _input(self, input, state=None) -> tuple[Tensor, bool, torch.dtype | None]:
        """Validate ``input`` (N, D), N ≥ 0, or unbatched (D,); return it batched, whether it was, and the
        compute dtype (``state``, the first initial state if one is given, can set it under autocast)."""
        where, D = type(self).__name__, self.input_size
        if not isinstance(input, Tensor):
            check_tensor(where, "input", input, (), None)  # raises: not a tensor
        shape = tuple(input.shape)
        if len(shape) not in (1, 2) or shape[-1] != D:
            raise ShapeError(f"{where}: expected input of shape (N, {D}) or ({D},), got {shape}")
        dtype = compute_dtype(where, input, self.weight_ih.dtype, state)
        batched = len(shape) == 2
        return (input if batched else input.unsqueeze(0)), batched, dtype  # (N, D)

    def _state(self, name: str, value, x: Tensor, batched: bool, dtype) -> Tensor:
        """Validate one state (N, H) or unbatched (H,); zeros when None; return it batched."""
        if value is None:
            return x.new_zeros(x.shape[0], self.hidden_size)  # (N, H)
        shape = (x.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        expected = self.weight_ih.dtype if dtype is None else None  # autocast: any float dtype
        check_tensor(type(self).__name__, name, value, shape, expected)
        return value if batched else value.unsqueeze(0)  # (N, H)

    def _step(self, input, hx, names: tuple[str, ...]) -> tuple[Tensor, ...]:
        """Validate, then one step in the compute dtype; the new states, unbatched if ``input`` was.

        Under autocast everything is cast to the compute dtype (``_common.AUTOCAST_POLICY``) and the
        step runs with autocast off, so no operation sees two dtypes."""
        where = type(self).__name__
        first = hx if len(names) == 1 else hx[0] if isinstance(hx, tuple) and hx else None
        x, batched, dtype = self._input(input, first)
        values = (hx,) if len(names) == 1 else pair(where, hx)
        states = [self._state(n, v, x, batched, dtype) for n, v in zip(names, values, strict=True)]
        params = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        off = contextlib.nullcontext()
        if dtype is not None:
            x, states = x.to(dtype), [s.to(dtype) for s in states]
            params = [None if p is None else p.to(dtype) for p in params]
            off = torch.autocast(x.device.type, enabled=False)
        w_ih, w_hh, b_ih, b_hh = params
        with off:
            new = self._step_function(F.linear(x, w_ih, b_ih), *states, w_hh, b_hh)  # 1 or 2 x (N, H)
        new = new if isinstance(new, tuple) else (new,)
        return new if batched else tuple(s.squeeze(0) for s in new)


class _OneStateCell(_Cell):
    """The forward pass of the cells whose state is one tensor, h (RNNCell and GRUCell)."""

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """One step.

        Parameters
        ----------
        input : Tensor of shape (N, D) or (D,)
        hx : Tensor of shape (N, H) or (H,), optional
            Previous hidden state; zeros if omitted.

        Returns
        -------
        Tensor of shape (N, H) or (H,)
            The new hidden state (unbatched if ``input`` was).

        Raises
        ------
        ValueError
            (:class:`~companion.nn.errors.ShapeError`) If a shape is wrong.
        TypeError
            (:class:`~companion.nn.errors.DTypeError`) If an argument is not a tensor of the parameters'
            dtype.
        """
        (h,) = self._step(input, hx, ("hx",))
        return h


@fill
class RNNCell(_OneStateCell):
    """An Elman RNN cell, a drop-in replacement for ``torch.nn.RNNCell``.

    Parameters
    ----------
    %(sizes)s
    %(cell_bias)s
    nonlinearity : {"tanh", "relu"}, default "tanh"
    %(factory)s

    Attributes
    ----------
    weight_ih : torch.nn.Parameter of shape (H, D)
    weight_hh : torch.nn.Parameter of shape (H, H)
    bias_ih, bias_hh : torch.nn.Parameter of shape (H,) or None

    %(cell_raises)s or ``nonlinearity`` is unknown.
    %(cell_types)s

    Notes
    -----
    :math:`h' = \\phi(W_{ih} x + b_{ih} + W_{hh} h + b_{hh})` (chapter 2); parameters are drawn from
    :math:`U(-1/\\sqrt{H}, 1/\\sqrt{H})` in torch's order, so the same seed gives the same cell.

    See Also
    --------
    torch.nn.RNNCell : same constructor, parameters, inputs and output.

    Examples
    --------
    >>> cell = RNNCell(3, 5)
    >>> cell(torch.randn(4, 3)).shape
    torch.Size([4, 5])
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device=None,
        dtype=None,
    ) -> None:
        nonlinearity = _validate.one_of(*NONLINEARITIES)(
            "RNNCell", "nonlinearity", nonlinearity, **TORCH_ERRORS
        )
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity
        self.reset_parameters()

    @property
    def _step_function(self):
        return partial(rnn_step, nonlinearity=self.nonlinearity)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + f", nonlinearity={self.nonlinearity}"

    forward = _OneStateCell.forward  # named here too, so the API reference lists it under RNNCell


@fill
class LSTMCell(_Cell):
    """A long short-term memory cell, a drop-in replacement for ``torch.nn.LSTMCell``.

    Parameters
    ----------
    %(sizes)s
    %(cell_bias)s
    %(factory)s
    forget_bias : float, default 0.0
        Added to the forget-gate block of ``bias_ih`` after the uniform draw, in
        ``reset_parameters``. 1.0 starts the forget gate near :math:`\\sigma(1) \\approx 0.73`
        (Gers et al. 2000; Jozefowicz et al. 2015); 0.0 reproduces torch's initialisation exactly.

    Attributes
    ----------
    weight_ih : torch.nn.Parameter of shape (4H, D)
        Blocks ``W_ii | W_if | W_ig | W_io``.
    weight_hh : torch.nn.Parameter of shape (4H, H)
    bias_ih, bias_hh : torch.nn.Parameter of shape (4H,) or None

    %(cell_raises)s, or ``forget_bias`` is non-zero with ``bias=False``.
    %(cell_types)s

    Notes
    -----
    :math:`[i, f, g, o] = [\\sigma, \\sigma, \\tanh, \\sigma](W_{ih} x + b_{ih} + W_{hh} h + b_{hh})`,
    :math:`c' = f \\odot c + i \\odot g`, :math:`h' = o \\odot \\tanh(c')` (chapter 5).

    See Also
    --------
    torch.nn.LSTMCell : same constructor (without ``forget_bias``), parameters, inputs and outputs.

    Examples
    --------
    >>> cell = LSTMCell(3, 5, forget_bias=1.0)
    >>> h, c = cell(torch.randn(4, 3))
    >>> h.shape, c.shape
    (torch.Size([4, 5]), torch.Size([4, 5]))
    """

    _gates = 4
    _step_function = staticmethod(lstm_step)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device=None,
        dtype=None,
        *,
        forget_bias: float = 0.0,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.forget_bias = check_forget_bias("LSTMCell", forget_bias, bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """U(-1/√H, 1/√H) as torch, then ``forget_bias`` added to the forget block of ``bias_ih``."""
        super().reset_parameters()
        if self.bias:
            shift_forget_gate([self.bias_ih], self.hidden_size, self.forget_bias)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """One step.

        Parameters
        ----------
        input : Tensor of shape (N, D) or (D,)
        hx : tuple of Tensor, optional
            ``(h, c)``, the previous hidden and cell states, each of shape (N, H) or (H,); zeros if
            omitted.

        Returns
        -------
        h : Tensor of shape (N, H) or (H,)
        c : Tensor of shape (N, H) or (H,)

        Raises
        ------
        ValueError
            (:class:`~companion.nn.errors.ShapeError`) If a shape is wrong.
        TypeError
            (:class:`~companion.nn.errors.DTypeError`) If ``hx`` is not a pair, or a tensor does not have
            the parameters' dtype.
        """
        h, c = self._step(input, hx, ("hx[0]", "hx[1]"))
        return h, c


@fill
class GRUCell(_OneStateCell):
    """A gated recurrent unit cell, a drop-in replacement for ``torch.nn.GRUCell``.

    Parameters
    ----------
    %(sizes)s
    %(cell_bias)s
    %(factory)s

    Attributes
    ----------
    weight_ih : torch.nn.Parameter of shape (3H, D)
        Blocks ``W_ir | W_iz | W_in``.
    weight_hh : torch.nn.Parameter of shape (3H, H)
    bias_ih, bias_hh : torch.nn.Parameter of shape (3H,) or None

    %(cell_raises)s.
    %(cell_types)s

    Notes
    -----
    :math:`r = \\sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr})`, :math:`z` likewise,
    :math:`n = \\tanh(W_{in} x + b_{in} + r \\odot (W_{hn} h + b_{hn}))`,
    :math:`h' = (1 - z) \\odot n + z \\odot h` (chapter 6).

    See Also
    --------
    torch.nn.GRUCell : same constructor, parameters, inputs and output.

    Examples
    --------
    >>> GRUCell(3, 5)(torch.randn(3)).shape
    torch.Size([5])
    """

    _gates = 3
    _step_function = staticmethod(gru_step)

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.reset_parameters()

    forward = _OneStateCell.forward  # named here too, so the API reference lists it under GRUCell
