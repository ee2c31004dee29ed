"""Linear recurrences computed all at once, and the minimal gated RNNs they enable (chapter 13).

A gated RNN whose gates read only the input, not the previous state, is a *linear* recurrence in h,

.. math::

    h_t = a_t \\odot h_{t-1} + b_t, \\qquad t = 1, \\dots, T,

with :math:`a_t, b_t` computed from :math:`x_t` alone, for all t at once. Unrolled,

.. math::

    h_t = A_t \\Big(h_0 + \\sum_{s \\le t} \\frac{b_s}{A_s}\\Big), \\qquad A_t = \\prod_{s \\le t} a_s,

two cumulative operations that parallel hardware computes in O(log T) depth (a *scan*) instead of T
dependent steps. Four implementations:

- :func:`linear_scan_loop`: the sequential loop, T steps (the reference);
- :func:`linear_scan_cumprod`: the formula above as written; :math:`A_t` underflows to 0 once the
  product of the gates falls below ~1e-38 (float32), and :math:`b_s / A_s` becomes inf or NaN;
- :func:`linear_scan`: the same formula in log space (Heinsen, 2023), the terms of each sign
  summed apart with ``torch.logcumsumexp``; nothing is ever multiplied out, so nothing underflows;
- :func:`linear_scan_blocked`: a blocked scan that never divides, so products that underflow are
  harmless.

:class:`MinGRU` and :class:`MinLSTM` are the minimal GRU and LSTM of Feng et al. (2024), "Were RNNs
All We Needed?": the GRU and LSTM with the state removed from the gates (and the candidate's tanh
dropped), trained with a scan and run step by step, with a constant-size state, to generate.
:func:`linear_scan_blocked` is the scan of a parallel machine (blocks, then carries between them):
on a CPU it wins over the loop because it takes about 2√T Python-level steps instead of T.
Shapes are batch first: (N, T, H).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from companion.nn._common import check_flag, check_layer_size
from companion.nn.errors import DTypeError, ShapeError

__all__ = [
    "linear_scan_loop",
    "linear_scan_cumprod",
    "linear_scan",
    "linear_scan_blocked",
    "MinGRU",
    "MinLSTM",
]


def _check(where: str, first: str, a, b, h0):
    """a and b (N, T, H) floating point of one dtype, h0 (N, H) or None -> h0 as a tensor."""
    for name, value in ((first, a), ("b", b)):
        if not isinstance(value, Tensor) or not value.is_floating_point():
            got = value.dtype if isinstance(value, Tensor) else type(value).__name__
            raise DTypeError(f"{where}: expected {name} to be a floating-point tensor, got {got}")
    if a.dim() != 3 or a.shape != b.shape:
        raise ShapeError(
            f"{where}: expected {first} and b of the same shape (N, T, H), "
            f"got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if a.dtype != b.dtype:
        raise DTypeError(f"{where}: expected {first} and b of one dtype, got {a.dtype} and {b.dtype}")
    N, _, H = a.shape
    if h0 is None:
        return torch.zeros(N, H, dtype=a.dtype, device=a.device)
    if not isinstance(h0, Tensor) or tuple(h0.shape) != (N, H):
        shape = tuple(h0.shape) if isinstance(h0, Tensor) else type(h0).__name__
        raise ShapeError(f"{where}: expected h0 of shape (N, H) = ({N}, {H}), got {shape}")
    if h0.dtype != a.dtype:
        raise DTypeError(f"{where}: expected h0 of dtype {a.dtype}, got {h0.dtype}")
    return h0


def linear_scan_loop(a: Tensor, b: Tensor, h0: Tensor | None = None) -> Tensor:
    """:math:`h_t = a_t \\odot h_{t-1} + b_t`, one step after the other.

    Parameters
    ----------
    a : Tensor of shape (N, T, H)
        The decay of each step (any real numbers).
    b : Tensor of shape (N, T, H)
        The input of each step.
    h0 : Tensor of shape (N, H), optional
        Zeros by default.

    Returns
    -------
    h : Tensor of shape (N, T, H)
        :math:`h_1, \\dots, h_T`.

    Examples
    --------
    >>> linear_scan_loop(torch.full((1, 3, 1), 0.5), torch.ones(1, 3, 1))[0, :, 0]
    tensor([1.0000, 1.5000, 1.7500])
    """
    h = _check("linear_scan_loop", "a", a, b, h0)
    states = []
    for a_t, b_t in zip(a.unbind(1), b.unbind(1), strict=True):
        h = a_t * h + b_t
        states.append(h)
    return torch.stack(states, 1)  # (N, T, H)


def linear_scan_cumprod(a: Tensor, b: Tensor, h0: Tensor | None = None) -> Tensor:
    """The recurrence by its closed form :math:`h_t = A_t (h_0 + \\sum_{s \\le t} b_s / A_s)`, as written.

    Parameters and result as :func:`linear_scan_loop`. Correct only while :math:`A_t = \\prod_{s \\le t} a_s`
    is a normal float: with gates in (0, 1) it shrinks geometrically, reaches 0 after a few hundred
    steps, and the result becomes NaN (0 · inf). It shows why :func:`linear_scan` works in log space.
    """
    h0 = _check("linear_scan_cumprod", "a", a, b, h0)
    A = torch.cumprod(a, dim=1)  # (N, T, H)
    return A * (h0.unsqueeze(1) + torch.cumsum(b / A, dim=1))


def _log_parts(x: Tensor) -> tuple[Tensor, Tensor]:
    """log of the positive and of the negative part of x, floored at log(tiny) where that part is 0.

    The floor (about -708 in float64, -87 in float32) keeps ``logcumsumexp`` and its gradient finite
    where a part is 0 for a whole prefix; it adds at most T · tiny to the result, and no gradient.
    """
    floor = torch.finfo(x.dtype).tiny
    return torch.log(x.clamp_min(floor)), torch.log((-x).clamp_min(floor))


def linear_scan_blocked(
    a: Tensor, b: Tensor, h0: Tensor | None = None, *, block: int | None = None
) -> Tensor:
    """:math:`h_t = a_t \\odot h_{t-1} + b_t` by a blocked scan: about 2√T steps instead of T.

    Parameters
    ----------
    a, b : Tensor of shape (N, T, H)
        As in :func:`linear_scan_loop` (any real numbers).
    h0 : Tensor of shape (N, H), optional
        Zeros by default.
    block : int, optional
        The block length C; ``round(√T)`` by default.

    Returns
    -------
    h : Tensor of shape (N, T, H)
        Equal to :func:`linear_scan_loop` up to rounding (the sums are associated differently).

    Notes
    -----
    The scan of a parallel machine, in three phases over K = ⌈T / C⌉ blocks: (1) every block runs
    the recurrence from a zero state, all blocks at once, keeping its local states :math:`u_t` and
    gate products :math:`P_t = \\prod a` since the block's start (C steps); (2) the states entering
    the blocks are carried from block to block, :math:`c_{k+1} = P^{(k)}_{\\text{end}} c_k +
    u^{(k)}_{\\text{end}}` (K steps); (3) :math:`h_t = u_t + P_t\\, c_k` for all t at once. Nothing is
    divided, so a product that underflows to 0 is harmless (the true weight is that small).
    """
    h0 = _check("linear_scan_blocked", "a", a, b, h0)
    N, T, H = a.shape
    C = max(1, round(T**0.5)) if block is None else check_layer_size("linear_scan_blocked", "block", block)
    pad = (-T) % C
    if pad:  # identity steps at the end: a = 1, b = 0
        a, b = F.pad(a, (0, 0, 0, pad), value=1.0), F.pad(b, (0, 0, 0, pad))
    K = (T + pad) // C
    a4, b4 = a.reshape(N, K, C, H), b.reshape(N, K, C, H)  # (N, K, C, H)
    u, P, local, products = None, None, [], []
    for a_c, b_c in zip(a4.unbind(2), b4.unbind(2), strict=True):  # phase 1: each (N, K, H)
        u, P = (b_c, a_c) if u is None else (a_c * u + b_c, P * a_c)
        local.append(u)
        products.append(P)
    carries = [h0]
    for P_end, u_end in zip(P.unbind(1)[:-1], u.unbind(1)[:-1], strict=True):  # phase 2: each (N, H)
        carries.append(P_end * carries[-1] + u_end)
    entering = torch.stack(carries, 1).unsqueeze(2)  # (N, K, 1, H)
    h = torch.stack(local, 2) + torch.stack(products, 2) * entering  # phase 3: (N, K, C, H)
    return h.reshape(N, K * C, H)[:, :T]  # (N, T, H)


def linear_scan(log_a: Tensor, b: Tensor, h0: Tensor | None = None) -> Tensor:
    """:math:`h_t = a_t \\odot h_{t-1} + b_t` for all t at once, in log space (:math:`a_t = e^{\\log a_t}`).

    Parameters
    ----------
    log_a : Tensor of shape (N, T, H)
        The log of the decay (so :math:`a_t > 0`); a gate :math:`\\sigma(k)` gives
        :math:`\\log a = -\\operatorname{softplus}(-k)` exactly, without forming :math:`\\sigma(k)`.
    b : Tensor of shape (N, T, H)
        The inputs, of either sign.
    h0 : Tensor of shape (N, H), optional
        Zeros by default.

    Returns
    -------
    h : Tensor of shape (N, T, H)
        Equal to :func:`linear_scan_loop` with ``a = log_a.exp()``, values and gradients.

    Notes
    -----
    With :math:`\\alpha_t = \\sum_{s \\le t} \\log a_s` (a cumulative sum) and :math:`b_0 = h_0`,
    :math:`\\alpha_0 = 0`,

    .. math::

        h_t = \\sum_{s=0}^{t} e^{\\alpha_t - \\alpha_s} b_s
            = e^{\\alpha_t + \\operatorname{LCSE}_s(\\log b^+_s - \\alpha_s)}
            - e^{\\alpha_t + \\operatorname{LCSE}_s(\\log b^-_s - \\alpha_s)},

    where :math:`b = b^+ - b^-` splits the inputs by sign and LCSE is the cumulative log-sum-exp
    (``torch.logcumsumexp``, itself a scan). Every exponent stays moderate although
    :math:`e^{\\alpha_t}` alone would underflow. The price is rounding: :math:`\\alpha_t` and
    :math:`-\\alpha_s` nearly cancel, so the relative error grows like :math:`\\epsilon |\\alpha_T|`
    (about 1e-13 in float64 for :math:`|\\alpha_T| = 10^3`, but 1e-4 in float32).

    Examples
    --------
    >>> h = linear_scan(torch.full((1, 3, 1), 0.5).log(), torch.ones(1, 3, 1))
    >>> torch.allclose(h[0, :, 0], torch.tensor([1.0, 1.5, 1.75]))
    True
    """
    h0 = _check("linear_scan", "log_a", log_a, b, h0)
    alpha = torch.cumsum(log_a, dim=1)  # (N, T, H)
    alpha = torch.cat([torch.zeros_like(alpha[:, :1]), alpha], dim=1)  # (N, T + 1, H), alpha_0 = 0
    terms = torch.cat([h0.unsqueeze(1), b], dim=1)  # (N, T + 1, H): b_0 = h0
    positive, negative = _log_parts(terms)
    h = torch.exp(alpha + torch.logcumsumexp(positive - alpha, dim=1)) - torch.exp(
        alpha + torch.logcumsumexp(negative - alpha, dim=1)
    )
    return h[:, 1:]  # (N, T, H)


class _MinRNN(nn.Module):
    """Shared parts of the minimal RNNs: one input projection of G blocks, the two ways to run it."""

    _gates = 2

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        mode: str = "scan",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        where = type(self).__name__
        self.input_size = check_layer_size(where, "input_size", input_size)
        self.hidden_size = check_layer_size(where, "hidden_size", hidden_size)
        self.bias = check_flag(where, "bias", bias)
        if mode not in ("scan", "log", "loop"):
            raise ValueError(f"{where}: expected mode 'scan', 'log' or 'loop', got {mode!r}")
        self.mode = mode
        self.linear = nn.Linear(input_size, self._gates * hidden_size, bias=bias, device=device, dtype=dtype)

    def _coefficients(self, k: Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover - abstract
        """Projected input (N, T, G·H) -> log a_t, b_t, each (N, T, H)."""
        raise NotImplementedError

    def forward(self, input: Tensor, hx: Tensor | None = None):
        """Run the layer over a batch.

        Parameters
        ----------
        input : Tensor of shape (N, T, D)
        hx : Tensor of shape (1, N, H), optional
            The initial state; zeros by default.

        Returns
        -------
        output : Tensor of shape (N, T, H)
            :math:`h_1, \\dots, h_T`.
        h_n : Tensor of shape (1, N, H)
            :math:`h_T`.

        Raises
        ------
        ShapeError, DTypeError
            For input or hx of the wrong shape or dtype.
        """
        where, D, H = type(self).__name__, self.input_size, self.hidden_size
        if not isinstance(input, Tensor) or input.dim() != 3 or input.shape[2] != D:
            shape = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
            raise ShapeError(f"{where}: expected input of shape (N, T, {D}), got {shape}")
        if input.dtype != self.linear.weight.dtype:
            raise DTypeError(
                f"{where}: expected input of dtype {self.linear.weight.dtype}, got {input.dtype}"
            )
        N = input.shape[0]
        if hx is not None and (not isinstance(hx, Tensor) or tuple(hx.shape) != (1, N, H)):
            shape = tuple(hx.shape) if isinstance(hx, Tensor) else type(hx).__name__
            raise ShapeError(f"{where}: expected hx of shape (1, N, H) = (1, {N}, {H}), got {shape}")
        log_a, b = self._coefficients(self.linear(input))  # each (N, T, H)
        h0 = None if hx is None else hx[0]
        if self.mode == "log":
            h = linear_scan(log_a, b, h0)
        else:
            h = (linear_scan_blocked if self.mode == "scan" else linear_scan_loop)(log_a.exp(), b, h0)
        return h, h[:, -1].unsqueeze(0)  # (N, T, H), (1, N, H)

    def step(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        """One step for generation: ``x`` (N, D) and the state ``h`` (N, H) (zeros if None) -> new h (N, H).

        The state has H numbers per sequence whatever the number of steps taken.
        """
        log_a, b = self._coefficients(self.linear(x.unsqueeze(1)))  # each (N, 1, H)
        new = b[:, 0]
        return new if h is None else log_a[:, 0].exp() * h + new

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}, mode={self.mode!r}"


class MinGRU(_MinRNN):
    """The minimal GRU of Feng et al. (2024): gates of the input only, trainable with a parallel scan.

    Parameters
    ----------
    input_size : int
        D.
    hidden_size : int
        H.
    bias : bool, default True
    mode : {"scan", "log", "loop"}, default "scan"
        :func:`linear_scan_blocked` (about 2√T steps), :func:`linear_scan` (all steps at once, in log
        space, as Feng et al.) or :func:`linear_scan_loop` (T steps, the reference): the same values
        and gradients up to rounding.
    device, dtype : optional

    Attributes
    ----------
    linear : torch.nn.Linear
        ``weight`` (2H, D): the update gate's block, then the candidate's, ``(W_z | W_h)``.

    Notes
    -----
    .. math::

        z_t = \\sigma(W_z x_t + b_z), \\qquad \\tilde h_t = W_h x_t + b_h, \\qquad
        h_t = (1 - z_t) \\odot h_{t-1} + z_t \\odot \\tilde h_t.

    Unlike the GRU of chapter 6, :math:`z_t` and :math:`\\tilde h_t` do not read :math:`h_{t-1}`
    (there is no reset gate and no tanh), so :math:`a_t = 1 - z_t` and :math:`b_t = z_t \\tilde h_t`
    are known for all t before the recurrence runs. :math:`\\log a_t = -\\operatorname{softplus}(k_t)`
    is computed directly from the pre-activation. A layer is linear in time; stacking layers with
    nonlinear maps between them gives the expressive power back. A layer has 2H(D + 1) parameters,
    against the GRU's 3H(D + H + 2): nothing is recurrent.

    Examples
    --------
    >>> layer = MinGRU(3, 4)
    >>> output, h_n = layer(torch.randn(2, 5, 3))
    >>> output.shape, h_n.shape
    (torch.Size([2, 5, 4]), torch.Size([1, 2, 4]))
    """

    def _coefficients(self, k: Tensor) -> tuple[Tensor, Tensor]:
        k_z, candidate = k.chunk(2, dim=-1)  # each (N, T, H)
        return -F.softplus(k_z), torch.sigmoid(k_z) * candidate  # log(1 - z), z ⊙ h̃


class MinLSTM(_MinRNN):
    """The minimal LSTM of Feng et al. (2024): normalised forget and input gates of the input only.

    Parameters are those of :class:`MinGRU`; ``linear.weight`` is (3H, D), blocks ``(W_f | W_i | W_h)``.

    Notes
    -----
    .. math::

        f_t = \\sigma(W_f x_t + b_f), \\quad i_t = \\sigma(W_i x_t + b_i), \\quad
        \\tilde h_t = W_h x_t + b_h, \\qquad
        h_t = \\frac{f_t}{f_t + i_t} \\odot h_{t-1} + \\frac{i_t}{f_t + i_t} \\odot \\tilde h_t.

    The cell state and output gate of chapter 5 are gone, and the two gates are normalised to sum to
    one, so the state stays on the scale of the candidates whatever T. In log space,
    :math:`\\log \\frac{f}{f+i} = -\\operatorname{softplus}(\\delta)` with
    :math:`\\delta = \\operatorname{softplus}(-k_f) - \\operatorname{softplus}(-k_i)`.

    Examples
    --------
    >>> MinLSTM(3, 4)(torch.randn(2, 5, 3))[0].shape
    torch.Size([2, 5, 4])
    """

    _gates = 3

    def _coefficients(self, k: Tensor) -> tuple[Tensor, Tensor]:
        k_f, k_i, candidate = k.chunk(3, dim=-1)  # each (N, T, H)
        delta = F.softplus(-k_f) - F.softplus(-k_i)  # log(i / f)
        return -F.softplus(delta), torch.exp(-F.softplus(-delta)) * candidate  # log f', i' ⊙ h̃
