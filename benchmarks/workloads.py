"""The computations that ``bench_layers.py`` times: layers, training steps, numpy references, FLOP counts.

Every function returns a closure that runs one computation and returns what the other side of a
comparison must agree with (outputs and gradients), so the script can check before it times.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import companion.nn
from companion.ref import gru as ref_gru
from companion.ref import lstm as ref_lstm
from companion.ref import rnn as ref_rnn

GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


@dataclass(frozen=True)
class Sizes:
    N: int
    D: int
    H: int

    def __str__(self) -> str:
        return f"N={self.N}, D={self.D}, H={self.H}"


@dataclass(frozen=True)
class Stack:
    """How many layers, and whether each reads the sequence in both directions."""

    num_layers: int
    bidirectional: bool

    def __str__(self) -> str:
        return f"{self.num_layers}{' bidir.' if self.bidirectional else ''}"

    def kwargs(self) -> dict:
        return {"num_layers": self.num_layers, "bidirectional": self.bidirectional}


def matmul_flops(cell: str, stack: Stack, sizes: Sizes, T: int) -> float:
    """Floating-point operations of the matrix products of one forward and one backward pass.

    Per step, layer and direction the forward pass multiplies (N, D_in + H) by (D_in + H, G·H) with
    G gates: 2·N·(D_in + H)·G·H flops. The backward pass does two such products (gradients of the
    inputs and of the weights), so the total is 3 times the forward's. Elementwise work is not counted.
    """
    dirs = 2 if stack.bidirectional else 1
    total = 0.0
    for layer in range(stack.num_layers):
        d_in = sizes.D if layer == 0 else dirs * sizes.H
        total += dirs * T * 2 * sizes.N * (d_in + sizes.H) * GATES[cell] * sizes.H
    return 3 * total


def layer_pair(cell: str, stack: Stack, sizes: Sizes, dtype: torch.dtype, seed: int) -> tuple[nn.Module, ...]:
    """A batch-first ``torch.nn`` layer and the ``companion.nn`` layer with its ``state_dict``."""
    torch.manual_seed(seed)
    reference = getattr(nn, cell)(sizes.D, sizes.H, batch_first=True, dtype=dtype, **stack.kwargs())
    ours = getattr(companion.nn, cell)(sizes.D, sizes.H, batch_first=True, dtype=dtype, **stack.kwargs())
    ours.load_state_dict(reference.state_dict())
    return reference, ours


def fwd_bwd(layer: nn.Module, x: Tensor, dout: Tensor) -> Callable[[], tuple[Tensor, ...]]:
    """One forward and one backward pass; returns the output and the gradients of the input and weights."""

    def run() -> tuple[Tensor, ...]:
        layer.zero_grad(set_to_none=True)
        x.grad = None
        out, _ = layer(x)
        out.backward(dout)
        return (out, x.grad, *(p.grad for p in layer.parameters()))

    return run


def generation_steps(layer: nn.Module, x: Tensor, steps: int) -> Callable[[], Tensor]:
    """``steps`` calls of ``layer`` on one time step ``x`` (N, 1, D) under ``torch.no_grad``, each from
    the state the previous call returned, as when a model generates a sequence token by token. The
    state starts from zeros at every run; returns the last output."""

    def run() -> Tensor:
        state = None
        with torch.no_grad():
            for _ in range(steps):
                out, state = layer(x, state)
        return out

    return run


def adam_step(model: nn.Module, x: Tensor, y: Tensor) -> tuple[Callable[[], Tensor], Callable]:
    """A training step (forward, MSE loss, backward, ``Adam.step``) and a function returning its gradients."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def gradients() -> tuple[Tensor, ...]:
        optimizer.zero_grad(set_to_none=True)
        loss = F.mse_loss(model(x), y)
        loss.backward()
        return (loss, *(p.grad for p in model.parameters()))

    def step() -> Tensor:
        loss = gradients()[0]
        optimizer.step()
        return loss

    return step, gradients


def numpy_fwd_bwd(cell: str, layer: nn.Module, x: np.ndarray, dout: np.ndarray) -> Callable:
    """The reference forward pass and BPTT with ``layer``'s weights; returns output, ``dx`` and ``dW_hh``.

    The numpy code stores weights as "inputs @ weights", the transpose of torch's layout, so its
    ``W_hh`` gradient is returned transposed, comparable with torch's.
    """
    params = {k: v.detach().numpy() for k, v in layer.state_dict().items()}
    h0 = np.zeros((x.shape[0], layer.hidden_size), dtype=x.dtype)  # (N, H)
    if cell == "RNN":
        weights = ref_rnn.from_torch(params)
        forward, backward = ref_rnn.rnn_forward, ref_rnn.rnn_backward
    elif cell == "LSTM":
        weights = ref_lstm.from_torch(params)
        forward, backward = ref_lstm.lstm_forward, ref_lstm.lstm_backward
        h0 = (h0, h0)  # h0 and c0
    else:
        weights = ref_gru.from_torch(params)
        forward, backward = ref_gru.gru_forward, ref_gru.gru_backward
    states = h0 if isinstance(h0, tuple) else (h0,)
    n_states = len(states)

    def run() -> tuple[np.ndarray, ...]:
        h, cache = forward(x, *states, *weights)
        grads = backward(dout, cache)  # dx, d(initial states)..., dWx, dWh, biases...
        return h, grads[0], grads[1 + n_states + 1].T

    return run


def max_rel_diff(a: tuple, b: tuple) -> float:
    """Largest difference of corresponding arrays, each relative to the largest entry of ``a``'s."""
    worst = 0.0
    for u, v in zip(a, b, strict=True):
        u, v = torch.as_tensor(u).detach(), torch.as_tensor(v).detach()
        scale = u.abs().max().clamp_min(torch.finfo(u.dtype).tiny)
        worst = max(worst, float((u - v).abs().max() / scale))
    return worst


def subnormal_share(grad) -> tuple[float, float]:
    """Shares of the entries of ``grad`` that are subnormal and that are exactly zero."""
    g = torch.as_tensor(grad).detach().abs()
    tiny = torch.finfo(g.dtype).tiny
    return float(((g > 0) & (g < tiny)).double().mean()), float((g == 0).double().mean())
