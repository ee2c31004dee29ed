"""The fast path of the sequence layers: the recurrence as one ``torch.autograd.Function`` per cell type.

Chapter 3 derived backpropagation through time; this module *is* that derivation, written for speed.
Each function runs one direction of one layer over a whole sequence, given the input projection
``xp = x W_ihᵀ + b_ih`` of every step (one matrix product before the loop, left to autograd):

- **forward**: one ``addmm`` per step for ``h W_hhᵀ``, the gate nonlinearities applied in place to
  preallocated buffers, nothing else kept but what the backward pass needs;
- **backward**: the BPTT loop over time in reverse computes, per step, only the gradients of the gate
  pre-activations and the carried ``∂L/∂h`` (and ``∂L/∂c``); the weight gradient is then **one** large
  matrix product over all steps, ``dW_hh = Σ_t δ_tᵀ h_{t-1}`` (chapter 3's accumulation, done at once),
  and the input gradients ``dW_ih`` and ``dx`` follow from ``δ`` by autograd as one product each.

With a ``mask`` (T, N, 1) of valid steps (variable-length batches, chapter 7) a sequence's state is
frozen outside its valid steps and its output there is zero, exactly as ``torch.nn`` does for a
``PackedSequence``. The results equal the step-by-step code of :mod:`companion.nn.cells`, which autograd
differentiates (the tests check values and gradients against it, against ``torch.nn`` and with
``torch.autograd.gradcheck``).

The backward pass is not itself differentiable (no double backward), and these functions do not
support ``torch.func`` transforms; :class:`companion.nn.LSTM` and friends fall back to the plain path
where that matters (see their ``use_fused`` attribute).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

__all__ = ["rnn_recurrence", "lstm_recurrence", "gru_recurrence"]


def _order(T: int, reverse: bool) -> range:
    return range(T - 1, -1, -1) if reverse else range(T)


def _previous(states: Tensor, first: Tensor, reverse: bool) -> Tensor:
    """The state each step started from: ``states`` shifted by one step in reading order, (T, N, S)."""
    if reverse:
        return torch.cat([states[1:], first.unsqueeze(0)])  # step t read the state after step t+1
    return torch.cat([first.unsqueeze(0), states[:-1]])


class _RNNRecurrence(torch.autograd.Function):
    """h_t = φ(xp_t + h_{t-1} W_hhᵀ); xp already holds both biases."""

    @staticmethod
    def forward(ctx, xp, h0, w_hh, mask, reverse, relu):
        T, N, H = xp.shape
        raw = xp.new_empty(T, N, H)  # φ(a_t) for every sequence, valid or not
        states = raw if mask is None else xp.new_empty(T, N, H)
        h, w_t = h0, w_hh.t()
        for t in _order(T, reverse):
            a = torch.addmm(xp[t], h, w_t, out=raw[t])  # (N, H)
            a.relu_() if relu else a.tanh_()
            h = a if mask is None else torch.where(mask[t], a, h, out=states[t])
        hprev = _previous(states, h0, reverse)
        ctx.save_for_backward(raw, hprev, w_hh, mask)
        ctx.reverse, ctx.relu = reverse, relu
        return (raw if mask is None else raw * mask), h.clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_hn):
        raw, hprev, w_hh, mask = ctx.saved_tensors
        deriv = (raw > 0).to(raw.dtype) if ctx.relu else 1 - raw * raw  # φ'(a_t), (T, N, H)
        delta = torch.empty_like(raw)  # ∂L/∂a_t
        dh = d_hn
        for t in _order(raw.shape[0], not ctx.reverse):
            dh_t = dh + d_out[t]
            if mask is None:
                torch.mul(dh_t, deriv[t], out=delta[t])
                dh = delta[t] @ w_hh
            else:
                m = mask[t]
                torch.mul(dh_t * m, deriv[t], out=delta[t])
                dh = torch.addmm(dh * ~m, delta[t], w_hh)  # frozen steps pass ∂L/∂h straight through
        d_w = delta.flatten(0, 1).t() @ hprev.flatten(0, 1)  # (H, H): Σ_t δ_tᵀ h_{t-1}, one product
        return delta, dh, d_w, None, None, None


class _LSTMRecurrence(torch.autograd.Function):
    """Gates i, f, g, o from xp_t + h_{t-1} W_hhᵀ; c_t = f c_{t-1} + i g; h_t = o tanh(c_t)."""

    @staticmethod
    def forward(ctx, xp, h0, c0, w_hh, mask, reverse):
        ctx.reverse = reverse
        T, N, G = xp.shape
        H = G // 4
        acts = xp.new_empty(T, N, G)  # activated gates i, f, g, o
        cells = xp.new_empty(T, N, H)  # c_t
        tanh_c = xp.new_empty(T, N, H)
        raw = xp.new_empty(T, N, H)  # o ⊙ tanh(c_t)
        h_states = raw if mask is None else xp.new_empty(T, N, H)
        h, c, w_t = h0, c0, w_hh.t()
        for t in _order(T, reverse):
            a = torch.addmm(xp[t], h, w_t, out=acts[t])  # (N, 4H) pre-activations, then in place:
            a[:, : 2 * H].sigmoid_()
            a[:, 3 * H :].sigmoid_()
            a[:, 2 * H : 3 * H].tanh_()
            i, f, g, o = a.chunk(4, dim=1)  # 4 x (N, H) views
            c_new = torch.mul(f, c, out=cells[t]).addcmul_(i, g)  # f ⊙ c + i ⊙ g
            h_new = torch.mul(o, torch.tanh(c_new, out=tanh_c[t]), out=raw[t])
            if mask is None:
                h, c = h_new, c_new
            else:
                c = cells[t] = torch.where(mask[t], c_new, c)
                h = torch.where(mask[t], h_new, h, out=h_states[t])
        ctx.save_for_backward(
            acts, tanh_c, _previous(cells, c0, reverse), _previous(h_states, h0, reverse), w_hh, mask
        )
        return (raw if mask is None else raw * mask), h.clone(), c.clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_hn, d_cn):
        acts, tanh_c, cprev, hprev, w_hh, mask = ctx.saved_tensors
        T, N, G = acts.shape
        H = G // 4
        # Local derivatives of the activations, for all steps at once: σ' = σ(1-σ), tanh' = 1 - tanh².
        deriv = acts * (1 - acts)
        deriv[..., 2 * H : 3 * H] = 1 - acts[..., 2 * H : 3 * H] ** 2
        k = acts[..., 3 * H :] * (1 - tanh_c * tanh_c)  # ∂h/∂c = o ⊙ (1 - tanh² c), (T, N, H)
        delta = torch.empty_like(acts)  # ∂L/∂(gate pre-activations)
        dh, dc = d_hn, d_cn
        for t in _order(T, not ctx.reverse):
            i, f, g, _ = acts[t].chunk(4, dim=1)
            dh_t = dh + d_out[t]
            if mask is not None:
                m = mask[t]
                dh_pass, dc_pass = dh * ~m, dc * ~m
                dh_t, dc = dh_t * m, dc * m
            d = delta[t]
            torch.mul(dh_t, tanh_c[t], out=d[:, 3 * H :])  # ∂L/∂o
            dc_t = torch.addcmul(dc, dh_t, k[t])  # ∂L/∂c_t
            torch.mul(dc_t, g, out=d[:, :H])  # ∂L/∂i
            torch.mul(dc_t, cprev[t], out=d[:, H : 2 * H])  # ∂L/∂f
            torch.mul(dc_t, i, out=d[:, 2 * H : 3 * H])  # ∂L/∂g
            d.mul_(deriv[t])  # through σ and tanh
            dc = dc_t * f  # ∂L/∂c_{t-1}
            dh = d @ w_hh  # ∂L/∂h_{t-1}
            if mask is not None:
                dh, dc = dh + dh_pass, dc + dc_pass
        d_w = delta.flatten(0, 1).t() @ hprev.flatten(0, 1)  # (4H, H): Σ_t δ_tᵀ h_{t-1}
        return delta, dh, dc, d_w, None, None


class _GRURecurrence(torch.autograd.Function):
    """r, z = σ(xp + hp), n = tanh(xp_n + r ⊙ hp_n), h_t = n + z ⊙ (h_{t-1} - n), hp = h W_hhᵀ + b_hh."""

    @staticmethod
    def forward(ctx, xp, h0, w_hh, b_hh, mask, reverse):
        ctx.reverse = reverse
        T, N, G = xp.shape
        H = G // 3
        hp_n = xp.new_empty(T, N, H)  # W_hn h_{t-1} + b_hn, needed for ∂L/∂r
        rz = xp.new_empty(T, N, 2 * H)
        cand = xp.new_empty(T, N, H)  # n_t
        raw = xp.new_empty(T, N, H)
        h_states = raw if mask is None else xp.new_empty(T, N, H)
        h, w_t = h0, w_hh.t()
        for t in _order(T, reverse):
            hp = h @ w_t if b_hh is None else torch.addmm(b_hh, h, w_t)  # (N, 3H)
            hp_n[t] = hp[:, 2 * H :]
            gates = torch.add(xp[t, :, : 2 * H], hp[:, : 2 * H], out=rz[t]).sigmoid_()
            r, z = gates[:, :H], gates[:, H:]
            n = torch.addcmul(xp[t, :, 2 * H :], r, hp_n[t], out=cand[t]).tanh_()
            h_new = torch.lerp(n, h, z, out=raw[t])  # n + z ⊙ (h - n)
            h = h_new if mask is None else torch.where(mask[t], h_new, h, out=h_states[t])
        ctx.save_for_backward(rz, cand, hp_n, _previous(h_states, h0, reverse), w_hh, mask)
        ctx.has_bias = b_hh is not None
        return (raw if mask is None else raw * mask), h.clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_hn):
        rz, cand, hp_n, hprev, w_hh, mask = ctx.saved_tensors
        T, N, H = cand.shape
        z = rz[..., H:]
        rz_deriv = rz * (1 - rz)  # σ'
        dn_scale = (1 - z) * (1 - cand * cand)  # ∂h_t/∂(n pre-activation)
        h_minus_n = hprev - cand  # ∂h_t/∂z
        d_xp = torch.empty(T, N, 3 * H, dtype=cand.dtype, device=cand.device)
        d_hp = torch.empty_like(d_xp)  # ∂L/∂(h W_hhᵀ + b_hh)
        dh = d_hn
        for t in _order(T, not ctx.reverse):
            dh_t = dh + d_out[t]
            if mask is not None:
                m = mask[t]
                dh_pass = dh * ~m
                dh_t = dh_t * m
            dx, dp = d_xp[t], d_hp[t]
            torch.mul(dh_t, h_minus_n[t], out=dx[:, H : 2 * H])  # ∂L/∂z
            d_n = torch.mul(dh_t, dn_scale[t], out=dx[:, 2 * H :])  # ∂L/∂(n pre-activation)
            torch.mul(d_n, rz[t, :, :H], out=dp[:, 2 * H :])  # ∂L/∂hp_n = r ⊙ ·
            torch.mul(d_n, hp_n[t], out=dx[:, :H])  # ∂L/∂r
            dx[:, : 2 * H].mul_(rz_deriv[t])  # through σ
            dp[:, : 2 * H] = dx[:, : 2 * H]  # r and z see xp and hp alike
            dh = torch.addmm(dh_t * z[t], dp, w_hh)  # ∂L/∂h_{t-1}: through z, and through hp
            if mask is not None:
                dh = dh + dh_pass
        d_w = d_hp.flatten(0, 1).t() @ hprev.flatten(0, 1)  # (3H, H), one product over all steps
        d_b = d_hp.sum(dim=(0, 1)) if ctx.has_bias else None
        return d_xp, dh, d_w, d_b, None, None


def rnn_recurrence(xp: Tensor, h0: Tensor, w_hh: Tensor, mask: Tensor | None, reverse: bool, relu: bool):
    """Vanilla RNN recurrence over a whole sequence, with hand-written BPTT.

    Parameters
    ----------
    xp : Tensor of shape (T, N, H)
        ``x W_ihᵀ + b_ih + b_hh`` for every step, time first.
    h0 : Tensor of shape (N, H)
    w_hh : Tensor of shape (H, H)
    mask : bool Tensor of shape (T, N, 1) or None
        Valid steps; None when every step is valid.
    reverse : bool
        Read the sequence from its end (the backward direction of a bidirectional layer).
    relu : bool
        ReLU instead of tanh.

    Returns
    -------
    output : Tensor of shape (T, N, H)
        The state after every step (zero at invalid steps).
    h_n : Tensor of shape (N, H)
        The state after each sequence's last valid step.
    """
    return _RNNRecurrence.apply(xp, h0, w_hh, mask, reverse, relu)


def lstm_recurrence(xp: Tensor, h0: Tensor, c0: Tensor, w_hh: Tensor, mask: Tensor | None, reverse: bool):
    """LSTM recurrence over a whole sequence, with hand-written BPTT (gate order i, f, g, o).

    Parameters
    ----------
    xp : Tensor of shape (T, N, 4H)
        ``x W_ihᵀ + b_ih + b_hh`` for every step, time first.
    h0, c0 : Tensor of shape (N, H)
    w_hh : Tensor of shape (4H, H)
    mask : bool Tensor of shape (T, N, 1) or None
    reverse : bool

    Returns
    -------
    output : Tensor of shape (T, N, H)
    h_n, c_n : Tensor of shape (N, H)
    """
    return _LSTMRecurrence.apply(xp, h0, c0, w_hh, mask, reverse)


def gru_recurrence(
    xp: Tensor, h0: Tensor, w_hh: Tensor, b_hh: Tensor | None, mask: Tensor | None, reverse: bool
):
    """GRU recurrence over a whole sequence, with hand-written BPTT (gate order r, z, n).

    Parameters
    ----------
    xp : Tensor of shape (T, N, 3H)
        ``x W_ihᵀ + b_ih`` for every step, time first (``b_hh`` stays apart: the reset gate scales
        ``W_hn h + b_hn``).
    h0 : Tensor of shape (N, H)
    w_hh : Tensor of shape (3H, H)
    b_hh : Tensor of shape (3H,) or None
    mask : bool Tensor of shape (T, N, 1) or None
    reverse : bool

    Returns
    -------
    output : Tensor of shape (T, N, H)
    h_n : Tensor of shape (N, H)
    """
    return _GRURecurrence.apply(xp, h0, w_hh, b_hh, mask, reverse)
