"""Independent training runs as one computation: K models with a leading seed dimension (chapters 4–6).

A claim about training ("the LSTM learns the adding problem at T = 100, the vanilla RNN does not") holds
only if it holds for other seeds too. Training K seeds one after the other costs K times one run; on a
CPU, small recurrent models pay a fixed overhead for each of the many small operations of a step, so
running the K models *side by side* — one batched matrix product (``torch.bmm``) and one element-wise
operation per gate for all of them — shares that overhead. At the sizes of chapters 4–6 (N = 50,
T = 100, H of 32 to 64, one thread) five seeds cost about three times one, not five.

:class:`SeedBatch` holds K copies of a small task model (a recurrent layer and a linear read-out, as
:class:`companion.train.readout.Readout`), each initialised exactly as the single model built with its seed,
with every parameter stacked along a leading dimension of size K. Its recurrence is a hand-written
backpropagation through time (the one derived in chapters 3, 5 and 6) batched over the seeds.
:func:`fit_seeds` trains them with one optimizer step per step: element-wise optimizers (SGD, Adam)
treat each seed's entries separately, gradient clipping is applied per seed, and every seed reads its
own batches. Seed k of the batched run therefore follows the run of the single model with the same
initial weights and data, up to float rounding (the tests check it), and :meth:`SeedBatch.single`
returns it as an ordinary :class:`~companion.train.readout.Readout` for analysis.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["SeedBatch", "SeedHistory", "fit_seeds", "per_seed_mse", "stack_seeds", "summarise"]

_BLOCKS = {"RNN": 1, "GRU": 3, "LSTM": 4}
_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "head_weight", "head_bias")


class _RNNRecurrence(torch.autograd.Function):
    """K independent vanilla recurrences: xp (T, K, N, H) with both biases in, w_hh (K, H, H); h0 = 0.

    Every buffer is laid out time first, (T, K, N, ·), so that each step reads and writes contiguous
    (K, N, ·) blocks; per-step views are made once, before the loops, every step writes into
    preallocated memory, and the weight gradient is one contraction over all steps at the end.
    """

    @staticmethod
    def forward(ctx, xp, w_hh, relu, pool):
        T, K, N, H = xp.shape
        hs = _empty(pool, "hs", (T + 1, K, N, H), xp)  # hs[t] is the state before step t
        hs[0].zero_()
        w_t = w_hh.transpose(1, 2).contiguous()  # (K, H, H)
        h_, x_ = hs.unbind(0), xp.unbind(0)
        for t in range(T):
            s = torch.baddbmm(x_[t], h_[t], w_t, out=h_[t + 1])  # (K, N, H)
            s.clamp_(min=0.0) if relu else s.tanh_()
        ctx.save_for_backward(hs, w_hh)
        ctx.relu, ctx.pool = relu, pool
        return hs[1:]  # (T, K, N, H)

    @staticmethod
    def backward(ctx, d_out):
        hs, w_hh = ctx.saved_tensors
        T = d_out.shape[0]
        delta = _empty(ctx.pool, "delta", d_out.shape, d_out)  # ∂L/∂xp, (T, K, N, H)
        h_, out_, d_ = hs.unbind(0), d_out.unbind(0), delta.unbind(0)
        dh = torch.zeros_like(out_[0])  # ∂L/∂h_t from later steps, (K, N, H)
        u = torch.empty_like(dh)
        one = dh.new_ones(()).expand_as(dh)
        for t in range(T - 1, -1, -1):
            dh.add_(out_[t])  # ∂L/∂h_t
            h = h_[t + 1]
            slope = (h > 0).to(h.dtype) if ctx.relu else torch.addcmul(one, h, h, value=-1, out=u)
            torch.mul(dh, slope, out=d_[t])  # δ_t = ∂L/∂h_t ⊙ φ'(a_t)
            dh = torch.bmm(d_[t], w_hh)  # ∂L/∂h_{t-1}
        return delta, _sum_outer(delta, hs[:T], ctx.pool), None, None


class _GRURecurrence(torch.autograd.Function):
    """K independent GRU recurrences, h0 = 0, with the r and z blocks apart from the n block:
    xrz (T, K, N, 2H) with both r, z biases in, xn (T, K, N, H) with b_in, w_rz (K, 2H, H),
    w_n (K, H, H), b_n (K, 1, H) (b_hn, which the reset gate multiplies).

    Keeping the blocks in separate contiguous buffers avoids element-wise work on rows of odd width
    cut out of (K, N, 3H) blocks, which costs several times as much; the layout is otherwise that of
    :class:`_RNNRecurrence`.
    """

    @staticmethod
    def forward(ctx, xrz, xn, w_rz, w_n, b_n, pool):
        T, K, N, H = xn.shape
        hs = _empty(pool, "hs", (T + 1, K, N, H), xn)  # hs[t] is the state before step t
        hs[0].zero_()
        rzs = _empty(pool, "rzs", (T, K, N, 2 * H), xn)  # activated r, z
        ns = _empty(pool, "ns", (T, K, N, H), xn)  # activated candidate n
        hns = _empty(pool, "hns", (T, K, N, H), xn)  # h_{t-1} W_hnᵀ + b_hn
        w_rz_t, w_n_t = w_rz.transpose(1, 2).contiguous(), w_n.transpose(1, 2).contiguous()
        b_rows = b_n.expand(K, N, H).contiguous()  # (K, N, H)
        h_, xrz_, xn_, rz_, n_, hn_ = (a.unbind(0) for a in (hs, xrz, xn, rzs, ns, hns))
        r_, z_ = rzs[..., :H].unbind(0), rzs[..., H:].unbind(0)
        for t in range(T):
            torch.baddbmm(xrz_[t], h_[t], w_rz_t, out=rz_[t]).sigmoid_()  # r, z: (K, N, 2H)
            torch.baddbmm(b_rows, h_[t], w_n_t, out=hn_[t])  # (K, N, H)
            # n = tanh(x W_inᵀ + b_in + r (h W_hnᵀ + b_hn))
            torch.addcmul(xn_[t], r_[t], hn_[t], out=n_[t]).tanh_()
            torch.lerp(n_[t], h_[t], z_[t], out=h_[t + 1])  # h_t = n + z (h_{t-1} - n)
        ctx.save_for_backward(hs, rzs, ns, hns, w_rz, w_n)
        ctx.pool = pool
        return hs[1:]  # (T, K, N, H)

    @staticmethod
    def backward(ctx, d_out):
        hs, rzs, ns, hns, w_rz, w_n = ctx.saved_tensors
        T, K, N, H = d_out.shape
        d_rz, d_n, d_hn = (
            _empty(ctx.pool, key, a.shape, a) for key, a in [("d_rz", rzs), ("d_n", ns), ("d_hn", ns)]
        )
        h_, out_, n_, hn_ = hs.unbind(0), d_out.unbind(0), ns.unbind(0), hns.unbind(0)
        r_, z_, dr_, dz_ = (a[..., j * H : (j + 1) * H].unbind(0) for a in (rzs, d_rz) for j in range(2))
        drz_, dn_, dhn_ = d_rz.unbind(0), d_n.unbind(0), d_hn.unbind(0)
        dh = torch.zeros_like(out_[0])  # ∂L/∂h_t from later steps, (K, N, H)
        u, v = torch.empty_like(dh), torch.empty_like(dh)
        one = dh.new_ones(()).expand_as(dh)
        for t in range(T - 1, -1, -1):
            r, z, n = r_[t], z_[t], n_[t]
            dh.add_(out_[t])  # ∂L/∂h_t
            torch.mul(dh, torch.addcmul(one, n, n, value=-1, out=u), out=dn_[t])
            dn_[t].mul_(torch.sub(one, z, out=v))  # δ_n = dh (1 - z)(1 - n²)
            torch.sub(h_[t], n, out=u).mul_(dh)
            torch.mul(u, torch.addcmul(z, z, z, value=-1, out=v), out=dz_[t])  # δ_z = dh (h - n) σ'(z)
            torch.mul(dn_[t], torch.addcmul(r, r, r, value=-1, out=u).mul_(hn_[t]), out=dr_[t])  # δ_r
            torch.mul(dn_[t], r, out=dhn_[t])  # ∂L/∂(h W_hnᵀ + b_hn)
            dh = torch.baddbmm(dh.mul_(z), drz_[t], w_rz).baddbmm_(dhn_[t], w_n)  # ∂L/∂h_{t-1}
        d_b = d_hn.sum(2).sum(0).unsqueeze(1)  # (K, 1, H); one dimension at a time is faster
        h_prev = hs[:T]
        pool = ctx.pool
        return d_rz, d_n, _sum_outer(d_rz, h_prev, pool), _sum_outer(d_hn, h_prev, pool), d_b, None


class _LSTMRecurrence(torch.autograd.Function):
    """K independent LSTM recurrences: xp (T, K, N, 4H) with both biases in, w_hh (K, 4H, H); h0 = c0 = 0.

    The forward pass keeps the activated gates, the cells and tanh of the cells; the backward pass is
    the chapter's BPTT step (equations lstm-dc-total to lstm-da) for all seeds at once, written into
    preallocated per-step views, then one batched product for ∂L/∂W_hh over all steps.
    """

    @staticmethod
    def forward(ctx, xp, w_hh, pool):
        T, K, N, G = xp.shape
        H = G // 4
        hs = _empty(pool, "hs", (T + 1, K, N, H), xp)  # hs[t] is the state before step t
        cs = _empty(pool, "cs", (T + 1, K, N, H), xp)  # cs[t] is the cell before step t
        hs[0].zero_(), cs[0].zero_()
        tanh_cs = _empty(pool, "tanh_cs", (T, K, N, H), xp)  # tanh(c_t) after step t
        acts = _empty(pool, "acts", (T, K, N, G), xp)  # activated gates i, f, g, o
        w_t = w_hh.transpose(1, 2).contiguous()  # (K, H, 4H)
        h_, c_, tc_, x_, a_ = hs.unbind(0), cs.unbind(0), tanh_cs.unbind(0), xp.unbind(0), acts.unbind(0)
        i_, f_, g_, o_ = _gates(acts)
        pre = xp.new_empty(K, N, G)
        pre_g = pre[..., 2 * H : 3 * H]
        ig = xp.new_empty(K, N, H)
        for t in range(T):
            i, f, g, o = i_[t], f_[t], g_[t], o_[t]  # views, (K, N, H) each
            torch.baddbmm(x_[t], h_[t], w_t, out=pre)  # (K, N, 4H)
            torch.sigmoid(pre, out=a_[t])  # i, f, o (and g, overwritten next)
            torch.tanh(pre_g, out=g)
            torch.addcmul(torch.mul(i, g, out=ig), f, c_[t], out=c_[t + 1])  # c_t = f c_{t-1} + i g
            torch.mul(o, torch.tanh(c_[t + 1], out=tc_[t]), out=h_[t + 1])  # h_t = o tanh(c_t)
        ctx.save_for_backward(hs, cs, tanh_cs, acts, w_hh)
        ctx.pool = pool
        return hs[1:]  # (T, K, N, H)

    @staticmethod
    def backward(ctx, d_out):
        hs, cs, tanh_cs, acts, w_hh = ctx.saved_tensors
        T = acts.shape[0]
        delta = _empty(ctx.pool, "delta", acts.shape, acts)  # ∂L/∂(gate pre-activations), (T, K, N, 4H)
        d_, c_, tc_, out_ = delta.unbind(0), cs.unbind(0), tanh_cs.unbind(0), d_out.unbind(0)
        (i_, f_, g_, o_), (di_, df_, dg_, do_) = _gates(acts), _gates(delta)
        dh = torch.zeros_like(out_[0])  # ∂L/∂h_t from later steps, (K, N, H)
        dc = torch.zeros_like(out_[0])  # ∂L/∂c_t from later steps
        u, v = torch.empty_like(dc), torch.empty_like(dc)
        one = dc.new_ones(()).expand_as(dc)
        for t in range(T - 1, -1, -1):
            i, f, g, o, tc = i_[t], f_[t], g_[t], o_[t], tc_[t]
            d_i, d_f, d_g, d_o = di_[t], df_[t], dg_[t], do_[t]
            dh.add_(out_[t])  # ∂L/∂h_t
            torch.mul(dh, tc, out=d_o).mul_(torch.addcmul(o, o, o, value=-1, out=u))  # dh tanh(c) σ'(o)
            dc.addcmul_(dh, torch.addcmul(one, tc, tc, value=-1, out=u).mul_(o))  # ∂L/∂c_t
            torch.mul(dc, torch.addcmul(i, i, i, value=-1, out=u).mul_(g), out=d_i)  # dc g σ'(i)
            torch.mul(dc, torch.addcmul(f, f, f, value=-1, out=u).mul_(c_[t]), out=d_f)  # dc c_{t-1} σ'(f)
            torch.mul(
                dc, torch.addcmul(i, i, torch.mul(g, g, out=v), value=-1, out=u), out=d_g
            )  # dc i (1-g²)
            dc.mul_(f)  # ∂L/∂c_{t-1}
            dh = torch.bmm(d_[t], w_hh)  # ∂L/∂h_{t-1}, (K, N, H)
        return delta, _sum_outer(delta, hs[:T], ctx.pool), None  # Σ_t δ_tᵀ h_{t-1}, (K, 4H, H)


def _empty(pool: dict | None, key: str, shape, like: Tensor) -> Tensor:
    """An uninitialised tensor of ``shape``, reused from ``pool`` when it holds one of that shape.

    Allocating the large per-step buffers (megabytes each) afresh at every training step costs the
    operating system's first-touch page faults, about a third of a step at the sizes of chapters 4–6.
    :func:`fit_seeds` therefore lends the model a pool for the forward and backward pass of each
    step, when the previous step's graph, and with it every use of the buffers, is gone; outside
    it ``pool`` is None and every call allocates.
    """
    shape = tuple(shape)
    if pool is None:
        return like.new_empty(shape)
    buffer = pool.get(key)
    if buffer is None or tuple(buffer.shape) != shape or buffer.dtype != like.dtype:
        buffer = pool[key] = like.new_empty(shape)
    return buffer


def _gates(blocks: Tensor) -> tuple:
    """Per-step views of the four (T, K, N, 4H) gate blocks: four lists of T tensors of shape (K, N, H)."""
    T, K, N, G = blocks.shape
    by_gate = blocks.view(T, K, N, 4, G // 4)  # (T, K, N, 4, H)
    return tuple(by_gate[..., j, :].unbind(0) for j in range(4))


def _sum_outer(delta: Tensor, hs: Tensor, pool: dict | None) -> Tensor:
    """Σ over steps and sequences of δᵀ h for each seed: delta (T, K, N, G), hs (T, K, N, H) -> (K, G, H).

    One batched product per (step, seed) and a sum over steps: contiguous memory throughout, where a
    permutation of the (T, K, N, ·) buffers into (K, T·N, ·) would copy them first.
    """
    T, K, N, G = delta.shape
    prods = _empty(pool, f"prods{G}", (T * K, G, hs.shape[-1]), delta)  # (T·K, G, H)
    torch.bmm(delta.view(T * K, N, G).transpose(1, 2), hs.reshape(T * K, N, -1), out=prods)
    return prods.view(T, K, G, -1).sum(0)


class SeedBatch(nn.Module):
    """K independently initialised task models — recurrent layer and linear read-out — run as one.

    Parameters
    ----------
    mode : {"RNN", "LSTM", "GRU"}
        The recurrent layer (tanh for "RNN"; gate orders as ``torch.nn``: i, f, g, o and r, z, n).
    input_size, hidden_size, output_size : int
        D, H and O of each model.
    seeds : sequence of int
        One seed per model, K in all. Model k's parameters are those of
        ``Readout(companion.nn.<mode>(D, H, batch_first=True), O)`` built after
        ``torch.manual_seed(seeds[k])``.
    every_step : bool, default False
        Predict from the last output (many-to-one) or at every step.
    forget_bias : float, default 0.0
        LSTM only: added to the forget-gate block of ``bias_ih``, as in :class:`companion.nn.layers.LSTM`.
    nonlinearity : {"tanh", "relu"}, default "tanh"
        RNN only: the activation of the vanilla recurrence.

    Attributes
    ----------
    weight_ih : Parameter of shape (K, G·H, D)
    weight_hh : Parameter of shape (K, G·H, H)
    bias_ih, bias_hh : Parameter of shape (K, 1, G·H)
    head_weight : Parameter of shape (K, O, H)
    head_bias : Parameter of shape (K, 1, O)
        G = 1, 3, 4 blocks for RNN, GRU, LSTM. Each slice ``[k]`` is model k's ``torch.nn`` parameter.

    Examples
    --------
    >>> models = SeedBatch("GRU", 2, 8, 1, seeds=range(3))
    >>> models(torch.zeros(3, 4, 10, 2)).shape  # (K, N, T, D) -> (K, N, O)
    torch.Size([3, 4, 1])
    """

    def __init__(
        self,
        mode,
        input_size,
        hidden_size,
        output_size,
        seeds,
        *,
        every_step=False,
        forget_bias=0.0,
        nonlinearity="tanh",
    ):
        super().__init__()
        if mode not in _BLOCKS:
            raise ValueError(f"SeedBatch: expected mode 'RNN', 'LSTM' or 'GRU', got {mode!r}")
        seeds = list(seeds)
        if not seeds:
            raise ValueError("SeedBatch: expected at least one seed, got none")
        if nonlinearity not in ("tanh", "relu") or (nonlinearity == "relu" and mode != "RNN"):
            raise ValueError(
                f"SeedBatch: expected nonlinearity 'tanh' (or 'relu' for an RNN), got {nonlinearity!r}"
            )
        if forget_bias and mode != "LSTM":
            raise ValueError(f"SeedBatch: forget_bias applies to an LSTM only, got mode {mode!r}")
        from companion import nn as cnn
        from companion.train import Readout

        singles = []
        for seed in seeds:
            torch.manual_seed(seed)
            options = {"forget_bias": forget_bias} if mode == "LSTM" else {}
            options.update({"nonlinearity": nonlinearity} if mode == "RNN" else {})
            layer = getattr(cnn, mode)(input_size, hidden_size, batch_first=True, **options)
            singles.append(Readout(layer, output_size, every_step=every_step))
        self.mode, self.seeds, self.every_step, self.nonlinearity = mode, seeds, every_step, nonlinearity
        self._pool = None  # reusable buffers, while fit_seeds trains (see _empty)
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        for name, values in zip(_NAMES, zip(*map(_flat, singles), strict=True), strict=True):
            self.register_parameter(name, nn.Parameter(torch.stack(values)))

    @property
    def num_seeds(self) -> int:
        """K, the number of models."""
        return len(self.seeds)

    def forward(self, x: Tensor, *, states: bool = False) -> Tensor:
        """Predict with every model from its own batch.

        Parameters
        ----------
        x : Tensor of shape (K, N, T, D)
            Batch k goes to model k.
        states : bool, default False
            Return the hidden states (K, N, T, H) instead of the predictions.

        Returns
        -------
        Tensor of shape (K, N, O), or (K, N, T, O) with ``every_step=True``
        """
        K, D = self.num_seeds, self.input_size
        if x.dim() != 4 or x.shape[0] != K or x.shape[3] != D:
            raise ValueError(f"SeedBatch: expected input of shape ({K}, N, T, {D}), got {tuple(x.shape)}")
        H = self.hidden_size
        ones = x.new_ones(x.shape[:3] + (1,))
        xt = torch.cat([x, ones], dim=3).permute(2, 0, 1, 3)  # (T, K, N, D + 1), time first, then a 1
        if self.mode == "GRU":  # b_hr and b_hz add to the input side; b_hn stays inside the reset gate
            bias = torch.cat(
                [self.bias_ih[..., : 2 * H] + self.bias_hh[..., : 2 * H], self.bias_ih[..., 2 * H :]], 2
            )
        else:
            bias = self.bias_ih + self.bias_hh  # (K, 1, G·H)
        w_in = torch.cat([self.weight_ih, bias.transpose(1, 2)], dim=2)  # (K, G·H, D + 1), bias last
        if self.mode == "GRU":
            xrz = torch.matmul(xt, w_in[:, : 2 * H].transpose(1, 2))  # (T, K, N, 2H)
            xn = torch.matmul(xt, w_in[:, 2 * H :].transpose(1, 2))  # (T, K, N, H)
            w_hh = self.weight_hh
            out = _GRURecurrence.apply(
                xrz, xn, w_hh[:, : 2 * H], w_hh[:, 2 * H :], self.bias_hh[..., 2 * H :], self._pool
            )
        else:
            xp = torch.matmul(xt, w_in.transpose(1, 2))  # (T, K, N, G·H); the bias rides on the 1s
            if self.mode == "LSTM":
                out = _LSTMRecurrence.apply(xp, self.weight_hh, self._pool)  # (T, K, N, H)
            else:
                out = _RNNRecurrence.apply(xp, self.weight_hh, self.nonlinearity == "relu", self._pool)
        if states:
            return out.permute(1, 2, 0, 3)  # (K, N, T, H)
        w_o = self.head_weight.transpose(1, 2)  # (K, H, O)
        if not self.every_step:
            return torch.baddbmm(self.head_bias, out[-1], w_o)  # (K, N, O)
        y = torch.matmul(out, w_o) + self.head_bias  # (T, K, N, O)
        return y.permute(1, 2, 0, 3)  # (K, N, T, O)

    def single(self, k: int) -> nn.Module:
        """Model k with its current weights: a :class:`~companion.train.readout.Readout` around a
        torch.nn layer."""
        from companion.train import Readout

        options = {"nonlinearity": self.nonlinearity} if self.mode == "RNN" else {}
        layer = getattr(torch.nn, self.mode)(self.input_size, self.hidden_size, batch_first=True, **options)
        model = Readout(layer, self.output_size, every_step=self.every_step)
        w_ih, w_hh, b_ih, b_hh, w_o, b_o = (p[k].detach() for p in self.parameters())
        model.load_state_dict(
            {
                "rnn.weight_ih_l0": w_ih,
                "rnn.weight_hh_l0": w_hh,
                "rnn.bias_ih_l0": b_ih[0],
                "rnn.bias_hh_l0": b_hh[0],
                "head.weight": w_o,
                "head.bias": b_o[0],
            }
        )
        return model


def _flat(model: nn.Module) -> list[Tensor]:
    s = {k: v.detach() for k, v in model.state_dict().items()}
    return [
        s["rnn.weight_ih_l0"],
        s["rnn.weight_hh_l0"],
        s["rnn.bias_ih_l0"][None],
        s["rnn.bias_hh_l0"][None],
        s["head.weight"],
        s["head.bias"][None],
    ]


@dataclass
class SeedHistory:
    """What :func:`fit_seeds` records.

    Attributes
    ----------
    loss, grad_norm : list of ndarray of shape (K,)
        Each step's training loss and gradient norm (before clipping), per seed.
    eval_steps : list of int
        Steps after which the metric was evaluated.
    metric : list of ndarray of shape (K,)
        The metric at each of ``eval_steps``.
    reached : ndarray of shape (K,)
        The first evaluated step at which each seed met the target; NaN where it never did.
    skipped : list of (step, seed)
        Updates withheld because a seed's loss or gradient was not finite.
    """

    loss: list = field(default_factory=list)
    grad_norm: list = field(default_factory=list)
    eval_steps: list = field(default_factory=list)
    metric: list = field(default_factory=list)
    reached: np.ndarray | None = None
    skipped: list = field(default_factory=list)

    @property
    def steps(self) -> int:
        """Number of steps run."""
        return len(self.loss)


def fit_seeds(
    model: SeedBatch,
    loss_fn: Callable[[Tensor, object], Tensor],
    batches: Callable[[int], tuple],
    optimizer: torch.optim.Optimizer,
    steps: int,
    *,
    clip_norm: float | None = None,
    metric: Callable[[SeedBatch], np.ndarray] | None = None,
    eval_every: int = 100,
    target: float | None = None,
    higher_is_better: bool = False,
    callback: Callable[[int, SeedBatch], None] | None = None,
) -> SeedHistory:
    """Train the K models of a :class:`SeedBatch` side by side, each as
    :func:`~companion.train.loop.fit` would.

    Parameters
    ----------
    model : SeedBatch
    loss_fn : callable ``(prediction, target) -> Tensor of shape (K,)``
        Each model's loss on its own batch; their sum is backpropagated, so model k receives the
        gradient of its own loss only.
    batches : callable ``step -> (x, y)``
        ``x`` of shape (K, N, T, D), ``y`` with a leading K: batch k for model k.
    optimizer : torch.optim.Optimizer
        An element-wise optimizer (SGD without weight coupling, Adam, ...) over ``model.parameters()``.
    steps : int
        At most this many steps; fewer when every seed has met ``target``.
    clip_norm : float, optional
        Clip each model's gradient to this norm, separately.
    metric : callable ``model -> array of shape (K,)``, optional
        Evaluated every ``eval_every`` steps and after the last.
    eval_every : int, default 100
    target : float, optional
        Stop once every seed's metric has met it (``<=``, or ``>=`` with ``higher_is_better``).
    higher_is_better : bool, default False
    callback : callable ``(steps_done, model) -> None``, optional
        Called after every step.

    Returns
    -------
    SeedHistory

    Raises
    ------
    ValueError
        For a non-positive ``steps``, ``eval_every`` or ``clip_norm``, or a loss of the wrong shape.

    Notes
    -----
    A seed whose loss or gradient norm is not finite gets no update at that step (its gradient is
    zeroed; with plain SGD or Adam at that step its weights then move only by Adam's momentum) and the
    step is listed in ``skipped``.
    """
    if steps < 1 or eval_every < 1 or (clip_norm is not None and not clip_norm > 0):
        raise ValueError(
            f"fit_seeds: expected steps, eval_every and clip_norm > 0, got {steps}, {eval_every}, {clip_norm}"
        )
    K = model.num_seeds
    params = list(model.parameters())
    history = SeedHistory(reached=np.full(K, np.nan))
    pool = {}
    for step in range(steps):
        optimizer.zero_grad(set_to_none=True)
        x, y = batches(step)
        model._pool = pool  # buffers reused from the previous step, whose graph is gone
        try:
            losses = loss_fn(model(x), y)
            if losses.shape != (K,):
                raise ValueError(
                    f"fit_seeds: expected loss_fn to return shape ({K},), got {tuple(losses.shape)}"
                )
            losses.sum().backward()
        finally:
            model._pool = None
        norms = torch.sqrt(sum(p.grad.reshape(K, -1).double().pow(2).sum(1) for p in params))  # (K,)
        values = losses.detach().double()
        bad = ~(torch.isfinite(values) & torch.isfinite(norms))
        scale = torch.where(bad, 0.0, 1.0)
        if clip_norm is not None:
            scale = torch.where(norms > clip_norm, scale * clip_norm / norms, scale)
        for p in params:
            p.grad.mul_(scale.to(p.dtype).reshape(K, *[1] * (p.dim() - 1)).nan_to_num_(0.0))
            p.grad.nan_to_num_(0.0, 0.0, 0.0)
        optimizer.step()
        history.loss.append(values.numpy())
        history.grad_norm.append(norms.numpy())
        history.skipped += [(step, int(k)) for k in torch.nonzero(bad).flatten()]
        if callback is not None:
            callback(step + 1, model)
        if metric is not None and ((step + 1) % eval_every == 0 or step + 1 == steps):
            with torch.no_grad():
                value = np.asarray(metric(model), dtype=np.float64)
            history.eval_steps.append(step + 1)
            history.metric.append(value)
            if target is not None:
                met = value >= target if higher_is_better else value <= target
                history.reached[met & np.isnan(history.reached)] = step + 1
                if not np.isnan(history.reached).any():
                    break
    return history


def summarise(reached: np.ndarray, budget: int) -> dict:
    """Success rate and steps to target over seeds, as a chapter's table reports them.

    Parameters
    ----------
    reached : ndarray of shape (K,)
        Steps to target per seed, NaN where not reached (``SeedHistory.reached``).
    budget : int
        The step budget.

    Returns
    -------
    dict
        ``successes`` (int), ``seeds`` (K), and over the seeds that succeeded ``median``, ``low``
        and ``high`` steps (NaN when none did).
    """
    reached = np.asarray(reached, dtype=np.float64)
    ok = reached[~np.isnan(reached)]
    if ok.size:
        median, low, high = float(np.median(ok)), float(ok.min()), float(ok.max())
    else:
        median = low = high = math.nan
    return {
        "successes": int(ok.size),
        "seeds": int(reached.size),
        "median": median,
        "low": low,
        "high": high,
        "budget": budget,
    }


def stack_seeds(pairs) -> tuple[Tensor, Tensor]:
    """One batch per seed, ``[(x_0, y_0), ..., (x_{K-1}, y_{K-1})]``, as tensors with a leading seed axis.

    Parameters
    ----------
    pairs : sequence of (Tensor, Tensor)
        Seed k's inputs (N, T, D) and targets; every seed's of the same shapes.

    Returns
    -------
    x : Tensor of shape (K, N, T, D)
    y : Tensor of shape (K, ...)
    """
    pairs = list(pairs)
    if not pairs:
        raise ValueError("stack_seeds: expected one (x, y) pair per seed, got none")
    return torch.stack([x for x, _ in pairs]), torch.stack([y for _, y in pairs])


def per_seed_mse(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean squared error of each seed's model on its own batch.

    Parameters
    ----------
    prediction, target : Tensor of shape (K, ...)
        The same shape, seed first.

    Returns
    -------
    Tensor of shape (K,)
    """
    if prediction.shape != target.shape:
        raise ValueError(
            f"per_seed_mse: expected target of the prediction's shape {tuple(prediction.shape)}, "
            f"got {tuple(target.shape)}"
        )
    return ((prediction - target) ** 2).flatten(1).mean(dim=1)
