"""The torch-specific helpers of the cells and the layers of ``companion.nn``: tensor checks, parameter
creation, initialisation and dtype rules.

The generic argument checks live in :mod:`companion._validate`; the ones named here call them with
:mod:`companion.nn.errors`' exception classes (``TORCH_ERRORS``), which ``torch.nn``'s callers also catch.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from companion import _validate
from companion.nn.errors import ArgumentError, DTypeError, ShapeError

#: The exception classes companion.nn passes to the checks of :mod:`companion._validate`.
TORCH_ERRORS = {"type_error": DTypeError, "value_error": ArgumentError}

NONLINEARITIES = ("tanh", "relu")


def check_cell_size(where: str, name: str, value) -> int:
    """A cell size as torch's cells accept it: any integer (``numpy.int64`` too), zero allowed."""
    return _validate.check_size(where, name, value, zero=True, **TORCH_ERRORS)


def check_layer_size(where: str, name: str, value, *, integral: bool = False) -> int:
    """A layer size as torch's layers accept it: a Python ``int`` (any integer with ``integral``) > 0."""
    return _validate.check_size(where, name, value, integral=integral, **TORCH_ERRORS)


def check_flag(where: str, name: str, value, *, allow_int: bool = False) -> bool:
    """A bool flag; the cells (like torch's) also take the ints 0 and 1 for ``bias``."""
    return _validate.check_flag(where, name, value, allow_int=allow_int, **TORCH_ERRORS)


def check_tensor(where: str, name: str, value, shape: tuple, dtype: torch.dtype | None) -> None:
    """Exact shape and (unless ``dtype`` is None) dtype, or an error naming the expectation and the value."""
    if not isinstance(value, Tensor):
        raise DTypeError(f"{where}: expected {name} to be a torch.Tensor, got {type(value).__name__}")
    if tuple(value.shape) != tuple(shape):
        raise ShapeError(f"{where}: expected {name} of shape {tuple(shape)}, got {tuple(value.shape)}")
    if dtype is not None and value.dtype != dtype:
        raise DTypeError(f"{where}: expected {name} of dtype {dtype} (the parameters'), got {value.dtype}")


def check_forget_bias(where: str, forget_bias, bias: bool) -> float:
    """The LSTM's ``forget_bias``, a real number, non-zero only with ``bias``."""
    value = _validate.check_real(where, "forget_bias", forget_bias, **TORCH_ERRORS)
    if value != 0 and not bias:
        raise ArgumentError(f"{where}: forget_bias={forget_bias} needs bias=True (there is no bias to shift)")
    return value


def pair(where: str, hx):
    """``(None, None)`` for no state, else the two tensors of an LSTM state ``(h, c)``."""
    if hx is None:
        return None, None
    if not isinstance(hx, (tuple, list)) or len(hx) != 2:
        raise DTypeError(f"{where}: expected hx to be a tuple (h, c) of two tensors, got {type(hx).__name__}")
    return hx[0], hx[1]


def gate_parameters(
    chunks: int, input_size: int, hidden_size: int, bias: bool, factory: dict, state_size: int | None = None
) -> list[nn.Parameter | None]:
    """Uninitialised ``[weight_ih (G·H, D), weight_hh (G·H, S), bias_ih (G·H,), bias_hh (G·H,)]``.

    G = ``chunks`` gate blocks; S = ``state_size`` (the LSTM's ``proj_size``), H by default; the two biases
    are None without ``bias``. Initialise with :func:`reset_uniform`.
    """
    G, S = chunks * hidden_size, hidden_size if state_size is None else state_size
    params = [nn.Parameter(torch.empty((G, input_size), **factory))]
    params.append(nn.Parameter(torch.empty((G, S), **factory)))
    params += [nn.Parameter(torch.empty(G, **factory)) if bias else None for _ in range(2)]
    return params


def register_gate_parameters(
    module: nn.Module, suffix: str, chunks: int, input_size: int, hidden_size: int, bias: bool, factory: dict
) -> None:
    """Create torch's ``weight_ih``, ``weight_hh``, ``bias_ih`` and ``bias_hh``, each ending in ``suffix``.

    Uninitialised: call :func:`reset_uniform`.
    """
    params = gate_parameters(chunks, input_size, hidden_size, bias, factory)
    for name, param in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), params, strict=True):
        module.register_parameter(name + suffix, param)


def reset_uniform(module: nn.Module) -> None:
    """Draw every parameter of ``module`` from U(-1/√H, 1/√H), in registration order, as torch does."""
    bound = 1.0 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0.0
    for weight in module.parameters():
        nn.init.uniform_(weight, -bound, bound)


# Under torch.autocast, torch.nn runs each recurrent module in one dtype, by a fixed policy (measured on
# torch 2.13, CPU): LSTM, RNN and RNNCell in the autocast dtype, GRU, LSTMCell and GRUCell in the
# dtype of the initial state when one is given and the input's otherwise (an LSTM with a projection
# returns its cell state in c_0's dtype, or the input's without c_0). The companion
# modules follow the same policy, computing with autocast switched off after an explicit cast, so no
# operation sees two dtypes.
AUTOCAST_POLICY = {
    "RNN": "lower",
    "LSTM": "lower",
    "GRU": "input",
    "RNNCell": "lower",
    "LSTMCell": "input",
    "GRUCell": "input",
}


def compute_dtype(
    where: str, input: Tensor, param_dtype: torch.dtype, state: Tensor | None = None
) -> torch.dtype | None:
    """The dtype the module computes in: None outside autocast (the parameters' dtype, checked).

    Under autocast, by ``AUTOCAST_POLICY``: the autocast dtype, or the dtype of ``state`` (the
    initial state, when one is given) or else of ``input``."""
    device_type = input.device.type
    try:
        autocast = input.is_floating_point() and torch.is_autocast_enabled(device_type)
    except RuntimeError:  # a device type autocast does not know (e.g. "meta")
        autocast = False
    if not autocast:
        if input.dtype != param_dtype:
            raise DTypeError(
                f"{where}: expected input of dtype {param_dtype} (the parameters'), got {input.dtype}; "
                f"convert the input with input.to({param_dtype}) or the module with module.to({input.dtype})"
            )
        return None
    policy = AUTOCAST_POLICY[where]
    if policy == "lower":
        return torch.get_autocast_dtype(device_type)
    if policy == "input":
        given = isinstance(state, Tensor) and state.is_floating_point()
        return state.dtype if given else input.dtype
    return torch.float32


def shift_forget_gate(biases, hidden_size: int, forget_bias: float) -> None:
    """Add ``forget_bias`` in place to the forget block ``[H, 2H)`` of LSTM biases (gates i, f, g, o).

    The LSTM cell and layer call it after the uniform draw of ``reset_parameters``; 0.0 changes nothing.
    """
    if not forget_bias:
        return
    with torch.no_grad():
        for bias in biases:
            bias[hidden_size : 2 * hidden_size] += forget_bias
