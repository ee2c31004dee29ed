"""The fast path of the sequence layers: the recurrence as one ``torch.autograd.Function`` per cell type.

Chapter 3 derived backpropagation through time; this module *is* that derivation, written for speed.
Each function runs one direction of one layer over a whole sequence. The RNN and GRU functions are
given the input projection ``xp = x W_ihᵀ + b_ih`` of every step (one matrix product before the loop,
left to autograd); the LSTM function computes it itself, for a reason given below.

- **forward**: one ``addmm`` per step for ``h W_hhᵀ``, the gate nonlinearities applied in place to
  preallocated buffers, nothing else kept but what the backward pass needs;
- **backward**: the BPTT loop over time in reverse computes, per step, only the gradients of the gate
  pre-activations and the carried ``∂L/∂h`` (and ``∂L/∂c``); the weight gradient is then **one** large
  matrix product over all steps, ``dW_hh = Σ_t δ_tᵀ h_{t-1}`` (chapter 3's accumulation, done at once),
  and the input gradients ``dW_ih`` and ``dx`` follow from ``δ`` as one product each. The LSTM keeps
  each step's ``[h_{t-1} | x_t | 1]`` side by side in one buffer, so that ``[dW_hh | dW_ih | db]`` is a
  single product, ``Σ_t δ_tᵀ [h_{t-1} | x_t | 1]``: one wide product is faster than three narrow ones.
  (The GRU cannot do this: its reset gate makes the gradients of ``h W_hhᵀ`` and ``x W_ihᵀ`` differ.)

With a ``mask`` (T, N, 1) of valid steps (variable-length batches, chapter 7) a sequence's state is
frozen outside its valid steps and its output there is zero, exactly as ``torch.nn`` does for a
``PackedSequence``. The results equal the step-by-step code of :mod:`companion.nn.cells`, which autograd
differentiates (the tests check values and gradients against it, against ``torch.nn`` and with
``torch.autograd.gradcheck``).

When the backward pass must itself be differentiable (``create_graph=True``, as in double backward
or ``gradgradcheck``), it is computed by autograd through the step-by-step path instead: the same
values, differentiable again. These functions do not support ``torch.func`` transforms; set a
layer's ``use_fused`` attribute to False for those.

Given weights with a leading models dimension K (``w_hh`` (K, G·H, H)), each runs K models side by side,
``baddbmm``/``bmm`` where one model takes ``addmm``/``mm``: the seeds of :mod:`companion.train.seeds`.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor

from companion.nn.cells import gru_step, lstm_step, rnn_step
from companion.nn.errors import ShapeError
from companion.nn.unroll import unroll

__all__ = ["rnn_recurrence", "lstm_recurrence", "gru_recurrence"]

BLOCK_ELEMENTS = 1 << 18
"""How many gate values the LSTM's backward pass prepares at a time (1 MB in float32): its factors are
computed for a block of steps of this size just before the loop uses them, while they are in cache."""


COPY_FROM_STEPS = 16
"""From how many steps on a layer copies ``W_hhᵀ`` into a contiguous matrix before its loop. The step
products are faster with a contiguous right operand, but the copy, a transpose, costs as much as the
time saved over roughly 3 to 25 steps (fewer for larger batches): a long sequence repays it, a single
step of generation does not and multiplies by the transposed view instead."""


_sigmoid_backward = torch.ops.aten.sigmoid_backward.grad_input  # (u, σ) -> u σ (1 - σ), into grad_input
_tanh_backward = torch.ops.aten.tanh_backward.grad_input  # (u, τ) -> u (1 - τ²), into grad_input


def _step_weight(w_hh: Tensor, T: int) -> Tensor:
    """``W_hhᵀ`` ([K,] H, G·H), the right operand of every step's product: see :data:`COPY_FROM_STEPS`."""
    return w_hh.mT.contiguous() if T >= COPY_FROM_STEPS else w_hh.mT


def _products(w_hh: Tensor) -> tuple:
    """The step's products: ``(addmm, mm)`` for one model's weights (G·H, H), ``(baddbmm, bmm)`` for K's."""
    return (torch.addmm, torch.mm) if w_hh.dim() == 2 else (torch.baddbmm, torch.bmm)


def _order(T: int, reverse: bool) -> range:
    return range(T - 1, -1, -1) if reverse else range(T)


def _state_buffer(first: Tensor, T: int, reverse: bool):
    """A (T+1, N, S) buffer for the initial state and the state after every step, in time order.

    Returns ``(after, before)``, two (T, N, S) views of it: ``after[t]`` is the state after step t and
    ``before[t]`` the state step t started from (the initial state sits first, or last when reading
    in reverse). Writing ``after[t]`` in the loop fills ``before`` for free: no copy, no concatenation.
    """
    buffer = first.new_empty(T + 1, *first.shape)
    if reverse:
        buffer[T] = first
        return buffer[:T], buffer[1:]
    buffer[0] = first
    return buffer[1:], buffer[:T]


def _output(raw: Tensor, mask: Tensor | None) -> Tensor:
    """The layer's output as a tensor of its own: zero at invalid steps, and never a view of the state
    buffer, so that the caller may change it in place (``out.mul_(2)``) and still call backward."""
    return raw.clone() if mask is None else raw * mask


def _last(after: Tensor, reverse: bool) -> Tensor:
    return (after[0] if reverse else after[-1]).clone()  # a new tensor: h_n.detach_() and add_() work


def _outer_sum(delta: Tensor, hprev: Tensor) -> Tensor:
    """``Σ_t δ_tᵀ h_{t-1}`` for δ of shape (T, N, G) and h of shape (T, N, C): one (G, C) product.

    Computed as ``(hᵀ δ)ᵀ``: the transposed operand is then the narrower one (C ≤ G), the faster
    product. For K models, (T, K, N, ·) each, it is one batched product of every step's and model's
    block, summed over the steps: (K, G, C) from the buffers as they are (no copy to (K, T·N, ·))."""
    if delta.dim() == 3:
        return (hprev.flatten(0, 1).t() @ delta.flatten(0, 1)).t()
    blocks = torch.bmm(delta.flatten(0, 1).mT, hprev.flatten(0, 1))  # (T·K, G, C)
    return blocks.view(*delta.shape[:2], *blocks.shape[1:]).sum(0)  # (K, G, C)


def _autograd_backward(plain, inputs: tuple, grads: tuple, w_hh: Tensor) -> list:
    """The gradients by autograd through the step-by-step path, for a backward that must itself be
    differentiable (``create_graph=True``: double backward, ``gradgradcheck``). ``plain(*inputs)``
    computes the function's outputs with :func:`~companion.nn.unroll.unroll`: the same values as the
    hand-written BPTT, at the plain path's speed. One gradient per input (None where none is needed);
    one model's weights only (the step functions'), not K models' stacked (K, G·H, H)."""
    if w_hh.dim() == 3:
        msg = "the backward pass of K stacked models is not differentiable (create_graph=True)"
        raise NotImplementedError(f"companion.nn.fused: {msg}; run each model's 2-D weights instead")
    outputs = plain(*inputs)
    needed = [t for t in inputs if t is not None and t.requires_grad]
    found = iter(torch.autograd.grad(outputs, needed, grads, create_graph=True, allow_unused=True))
    return [next(found) if t is not None and t.requires_grad else None for t in inputs]


def _unrolled(step, xp: Tensor, states: tuple, weights: tuple, mask, reverse: bool) -> tuple:
    output, finals = unroll(step, xp, states, weights, mask=mask, reverse=reverse)
    return (output, *finals)


class _RNNRecurrence(torch.autograd.Function):
    """h_t = φ(xp_t + h_{t-1} W_hhᵀ); xp already holds both biases."""

    @staticmethod
    def forward(ctx, xp, h0, w_hh, mask, reverse, relu):
        T = xp.shape[0]
        after, before = _state_buffer(h0, T, reverse)
        raw = after if mask is None else xp.new_empty(after.shape)  # φ(a_t), valid step or not
        addmm, _ = _products(w_hh)
        w_t = _step_weight(w_hh, T)  # ([K,] H, G·H)
        for t in _order(T, reverse):
            a = addmm(xp[t], before[t], w_t, out=raw[t])  # ([K,] N, H)
            a.relu_() if relu else a.tanh_()
            if mask is not None:
                torch.where(mask[t], a, before[t], out=after[t])  # frozen outside the valid steps
        ctx.save_for_backward(raw, before, w_hh, mask, xp, h0)
        ctx.reverse, ctx.relu = reverse, relu
        return _output(raw, mask), _last(after, reverse)

    @staticmethod
    def backward(ctx, d_out, d_hn):
        raw, hprev, w_hh, mask, xp, h0 = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: a backward that is itself differentiable
            step = partial(rnn_step, nonlinearity="relu" if ctx.relu else "tanh")

            def plain(xp, h0, w_hh):
                return _unrolled(step, xp, (h0,), (w_hh, None, None), mask, ctx.reverse)

            return (*_autograd_backward(plain, (xp, h0, w_hh), (d_out, d_hn), w_hh), None, None, None)
        d_out = d_out.contiguous()
        deriv = (raw > 0).to(raw.dtype) if ctx.relu else 1 - raw * raw  # φ'(a_t), (T, [K,] N, H)
        addmm, mm = _products(w_hh)
        delta = torch.empty_like(raw)  # ∂L/∂a_t
        dh = d_hn
        for t in _order(raw.shape[0], not ctx.reverse):
            dh_t = dh + d_out[t]
            if mask is None:
                torch.mul(dh_t, deriv[t], out=delta[t])
                dh = mm(delta[t], w_hh)
            else:
                m = mask[t]
                torch.mul(dh_t * m, deriv[t], out=delta[t])
                dh = addmm(dh * ~m, delta[t], w_hh)  # frozen steps pass ∂L/∂h straight through
        d_w = _outer_sum(delta, hprev)  # ([K,] H, H): Σ_t δ_tᵀ h_{t-1}, one product
        return delta, dh, d_w, None, None, None


def _input_grad(delta: Tensor, w_ih: Tensor, x: Tensor) -> Tensor:
    """The LSTM's ``∂L/∂x = δ W_ih``, (T, [K,] N, D); summed over K models that share one x (T, N, D)."""
    if w_ih.dim() == 2:
        return (delta.view(-1, delta.shape[-1]) @ w_ih).view(*delta.shape[:-1], w_ih.shape[1])
    d_x = torch.matmul(delta, w_ih)  # (T, K, N, D)
    return d_x if x.dim() == 4 else d_x.sum(1)


class _LSTMRecurrence(torch.autograd.Function):
    """Gates i, f, g, o from x_t W_ihᵀ + b + h_{t-1} W_hhᵀ; c_t = f c_{t-1} + i g; h_t = o tanh(c_t).

    Unlike the other two, this function takes the input projection inside: every step's row
    ``[h_{t-1} | x_t | 1]`` sits in one buffer, so that the backward pass gets ``[dW_hh | dW_ih | db]``
    from one matrix product over all steps."""

    @staticmethod
    def forward(ctx, x, w_ih, b, h0, c0, w_hh, mask, reverse):
        T, D = x.shape[0], x.shape[-1]
        G = w_hh.shape[-2]
        H = G // 4
        # rows[t] = [h | x | 1]: the states h_0 .. h_T in time order (the initial one first, or last when
        # reading in reverse); ``before[t]`` is the row step t reads, with its input x_t beside h_{t-1}.
        rows = x.new_empty(T + 1, *h0.shape[:-1], H + D + (b is not None))  # (T+1, [K,] N, H + D [+1])
        before, after = (rows[1:], rows[:T]) if reverse else (rows[:T], rows[1:])
        before[..., H : H + D] = x if x.dim() == before.dim() else x[:, None]  # K models may share one x
        if b is not None:
            before[..., H + D] = 1
        h_after, h_before = after[..., :H], before[..., :H]
        h_before[-1 if reverse else 0] = h0
        # Every step's input projection x_t W_ihᵀ + b in one product over the rows' [x | 1] columns,
        # (T, [K,] N, 4H); step t then turns its own into its pre-activations and its activated gates
        # i, f, g, o, in place.
        w_in = (w_ih if b is None else torch.cat([w_ih, b[..., None]], dim=-1)).mT  # ([K,] D [+1], 4H)
        if w_hh.dim() == 2:
            acts = torch.mm(before.reshape(T * x.shape[1], rows.shape[2])[:, H:], w_in).view(T, x.shape[1], G)
        else:
            acts = torch.matmul(before[..., H:], w_in)  # (T, K, N, 4H)
        c_after, c_before = _state_buffer(c0, T, reverse)
        tanh_c = x.new_empty(c_after.shape)
        raw = h_after if mask is None else x.new_empty(c_after.shape)  # o ⊙ tanh(c_t)
        c_new = x.new_empty(c0.shape)
        addmm, _ = _products(w_hh)
        w_t = _step_weight(w_hh, T)  # ([K,] H, G·H)
        # Per-step views made once (unbind) rather than indexed in the loop: small ops are overhead-bound.
        i_, f_, g_, o_ = (gate.unbind(0) for gate in acts.chunk(4, dim=-1))  # 4 x T x ([K,] N, H)
        a_, if_, tc_, out_ = acts.unbind(0), acts[..., : 2 * H].unbind(0), tanh_c.unbind(0), raw.unbind(0)
        hb, cb, ca = h_before.unbind(0), c_before.unbind(0), c_after.unbind(0)
        for t in _order(T, reverse):
            addmm(a_[t], hb[t], w_t, out=a_[t])  # ([K,] N, 4H) pre-activations x_t W_ihᵀ + b + h_{t-1} W_hhᵀ
            if_[t].sigmoid_()  # i, f
            g_[t].tanh_()
            o_[t].sigmoid_()
            c = torch.mul(f_[t], cb[t], out=ca[t] if mask is None else c_new).addcmul_(i_[t], g_[t])
            h = torch.mul(o_[t], torch.tanh(c, out=tc_[t]), out=out_[t])  # o ⊙ tanh(f ⊙ c + i ⊙ g)
            if mask is not None:
                torch.where(mask[t], c, cb[t], out=ca[t])
                torch.where(mask[t], h, hb[t], out=h_after[t])
        ctx.save_for_backward(acts, tanh_c, c_before, before, w_ih, w_hh, mask, x, b, h0, c0)
        ctx.reverse = reverse
        h_n, c_n = _last(h_after, reverse), _last(c_after, reverse)
        return _output(raw, mask), h_n, c_n

    @staticmethod
    def backward(ctx, d_out, d_hn, d_cn):
        acts, tanh_c, cprev, rows, w_ih, w_hh, mask, x, b, h0, c0 = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: a backward that is itself differentiable

            def plain(x, w_ih, b, h0, c0, w_hh):
                xp = F.linear(x, w_ih, b)  # (T, N, 4H)
                return _unrolled(lstm_step, xp, (h0, c0), (w_hh, None, None), mask, ctx.reverse)

            inputs = (x, w_ih, b, h0, c0, w_hh)
            return (*_autograd_backward(plain, inputs, (d_out, d_hn, d_cn), w_hh), None, None)
        T, G = acts.shape[0], acts.shape[-1]
        H = G // 4
        # The factors that do not depend on the carried gradients: with σ' = σ(1 - σ) and tanh' = 1 - tanh²,
        #   δ_i = dc ⊙ g σ'(i),  δ_f = dc ⊙ c_{t-1} σ'(f),  δ_g = dc ⊙ i tanh'(g),  δ_o = dh ⊙ tanh(c) σ'(o),
        # and ∂L/∂c_t gains dh ⊙ o tanh'(c_t), so the loop multiplies dc (and dh) by precomputed factors m
        # and k and nothing else. Each factor is one operation, torch's
        # ``sigmoid_backward(u, σ) = u σ(1 - σ)`` or ``tanh_backward(u, τ) = u (1 - τ²)``. They are computed
        # a block of steps at a time, just before the loop needs them, into small buffers that stay in the
        # processor's cache (BLOCK_ELEMENTS values).
        span = max(1, min(T, BLOCK_ELEMENTS // max(1, acts[0].numel())))  # steps per block
        m_buf, k_buf = acts.new_empty(span, *acts.shape[1:]), acts.new_empty(span, *tanh_c.shape[1:])
        m_i_, m_f_, m_g_, m_o_ = (m.unbind(0) for m in m_buf.chunk(4, dim=-1))  # 4 x span x ([K,] N, H)
        k_ = k_buf.unbind(0)
        delta = torch.empty_like(acts)  # ∂L/∂(gate pre-activations)
        d_i, d_f, d_g, d_o = (d.unbind(0) for d in delta.chunk(4, dim=-1))  # 4 x T x ([K,] N, H)
        f_, d_, dout_ = acts[..., H : 2 * H].unbind(0), delta.unbind(0), d_out.unbind(0)
        order = _order(T, not ctx.reverse)
        addmm, mm = _products(w_hh)
        # dh: ∂L/∂h_t with the output's own gradient already added (by the addmm of the step after).
        dh, dc = d_hn + dout_[order[0]], d_cn
        for step, t in enumerate(order):
            if step % span == 0:  # the factors of the next block of steps
                lo, hi = (t, min(t + span, T)) if ctx.reverse else (max(t - span + 1, 0), t + 1)
                i_b, f_b, g_b, o_b = acts[lo:hi].chunk(4, dim=-1)
                m_i, m_f, m_g, m_o = m_buf[: hi - lo].chunk(4, dim=-1)
                _sigmoid_backward(g_b, i_b, grad_input=m_i)  # g σ'(i)
                _sigmoid_backward(cprev[lo:hi], f_b, grad_input=m_f)  # c_{t-1} σ'(f)
                _tanh_backward(i_b, g_b, grad_input=m_g)  # i tanh'(g)
                _sigmoid_backward(tanh_c[lo:hi], o_b, grad_input=m_o)  # tanh(c_t) σ'(o)
                _tanh_backward(o_b, tanh_c[lo:hi], grad_input=k_buf[: hi - lo])  # o tanh'(c_t)
            j = t - lo
            if mask is not None:  # frozen steps pass the carried gradient (not the output's) straight through
                mt = mask[t]
                dh_pass, dc_pass = (dh - dout_[t]) * ~mt, dc * ~mt
                dh, dc = dh * mt, dc * mt
            dc = torch.addcmul(dc, dh, k_[j])  # ∂L/∂c_t
            torch.mul(dc, m_i_[j], out=d_i[t])  # δ_i
            torch.mul(dc, m_f_[j], out=d_f[t])  # δ_f
            torch.mul(dc, m_g_[j], out=d_g[t])  # δ_g
            torch.mul(dh, m_o_[j], out=d_o[t])  # δ_o
            dc = dc * f_[t]  # ∂L/∂c_{t-1}
            if step + 1 < T:  # ∂L/∂h_{t-1} = δ_t W_hh, plus the output gradient of step t-1
                dh = addmm(dout_[order[step + 1]], d_[t], w_hh)
            else:
                dh = mm(d_[t], w_hh)
            if mask is not None:
                dh, dc = dh + dh_pass, dc + dc_pass
        # [dW_hh | dW_ih | db] = Σ_t δ_tᵀ [h_{t-1} | x_t | 1], one ([K,] 4H, H + D + 1) product, all steps.
        d_w = _outer_sum(delta, rows)
        D = w_ih.shape[-1]
        d_x = _input_grad(delta, w_ih, x) if ctx.needs_input_grad[0] else None
        d_b = d_w[..., H + D] if b is not None else None
        return d_x, d_w[..., H : H + D], d_b, dh, dc, d_w[..., :H], None, None


class _GRURecurrence(torch.autograd.Function):
    """r, z = σ(xp + hp), n = tanh(xp_n + r ⊙ hp_n), h_t = n + z ⊙ (h_{t-1} - n), hp = h W_hhᵀ + b_hh."""

    @staticmethod
    def forward(ctx, xp, h0, w_hh, b_hh, mask, reverse):
        T, G = xp.shape[0], xp.shape[-1]
        H = G // 3
        after, before = _state_buffer(h0, T, reverse)
        hp = xp.new_empty(xp.shape)  # h_{t-1} W_hhᵀ + b_hh; its n block is needed for ∂L/∂r
        rz = xp.new_empty(*xp.shape[:-1], 2 * H)
        cand = xp.new_empty(after.shape)  # n_t
        raw = after if mask is None else xp.new_empty(after.shape)
        addmm, mm = _products(w_hh)
        b_step = b_hh if b_hh is None or b_hh.dim() == 1 else b_hh[:, None]  # (3H,) or (K, 1, 3H)
        w_t = _step_weight(w_hh, T)  # ([K,] H, G·H)
        for t in _order(T, reverse):
            if b_hh is None:
                mm(before[t], w_t, out=hp[t])
            else:
                addmm(b_step, before[t], w_t, out=hp[t])  # ([K,] N, 3H)
            gates = torch.add(xp[t, ..., : 2 * H], hp[t, ..., : 2 * H], out=rz[t]).sigmoid_()
            r, z = gates[..., :H], gates[..., H:]
            n = torch.addcmul(xp[t, ..., 2 * H :], r, hp[t, ..., 2 * H :], out=cand[t]).tanh_()
            h = torch.lerp(n, before[t], z, out=raw[t])  # n + z ⊙ (h_{t-1} - n)
            if mask is not None:
                torch.where(mask[t], h, before[t], out=after[t])
        ctx.save_for_backward(rz, cand, hp, before, w_hh, mask, xp, h0, b_hh)
        ctx.has_bias, ctx.reverse = b_hh is not None, reverse
        return _output(raw, mask), _last(after, reverse)

    @staticmethod
    def backward(ctx, d_out, d_hn):
        rz, cand, hp, hprev, w_hh, mask, xp, h0, b_hh = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: a backward that is itself differentiable

            def plain(xp, h0, w_hh, b_hh):
                return _unrolled(gru_step, xp, (h0,), (w_hh, b_hh, None), mask, ctx.reverse)

            return (*_autograd_backward(plain, (xp, h0, w_hh, b_hh), (d_out, d_hn), w_hh), None, None)
        T, H = cand.shape[0], cand.shape[-1]
        d_out = d_out.contiguous()
        z = rz[..., H:]
        rz_deriv = torch.addcmul(rz, rz, rz, value=-1)  # σ' = σ - σ²
        dn_scale = (1 - z) * (1 - cand * cand)  # ∂h_t/∂(n pre-activation)
        h_minus_n = hprev - cand  # ∂h_t/∂z
        d_xp = torch.empty_like(hp)
        d_hp = torch.empty_like(d_xp)  # ∂L/∂(h W_hhᵀ + b_hh)
        addmm, _ = _products(w_hh)
        dh = d_hn
        for t in _order(T, not ctx.reverse):
            dh_t = dh + d_out[t]
            if mask is not None:
                m = mask[t]
                dh_pass = dh * ~m
                dh_t = dh_t * m
            dx, dp = d_xp[t], d_hp[t]
            torch.mul(dh_t, h_minus_n[t], out=dx[..., H : 2 * H])  # ∂L/∂z
            d_n = torch.mul(dh_t, dn_scale[t], out=dx[..., 2 * H :])  # ∂L/∂(n pre-activation)
            torch.mul(d_n, rz[t, ..., :H], out=dp[..., 2 * H :])  # ∂L/∂hp_n = r ⊙ ·
            torch.mul(d_n, hp[t, ..., 2 * H :], out=dx[..., :H])  # ∂L/∂r
            dx[..., : 2 * H].mul_(rz_deriv[t])  # through σ
            dp[..., : 2 * H] = dx[..., : 2 * H]  # r and z see xp and hp alike
            dh = addmm(dh_t * z[t], dp, w_hh)  # ∂L/∂h_{t-1}: through z, and through hp
            if mask is not None:
                dh = dh + dh_pass
        d_w = _outer_sum(d_hp, hprev)  # ([K,] 3H, H), one product over all steps
        d_b = None if not ctx.has_bias else d_hp.sum(dim=(0, 1)) if hp.dim() == 3 else d_hp.sum(2).sum(0)
        return d_xp, dh, d_w, d_b, None, None


def _check_models(where: str, w_hh: Tensor, **tensors) -> None:
    """With stacked weights ``w_hh`` (K, G·H, H), each of ``tensors``, ``name=(tensor or None, dims, axis)``,
    holds K models in ``axis``; the LSTM's ``x`` may be one (T, N, D) that the K models share."""
    K = w_hh.shape[0]
    for name, (t, dims, axis) in tensors.items():
        if t is not None and not (name == "x" and t.dim() == 3) and (t.dim() != dims or t.shape[axis] != K):
            raise ShapeError(
                f"{where}: expected {name} of {dims} dimensions with the K = {K} models of w_hh "
                f"{tuple(w_hh.shape)} in dimension {axis}, got {tuple(t.shape)}"
            )


def rnn_recurrence(xp: Tensor, h0: Tensor, w_hh: Tensor, mask: Tensor | None, reverse: bool, relu: bool):
    """Vanilla RNN recurrence over a whole sequence, with hand-written BPTT.

    With stacked weights ``w_hh`` of shape (K, H, H) it runs K models side by side, one batched product
    per step for all of them: ``xp`` (T, K, N, H), ``h0`` (K, N, H), and every result with a K after
    its time dimension. The same holds for :func:`lstm_recurrence` and :func:`gru_recurrence`.

    Parameters
    ----------
    xp : Tensor of shape (T, N, H) or (T, K, N, H)
        ``x W_ihᵀ + b_ih + b_hh`` for every step, time first.
    h0 : Tensor of shape (N, H) or (K, N, H)
    w_hh : Tensor of shape (H, H) or (K, H, H)
    mask : Tensor of bool of shape (T, N, 1) or (T, K, N, 1), or None
        Valid steps; None when every step is valid. K models may share one of shape (T, 1, N, 1).
    reverse : bool
        Read the sequence from its end (the backward direction of a bidirectional layer).
    relu : bool
        ReLU instead of tanh.

    Returns
    -------
    output : Tensor of shape (T, [K,] N, H)
        The state after every step (zero at invalid steps).
    h_n : Tensor of shape ([K,] N, H)
        The state after each sequence's last valid step.

    Raises
    ------
    ShapeError
        With stacked weights, for an input or a state that does not hold K models.
    NotImplementedError
        With stacked weights, for a differentiable backward pass (``create_graph=True``).
    """
    if w_hh.dim() == 3:
        _check_models("rnn_recurrence", w_hh, xp=(xp, 4, 1), h0=(h0, 3, 0))
    return _RNNRecurrence.apply(xp, h0, w_hh, mask, reverse, relu)


def lstm_recurrence(
    x: Tensor,
    w_ih: Tensor,
    b: Tensor | None,
    h0: Tensor,
    c0: Tensor,
    w_hh: Tensor,
    mask: Tensor | None,
    reverse: bool,
):
    """LSTM recurrence over a whole sequence, input projection included, with hand-written BPTT (gate
    order i, f, g, o). K models side by side with stacked weights, as :func:`rnn_recurrence`.

    Parameters
    ----------
    x : Tensor of shape (T, N, D), or (T, K, N, D)
        The inputs, time first; K models read one x (T, N, D) alike, or each its own.
    w_ih : Tensor of shape ([K,] 4H, D)
    b : Tensor of shape ([K,] 4H) or None
        ``b_ih + b_hh`` (both are added at every step), or None without biases.
    h0, c0 : Tensor of shape ([K,] N, H)
    w_hh : Tensor of shape ([K,] 4H, H)
    mask : Tensor of bool of shape (T, [K,] N, 1) or None
    reverse : bool

    Returns
    -------
    output : Tensor of shape (T, [K,] N, H)
    h_n, c_n : Tensor of shape ([K,] N, H)

    Raises
    ------
    ShapeError, NotImplementedError
        As :func:`rnn_recurrence`.
    """
    if w_hh.dim() == 3:  # x may be (T, N, D), shared by the K models
        tensors = {"x": (x, 4, 1), "w_ih": (w_ih, 3, 0), "b": (b, 2, 0), "h0": (h0, 3, 0), "c0": (c0, 3, 0)}
        _check_models("lstm_recurrence", w_hh, **tensors)
    return _LSTMRecurrence.apply(x, w_ih, b, h0, c0, w_hh, mask, reverse)


def gru_recurrence(
    xp: Tensor, h0: Tensor, w_hh: Tensor, b_hh: Tensor | None, mask: Tensor | None, reverse: bool
):
    """GRU recurrence over a whole sequence, with hand-written BPTT (gate order r, z, n). K models side
    by side with stacked weights, as :func:`rnn_recurrence`.

    Parameters
    ----------
    xp : Tensor of shape (T, [K,] N, 3H)
        ``x W_ihᵀ + b_ih`` for every step, time first (``b_hh`` stays apart: the reset gate scales
        ``W_hn h + b_hn``).
    h0 : Tensor of shape ([K,] N, H)
    w_hh : Tensor of shape ([K,] 3H, H)
    b_hh : Tensor of shape ([K,] 3H) or None
    mask : Tensor of bool of shape (T, [K,] N, 1) or None
    reverse : bool

    Returns
    -------
    output : Tensor of shape (T, [K,] N, H)
    h_n : Tensor of shape ([K,] N, H)

    Raises
    ------
    ShapeError, NotImplementedError
        As :func:`rnn_recurrence`.
    """
    if w_hh.dim() == 3:
        _check_models("gru_recurrence", w_hh, xp=(xp, 4, 1), h0=(h0, 3, 0), b_hh=(b_hh, 2, 0))
    return _GRURecurrence.apply(xp, h0, w_hh, b_hh, mask, reverse)
