"""Count-based n-gram models: the baselines a recurrent language model must beat (chapters 9-10).

An order-n model predicts a token from the n - 1 tokens before it, by counting how often each token
followed that context in the training text. Order 0 is the uniform model (perplexity V), order 1
the unigram model (token frequencies), order 2 the bigram model, and so on. Counts alone give
probability 0 to anything unseen, so the counts are smoothed:

``"add_k"``
    :math:`p(w \\mid h) = (c(h, w) + k) / (c(h) + k V)` (Laplace's rule for k = 1); an unseen
    context gives the uniform distribution.
``"interpolated"`` (absolute discounting, interpolated)
    :math:`p(w \\mid h) = \\max(c(h, w) - D, 0) / c(h) + D \\, n(h) / c(h) \\; p(w \\mid h')`, with
    h' the context shortened by its oldest token, n(h) the number of distinct tokens seen after h,
    and the recursion ending at the uniform distribution; an unseen context gives
    :math:`p(w \\mid h')`. The discount D in (0, 1] moves probability from seen to unseen
    continuations, which sum to exactly 1.

Everything is numpy; contexts are stored as integers in base V, so orders are limited to
:math:`V^n < 2^{62}`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NGramLM"]


def _codes(ids: np.ndarray, j: int, V: int) -> np.ndarray:
    """Base-V code of every window ``ids[s : s + j]``, s = 0 .. L - j: shape (L - j + 1,)."""
    code = np.zeros(len(ids) - j + 1, dtype=np.int64)
    for i in range(j):
        code = code * V + ids[i : len(ids) - j + i + 1]
    return code


class _Level:
    """Counts of the tokens that follow each context of one length, for lookups by code."""

    def __init__(self, ids: np.ndarray, j: int, V: int) -> None:
        joint = _codes(ids, j, V)[:-1] * V + ids[j:]  # (L - j,): context code * V + next token
        self.joint, self.joint_count = np.unique(joint, return_counts=True)
        contexts = self.joint // V
        self.context, first = np.unique(contexts, return_index=True)
        self.total = np.add.reduceat(self.joint_count, first)  # c(h)
        self.types = np.diff(np.append(first, len(contexts)))  # n(h): distinct tokens after h

    @staticmethod
    def _find(table: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        where = np.minimum(np.searchsorted(table, values), len(table) - 1)
        return where, table[where] == values

    def context_counts(self, context: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        where, found = self._find(self.context, context)
        return np.where(found, self.total[where], 0), np.where(found, self.types[where], 0)

    def joint_counts(self, joint: np.ndarray) -> np.ndarray:
        where, found = self._find(self.joint, joint)
        return np.where(found, self.joint_count[where], 0)


class NGramLM:
    """An order-n count model of token sequences with add-k or interpolated smoothing.

    Parameters
    ----------
    order : int
        n >= 0: the prediction reads the previous n - 1 tokens (0 and 1 read none; 0 is uniform).
    vocab_size : int
        V; ids are in [0, V).
    smoothing : {"interpolated", "add_k"}, default "interpolated"
    k : float, default 1.0
        Pseudo-count of ``"add_k"``.
    discount : float, default 0.75
        D of ``"interpolated"``, in (0, 1].

    Examples
    --------
    >>> lm = NGramLM(2, 3).fit(np.array([0, 1, 2, 0, 1, 2, 0, 1]))
    >>> lm.probs([0]).round(3).tolist()  # after 0 came 1, three times out of three
    [0.094, 0.844, 0.062]
    >>> float(lm.probs([1]).sum())
    1.0
    """

    def __init__(
        self,
        order: int,
        vocab_size: int,
        *,
        smoothing: str = "interpolated",
        k: float = 1.0,
        discount: float = 0.75,
    ) -> None:
        if not isinstance(order, int) or order < 0:
            raise ValueError(f"NGramLM: expected order to be an int >= 0, got {order!r}")
        if not isinstance(vocab_size, int) or vocab_size < 1:
            raise ValueError(f"NGramLM: expected vocab_size to be a positive int, got {vocab_size!r}")
        if float(vocab_size) ** max(order, 1) >= 2.0**62:
            raise ValueError(f"NGramLM: expected V^order < 2^62, got V = {vocab_size}, order = {order}")
        if smoothing not in ("interpolated", "add_k"):
            raise ValueError(f"NGramLM: expected smoothing 'interpolated' or 'add_k', got {smoothing!r}")
        if not k > 0:
            raise ValueError(f"NGramLM: expected k > 0, got {k!r}")
        if not 0 < discount <= 1:
            raise ValueError(f"NGramLM: expected discount in (0, 1], got {discount!r}")
        self.order, self.V, self.smoothing, self.k, self.discount = order, vocab_size, smoothing, k, discount
        self._levels: list[_Level] | None = None

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
        ids = self._check_ids("fit", ids, 1)
        self._levels = [_Level(ids, j, self.V) for j in range(max(self.order, 1))]
        return self

    def _prob_of(self, contexts: list[np.ndarray], targets: np.ndarray) -> np.ndarray:
        """p(target | context) for each row: ``contexts[j]`` holds the codes of the j-token contexts."""
        if self._levels is None:
            raise RuntimeError("NGramLM: call fit(ids) before asking for probabilities")
        V, D = self.V, self.discount
        p = np.full(len(targets), 1.0 / V)
        if self.order == 0:
            return p
        if self.smoothing == "add_k":
            j = len(contexts) - 1
            total, _ = self._levels[j].context_counts(contexts[j])
            count = self._levels[j].joint_counts(contexts[j] * V + targets)
            return (count + self.k) / (total + self.k * V)
        for j, context in enumerate(contexts):
            total, types = self._levels[j].context_counts(context)
            count = self._levels[j].joint_counts(context * V + targets)
            seen = total > 0
            safe = np.maximum(total, 1)
            mixed = np.maximum(count - D, 0) / safe + D * types / safe * p
            p = np.where(seen, mixed, p)
        return p

    def probs(self, context) -> np.ndarray:
        """The distribution of the next token after ``context`` (its last n - 1 ids are used).

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

    def token_nll(self, ids) -> np.ndarray:
        """``-log p(ids[t] | ids[:t])`` in nats for t = 1 .. L-1, shape (L - 1,).

        Each prediction reads up to n - 1 previous tokens of ``ids`` itself (fewer near its start),
        exactly the targets :func:`companion.lm.charlm.token_nll` scores for a recurrent model.
        """
        ids = self._check_ids("token_nll", ids, 2)
        L, n1 = len(ids), max(self.order - 1, 0)
        out = np.empty(L - 1)
        for t in range(1, min(n1, L - 1) + 1):  # the first positions have shorter contexts
            out[t - 1] = -np.log(self.probs(ids[:t])[ids[t]])
        if L - 1 > n1:
            t = np.arange(max(n1, 1), L)
            contexts = [_codes(ids, j, self.V)[t - j] for j in range(n1 + 1)]  # (L - t0,) each
            out[t - 1] = -np.log(self._prob_of(contexts, ids[t]))
        return out
