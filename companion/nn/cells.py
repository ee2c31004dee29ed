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

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["rnn_step", "lstm_step", "gru_step", "RNNCell", "LSTMCell", "GRUCell"]

_NONLINEARITIES = ("tanh", "relu")


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
    g = torch.tanh(gates[:, 2 * h.shape[1] : 3 * h.shape[1]])  # (N, H)
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


def _check_size(where: str, name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{where}: expected {name} to be an int, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{where}: expected {name} > 0, got {value}")


def _check_flag(where: str, name: str, value) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{where}: expected {name} to be a bool, got {type(value).__name__}")


def _check_tensor(where: str, name: str, value, shape: tuple, dtype: torch.dtype) -> None:
    """Exact shape and dtype, or an error naming both the expectation and what arrived."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{where}: expected {name} to be a torch.Tensor, got {type(value).__name__}")
    if tuple(value.shape) != tuple(shape):
        raise ValueError(f"{where}: expected {name} of shape {tuple(shape)}, got {tuple(value.shape)}")
    if value.dtype != dtype:
        raise TypeError(f"{where}: expected {name} of dtype {dtype} (the parameters'), got {value.dtype}")


def _register_gate_parameters(
    module: nn.Module, suffix: str, chunks: int, input_size: int, hidden_size: int, bias: bool, factory: dict
) -> None:
    """Create torch's ``weight_ih{suffix}`` (G·H, D), ``weight_hh{suffix}`` (G·H, H) and, with ``bias``,
    ``bias_ih{suffix}``, ``bias_hh{suffix}`` (G·H,) on ``module``, G = ``chunks`` gate blocks
    (uninitialised: call :func:`_reset_uniform`)."""
    G = chunks * hidden_size
    module.register_parameter(f"weight_ih{suffix}", nn.Parameter(torch.empty((G, input_size), **factory)))
    module.register_parameter(f"weight_hh{suffix}", nn.Parameter(torch.empty((G, hidden_size), **factory)))
    for name in (f"bias_ih{suffix}", f"bias_hh{suffix}"):
        module.register_parameter(name, nn.Parameter(torch.empty(G, **factory)) if bias else None)


def _reset_uniform(module: nn.Module) -> None:
    """Draw every parameter of ``module`` from U(-1/√H, 1/√H), in registration order, as torch does."""
    bound = 1.0 / math.sqrt(module.hidden_size)
    for weight in module.parameters():
        nn.init.uniform_(weight, -bound, bound)


class _Cell(nn.Module):
    """Parameters, initialisation and input handling shared by the three cells."""

    _chunks = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool, device=None, dtype=None) -> None:
        super().__init__()
        where = type(self).__name__
        _check_size(where, "input_size", input_size)
        _check_size(where, "hidden_size", hidden_size)
        _check_flag(where, "bias", bias)
        factory = {"device": device, "dtype": dtype}
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        _register_gate_parameters(self, "", self._chunks, input_size, hidden_size, bias, factory)

    def reset_parameters(self) -> None:
        """Draw every parameter from U(-1/√H, 1/√H), in torch's order (same seed, same values)."""
        _reset_uniform(self)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        return s if self.bias else s + ", bias=False"

    def _input(self, input) -> tuple[Tensor, bool]:
        """Validate ``input`` (N, D) or unbatched (D,); return it batched and whether it was."""
        where, D = type(self).__name__, self.input_size
        if not isinstance(input, Tensor):
            raise TypeError(f"{where}: expected input to be a torch.Tensor, got {type(input).__name__}")
        shape = tuple(input.shape)
        batched = len(shape) == 2 and shape[0] > 0
        if shape[-1:] != (D,) or not (batched or len(shape) == 1):
            raise ValueError(f"{where}: expected input of shape (N, {D}) or ({D},), got {shape}")
        _check_tensor(where, "input", input, input.shape, self.weight_ih.dtype)
        return (input if batched else input.unsqueeze(0)), batched  # (N, D)

    def _state(self, name: str, value, x: Tensor, batched: bool) -> Tensor:
        """Validate one state (N, H) or unbatched (H,); zeros when None; return it batched."""
        if value is None:
            return x.new_zeros(x.shape[0], self.hidden_size)  # (N, H)
        shape = (x.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        _check_tensor(type(self).__name__, name, value, shape, self.weight_ih.dtype)
        return value if batched else value.unsqueeze(0)  # (N, H)

    def _project(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight_ih, self.bias_ih)  # (N, G·H)


class RNNCell(_Cell):
    """An Elman RNN cell, a drop-in replacement for ``torch.nn.RNNCell``.

    Parameters
    ----------
    input_size : int
        Number of input features D.
    hidden_size : int
        Number of hidden units H.
    bias : bool, default True
        If False, no ``bias_ih`` / ``bias_hh``.
    nonlinearity : {"tanh", "relu"}, default "tanh"
    device, dtype : optional
        Where and in which floating type the parameters are created.

    Attributes
    ----------
    weight_ih : torch.nn.Parameter of shape (H, D)
    weight_hh : torch.nn.Parameter of shape (H, H)
    bias_ih, bias_hh : torch.nn.Parameter of shape (H,) or None

    Raises
    ------
    ValueError
        If a size is not positive or ``nonlinearity`` is unknown.
    TypeError
        If a size is not an int or ``bias`` not a bool.

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
        if nonlinearity not in _NONLINEARITIES:
            raise ValueError(f"RNNCell: expected nonlinearity 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + f", nonlinearity={self.nonlinearity}"

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
            If a shape is wrong.
        TypeError
            If an argument is not a tensor of the parameters' dtype.
        """
        x, batched = self._input(input)
        h = self._state("hx", hx, x, batched)
        h = rnn_step(self._project(x), h, self.weight_hh, self.bias_hh, self.nonlinearity)  # (N, H)
        return h if batched else h.squeeze(0)


class LSTMCell(_Cell):
    """A long short-term memory cell, a drop-in replacement for ``torch.nn.LSTMCell``.

    Parameters
    ----------
    input_size : int
        Number of input features D.
    hidden_size : int
        Number of hidden units H.
    bias : bool, default True
        If False, no ``bias_ih`` / ``bias_hh``.
    device, dtype : optional
        Where and in which floating type the parameters are created.
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

    Raises
    ------
    ValueError
        If a size is not positive, or ``forget_bias`` is non-zero with ``bias=False``.
    TypeError
        If a size is not an int or ``bias`` not a bool.

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

    _chunks = 4

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
        self.forget_bias = _check_forget_bias("LSTMCell", forget_bias, bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """U(-1/√H, 1/√H) as torch, then ``forget_bias`` added to the forget block of ``bias_ih``."""
        super().reset_parameters()
        if self.bias and self.forget_bias:
            H = self.hidden_size
            with torch.no_grad():
                self.bias_ih[H : 2 * H] += self.forget_bias

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
            If a shape is wrong.
        TypeError
            If ``hx`` is not a pair, or a tensor does not have the parameters' dtype.
        """
        x, batched = self._input(input)
        h, c = _pair("LSTMCell", hx)
        h, c = self._state("hx[0]", h, x, batched), self._state("hx[1]", c, x, batched)
        h, c = lstm_step(self._project(x), h, c, self.weight_hh, self.bias_hh)  # 2 x (N, H)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(_Cell):
    """A gated recurrent unit cell, a drop-in replacement for ``torch.nn.GRUCell``.

    Parameters
    ----------
    input_size : int
        Number of input features D.
    hidden_size : int
        Number of hidden units H.
    bias : bool, default True
        If False, no ``bias_ih`` / ``bias_hh``.
    device, dtype : optional
        Where and in which floating type the parameters are created.

    Attributes
    ----------
    weight_ih : torch.nn.Parameter of shape (3H, D)
        Blocks ``W_ir | W_iz | W_in``.
    weight_hh : torch.nn.Parameter of shape (3H, H)
    bias_ih, bias_hh : torch.nn.Parameter of shape (3H,) or None

    Raises
    ------
    ValueError
        If a size is not positive.
    TypeError
        If a size is not an int or ``bias`` not a bool.

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

    _chunks = 3

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.reset_parameters()

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

        Raises
        ------
        ValueError
            If a shape is wrong.
        TypeError
            If an argument is not a tensor of the parameters' dtype.
        """
        x, batched = self._input(input)
        h = self._state("hx", hx, x, batched)
        h = gru_step(self._project(x), h, self.weight_hh, self.bias_hh)  # (N, H)
        return h if batched else h.squeeze(0)


def _check_forget_bias(where: str, forget_bias, bias: bool) -> float:
    if isinstance(forget_bias, bool) or not isinstance(forget_bias, (int, float)):
        raise TypeError(f"{where}: expected forget_bias to be a float, got {type(forget_bias).__name__}")
    if forget_bias != 0 and not bias:
        raise ValueError(f"{where}: forget_bias={forget_bias} needs bias=True (there is no bias to shift)")
    return float(forget_bias)


def _pair(where: str, hx):
    """``(None, None)`` for no state, else the two tensors of an LSTM state ``(h, c)``."""
    if hx is None:
        return None, None
    if not isinstance(hx, (tuple, list)) or len(hx) != 2:
        raise TypeError(f"{where}: expected hx to be a tuple (h, c) of two tensors, got {type(hx).__name__}")
    return hx[0], hx[1]
