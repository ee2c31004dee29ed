"""Recurrent sequence layers in torch, written from the equations (chapters 5, 6 and 7).

``RNN``, ``LSTM`` and ``GRU`` take every constructor argument of ``torch.nn.RNN``/``LSTM``/``GRU``
with the same defaults (``num_layers``, ``bidirectional``, ``dropout`` between layers, the LSTM's
``proj_size``, ``batch_first``, ``bias``), hold the same parameters in the same order
(``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``, ``weight_hr_l0``, then
``…_l0_reverse``, ``…_l1`` …), accept the same inputs (dense, unbatched 2-D, ``PackedSequence``) and
return the same structures. A layer is the composition of three parts:

- :mod:`companion.nn.packing` brings any input to one time-first padded form with a mask of valid steps;
- :mod:`companion.nn.recurrence` runs one direction of one layer (the fast path of
  :mod:`companion.nn.fused` by default, the step-by-step path of :mod:`companion.nn.cells` otherwise);
- the loop below stacks directions and layers: layer l+1 reads the concatenated outputs of layer l.
"""

from __future__ import annotations

import contextlib
import warnings
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from companion._validate import check_flag, check_probability, check_size, one_of, validate
from companion.nn import packing
from companion.nn._common import (
    NONLINEARITIES,
    TORCH_ERRORS,
    check_forget_bias,
    check_tensor,
    compute_dtype,
    gate_parameters,
    pair,
    reset_uniform,
    shift_forget_gate,
)
from companion.nn._docs import fill
from companion.nn.errors import ArgumentError, DTypeError, ShapeError
from companion.nn.kinds import KINDS
from companion.nn.recurrence import run_direction

__all__ = ["RNN", "LSTM", "GRU"]

#: Every layer's arguments and their checks (:func:`companion._validate.validate`), in this order.
ARGUMENTS = {
    "dropout": check_probability,
    "bias": check_flag,
    "batch_first": check_flag,
    "bidirectional": check_flag,
    "input_size": partial(check_size, integral=False),
    "hidden_size": partial(check_size, integral=False),
    "num_layers": check_size,
}


def check_proj_size(where: str, proj_size, hidden_size: int) -> int:
    """The LSTM's ``proj_size``: an int, 0 (no projection) or below ``hidden_size``."""
    message = f"{where}: expected proj_size to be an int >= 0 (0: no projection), got {proj_size!r}"
    if isinstance(proj_size, bool) or not isinstance(proj_size, int):
        raise DTypeError(message)
    if proj_size < 0:
        raise ArgumentError(message)
    if proj_size >= hidden_size:
        raise ArgumentError(f"{where}: expected proj_size < hidden_size = {hidden_size}, got {proj_size}")
    return proj_size


def check_no_extra_arguments(where: str, kwargs: dict) -> None:
    """torch.nn's RNN and GRU refuse ``proj_size`` with a ValueError, and any other extra keyword."""
    if "proj_size" in kwargs:
        raise ArgumentError(
            f"{where}: proj_size is only supported by LSTM, got proj_size={kwargs['proj_size']!r}"
        )
    if kwargs:
        raise TypeError(f"{where}: unexpected keyword argument {next(iter(kwargs))!r}")


class _Layer(nn.Module):
    """Arguments, parameters, validation and the stack of layers and directions shared by the three."""

    #: Run the fast path (:mod:`companion.nn.fused`, hand-written BPTT) where it exists. Set to False on
    #: a module (or the class) for the step-by-step path, e.g. for double backward or ``torch.func``.
    use_fused: bool = True

    def __init__(self, mode: str, factory: dict, *, proj_size: int = 0, **arguments) -> None:
        super().__init__()
        where = type(self).__name__
        checked = validate(where, ARGUMENTS, arguments, **TORCH_ERRORS)
        if checked["dropout"] > 0 and checked["num_layers"] == 1:
            warnings.warn(
                f"{where}: dropout is applied between stacked layers (not after the last one), so "
                f"dropout={arguments['dropout']} does nothing with num_layers=1",
                UserWarning,
                stacklevel=3,
            )
        self.proj_size = check_proj_size(where, proj_size, checked["hidden_size"])
        self.mode, self.input_size, self.hidden_size = mode, checked["input_size"], checked["hidden_size"]
        self.num_layers, self.bias, self.dropout = checked["num_layers"], checked["bias"], checked["dropout"]
        self.batch_first, self.bidirectional = checked["batch_first"], checked["bidirectional"]
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(self.num_layers):
            for suffix in ("", "_reverse")[: self._directions]:
                self._register_weights(f"_l{layer}{suffix}", layer, factory)

    def _register_weights(self, suffix: str, layer: int, factory: dict) -> None:
        """torch's ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` (``weight_hr``) + ``suffix``."""
        state_size = self.proj_size or self.hidden_size
        layer_input = self.input_size if layer == 0 else state_size * self._directions
        gates = KINDS[self.mode].gates
        params = gate_parameters(gates, layer_input, self.hidden_size, self.bias, factory, state_size)
        names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
        if self.proj_size:
            params.append(nn.Parameter(torch.empty((self.proj_size, self.hidden_size), **factory)))
            names.append("weight_hr")
        names = [name + suffix for name, param in zip(names, params, strict=True) if param is not None]
        for name, param in zip(names, [p for p in params if p is not None], strict=True):
            self.register_parameter(name, param)
        self._flat_weights_names.extend(names)
        self._all_weights.append(names)

    @property
    def _directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def all_weights(self) -> list[list[nn.Parameter]]:
        """The parameters per layer and direction, in torch's order (``[[weight_ih_l0, …], …]``)."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    @property
    def _flat_weights(self) -> list[nn.Parameter]:
        return [getattr(self, name) for name in self._flat_weights_names]

    def reset_parameters(self) -> None:
        """Draw every parameter from U(-1/√H, 1/√H), in torch's order (same seed, same values)."""
        reset_uniform(self)

    def flatten_parameters(self) -> None:
        """Does nothing: kept so that code written for ``torch.nn`` (which calls it for cuDNN) runs."""

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        s += f", proj_size={self.proj_size}" if self.proj_size else ""
        s += f", num_layers={self.num_layers}" if self.num_layers != 1 else ""
        s += ", bias=False" if not self.bias else ""
        s += ", batch_first=True" if self.batch_first else ""
        s += f", dropout={self.dropout}" if self.dropout else ""
        return s + (", bidirectional=True" if self.bidirectional else "")

    def _params(self, k: int, dtype) -> tuple:
        """``(weight_ih, weight_hh, bias_ih, bias_hh, weight_hr)`` of layer·direction ``k`` (absent: None)."""
        names = dict(zip([n.split("_l")[0] for n in self._all_weights[k]], self._all_weights[k], strict=True))
        keys = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
        params = [getattr(self, names[key]) if key in names else None for key in keys]
        return tuple(p if p is None or dtype is None else p.to(dtype) for p in params)

    def _initial(self, name: str, value, batch: packing.Batch, size: int, dtype) -> Tensor:
        """Validate one initial state, (L·dirs, N, S) or unbatched (L·dirs, S); zeros when None."""
        LD, N = self.num_layers * self._directions, batch.x.shape[1]
        if value is None:
            return batch.x.new_zeros(LD, N, size, dtype=dtype or batch.x.dtype)  # (L·dirs, N, S)
        where = type(self).__name__
        shape = (LD, N, size) if batch.batched else (LD, size)
        detail = f" (num_layers·directions = {LD}, batch {N}, size {size})" if batch.batched else ""
        if isinstance(value, Tensor) and tuple(value.shape) != shape:
            raise ShapeError(f"{where}: expected {name} of shape {shape}, got {tuple(value.shape)}{detail}")
        check_tensor(where, name, value, shape, None if dtype else self._flat_weights[0].dtype)
        value = value if batch.batched else value.unsqueeze(1)  # (L·dirs, N, S)
        return value if dtype is None else value.to(dtype)

    def _run(self, input, hx: tuple, lengths):
        """Validate, run the stack of layers and directions, and give back torch's structures."""
        where = type(self).__name__
        batch = packing.as_time_first(where, input, self.input_size, self.batch_first, lengths)
        dtype = compute_dtype(where, batch.x, self._flat_weights[0].dtype, hx[0])
        state_size = self.proj_size or self.hidden_size
        sizes = [("hx", state_size)] if len(hx) == 1 else [("h_0", state_size), ("c_0", self.hidden_size)]
        states = [self._initial(n, v, batch, s, dtype) for (n, s), v in zip(sizes, hx, strict=True)]
        x = batch.x if dtype is None else batch.x.to(dtype)
        off = contextlib.nullcontext() if dtype is None else torch.autocast(x.device.type, enabled=False)
        finals: list[list[Tensor]] = [[] for _ in states]
        with off:
            for layer in range(self.num_layers):
                outputs = []
                for direction in range(self._directions):
                    k = layer * self._directions + direction
                    output, last = run_direction(
                        self.mode,
                        x,
                        tuple(s[k] for s in states),
                        self._params(k, dtype),
                        mask=batch.mask,
                        reverse=direction == 1,
                        use_fused=self.use_fused,
                    )
                    outputs.append(output)
                    for kept, state in zip(finals, last, strict=True):
                        kept.append(state)
                x = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=2)  # (T, N, dirs·H)
                if self.dropout and self.training and layer < self.num_layers - 1:
                    x = F.dropout(x, self.dropout, training=True)  # between layers, never after the last
        output = packing.restore(batch, x, self.batch_first)
        # torch.stack makes new tensors (not views of the output), so h_n.detach_() and in-place edits work.
        finals = [torch.stack(kept) if batch.batched else torch.stack(kept).squeeze(1) for kept in finals]
        if dtype is not None and self.proj_size and len(finals) == 2:  # as torch.nn: a projected LSTM's
            given = isinstance(hx[1], Tensor) and hx[1].is_floating_point()  # c_n has c_0's dtype,
            finals[1] = finals[1].to(hx[1].dtype if given else batch.x.dtype)  # or the input's
        return output, finals


class _OneStateLayer(_Layer):
    """The forward pass of the layers whose state is one tensor, h (RNN and GRU)."""

    def forward(self, input, hx: Tensor | None = None, *, lengths=None):
        """Run the layer over the sequences.

        Parameters
        ----------
        input : Tensor of shape (N, T, D) if ``batch_first`` else (T, N, D), or (T, D), or PackedSequence
        hx : Tensor of shape (L·dirs, N, H), or (L·dirs, H) unbatched, optional
            Initial hidden states, index ``layer·dirs + direction``; zeros if omitted.
        lengths : sequence of int or Tensor of shape (N,), optional
            True lengths of a padded batch (keyword only; not with a PackedSequence): outputs past a
            sequence's end are zero and ``h_n`` is its state at its true end.

        Returns
        -------
        output : Tensor of shape (N, T, dirs·H) if ``batch_first`` else (T, N, dirs·H), or PackedSequence
            The last layer's hidden states at every step.
        h_n : Tensor of shape (L·dirs, N, H), or (L·dirs, H) unbatched
            Every layer's and direction's final state (the reverse direction's after reading step 1).

        Raises
        ------
        ShapeError
            If a shape or the lengths are wrong (the message names the expected and the actual value).
        DTypeError
            If an argument is not a tensor of the parameters' dtype.
        """
        if hx is not None and not isinstance(hx, Tensor):
            raise DTypeError(
                f"{type(self).__name__}: expected hx to be a torch.Tensor, got {type(hx).__name__}"
            )
        output, (h_n,) = self._run(input, (hx,), lengths)
        return output, h_n


@fill
class RNN(_OneStateLayer):
    """Elman RNN, a drop-in replacement for ``torch.nn.RNN``.

    Parameters
    ----------
    %(sizes)s
    %(num_layers)s
    nonlinearity : {"tanh", "relu"}, default "tanh"
    %(layer_flags)s
    %(factory)s

    %(layer_raises)s, or ``nonlinearity`` is unknown.
    %(layer_types)s

    Notes
    -----
    :math:`h^{(l)}_t = \\phi(W^{(l)}_{ih} h^{(l-1)}_t + b^{(l)}_{ih}
    + W^{(l)}_{hh} h^{(l)}_{t-1} + b^{(l)}_{hh})` with :math:`h^{(0)}_t = x_t` (chapters 2 and 7).
    Warns, like torch, if ``dropout > 0`` with one layer.

    See Also
    --------
    torch.nn.RNN : same constructor, parameters, inputs and outputs.

    Examples
    --------
    >>> rnn = RNN(3, 5, num_layers=2, bidirectional=True, batch_first=True)
    >>> output, h_n = rnn(torch.randn(4, 7, 3))
    >>> output.shape, h_n.shape
    (torch.Size([4, 7, 10]), torch.Size([4, 4, 5]))
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
        **kwargs,
    ) -> None:
        check_no_extra_arguments("RNN", kwargs)
        nonlinearity = one_of(*NONLINEARITIES)("RNN", "nonlinearity", nonlinearity, **TORCH_ERRORS)
        super().__init__(
            "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU",
            {"device": device, "dtype": dtype},
            input_size=input_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bias=bias,
            batch_first=batch_first,
            dropout=dropout,
            bidirectional=bidirectional,
        )
        self.nonlinearity = nonlinearity
        self.reset_parameters()

    forward = _OneStateLayer.forward  # named here too, so the API reference lists it under RNN


@fill
class LSTM(_Layer):
    """Long short-term memory, a drop-in replacement for ``torch.nn.LSTM``.

    Parameters
    ----------
    input_size : int
        Number of input features D.
    hidden_size : int
        Number of hidden units H (the size of the cell state).
    %(num_layers)s
    %(layer_flags)s
    proj_size : int, default 0
        If > 0, the hidden state is projected to P = ``proj_size`` features by ``weight_hr_l{k}``
        (P, H): h is (·, P), c stays (·, H) (Sak et al. 2014). Runs the step-by-step path.
    %(factory)s
    forget_bias : float, default 0.0
        Keyword only: added to the forget-gate block of every ``bias_ih_l{k}`` after the uniform draw.
        1.0 is the recommendation of Gers et al. (2000) and Jozefowicz et al. (2015); 0.0 reproduces torch.

    %(layer_raises)s, ``proj_size`` is negative or not below ``hidden_size``, or ``forget_bias`` is
        non-zero with ``bias=False``.
    %(layer_types)s

    Notes
    -----
    :math:`[i, f, g, o] = [\\sigma, \\sigma, \\tanh, \\sigma](W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})`,
    :math:`c_t = f \\odot c_{t-1} + i \\odot g`, :math:`h_t = o \\odot \\tanh(c_t)` (chapter 5), then
    :math:`h_t \\leftarrow W_{hr} h_t` with a projection; layer l+1 reads layer l's :math:`h_t` (chapter 7).

    See Also
    --------
    torch.nn.LSTM : same constructor (without ``forget_bias``), parameters, inputs and outputs.

    Examples
    --------
    >>> lstm = LSTM(3, 5, num_layers=2, batch_first=True, forget_bias=1.0)
    >>> output, (h_n, c_n) = lstm(torch.randn(4, 7, 3))
    >>> output.shape, c_n.shape
    (torch.Size([4, 7, 5]), torch.Size([2, 4, 5]))
    """

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
        super().__init__(
            "LSTM",
            {"device": device, "dtype": dtype},
            proj_size=proj_size,
            input_size=input_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bias=bias,
            batch_first=batch_first,
            dropout=dropout,
            bidirectional=bidirectional,
        )
        self.forget_bias = check_forget_bias("LSTM", forget_bias, self.bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """U(-1/√H, 1/√H) as torch, then ``forget_bias`` added to the forget block of every ``bias_ih``."""
        super().reset_parameters()
        if self.bias:
            biases_ih = [weights[2] for weights in self.all_weights]  # every layer and direction
            shift_forget_gate(biases_ih, self.hidden_size, self.forget_bias)

    def forward(self, input, hx: tuple[Tensor, Tensor] | None = None, *, lengths=None):
        """Run the layer over the sequences.

        Parameters
        ----------
        input : Tensor of shape (N, T, D) if ``batch_first`` else (T, N, D), or (T, D), or PackedSequence
        hx : tuple of Tensor, optional
            ``(h_0, c_0)``: h_0 of shape (L·dirs, N, P or H), c_0 of shape (L·dirs, N, H) (no N unbatched);
            zeros if omitted.
        lengths : sequence of int or Tensor of shape (N,), optional
            True lengths of a padded batch (keyword only): outputs past a sequence's end are zero and the
            final states are taken at its true end.

        Returns
        -------
        output : Tensor of shape (N, T, dirs·P) if ``batch_first`` else (T, N, dirs·P), or PackedSequence
            The last layer's hidden states (P = ``proj_size`` or H).
        (h_n, c_n) : tuple of Tensor
            Final states, (L·dirs, N, P) and (L·dirs, N, H) ((L·dirs, ·) unbatched).

        Raises
        ------
        ShapeError
            If a shape or the lengths are wrong.
        DTypeError
            If ``hx`` is not a pair, or a tensor does not have the parameters' dtype.
        """
        output, (h_n, c_n) = self._run(input, pair("LSTM", hx), lengths)
        return output, (h_n, c_n)


@fill
class GRU(_OneStateLayer):
    """Gated recurrent unit, a drop-in replacement for ``torch.nn.GRU``.

    Parameters
    ----------
    %(sizes)s
    %(num_layers)s
    %(layer_flags)s
    %(factory)s

    %(layer_raises)s.
    %(layer_types)s

    Notes
    -----
    :math:`r_t, z_t = \\sigma(\\cdot)`,
    :math:`n_t = \\tanh(W_{in} x_t + b_{in} + r_t \\odot (W_{hn} h_{t-1} + b_{hn}))`,
    :math:`h_t = (1 - z_t) \\odot n_t + z_t \\odot h_{t-1}` (chapter 6), stacked as in chapter 7.

    See Also
    --------
    torch.nn.GRU : same constructor, parameters, inputs and outputs.

    Examples
    --------
    >>> gru = GRU(3, 5, bidirectional=True)
    >>> output, h_n = gru(torch.randn(7, 4, 3))
    >>> output.shape, h_n.shape
    (torch.Size([7, 4, 10]), torch.Size([2, 4, 5]))
    """

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
        **kwargs,
    ) -> None:
        check_no_extra_arguments("GRU", kwargs)
        super().__init__(
            "GRU",
            {"device": device, "dtype": dtype},
            input_size=input_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bias=bias,
            batch_first=batch_first,
            dropout=dropout,
            bidirectional=bidirectional,
        )
        self.reset_parameters()

    forward = _OneStateLayer.forward  # named here too, so the API reference lists it under GRU
