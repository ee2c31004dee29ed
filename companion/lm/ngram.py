"""Count-based n-gram models: the baselines a recurrent language model must beat (chapters 9-10).

An order-n model predicts a token from the n - 1 tokens before it, by counting how often each token
followed that context in the training text. Order 0 is the uniform model (perplexity V), order 1
the unigram model (token frequencies), order 2 the bigram model, and so on. Counts alone give
probability 0 to anything unseen, so the counts are smoothed:

``"add_k"``
    :math:`p(w \\mid h) = (c(h, w) + k) / (c(h) + k V)` (Laplace's rule for k = 1); an unseen
    context gives the uniform distribution.
``"interpolated"`` (absolute discounting, interpolated; Ney, Essen & Kneser 1994)
    :math:`p(w \\mid h) = \\max(c(h, w) - D, 0) / c(h) + D \\, n(h) / c(h) \\; p(w \\mid h')`, with
    h' the context shortened by its oldest token, n(h) the number of distinct tokens seen after h,
    and the recursion ending at the uniform distribution; an unseen context gives
    :math:`p(w \\mid h')`. The discount D in (0, 1] moves probability from seen to unseen
    continuations, which sum to exactly 1. Every order counts the same way, with raw counts.
``"kneser_ney"`` (interpolated Kneser-Ney; Kneser & Ney 1995, Chen & Goodman 1999, sec. 3.5)
    The same recursion, with the raw counts of every order below the highest replaced by
    continuation counts:

    .. math::

        p(w \\mid h) = \\frac{\\max(c_\\mathrm{KN}(h w) - D, 0)}{\\sum_v c_\\mathrm{KN}(h v)}
        + \\frac{D \\, N_{1+}(h \\, \\bullet)}{\\sum_v c_\\mathrm{KN}(h v)} \\, p(w \\mid h'),
        \\qquad
        c_\\mathrm{KN}(h w) = \\begin{cases} c(h w) & \\text{at the highest order,} \\\\
        N_{1+}(\\bullet \\, h w) & \\text{at every lower order,} \\end{cases}

    where :math:`N_{1+}(\\bullet \\, h w)` is the number of distinct tokens seen before the
    (j+1)-gram h w, :math:`\\sum_v c_\\mathrm{KN}(h v) = N_{1+}(\\bullet \\, h \\, \\bullet)` its
    total over w, and :math:`N_{1+}(h \\, \\bullet)` the number of distinct w with
    :math:`c_\\mathrm{KN}(h w) > 0`. A lower order is only consulted when the longer context has
    not seen w, so it should say how many contexts w completes, not how often it occurs: a token
    frequent after one context only ("Francisco" after "San") gets a small continuation count.
    At the bottom, order 1 is the continuation unigram
    :math:`N_{1+}(\\bullet \\, w) / N_{1+}(\\bullet \\, \\bullet)`, discounted and interpolated with
    the uniform distribution 1/V, as in Chen & Goodman's recursion (which ends at order 0): every
    token of the vocabulary keeps a probability above 0, also one never seen in training (an
    ``<unk>``, a character of the held-out text only), where the continuation unigram alone gives
    0 and held-out cross-entropy would be infinite. A context never seen (sum 0) gives
    :math:`p(w \\mid h')` entirely. ``discount=None`` estimates D per order and per kind of count
    as :math:`Y = n_1 / (n_1 + 2 n_2)` (Ney, Essen & Kneser 1994; Chen & Goodman's eq. 26), where
    :math:`n_k` is the number of (j+1)-grams with :math:`c_\\mathrm{KN} = k`.
``"modified_kneser_ney"`` (Chen & Goodman 1999, sec. 3.5)
    Three discounts per order, :math:`D(c) = D_1, D_2, D_{3+}` for c = 1, 2, >= 3:

    .. math::

        p(w \\mid h) = \\frac{c_\\mathrm{KN}(h w) - D(c_\\mathrm{KN}(h w))}{\\sum_v c_\\mathrm{KN}(h v)}
        + \\frac{D_1 N_1(h \\, \\bullet) + D_2 N_2(h \\, \\bullet) + D_{3+} N_{3+}(h \\, \\bullet)}
        {\\sum_v c_\\mathrm{KN}(h v)} \\, p(w \\mid h'),

    with :math:`N_k(h \\, \\bullet)` the number of w with :math:`c_\\mathrm{KN}(h w) = k` (at least
    3 for :math:`N_{3+}`). By default the discounts of each order are estimated from the
    count-of-counts :math:`n_1 .. n_4` of its :math:`c_\\mathrm{KN}`: :math:`Y = n_1/(n_1 + 2 n_2)`,
    :math:`D_1 = 1 - 2 Y n_2/n_1`, :math:`D_2 = 2 - 3 Y n_3/n_2`, :math:`D_{3+} = 3 - 4 Y n_4/n_3`.

Where an estimate is undefined (:math:`n_1 = 0`, or :math:`n_k = 0` for :math:`D_k`) or falls
outside (0, k], the discount :math:`D_k` is k/2 (the fallback of KenLM's ``lmplz``). A context
shorter than n - 1 tokens (the first tokens of a text) is scored by the Kneser-Ney model of its own
length plus one, whose highest order uses raw counts. :meth:`~companion.lm.ngram.NGramLM.select`
chooses the order and the discount on validation text.

References: R. Kneser and H. Ney, "Improved backing-off for m-gram language modeling", ICASSP 1995;
S. F. Chen and J. Goodman, "An empirical study of smoothing techniques for language modeling",
Computer Speech and Language 13 (1999), 359-394; H. Ney, U. Essen and R. Kneser, "On structuring
probabilistic dependences in stochastic language modelling", Computer Speech and Language 8 (1994), 1-38.

Everything is numpy; contexts are stored as integers in base V, so orders are limited to
:math:`V^n < 2^{62}`.
"""

from __future__ import annotations

import numbers
from functools import cached_property
from typing import NamedTuple

import numpy as np

__all__ = ["NGramLM", "NGramSelection"]

SMOOTHINGS = ("interpolated", "kneser_ney", "modified_kneser_ney", "add_k")
KNESER_NEY = ("kneser_ney", "modified_kneser_ney")


def _codes(ids: np.ndarray, j: int, V: int) -> np.ndarray:
    """Base-V code of every window ``ids[s : s + j]``, s = 0 .. L - j: shape (max(L - j + 1, 0),)."""
    n = max(len(ids) - j + 1, 0)
    code = np.zeros(n, dtype=np.int64)
    for i in range(j if n else 0):
        code = code * V + ids[i : i + n]
    return code


def _find(table: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of each value in the sorted ``table`` (clipped) and whether it is there."""
    if not len(table):
        return np.zeros(len(values), np.int64), np.zeros(len(values), bool)
    where = np.minimum(np.searchsorted(table, values), len(table) - 1)
    return where, table[where] == values


def _estimate(n: np.ndarray, modified: bool) -> np.ndarray:
    """Chen & Goodman's discounts (D1, D2, D3+) from the count-of-counts n = (n1, n2, n3, n4)."""
    n = n.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        Y = n[0] / (n[0] + 2 * n[1]) if n[0] else np.nan
        D = np.array([k - (k + 1) * Y * n[k] / n[k - 1] for k in (1, 2, 3)]) if modified else np.full(3, Y)
    fallback = np.array([0.5, 1.0, 1.5]) if modified else np.full(3, 0.5)
    return np.where((D > 0) & (D <= (np.arange(1, 4) if modified else 1)), D, fallback)


class _Table:
    """Counts c(h w) of one context length j, by the code h * V + w (sorted), and their sums per h."""

    def __init__(self, codes: np.ndarray, V: int) -> None:
        self.V = V
        self.joint, self.count = np.unique(codes, return_counts=True)  # (G,) each: distinct (j+1)-grams
        self.context, self.first = np.unique(self.joint // V, return_index=True)  # (C,) each
        self.total = np.add.reduceat(self.count, self.first) if len(self.first) else self.first  # c(h)
        self.types = np.diff(np.append(self.first, len(self.joint)))  # n(h) = N1+(h .)

    @cached_property
    def by_count(self) -> np.ndarray:
        """N1(h .), N2(h .), N3+(h .) of every context: shape (3, C)."""
        capped = np.minimum(self.count, 3)
        return np.stack([np.add.reduceat((capped == k).astype(np.int64), self.first) for k in (1, 2, 3)])

    @cached_property
    def count_of_counts(self) -> np.ndarray:
        """n1, n2, n3, n4: how many (j+1)-grams have each count, shape (4,)."""
        return np.bincount(np.minimum(self.count, 5), minlength=6)[1:5]

    def lookup(self, context: np.ndarray, target: np.ndarray, by_count: bool) -> tuple:
        """c(h w), c(h), n(h) and, if asked, N1..3+(h .) (shape (3, R)) of R rows (h, w)."""
        if not len(self.joint):
            zero = np.zeros(len(target), np.int64)
            return zero, zero, zero, np.zeros((3, len(target)), np.int64) if by_count else None
        at, found = _find(self.context, context)
        where, seen = _find(self.joint, context * self.V + target)
        return (
            np.where(seen, self.count[where], 0),
            np.where(found, self.total[at], 0),
            np.where(found, self.types[at], 0),
            np.where(found, self.by_count[:, at], 0) if by_count else None,
        )


def _is_real(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _check_discount(smoothing: str, discount):
    """The discount as stored: a number, three numbers, or None (estimated per order)."""
    if smoothing == "modified_kneser_ney":
        if discount is None:
            return None
        if (
            _is_real(discount)
            or not hasattr(discount, "__len__")
            or len(discount) != 3
            or not all(map(_is_real, discount))
        ):
            raise TypeError(
                "NGramLM: expected discount None or three numbers (D1, D2, D3+) for "
                f"'modified_kneser_ney', got {discount!r}"
            )
        D = tuple(float(d) for d in discount)
        if not all(0 < d <= k for k, d in enumerate(D, 1)):
            raise ValueError(f"NGramLM: expected 0 < D1 <= 1, 0 < D2 <= 2, 0 < D3+ <= 3, got {D}")
        return D
    if discount is None:
        return None if smoothing == "kneser_ney" else 0.75
    if not _is_real(discount):
        raise TypeError(
            f"NGramLM: expected discount to be a number for {smoothing!r} (three discounts are for "
            f"'modified_kneser_ney'), got {discount!r}"
        )
    if not 0 < discount <= 1:
        raise ValueError(f"NGramLM: expected discount in (0, 1], got {discount!r}")
    return discount


_GRID = tuple(round(0.05 * i, 2) for i in range(1, 21))
DEFAULT_DISCOUNTS = {"interpolated": _GRID, "kneser_ney": (None, *_GRID), "modified_kneser_ney": (None,)}


class NGramLM:
    """An order-n count model of token sequences: add-k, absolute discounting or Kneser-Ney smoothing.

    The module docstring gives the equation of each smoothing.

    Parameters
    ----------
    order : int
        n >= 0: the prediction reads the previous n - 1 tokens (0 and 1 read none; 0 is uniform).
    vocab_size : int
        V; ids are in [0, V).
    smoothing : {"interpolated", "kneser_ney", "modified_kneser_ney", "add_k"}, default "interpolated"
    k : float, default 1.0
        Pseudo-count of ``"add_k"``.
    discount : float or tuple of float, optional
        D in (0, 1] of ``"interpolated"`` (default 0.75) and of ``"kneser_ney"`` (default: estimated
        per order); three discounts (D1, D2, D3+) with 0 < D_k <= k for ``"modified_kneser_ney"``
        (default: estimated per order). A given value serves every order.

    Raises
    ------
    ValueError
        For an order below 0, a smoothing not listed, k <= 0 or a discount out of its range.
    TypeError
        For a discount that is not a number (or, for ``"modified_kneser_ney"``, three numbers).

    See Also
    --------
    companion.lm.ngram.NGramLM.select : order and discount chosen on validation text.

    Examples
    --------
    >>> ids = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    >>> lm = NGramLM(2, 3).fit(ids)
    >>> lm.probs([0]).round(3).tolist()  # after 0 came 1, three times out of three
    [0.094, 0.844, 0.062]
    >>> float(lm.probs([1]).sum())
    1.0
    >>> kn = NGramLM(3, 3, smoothing="kneser_ney", discount=0.5).fit(ids)
    >>> kn.probs([2, 0]).round(3).tolist()
    [0.042, 0.917, 0.042]
    >>> NGramLM(3, 3, smoothing="modified_kneser_ney").fit(ids).discounts_.shape  # (orders, 3)
    (3, 3)
    """

    def __init__(
        self,
        order: int,
        vocab_size: int,
        *,
        smoothing: str = "interpolated",
        k: float = 1.0,
        discount: float | tuple[float, float, float] | None = None,
    ) -> None:
        if not isinstance(order, int) or order < 0:
            raise ValueError(f"NGramLM: expected order to be an int >= 0, got {order!r}")
        if not isinstance(vocab_size, int) or vocab_size < 1:
            raise ValueError(f"NGramLM: expected vocab_size to be a positive int, got {vocab_size!r}")
        if float(vocab_size) ** max(order, 1) >= 2.0**62:
            raise ValueError(f"NGramLM: expected V^order < 2^62, got V = {vocab_size}, order = {order}")
        if smoothing not in SMOOTHINGS:
            names = ", ".join(map(repr, SMOOTHINGS))
            raise ValueError(f"NGramLM: expected smoothing one of {names}, got {smoothing!r}")
        if not k > 0:
            raise ValueError(f"NGramLM: expected k > 0, got {k!r}")
        self.order, self.V, self.smoothing, self.k = order, vocab_size, smoothing, k
        self.discount = _check_discount(smoothing, discount)
        self._raw: list[_Table] | None = None  # raw counts, context lengths 0 .. n - 1
        self._continuation: list[_Table] = []  # N1+(. h w), context lengths 0 .. n - 2 (Kneser-Ney)

    def _check_ids(self, where: str, ids, min_len: int) -> np.ndarray:
        ids = np.asarray(ids)
        if ids.ndim != 1 or len(ids) < min_len or (ids.size and not np.issubdtype(ids.dtype, np.integer)):
            raise ValueError(
                f"NGramLM.{where}: expected ids of shape (L,), L >= {min_len}, got {ids.shape} {ids.dtype}"
            )
        if ids.size and (ids.min() < 0 or ids.max() >= self.V):
            raise ValueError(f"NGramLM.{where}: expected ids in [0, {self.V}), got {ids.min()}..{ids.max()}")
        return ids.astype(np.int64)

    def fit(self, ids) -> NGramLM:
        """Count the n-grams of ``ids`` (shape (L,)) and of every shorter order; returns self."""
        return self._fit(ids, "fit")

    def _fit(self, ids, where: str) -> NGramLM:
        ids, V = self._check_ids(where, ids, 1), self.V
        self._raw = [_Table(_codes(ids, j + 1, V), V) for j in range(max(self.order, 1))]
        if self.smoothing in KNESER_NEY:  # the distinct (j+2)-grams u h w, read as h w: N1+(. h w)
            self._continuation = [
                _Table(self._raw[j + 1].joint % V ** (j + 1), V) for j in range(self.order - 1)
            ]
        return self

    def _share(self, other: NGramLM) -> NGramLM:
        """``other`` (the same smoothing, an order up to this one's) with this model's counts."""
        other._raw = self._raw[: max(other.order, 1)]
        other._continuation = self._continuation[: max(other.order - 1, 0)]
        return other

    def _check_fitted(self) -> None:
        if self._raw is None:
            raise RuntimeError("NGramLM: call fit(ids) before asking for probabilities")

    def _tables(self, m: int) -> list[_Table]:
        """The tables an m-token context reads, shortest context first."""
        if self.order == 0:
            return []
        if self.smoothing == "add_k":
            return [self._raw[m]]
        if self.smoothing == "interpolated":
            return self._raw[: m + 1]
        return self._continuation[:m] + [self._raw[m]]  # raw counts at the highest order only

    def _discounts(self, table: _Table) -> np.ndarray:
        """(D1, D2, D3+) of one table, shape (3,): the given discount, or estimated from its counts."""
        if self.discount is not None:
            return np.broadcast_to(np.asarray(self.discount, dtype=float), (3,))
        return _estimate(table.count_of_counts, self.smoothing == "modified_kneser_ney")

    @property
    def discounts_(self) -> np.ndarray:
        """The discounts (D1, D2, D3+) of the counts a full context reads, shortest context first.

        Returns
        -------
        ndarray of float64 of shape (n, 3)
            Row j for context length j (continuation counts below the highest order for the
            Kneser-Ney smoothings); the three are equal but for ``"modified_kneser_ney"``. Shape
            (0, 3) for ``"add_k"`` and order 0.
        """
        self._check_fitted()
        if self.smoothing == "add_k":
            return np.zeros((0, 3))
        return np.array([self._discounts(t) for t in self._tables(max(self.order - 1, 0))]).reshape(-1, 3)

    def _lookups(self, contexts: list[np.ndarray], targets: np.ndarray) -> list[tuple]:
        """Counts of every row at every table read: ``contexts[j]`` holds the codes of j-token contexts."""
        self._check_fitted()
        tables = self._tables(len(contexts) - 1)
        modified = self.smoothing == "modified_kneser_ney"
        contexts = contexts[len(contexts) - len(tables) :]
        return [(t, *t.lookup(c, targets, modified)) for t, c in zip(tables, contexts, strict=True)]

    def _mix(self, lookups: list[tuple], rows: int) -> np.ndarray:
        """p(target | context) of each of the rows, from their counts (shortest context first)."""
        p = np.full(rows, 1.0 / self.V)
        for table, count, total, types, n123 in lookups:
            if self.smoothing == "add_k":
                return (count + self.k) / (total + self.k * self.V)
            D = self._discounts(table)
            safe = np.maximum(total, 1)
            if n123 is None:  # one discount: max(c - D, 0) / c(h) + D n(h) / c(h) p(w | h')
                mixed = np.maximum(count - D[0], 0) / safe + D[0] * types / safe * p
            else:  # (c - D(c)) / c(h) + (D1 N1 + D2 N2 + D3+ N3+) / c(h) p(w | h')
                mixed = (count - np.append(0.0, D)[np.minimum(count, 3)]) / safe + (D @ n123) / safe * p
            p = np.where(total > 0, mixed, p)
        return p

    def _prob_of(self, contexts: list[np.ndarray], targets: np.ndarray) -> np.ndarray:
        return self._mix(self._lookups(contexts, targets), len(targets))

    def probs(self, context) -> np.ndarray:
        """The distribution of the next token after ``context`` (its last n - 1 ids are used).

        Parameters
        ----------
        context : sequence of int
            Shape (m,), m >= 0; a shorter context than n - 1 reads the model of order m + 1.

        Returns
        -------
        ndarray of float64 of shape (V,)
            Non-negative, summing to 1.
        """
        context = self._check_ids("probs", context, 0)[::-1][: max(self.order - 1, 0)][::-1]
        codes = [
            np.full(self.V, _codes(context, j, self.V)[-1]) if j else np.zeros(self.V, np.int64)
            for j in range(len(context) + 1)
        ]
        return self._prob_of(codes, np.arange(self.V))

    def _groups(self, ids: np.ndarray) -> list[tuple[np.ndarray, list[np.ndarray]]]:
        """(positions t, context codes) for t = 1 .. L - 1, grouped by context length min(t, n - 1)."""
        n1 = max(self.order - 1, 0)
        codes = [_codes(ids, j, self.V) for j in range(n1 + 1)]  # (L - j + 1,) each
        groups = [
            (np.array([t]), [codes[j][t - j : t - j + 1] for j in range(t + 1)])
            for t in range(1, min(n1, len(ids)))
        ]
        t = np.arange(max(n1, 1), len(ids))
        return groups + [(t, [codes[j][t - j] for j in range(n1 + 1)])] * bool(len(t))

    def token_nll(self, ids) -> np.ndarray:
        """``-log p(ids[t] | ids[:t])`` in nats for t = 1 .. L-1, shape (L - 1,).

        Each prediction reads up to n - 1 previous tokens of ``ids`` itself (fewer near its start),
        exactly the targets :func:`companion.lm.charlm.token_nll` scores for a recurrent model.
        """
        ids = self._check_ids("token_nll", ids, 2)
        out = np.empty(len(ids) - 1)
        for t, contexts in self._groups(ids):
            out[t - 1] = -np.log(self._prob_of(contexts, ids[t]))
        return out

    @classmethod
    def select(
        cls,
        train_ids,
        valid_ids,
        vocab_size: int,
        *,
        orders=range(1, 9),
        discounts=None,
        smoothing: str = "kneser_ney",
    ) -> NGramSelection:
        """Fit on ``train_ids`` and keep the order and discount with the lowest loss on ``valid_ids``.

        The counts are taken once, at the highest order; every (order, discount) reads them and is
        scored by :meth:`~companion.lm.ngram.NGramLM.token_nll` on the validation ids, in nats per token.

        Parameters
        ----------
        train_ids, valid_ids : sequence of int
            Shapes (L,) and (L', ), L' >= 2; ids in [0, V).
        vocab_size : int
            V.
        orders : iterable of int, default 1 .. 8
        discounts : iterable, optional
            Candidates as :class:`~companion.lm.ngram.NGramLM` takes them (None: estimated).
            Default 0.05, 0.10, ..., 1.0 for ``"interpolated"``, the same and None for
            ``"kneser_ney"``, None for ``"modified_kneser_ney"``.
        smoothing : {"kneser_ney", "modified_kneser_ney", "interpolated"}, default "kneser_ney"

        Returns
        -------
        NGramSelection
            The best model (the first of equal losses, in the order of the candidates), its order
            and discount, and the loss of every candidate.

        Examples
        --------
        >>> ids = np.tile([0, 1, 2, 1], 30)
        >>> chosen = NGramLM.select(ids[:80], ids[80:], 3, orders=(1, 2, 3), discounts=(0.5, 0.9))
        >>> chosen.order, chosen.discount, chosen.nll.shape
        (3, 0.5, (3, 2))
        """
        if smoothing not in DEFAULT_DISCOUNTS:
            raise ValueError(f"NGramLM.select: expected a discounted smoothing, got {smoothing!r}")
        orders = tuple(orders)
        discounts = tuple(DEFAULT_DISCOUNTS[smoothing] if discounts is None else discounts)
        if not orders or not discounts:
            raise ValueError(f"NGramLM.select: expected orders and discounts, got {orders} and {discounts}")
        grid = [[cls(n, vocab_size, smoothing=smoothing, discount=d) for d in discounts] for n in orders]
        full = cls(max(orders), vocab_size, smoothing=smoothing, discount=discounts[0])._fit(
            train_ids, "select"
        )
        valid = full._check_ids("select", valid_ids, 2)
        nll = np.empty((len(orders), len(discounts)))
        for i, row in enumerate(grid):
            models = [full._share(model) for model in row]
            lookups = [(t, models[0]._lookups(c, valid[t])) for t, c in models[0]._groups(valid)]
            for j, model in enumerate(models):
                nll[i, j] = sum(-np.log(model._mix(lk, len(t))).sum() for t, lk in lookups) / (len(valid) - 1)
        i, j = np.unravel_index(np.argmin(nll), nll.shape)
        return NGramSelection(grid[i][j], orders[i], discounts[j], orders, discounts, nll)


class NGramSelection(NamedTuple):
    """What :meth:`~companion.lm.ngram.NGramLM.select` returns: a model and every candidate's loss."""

    #: The candidate with the lowest validation loss, fitted on the training ids.
    model: NGramLM
    #: Its order.
    order: int
    #: Its discount, as it was given among the candidates (None where it is estimated per order).
    discount: float | tuple[float, float, float] | None
    #: The orders tried, the rows of ``nll``.
    orders: tuple[int, ...]
    #: The discounts tried, the columns of ``nll``.
    discounts: tuple
    #: Validation loss of every candidate in nats per token, shape (len(orders), len(discounts)).
    nll: np.ndarray
