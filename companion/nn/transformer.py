"""Self-attention and the Transformer layer, built on the attention of chapter 8 (chapter 13).

Self-attention is the dot-product attention of :mod:`companion.nn.attention` with queries, keys and
values all computed from the same sequence, in ``h`` heads of size ``d = E / h`` each
(Vaswani et al., 2017):

.. math::

    Q^{(i)} = X W_q^{(i)}, \\quad K^{(i)} = X W_k^{(i)}, \\quad V^{(i)} = X W_v^{(i)}, \\qquad
    \\operatorname{head}_i = \\operatorname{softmax}\\Big(\\frac{Q^{(i)} K^{(i)\\top}}{\\sqrt d}
    + M\\Big) V^{(i)}, \\qquad Y = [\\operatorname{head}_1; \\dots; \\operatorname{head}_h] W_o,

with :math:`M` 0 where query t may read key s and :math:`-\\infty` elsewhere (a causal mask
forbids s > t; a padding mask forbids padded keys). The weights are normalised by
:func:`companion.nn.attention.masked_softmax`, so a query whose keys are all masked gets zero weights
instead of ``torch``'s NaN.

- :class:`MultiheadAttention` has ``torch.nn.MultiheadAttention``'s parameters
  (``in_proj_weight`` (3E, E), ``in_proj_bias``, ``out_proj``), arguments and outputs;
- :class:`TransformerEncoderLayer` those of ``torch.nn.TransformerEncoderLayer`` (post-norm by default,
  pre-norm with ``norm_first=True``), so a ``state_dict`` moves between them unchanged;
- :class:`DecoderBlock` is the same layer made causal, the block of a decoder-only model, with
  :meth:`DecoderBlock.step` that generates one position at a time from a growing key/value cache;
- :func:`sinusoidal_encoding` and :class:`PositionalEncoding` add the positions that attention alone
  cannot see.

Shapes are batch first: (N, T, E) with E = ``embed_dim`` = ``d_model``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from companion.nn._common import check_flag, check_layer_size
from companion.nn.attention import masked_softmax
from companion.nn.errors import DTypeError, ShapeError

__all__ = [
    "causal_mask",
    "sinusoidal_encoding",
    "PositionalEncoding",
    "MultiheadAttention",
    "TransformerEncoderLayer",
    "DecoderBlock",
    "KVCache",
]


def causal_mask(T: int, *, device=None) -> Tensor:
    """The causal mask of T positions: ``mask[t, s] = s <= t`` (True = may attend, the course's convention).

    Parameters
    ----------
    T : int
        Number of positions, > 0.
    device : optional

    Returns
    -------
    Tensor of bool of shape (T, T)
        Lower triangular. ``torch.nn`` takes the opposite convention in ``attn_mask`` (True = masked):
        pass ``~causal_mask(T)`` there, or ``is_causal=True``.

    Examples
    --------
    >>> causal_mask(3).int()
    tensor([[1, 0, 0],
            [1, 1, 0],
            [1, 1, 1]], dtype=torch.int32)
    """
    T = check_layer_size("causal_mask", "T", T)
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def sinusoidal_encoding(T: int, d_model: int, *, base: float = 10000.0, dtype=None, device=None) -> Tensor:
    """The sinusoidal positional encoding of Vaswani et al. (2017), section 3.5.

    Parameters
    ----------
    T : int
        Number of positions.
    d_model : int
        E, the model size (even or odd).
    base : float, default 10000.0
        The longest wavelength is ``2π · base``.
    dtype, device : optional

    Returns
    -------
    Tensor of shape (T, E)
        :math:`P_{t, 2i} = \\sin(t / b^{2i/E})`, :math:`P_{t, 2i+1} = \\cos(t / b^{2i/E})`, t = 0, …, T-1.

    Notes
    -----
    Each pair of features is a point on a circle turning at its own frequency, so the encoding of
    position t + k is a fixed rotation of that of t, the same for every t.

    Examples
    --------
    >>> sinusoidal_encoding(2, 4)
    tensor([[0.0000, 1.0000, 0.0000, 1.0000],
            [0.8415, 0.5403, 0.0100, 0.9999]])
    """
    T = check_layer_size("sinusoidal_encoding", "T", T)
    E = check_layer_size("sinusoidal_encoding", "d_model", d_model)
    position = torch.arange(T, dtype=torch.float64).unsqueeze(1)  # (T, 1)
    frequency = base ** (-torch.arange(0, E, 2, dtype=torch.float64) / E)  # (ceil(E/2),)
    angle = position * frequency  # (T, ceil(E/2))
    encoding = torch.empty(T, E, dtype=torch.float64)
    encoding[:, 0::2] = torch.sin(angle)
    encoding[:, 1::2] = torch.cos(angle[:, : E // 2])
    return encoding.to(dtype=dtype or torch.get_default_dtype(), device=device)


class PositionalEncoding(nn.Module):
    """Adds a position vector to each step of a sequence: sinusoidal (fixed) or learned.

    Parameters
    ----------
    d_model : int
        E.
    max_len : int
        The most positions a sequence (with its ``offset``) may have.
    learned : bool, default False
        A learned table ``weight`` (max_len, E), drawn from N(0, 0.02²), instead of the sinusoids.
    dropout : float, default 0.0
        Applied to the sum in training.
    device, dtype : optional

    Examples
    --------
    >>> PositionalEncoding(4, 10)(torch.zeros(1, 2, 4))[0, 1]
    tensor([0.8415, 0.5403, 0.0100, 0.9999])
    """

    def __init__(
        self,
        d_model: int,
        max_len: int,
        *,
        learned: bool = False,
        dropout: float = 0.0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.d_model = check_layer_size("PositionalEncoding", "d_model", d_model)
        self.max_len = check_layer_size("PositionalEncoding", "max_len", max_len)
        self.learned = check_flag("PositionalEncoding", "learned", learned)
        self.dropout = nn.Dropout(dropout)
        if self.learned:
            self.weight = nn.Parameter(torch.empty(max_len, d_model, device=device, dtype=dtype))
            nn.init.normal_(self.weight, std=0.02)
        else:
            self.register_buffer("weight", sinusoidal_encoding(max_len, d_model, dtype=dtype, device=device))

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        """``x`` (N, T, E) plus the encodings of positions ``offset``, …, ``offset + T - 1``."""
        if not isinstance(x, Tensor) or x.dim() != 3 or x.shape[2] != self.d_model:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ShapeError(f"PositionalEncoding: expected x of shape (N, T, {self.d_model}), got {shape}")
        if offset < 0 or offset + x.shape[1] > self.max_len:
            raise ShapeError(
                f"PositionalEncoding: expected offset + T <= max_len = {self.max_len}, "
                f"got offset {offset} and T {x.shape[1]}"
            )
        return self.dropout(x + self.weight[offset : offset + x.shape[1]])


def _check_input(where: str, name: str, x, E: int, dtype: torch.dtype, N: int | None = None) -> None:
    if not isinstance(x, Tensor) or not x.is_floating_point():
        got = x.dtype if isinstance(x, Tensor) else type(x).__name__
        raise DTypeError(f"{where}: expected {name} to be a floating-point tensor, got {got}")
    if x.dim() != 3 or x.shape[2] != E or (N is not None and x.shape[0] != N):
        expected = f"(N, T, {E})" if N is None else f"({N}, T, {E})"
        raise ShapeError(f"{where}: expected {name} of shape {expected}, got {tuple(x.shape)}")
    if x.dtype != dtype:
        raise DTypeError(f"{where}: expected {name} of dtype {dtype} (the parameters'), got {x.dtype}")


def _keys_kept(where, N, Tk, key_padding_mask, lengths, device) -> Tensor | None:
    """The keys each sequence may read (N, Tk), True = kept, from torch's padding mask or lengths."""
    if key_padding_mask is not None and lengths is not None:
        raise ShapeError(f"{where}: expected key_padding_mask or lengths, not both")
    if key_padding_mask is not None:
        if not isinstance(key_padding_mask, Tensor) or key_padding_mask.dtype != torch.bool:
            raise DTypeError(f"{where}: expected key_padding_mask to be a bool tensor (True = padding)")
        if tuple(key_padding_mask.shape) != (N, Tk):
            raise ShapeError(
                f"{where}: expected key_padding_mask of shape (N, Tk) = ({N}, {Tk}), "
                f"got {tuple(key_padding_mask.shape)}"
            )
        return ~key_padding_mask.to(device)
    if lengths is not None:
        lengths = torch.as_tensor(lengths, device=device)
        if lengths.shape != (N,) or lengths.is_floating_point():
            raise ShapeError(f"{where}: expected integer lengths of shape (N,) = ({N},), got {lengths!r}")
        return torch.arange(Tk, device=device) < lengths.unsqueeze(1)  # (N, Tk)
    return None


def _allowed(where, N, Tq, Tk, key_padding_mask, attn_mask, is_causal, lengths, device):
    """The bool mask (N, 1, Tq, Tk) of allowed pairs (True = attend) and an additive float mask, or Nones."""
    allowed, additive = None, None

    def both(extra: Tensor) -> Tensor:
        return extra if allowed is None else allowed & extra

    keep = _keys_kept(where, N, Tk, key_padding_mask, lengths, device)
    if keep is not None:
        allowed = keep.view(N, 1, 1, Tk)
    if attn_mask is not None:
        if not isinstance(attn_mask, Tensor) or tuple(attn_mask.shape) != (Tq, Tk):
            shape = tuple(attn_mask.shape) if isinstance(attn_mask, Tensor) else type(attn_mask).__name__
            raise ShapeError(f"{where}: expected attn_mask of shape (Tq, Tk) = ({Tq}, {Tk}), got {shape}")
        if attn_mask.dtype == torch.bool:  # torch's convention: True = may not attend
            allowed = both(~attn_mask.to(device))
        else:
            additive = attn_mask.to(device)
            allowed = both(additive > -math.inf)
    if is_causal:
        if Tq != Tk:
            raise ShapeError(f"{where}: is_causal needs as many queries as keys, got {Tq} and {Tk}")
        if allowed is None and additive is None:  # every row keeps its diagonal: a plain softmax is safe
            zeros = torch.zeros(Tq, Tk, device=device)
            return None, zeros.masked_fill(~causal_mask(Tq, device=device), -math.inf)  # (Tq, Tk)
        allowed = both(causal_mask(Tq, device=device))
    return allowed, additive


class MultiheadAttention(nn.Module):
    """Multi-head scaled dot-product attention, drop-in for ``torch.nn.MultiheadAttention``.

    Parameters
    ----------
    embed_dim : int
        E, the size of queries, keys, values and output.
    num_heads : int
        h; E must be divisible by h.
    dropout : float, default 0.0
        Dropout on the attention weights, in training.
    bias : bool, default True
        Biases of the input and output projections.
    batch_first : bool, default True
        Only batch-first (N, T, E) is supported (True); torch's default is False.
    device, dtype : optional

    Attributes
    ----------
    in_proj_weight : torch.nn.Parameter of shape (3E, E)
        :math:`[W_q; W_k; W_v]`, the heads' projections side by side (head i owns rows i·d … (i+1)·d − 1
        of each block), Xavier-uniform as in torch.
    in_proj_bias : torch.nn.Parameter of shape (3E,) or None
    out_proj : torch.nn.Linear
        :math:`W_o` (E, E).

    Notes
    -----
    The equations are those of the module docstring. The attention weights are normalised by
    :func:`~companion.nn.attention.masked_softmax`: masked keys get exactly zero weight, and a query
    with no key to read gets zero weights and a zero context (torch gives NaN). Work per sequence:
    O(T·E²) for the projections, O(T²·E) for the scores and the weighted sums.

    See Also
    --------
    torch.nn.MultiheadAttention : the same computation; ``state_dict`` keys are equal.

    Examples
    --------
    >>> attention = MultiheadAttention(8, 2)
    >>> y, w = attention(*[torch.randn(3, 5, 8)] * 3, is_causal=True)
    >>> y.shape, w.shape, w[0, 0, 1:].abs().max().item()
    (torch.Size([3, 5, 8]), torch.Size([3, 5, 5]), 0.0)
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        batch_first: bool = True,
        *,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        where = "MultiheadAttention"
        self.embed_dim = check_layer_size(where, "embed_dim", embed_dim)
        self.num_heads = check_layer_size(where, "num_heads", num_heads)
        if embed_dim % num_heads:
            raise ShapeError(
                f"{where}: expected embed_dim divisible by num_heads, got {embed_dim} and {num_heads}"
            )
        if not check_flag(where, "batch_first", batch_first):
            raise ShapeError(f"{where}: only batch_first=True (inputs (N, T, E)) is supported")
        self.batch_first, self.dropout, self.head_dim = True, float(dropout), embed_dim // num_heads
        factory = {"device": device, "dtype": dtype}
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim, **factory))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * embed_dim, **factory)) if bias else None
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """As torch: Xavier-uniform ``in_proj_weight``, zero biases, ``out_proj.weight`` as ``nn.Linear``."""
        nn.init.xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            nn.init.zeros_(self.in_proj_bias)
            nn.init.zeros_(self.out_proj.bias)

    def project(self, x: Tensor, which: int) -> Tensor:
        """Queries (0), keys (1) or values (2) of ``x`` (N, T, E), split into heads: (N, h, T, d)."""
        E = self.embed_dim
        bias = None if self.in_proj_bias is None else self.in_proj_bias[which * E : (which + 1) * E]
        y = F.linear(x, self.in_proj_weight[which * E : (which + 1) * E], bias)  # (N, T, E)
        return y.view(x.shape[0], x.shape[1], self.num_heads, self.head_dim).transpose(1, 2)  # (N, h, T, d)

    def attend(self, q: Tensor, k: Tensor, v: Tensor, allowed=None, additive=None, *, fused=None):
        """Heads (N, h, Tq, d), (N, h, Tk, d), (N, h, Tk, d) -> output (N, Tq, E), weights (N, h, Tq, Tk).

        ``fused`` ("plain" or "causal"): no weights are needed and no row can be fully masked, so
        ``torch.nn.functional.scaled_dot_product_attention`` computes the same output without storing
        the (Tq, Tk) weights (as ``torch.nn`` does); the weights returned are then None.
        """
        if fused is not None:
            p = self.dropout if self.training else 0.0
            heads = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=fused == "causal")
            weights = None
        else:
            scores = q @ k.transpose(-2, -1) * (1.0 / math.sqrt(self.head_dim))  # (N, h, Tq, Tk)
            if additive is not None:
                scores = scores + additive.to(scores.dtype)
            weights = scores.softmax(-1) if allowed is None else masked_softmax(scores, allowed)
            dropped = F.dropout(weights, self.dropout, self.training) if self.dropout > 0 else weights
            heads = dropped @ v  # (N, h, Tq, d)
        heads = heads.transpose(1, 2).reshape(q.shape[0], q.shape[2], self.embed_dim)  # (N, Tq, E)
        return self.out_proj(heads), weights

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
        *,
        lengths=None,
    ):
        """Attend from every query over the keys, in every head.

        Parameters
        ----------
        query : Tensor of shape (N, Tq, E)
        key, value : Tensor of shape (N, Tk, E)
        key_padding_mask : Tensor of bool of shape (N, Tk), optional
            torch's convention: True marks a padded key, which no query reads.
        need_weights : bool, default True
            Return the attention weights.
        attn_mask : Tensor of shape (Tq, Tk), optional
            bool (True = may **not** attend, as torch) or float (added to the scores).
        average_attn_weights : bool, default True
            Average the returned weights over the heads.
        is_causal : bool, default False
            Forbid key s > query t (needs Tq = Tk); combined with the other masks.
        lengths : sequence of int or Tensor of int of shape (N,), optional
            Instead of ``key_padding_mask``: sequence n has ``lengths[n]`` valid keys.

        Returns
        -------
        output : Tensor of shape (N, Tq, E)
        weights : Tensor of shape (N, Tq, Tk), (N, h, Tq, Tk) unaveraged, or None
            Before dropout; zero at masked keys.

        Raises
        ------
        ShapeError
            If a shape does not fit (the message names the expected and the actual shape).
        DTypeError
            If an input is not a floating-point tensor of the parameters' dtype, or a mask has the wrong type.
        """
        where, E, dtype = "MultiheadAttention", self.embed_dim, self.in_proj_weight.dtype
        _check_input(where, "query", query, E, dtype)
        _check_input(where, "key", key, E, dtype, query.shape[0])
        _check_input(where, "value", value, E, dtype, query.shape[0])
        if value.shape[1] != key.shape[1]:
            raise ShapeError(
                f"{where}: expected value with as many steps as key ({key.shape[1]}), got {value.shape[1]}"
            )
        N, Tq, Tk = query.shape[0], query.shape[1], key.shape[1]
        allowed, additive = _allowed(
            where, N, Tq, Tk, key_padding_mask, attn_mask, is_causal, lengths, query.device
        )
        if allowed is not None and (key_padding_mask is not None or lengths is not None):
            keep = _keys_kept(where, N, Tk, key_padding_mask, lengths, query.device)  # (N, Tk)
            keep = keep.unsqueeze(2)  # (N, Tk, 1)
            key, value = key.masked_fill(~keep, 0.0), value.masked_fill(~keep, 0.0)  # padding is never read
        q, k, v = self.project(query, 0), self.project(key, 1), self.project(value, 2)  # each (N, h, T, d)
        unmasked = key_padding_mask is None and attn_mask is None and lengths is None
        fused = ("causal" if is_causal else "plain") if unmasked and not need_weights else None
        output, weights = self.attend(q, k, v, allowed, additive, fused=fused)
        if not need_weights:
            return output, None
        return output, weights.mean(1) if average_attn_weights else weights


class TransformerEncoderLayer(nn.Module):
    """Self-attention and a feed-forward network, each with a residual connection and a layer norm.

    Drop-in for ``torch.nn.TransformerEncoderLayer`` (same arguments, parameter names and outputs;
    batch first only).

    Parameters
    ----------
    d_model : int
        E.
    nhead : int
        h, the number of heads.
    dim_feedforward : int, default 2048
        F, the width of the feed-forward network.
    dropout : float, default 0.1
    activation : {"relu", "gelu"} or callable, default "relu"
    layer_norm_eps : float, default 1e-5
    batch_first : bool, default True
    norm_first : bool, default False
        Pre-norm (True) or post-norm (False, the original Transformer's).
    bias : bool, default True
    device, dtype : optional

    Notes
    -----
    With :math:`A` the self-attention and :math:`\\Phi(x) = W_2\\, \\mathrm{act}(W_1 x + b_1) + b_2`,

    .. math::

        \\text{post-norm:}\\; x \\leftarrow \\mathrm{LN}_1(x + A(x)),\\;
        x \\leftarrow \\mathrm{LN}_2(x + \\Phi(x));
        \\qquad
        \\text{pre-norm:}\\; x \\leftarrow x + A(\\mathrm{LN}_1 x),\\;
        x \\leftarrow x + \\Phi(\\mathrm{LN}_2 x).

    The feed-forward network acts on each position alone; only attention mixes positions. Pre-norm
    keeps an unnormalised residual path from input to output and trains more stably when layers are
    stacked deep (Xiong et al., 2020).

    See Also
    --------
    torch.nn.TransformerEncoderLayer : the same computation; ``state_dict`` keys are equal.
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation="relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = True,
        norm_first: bool = False,
        bias: bool = True,
        *,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        where, factory = type(self).__name__, {"device": device, "dtype": dtype}
        if isinstance(activation, str):
            if activation not in ("relu", "gelu"):
                raise ValueError(
                    f"{where}: expected activation 'relu', 'gelu' or a callable, got {activation!r}"
                )
            activation = F.relu if activation == "relu" else F.gelu
        self.self_attn = MultiheadAttention(d_model, nhead, dropout, bias, batch_first, **factory)
        self.linear1 = nn.Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = check_flag(where, "norm_first", norm_first)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout)
        self.activation = activation

    def _sa(self, x: Tensor, attn_mask, key_padding_mask, is_causal, lengths) -> Tensor:
        y, _ = self.self_attn(
            x, x, x, key_padding_mask, False, attn_mask, is_causal=is_causal, lengths=lengths
        )
        return self.dropout1(y)

    def _ff(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def _residual(self, x: Tensor, mix) -> Tensor:
        """Both sublayers, ``mix`` mixing positions: pre-norm or post-norm."""
        if self.norm_first:
            x = x + mix(self.norm1(x))
            return x + self._ff(self.norm2(x))
        x = self.norm1(x + mix(x))
        return self.norm2(x + self._ff(x))

    def forward(
        self,
        src: Tensor,
        src_mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        is_causal: bool = False,
        *,
        lengths=None,
    ) -> Tensor:
        """The layer on ``src`` (N, T, E); masks as :meth:`MultiheadAttention.forward` (``src_mask`` is its
        ``attn_mask``, ``src_key_padding_mask`` its ``key_padding_mask``). Returns (N, T, E); outputs at
        padded positions are computed (as torch does) but never read by the others."""
        return self._residual(src, lambda x: self._sa(x, src_mask, src_key_padding_mask, is_causal, lengths))


class KVCache(NamedTuple):
    """The keys and values of the positions generated so far, per head.

    Attributes
    ----------
    keys, values : Tensor of shape (N, h, t, d)
    """

    keys: Tensor
    values: Tensor


class DecoderBlock(TransformerEncoderLayer):
    """The block of a decoder-only Transformer: a :class:`TransformerEncoderLayer` that is causal.

    Same arguments and parameters as :class:`TransformerEncoderLayer` (pre-norm by default here,
    ``norm_first=True``, as in GPT-2). ``forward(x)`` attends causally; :meth:`step` computes one new
    position from a :class:`KVCache` of the earlier ones, as in generation.

    Examples
    --------
    >>> block = DecoderBlock(8, 2, 16, dropout=0.0).eval()
    >>> x = torch.randn(1, 4, 8)
    >>> cache, steps = None, []
    >>> for t in range(4):
    ...     y, cache = block.step(x[:, t], cache)
    ...     steps.append(y)
    >>> torch.allclose(torch.stack(steps, 1), block(x), atol=1e-6), cache.keys.shape
    (True, torch.Size([1, 2, 4, 4]))
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1, **kwargs):
        kwargs.setdefault("norm_first", True)
        super().__init__(d_model, nhead, dim_feedforward, dropout, **kwargs)

    def forward(self, src: Tensor, src_key_padding_mask: Tensor | None = None, *, lengths=None) -> Tensor:
        """Causal self-attention over ``src`` (N, T, E): position t reads positions 0, …, t only."""
        return super().forward(src, None, src_key_padding_mask, True, lengths=lengths)

    def step(self, x: Tensor, cache: KVCache | None = None):
        """One new position.

        Parameters
        ----------
        x : Tensor of shape (N, E)
            The input at the new position t.
        cache : KVCache, optional
            Keys and values (N, h, t, d) of positions 0, …, t − 1; None at t = 0.

        Returns
        -------
        y : Tensor of shape (N, E)
            Equal to ``forward`` at position t of the whole sequence (dropout aside).
        cache : KVCache
            With the keys and values of position t appended: (N, h, t + 1, d). Its size grows by
            2E numbers per sequence and position; an RNN's state does not grow.
        """
        attn = self.self_attn
        _check_input("DecoderBlock.step", "x", x.unsqueeze(1) if isinstance(x, Tensor) else x,
                     attn.embed_dim, attn.in_proj_weight.dtype)  # fmt: skip

        def mix(h: Tensor) -> Tensor:
            nonlocal cache
            q, k, v = attn.project(h, 0), attn.project(h, 1), attn.project(h, 2)  # each (N, h, 1, d)
            if cache is not None:
                k, v = torch.cat([cache.keys, k], 2), torch.cat([cache.values, v], 2)  # (N, h, t + 1, d)
            cache = KVCache(k, v)
            return self.dropout1(attn.attend(q, k, v, fused="plain")[0])

        y = self._residual(x.unsqueeze(1), mix)  # (N, 1, E)
        return y.squeeze(1), cache
