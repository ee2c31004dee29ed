"""The Transformer layer: positions, the encoder layer and the causal decoder block (chapter 13).

The layer is :class:`companion.nn.mha.MultiheadAttention` and a feed-forward network, each with a
residual connection and a layer norm:

- :func:`sinusoidal_encoding` and :class:`PositionalEncoding` add the positions that attention alone
  cannot see;
- :class:`TransformerEncoderLayer` has the parameters, arguments and outputs of
  ``torch.nn.TransformerEncoderLayer`` (post-norm by default, pre-norm with ``norm_first=True``), so a
  ``state_dict`` moves between them unchanged;
- :class:`DecoderBlock` is the same layer made causal, the block of a decoder-only model, with
  :meth:`DecoderBlock.step` that generates one position at a time from a growing :class:`KVCache`.

``MultiheadAttention`` and ``causal_mask`` are importable from here too. Shapes are batch first:
(N, T, E) with E = ``d_model``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from companion.nn._common import check_flag, check_layer_size
from companion.nn.errors import ShapeError
from companion.nn.mha import MultiheadAttention, _check_input, _head_size
from companion.nn.mha import causal_mask as causal_mask  # re-exported

__all__ = [
    "sinusoidal_encoding",
    "PositionalEncoding",
    "TransformerEncoderLayer",
    "DecoderBlock",
    "KVCache",
]


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
        if offset < 0:
            raise ValueError(f"PositionalEncoding: expected offset >= 0, got {offset}")
        if offset + x.shape[1] > self.max_len:
            raise ShapeError(
                f"PositionalEncoding: expected offset + T <= max_len = {self.max_len}, "
                f"got offset {offset} and T {x.shape[1]}"
            )
        return self.dropout(x + self.weight[offset : offset + x.shape[1]])


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
        _head_size(where, d_model, nhead, ("d_model", "nhead"))
        self.self_attn = MultiheadAttention(d_model, nhead, dropout, bias, batch_first, **factory)
        self.linear1 = nn.Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = check_flag(where, "norm_first", norm_first)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout)
        self.activation = activation

    def _check(self, where: str, name: str, x) -> None:
        """``x`` a floating-point tensor (N, T, E) of the parameters' dtype."""
        _check_input(where, name, x, self.self_attn.embed_dim, self.self_attn.in_proj_weight.dtype)

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
        """The layer on ``src`` (N, T, E); masks as :meth:`~companion.nn.mha.MultiheadAttention.forward`
        (``src_mask`` is its ``attn_mask``, ``src_key_padding_mask`` its ``key_padding_mask``). Returns
        (N, T, E); outputs at padded positions are computed (as torch does) but never read by the others."""
        self._check(type(self).__name__, "src", src)
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
        self._check("DecoderBlock.step", "x", x.unsqueeze(1) if isinstance(x, Tensor) else x)  # as (N, 1, E)

        def mix(h: Tensor) -> Tensor:
            nonlocal cache
            q, k, v = attn.project(h, 0), attn.project(h, 1), attn.project(h, 2)  # each (N, h, 1, d)
            if cache is not None:
                k, v = torch.cat([cache.keys, k], 2), torch.cat([cache.values, v], 2)  # (N, h, t + 1, d)
            cache = KVCache(k, v)
            return self.dropout1(attn.attend(q, k, v, fused="plain")[0])

        y = self._residual(x.unsqueeze(1), mix)  # (N, 1, E)
        return y.squeeze(1), cache
