"""Multi-head self-attention, the dot-product attention of chapter 8 in several heads (chapter 13).

Self-attention is the dot-product attention of :mod:`companion.nn.attention` with queries, keys and
values all computed from the same sequence, in ``h`` heads of size ``d = E / h`` each
(Vaswani et al., 2017):

.. math::

    Q^{(i)} = X W_q^{(i)}, \\quad K^{(i)} = X W_k^{(i)}, \\quad V^{(i)} = X W_v^{(i)}, \\qquad
    \\operatorname{head}_i = \\operatorname{softmax}\\Big(\\frac{Q^{(i)} K^{(i)\\top}}{\\sqrt d}
    + M\\Big) V^{(i)}, \\qquad Y = [\\operatorname{head}_1; \\dots; \\operatorname{head}_h] W_o,

with :math:`M` 0 where query t may read key s and :math:`-\\infty` elsewhere (a causal mask
forbids s > t, :func:`causal_mask`; a padding mask forbids padded keys). The weights are normalised
by :func:`companion.nn.attention.masked_softmax`, so a query whose keys are all masked gets zero
weights instead of ``torch``'s NaN. :class:`MultiheadAttention` has ``torch.nn.MultiheadAttention``'s
parameters (``in_proj_weight`` (3E, E), ``in_proj_bias``, ``out_proj``), arguments and outputs, so a
``state_dict`` moves between them unchanged; :mod:`companion.nn.transformer` builds the Transformer
layer on it.

Shapes are batch first: (N, T, E) with E = ``embed_dim``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from companion.nn._common import check_flag, check_layer_size
from companion.nn.attention import _keys_kept, _valid, masked_softmax
from companion.nn.errors import DTypeError, ShapeError

__all__ = ["causal_mask", "MultiheadAttention"]


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


def _check_input(where: str, name: str, x, E: int, dtype: torch.dtype, N: int | None = None) -> None:
    if not isinstance(x, Tensor) or not x.is_floating_point():
        got = x.dtype if isinstance(x, Tensor) else type(x).__name__
        raise DTypeError(f"{where}: expected {name} to be a floating-point tensor, got {got}")
    if x.dim() != 3 or x.shape[2] != E or (N is not None and x.shape[0] != N):
        expected = f"(N, T, {E})" if N is None else f"({N}, T, {E})"
        raise ShapeError(f"{where}: expected {name} of shape {expected}, got {tuple(x.shape)}")
    if x.dtype != dtype:
        raise DTypeError(f"{where}: expected {name} of dtype {dtype} (the parameters'), got {x.dtype}")


def _head_size(where: str, embed_dim, num_heads, names: tuple[str, str] = ("embed_dim", "num_heads")) -> int:
    """d = E / h, after checking that E and h are positive ints and that h divides E."""
    E, h = (
        check_layer_size(where, name, size) for name, size in zip(names, (embed_dim, num_heads), strict=True)
    )
    if E % h:
        raise ValueError(f"{where}: expected {names[0]} divisible by {names[1]}, got {E} and {h}")
    return E // h


def _allowed(where, keep, Tq, Tk, attn_mask, is_causal, device):
    """The bool mask (N, 1, Tq, Tk) of allowed pairs (True = attend) and an additive float mask, or Nones.

    ``keep`` (N, Tk) are the keys each sequence may read (None: all of them).
    """
    allowed, additive = None, None

    def both(extra: Tensor) -> Tensor:
        return extra if allowed is None else allowed & extra

    if keep is not None:
        allowed = keep.view(keep.shape[0], 1, 1, Tk)
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

    Raises
    ------
    ValueError
        If ``embed_dim`` is not divisible by ``num_heads``, or ``batch_first`` is False.

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
        self.head_dim = _head_size(where, embed_dim, num_heads)
        self.embed_dim, self.num_heads = embed_dim, num_heads
        if not check_flag(where, "batch_first", batch_first):
            raise ValueError(f"{where}: only batch_first=True (inputs (N, T, E)) is supported")
        self.batch_first, self.dropout = True, float(dropout)
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
            If a shape does not fit (the message names the expected and the actual shape), or a length
            is outside ``[0, Tk]``.
        ValueError
            If both ``key_padding_mask`` and ``lengths`` are given.
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
        name = "key_padding_mask"
        keep = _valid(where, key_padding_mask, lengths, N, Tk, query.device, name=name, padding=True)
        key, value, keep = _keys_kept(where, keep, key, value, name=name)  # keep: (N, Tk) or None
        allowed, additive = _allowed(where, keep, Tq, Tk, attn_mask, is_causal, query.device)
        q, k, v = self.project(query, 0), self.project(key, 1), self.project(value, 2)  # each (N, h, T, d)
        unmasked = key_padding_mask is None and attn_mask is None and lengths is None
        fused = ("causal" if is_causal else "plain") if unmasked and not need_weights else None
        output, weights = self.attend(q, k, v, allowed, additive, fused=fused)
        if not need_weights:
            return output, None
        return output, weights.mean(1) if average_attn_weights else weights
