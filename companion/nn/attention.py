"""Attention in torch: masked softmax, additive and dot-product attention modules (chapter 8).

Each query :math:`q_i` of a sequence reads a weighted average of that sequence's values
:math:`v_j`, weighted by a score of the query against each key :math:`k_j`:

.. math::

    p_{ij} = \\frac{m_j \\exp s(q_i, k_j)}{\\sum_l m_l \\exp s(q_i, k_l)}, \\qquad
    c_i = \\sum_j p_{ij} v_j,

with the key mask :math:`m_j \\in \\{0, 1\\}`. :class:`AdditiveAttention` scores with a small network
(Bahdanau et al., 2015), :class:`DotProductAttention` with a (scaled, optionally bilinear) dot product
(Luong et al., 2015). Shapes are batch first: queries (N, Tq, Dq), keys (N, Tk, Dk), values
(N, Tk, Dv); a boolean ``mask`` (N, Tk) is True for the keys a sequence may attend to (the convention
of :func:`companion.nn.utils.lengths_to_mask`; ``torch.nn.MultiheadAttention``'s ``key_padding_mask``
is the opposite), or ``lengths`` (N,) gives how many leading keys are valid.

Masked keys get exactly zero weight; their keys and values are never read (NaN there is harmless)
and receive zero gradient. A row whose keys are all masked (length 0) gets all-zero weights and a
zero context, with finite (zero) gradients, where a plain softmax over ``-inf`` gives NaN. The numpy
version with the backward pass written out is :mod:`companion.ref.attention`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from companion._validate import check_lengths
from companion.nn._common import check_flag, check_layer_size
from companion.nn.errors import DTypeError, ShapeError

__all__ = ["masked_softmax", "AdditiveAttention", "DotProductAttention"]


def _valid(
    where: str, mask, lengths, N: int, T: int, device, *, name: str = "mask", padding: bool = False
) -> Tensor | None:
    """The keys each sequence may read, True = attend, from ``mask`` or ``lengths``; None for neither.

    ``mask`` is a bool tensor, True = attend (or, with ``padding``, True = padded: torch's
    ``key_padding_mask``, inverted here); ``lengths`` (N,) counts each sequence's valid keys, each in
    ``[0, T]`` (0: a query with nothing to read). From ``lengths`` the result has shape (N, T).
    """
    if mask is not None and lengths is not None:
        raise ValueError(f"{where}: expected {name} or lengths, not both")
    if mask is not None:
        if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
            got = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
            meaning = "True = padding" if padding else "True = attend"
            raise DTypeError(f"{where}: expected {name} to be a bool tensor ({meaning}), got {got}")
        return ~mask if padding else mask
    if lengths is None:
        return None
    lengths = check_lengths(where, lengths, N, T, low=0, shape_error=ShapeError, type_error=DTypeError)
    return torch.arange(T, device=device) < torch.from_numpy(lengths).to(device).unsqueeze(1)  # (N, T)


def _keys_kept(where: str, valid: Tensor | None, keys: Tensor, values: Tensor, *, name: str = "mask"):
    """Keys and values (N, Tk, ·) zeroed where ``valid`` (N, Tk) is False, so padding is never read.

    Returns ``(keys, values, valid)``; ``valid`` must have exactly the shape (N, Tk).
    """
    if valid is None:
        return keys, values, None
    N, Tk = keys.shape[0], keys.shape[1]
    if tuple(valid.shape) != (N, Tk):
        raise ShapeError(f"{where}: expected {name} of shape (N, Tk) = ({N}, {Tk}), got {tuple(valid.shape)}")
    keep = valid.to(keys.device).unsqueeze(2)  # (N, Tk, 1)
    return keys.masked_fill(~keep, 0.0), values.masked_fill(~keep, 0.0), keep.squeeze(2)


def masked_softmax(scores: Tensor, mask: Tensor | None = None, lengths=None, dim: int = -1) -> Tensor:
    """Softmax along ``dim`` in which masked entries get exactly zero weight.

    Parameters
    ----------
    scores : Tensor of shape (N, ..., T, ...)
        Floating-point scores; values at masked entries are never read (NaN or inf there is harmless).
    mask : Tensor of bool broadcastable to ``scores.shape``, optional
        True where an entry takes part.
    lengths : sequence of int or Tensor of int of shape (N,), optional
        Instead of ``mask``: along ``dim``, row n keeps its first ``lengths[n]`` entries, each in
        ``[0, T]``. N is ``scores.shape[0]``, so ``dim`` may not be 0.
    dim : int, default -1
        The axis T to normalise over.

    Returns
    -------
    Tensor of the shape of ``scores``
        :math:`p_j = m_j e^{s_j} / \\sum_l m_l e^{s_l}`: each row sums to 1 over its unmasked entries,
        masked entries are exactly 0, and a row with no unmasked entry is all zeros (its gradient
        is zero, never NaN).

    Raises
    ------
    ShapeError
        (a ``ValueError``) If ``mask`` does not broadcast to ``scores`` or ``lengths`` does not fit
        (its shape, or a length outside ``[0, T]``).
    ValueError
        If ``dim`` is out of range, or 0 with ``lengths``, or both ``mask`` and ``lengths`` are given.
    DTypeError
        (a ``TypeError``) If ``scores`` is not floating-point, ``mask`` not bool, ``lengths`` not
        integer or ``dim`` not an int.

    Notes
    -----
    Masked scores are replaced by :math:`-\\infty` (``exp`` gives exactly 0) and the scores of a fully
    masked row by 0 before ``torch.softmax``; the result is then zeroed where masked. Both
    replacements cut the gradient path to the scores they replace.

    See Also
    --------
    companion.ref.attention.masked_softmax : the numpy version (last axis).
    torch.nn.functional.scaled_dot_product_attention : torch's fused form (boolean masks, True = attend).

    Examples
    --------
    >>> masked_softmax(torch.tensor([[0.0, 0.0, 5.0], [1.0, 2.0, 3.0]]), lengths=[2, 0])
    tensor([[0.5000, 0.5000, 0.0000],
            [0.0000, 0.0000, 0.0000]])
    """
    where = "masked_softmax"
    if not isinstance(scores, Tensor) or not scores.is_floating_point():
        got = scores.dtype if isinstance(scores, Tensor) else type(scores).__name__
        raise DTypeError(f"{where}: expected scores to be a floating-point tensor, got {got}")
    if scores.dim() == 0:
        raise ShapeError(f"{where}: expected scores with at least one dimension, got shape ()")
    ndim = scores.dim()
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise DTypeError(f"{where}: expected dim to be an int, got {type(dim).__name__}")
    if not -ndim <= dim < ndim:
        raise ValueError(
            f"{where}: expected dim in [-{ndim}, {ndim - 1}] for scores {tuple(scores.shape)}, got {dim}"
        )
    dim %= ndim
    if lengths is not None and dim == 0:
        raise ValueError(f"{where}: lengths count the rows along dim 0, so expected dim > 0, got dim={dim}")
    N, T = scores.shape[0], scores.shape[dim]
    valid = _valid(where, mask, lengths, N, T, scores.device)
    if valid is None:
        return torch.softmax(scores, dim)
    if lengths is not None:
        valid = valid.view([N if d == 0 else T if d == dim else 1 for d in range(scores.dim())])
    try:
        valid = valid.expand(scores.shape)
    except RuntimeError:
        raise ShapeError(
            f"{where}: expected mask broadcastable to scores of shape {tuple(scores.shape)}, "
            f"got {tuple(valid.shape)}"
        ) from None
    s = scores.masked_fill(~valid, -math.inf)  # exp(-inf) = 0 exactly
    s = s.masked_fill(~valid.any(dim, keepdim=True), 0.0)  # a fully masked row: finite, zeroed below
    return torch.softmax(s, dim).masked_fill(~valid, 0.0)


def _check(where: str, name: str, value, letters: tuple[str, ...], sizes: dict[str, int]) -> None:
    """A floating-point tensor whose shape matches ``letters``; binds the unknown sizes in ``sizes``."""
    if not isinstance(value, Tensor) or not value.is_floating_point():
        got = value.dtype if isinstance(value, Tensor) else type(value).__name__
        raise DTypeError(f"{where}: expected {name} to be a floating-point tensor, got {got}")
    shape = tuple(value.shape)
    if len(shape) != len(letters) or any(sizes.get(a, n) != n for a, n in zip(letters, shape, strict=False)):
        expected = "(" + ", ".join(letters) + ")"
        known = "(" + ", ".join(str(sizes.get(a, a)) for a in letters) + ")"
        known = f" = {known}" if known != expected else ""
        raise ShapeError(f"{where}: expected {name} of shape {expected}{known}, got {shape}")
    sizes.update(zip(letters, shape, strict=True))


class _Attention(nn.Module):
    """Input checks, masking and the weighted average shared by the attention modules."""

    _dq, _dk = "Dq", "Dk"  # the letters of the query and key sizes (the same letter binds them equal)

    def _scores(self, queries: Tensor, keys: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _sizes(self) -> dict[str, int]:
        return {}

    def forward(
        self, queries: Tensor, keys: Tensor, values: Tensor | None = None, *, mask=None, lengths=None
    ):
        """Attend from every query over the keys of its sequence.

        Parameters
        ----------
        queries : Tensor of shape (N, Tq, Dq) or (N, Dq)
            Queries (e.g. decoder states); 2-D for one query per sequence.
        keys : Tensor of shape (N, Tk, Dk)
            Keys (e.g. encoder outputs).
        values : Tensor of shape (N, Tk, Dv), optional
            Values; the keys by default.
        mask : Tensor of bool of shape (N, Tk), optional
            True for the keys each sequence may attend to.
        lengths : sequence of int or Tensor of int of shape (N,), optional
            Instead of ``mask``: sequence n attends to its first ``lengths[n]`` keys, each in ``[0, Tk]``.

        Returns
        -------
        context : Tensor of shape (N, Tq, Dv), or (N, Dv) for 2-D queries
            :math:`c_i = \\sum_j p_{ij} v_j`; zero for a query whose keys are all masked.
        weights : Tensor of shape (N, Tq, Tk), or (N, Tk) for 2-D queries
            :math:`p_{ij}`: each row sums to 1 over the unmasked keys and is exactly 0 on masked ones.

        Raises
        ------
        ShapeError
            (a ``ValueError``) If a shape does not fit (the message names the expected and the actual
            shape) or a length is outside ``[0, Tk]``.
        ValueError
            If both ``mask`` and ``lengths`` are given.
        DTypeError
            (a ``TypeError``) If an input is not a floating-point tensor of the parameters' dtype,
            ``mask`` is not bool or ``lengths`` not integer.
        """
        where, sizes = type(self).__name__, self._sizes()
        single = isinstance(queries, Tensor) and queries.dim() == 2
        if isinstance(queries, Tensor) and queries.dim() not in (2, 3):
            raise ShapeError(
                f"{where}: expected queries of shape (N, Tq, Dq) or (N, Dq), got {tuple(queries.shape)}"
            )
        _check(where, "queries", queries, ("N", self._dq) if single else ("N", "Tq", self._dq), sizes)
        _check(where, "keys", keys, ("N", "Tk", self._dk), sizes)
        values = keys if values is None else values
        _check(where, "values", values, ("N", "Tk", "Dv"), sizes)
        dtype, owner = next(
            ((p.dtype, "the parameters'") for p in self.parameters()), (queries.dtype, "the queries'")
        )
        for name, tensor in (("queries", queries), ("keys", keys), ("values", values)):
            if tensor.dtype != dtype:
                raise DTypeError(f"{where}: expected {name} of dtype {dtype} ({owner}), got {tensor.dtype}")
        valid = _valid(where, mask, lengths, sizes["N"], sizes["Tk"], keys.device)
        keys, values, valid = _keys_kept(where, valid, keys, values)
        if valid is not None:
            valid = valid.unsqueeze(1)  # (N, 1, Tk), broadcast over the queries
        q = queries.unsqueeze(1) if single else queries  # (N, Tq, Dq)
        weights = masked_softmax(self._scores(q, keys), valid)  # (N, Tq, Tk)
        context = torch.bmm(weights, values)  # (N, Tq, Dv)
        return (context.squeeze(1), weights.squeeze(1)) if single else (context, weights)


class AdditiveAttention(_Attention):
    """Additive attention (Bahdanau et al., 2015): a one-hidden-layer network scores each pair.

    Parameters
    ----------
    query_size : int
        Dq, the size of each query.
    key_size : int
        Dk, the size of each key.
    hidden_size : int
        H, the width of the scoring layer.
    device, dtype : optional
        Where and in which dtype to create the parameters.

    Attributes
    ----------
    query_proj : torch.nn.Linear
        :math:`W_q`, ``weight`` of shape (H, Dq), no bias.
    key_proj : torch.nn.Linear
        :math:`W_k`, ``weight`` of shape (H, Dk), no bias.
    score_proj : torch.nn.Linear
        :math:`v^\\top`, ``weight`` of shape (1, H), no bias.

    Notes
    -----
    .. math::

        s_{ij} = v^\\top \\tanh(W_q q_i + W_k k_j), \\qquad p_{ij} = \\operatorname{softmax}_j(s_{ij}),
        \\qquad c_i = \\sum_j p_{ij} v_j

    (Bahdanau et al.'s eq. 6, with :math:`q_i = s_{i-1}` the decoder state and :math:`k_j = h_j` the
    encoder outputs). Queries and keys may have different sizes. The work and memory are
    O(N · Tq · Tk · H). The numpy layout of :mod:`companion.ref.attention` is ``Wq = query_proj.weight.T``,
    ``Wk = key_proj.weight.T``, ``wa = score_proj.weight[0]``. Inputs, outputs and errors are those of
    :meth:`forward`.

    Examples
    --------
    >>> attention = AdditiveAttention(query_size=4, key_size=6, hidden_size=8)
    >>> context, weights = attention(torch.randn(2, 3, 4), torch.randn(2, 5, 6), lengths=[5, 2])
    >>> context.shape, weights.shape, weights[1, :, 2:].abs().max().item()
    (torch.Size([2, 3, 6]), torch.Size([2, 3, 5]), 0.0)
    """

    def __init__(self, query_size: int, key_size: int, hidden_size: int, *, device=None, dtype=None) -> None:
        super().__init__()
        where = "AdditiveAttention"
        self.query_size = check_layer_size(where, "query_size", query_size)
        self.key_size = check_layer_size(where, "key_size", key_size)
        self.hidden_size = check_layer_size(where, "hidden_size", hidden_size)
        factory = {"bias": False, "device": device, "dtype": dtype}
        self.query_proj = nn.Linear(query_size, hidden_size, **factory)
        self.key_proj = nn.Linear(key_size, hidden_size, **factory)
        self.score_proj = nn.Linear(hidden_size, 1, **factory)

    forward = _Attention.forward  # listed here so that the API reference documents it with the class

    def reset_parameters(self) -> None:
        """Re-draw the three weights as ``torch.nn.Linear`` does (U(-1/√fan_in, 1/√fan_in))."""
        for layer in (self.query_proj, self.key_proj, self.score_proj):
            layer.reset_parameters()

    def _sizes(self) -> dict[str, int]:
        return {"Dq": self.query_size, "Dk": self.key_size}

    def _scores(self, queries: Tensor, keys: Tensor) -> Tensor:
        features = torch.tanh(  # (N, Tq, Tk, H)
            self.query_proj(queries).unsqueeze(2) + self.key_proj(keys).unsqueeze(1)
        )
        return self.score_proj(features).squeeze(3)  # (N, Tq, Tk)


class DotProductAttention(_Attention):
    """Dot-product attention (Luong et al., 2015), scaled by default, bilinear when sizes are given.

    Parameters
    ----------
    query_size : int, optional
        Dq. Giving it selects Luong's *general* score :math:`q_i^\\top W k_j` with a learned ``weight``
        W; without it the score is the plain dot product and the module has no parameters (then
        queries and keys must have the same size).
    key_size : int, optional
        Dk for the general score; ``query_size`` by default.
    scale : bool, default True
        Divide the scores by :math:`\\sqrt{D_k}` (Vaswani et al., 2017).
    device, dtype : optional
        Where and in which dtype to create ``weight``.

    Attributes
    ----------
    weight : torch.nn.Parameter of shape (Dq, Dk) or None
        W of the general score, drawn from U(-1/√Dq, 1/√Dq) like ``torch.nn.Bilinear``.
    general : bool
        Whether the score is bilinear.

    Raises
    ------
    ValueError
        If ``key_size`` is given without ``query_size``, or a size is not positive.
    DTypeError
        If a size is not an int or ``scale`` not a bool.

    Notes
    -----
    .. math::

        s_{ij} = c\\, q_i^\\top k_j \\quad \\text{or} \\quad s_{ij} = c\\, q_i^\\top W k_j, \\qquad
        c = 1/\\sqrt{D_k} \\text{ (or 1)}, \\qquad c_i = \\sum_j \\operatorname{softmax}_j(s_{ij})\\, v_j.

    The scaling keeps the scores of order 1 when the entries of queries and keys are, so the softmax
    does not saturate as the size grows. The general score is the plain one applied to ``queries @ W``.
    Inputs, outputs and errors are those of :meth:`forward`.

    See Also
    --------
    torch.nn.functional.scaled_dot_product_attention : torch's fused scaled form.
    companion.ref.attention.dot_product_attention_forward : the numpy version with its backward.

    Examples
    --------
    >>> attention = DotProductAttention()
    >>> q, k = torch.ones(1, 1, 4), torch.eye(4)[None]  # (1, 1, 4) and (1, 4, 4)
    >>> attention(q, k, lengths=[2])[1]
    tensor([[[0.5000, 0.5000, 0.0000, 0.0000]]])
    """

    def __init__(
        self,
        query_size: int | None = None,
        key_size: int | None = None,
        *,
        scale: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        where = "DotProductAttention"
        self.scale = check_flag(where, "scale", scale)
        if query_size is None and key_size is not None:
            raise ValueError(f"{where}: key_size={key_size} needs query_size (the general score q W k)")
        self.general = query_size is not None
        self.query_size = None if query_size is None else check_layer_size(where, "query_size", query_size)
        self.key_size = self.query_size if key_size is None else check_layer_size(where, "key_size", key_size)
        if self.general:
            self._dq, self._dk = "Dq", "Dk"
            self.weight = nn.Parameter(
                torch.empty(self.query_size, self.key_size, device=device, dtype=dtype)
            )
            self.reset_parameters()
        else:
            self._dq = self._dk = "D"
            self.register_parameter("weight", None)

    forward = _Attention.forward  # listed here so that the API reference documents it with the class

    def reset_parameters(self) -> None:
        """Draw ``weight`` from U(-1/√Dq, 1/√Dq) (nothing to do for the plain dot product)."""
        if self.weight is not None:
            bound = 1.0 / math.sqrt(self.query_size)
            nn.init.uniform_(self.weight, -bound, bound)

    def extra_repr(self) -> str:
        sizes = f"query_size={self.query_size}, key_size={self.key_size}, " if self.general else ""
        return f"{sizes}scale={self.scale}"

    def _sizes(self) -> dict[str, int]:
        return {"Dq": self.query_size, "Dk": self.key_size} if self.general else {}

    def _scores(self, queries: Tensor, keys: Tensor) -> Tensor:
        if self.weight is not None:
            queries = torch.matmul(queries, self.weight)  # (N, Tq, Dk)
        scores = torch.bmm(queries, keys.transpose(1, 2))  # (N, Tq, Tk)
        return scores * (1.0 / math.sqrt(keys.shape[2])) if self.scale else scores
