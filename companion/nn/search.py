"""Greedy decoding and beam search over any step function (chapter 8).

A decoder generates a sequence one token at a time. Both searches here see it only through a
**step function**::

    log_probs, state, weights = step(tokens, state)

``tokens`` (B,) are the previous tokens (the start token first), ``state`` a tensor or a tuple of
tensors whose first dimension is the batch B, ``log_probs`` (B, V) the log-probabilities of the next
token, and ``weights`` (B, Ts) attention weights to keep for plotting (or None). A hypothesis
:math:`y_1 \\dots y_L` ends with the end token (counted in its length L) or stops at ``max_len``;
its score is the length-normalised log-probability (Wu et al., 2016, with the simpler penalty
:math:`L^\\alpha`)

.. math::

    \\operatorname{score}(y) = \\frac{1}{L^\\alpha} \\sum_{t=1}^{L} \\log p(y_t \\mid y_{<t}, x),

:math:`\\alpha = 0` the plain log-probability, which favours short outputs; :math:`\\alpha = 1` the mean
per token.

- :func:`greedy_search` takes the most probable token at every step.
- :func:`beam_search` keeps the ``beam_size`` best partial hypotheses of each example by
  log-probability; at every step each is extended by its best ``beam_size`` tokens and the best
  ``beam_size`` of all these survive. A hypothesis that has ended keeps its place and its
  log-probability (it competes with the live ones) until all have ended. The ``beam_size`` kept at
  the end are returned in order of score. With ``beam_size=1`` this is greedy decoding, token for
  token and score for score. Beam search is a heuristic: it usually, not always, finds a more
  probable output than greedy; a beam wide enough never to drop a hypothesis is exact search.

Rows of a beam are example-major: row ``n * k + j`` of the step function's batch is beam ``j`` of
example ``n``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from companion.nn._common import check_layer_size
from companion.nn.errors import DTypeError, ShapeError

__all__ = ["Hypotheses", "greedy_search", "beam_search"]


class Hypotheses(NamedTuple):
    """Decoded sequences with their scores: shapes (N, ·) from greedy search, (N, k, ·) from beam search.

    All on the CPU, whatever device the step function computes on.

    Attributes
    ----------
    tokens : Tensor of int64 of shape (N, T) or (N, k, T)
        Generated tokens, the end token included, ``pad`` after it; T ≤ ``max_len``.
    lengths : Tensor of int64 of shape (N,) or (N, k)
        Number of tokens of each hypothesis, the end token included.
    scores : Tensor of shape (N,) or (N, k)
        ``log_probs / lengths ** alpha``; beam hypotheses best first. A beam slot for which no
        hypothesis exists (more slots than possible sequences) has score ``-inf``.
    log_probs : Tensor of shape (N,) or (N, k)
        Sum of the log-probabilities of the tokens.
    weights : Tensor of shape (N, T, Ts) or (N, k, T, Ts), or None
        The step function's attention weights for each generated token (zero after the end).
    """

    tokens: Tensor
    lengths: Tensor
    scores: Tensor
    log_probs: Tensor
    weights: Tensor | None


def check_options(where: str, batch_size, max_len, alpha, beam_size=1) -> None:
    """The sizes of a search positive ints, ``alpha`` a number >= 0 (``where`` names the caller)."""
    for name, value in [("batch_size", batch_size), ("max_len", max_len), ("beam_size", beam_size)]:
        check_layer_size(where, name, value)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
        raise DTypeError(f"{where}: expected alpha to be a number, got {type(alpha).__name__}")
    if alpha < 0:
        raise ValueError(f"{where}: expected alpha >= 0, got {alpha!r}")


def _select(state, rows: Tensor):
    """Rows ``rows`` of the state (a tensor or a tuple of tensors, batch first)."""
    pick = lambda s: s.index_select(0, rows.to(s.device))  # noqa: E731
    return tuple(pick(s) for s in state) if isinstance(state, tuple) else pick(state)


def _step(where: str, step, tokens: Tensor, state, B: int):
    log_probs, state, weights = step(tokens, state)
    if not isinstance(log_probs, Tensor) or log_probs.dim() != 2 or log_probs.shape[0] != B:
        shape = tuple(log_probs.shape) if isinstance(log_probs, Tensor) else type(log_probs).__name__
        raise ShapeError(
            f"{where}: expected step to return log_probs of shape (B, V) = ({B}, V), got {shape}"
        )
    return log_probs, state, weights


def _stack(weights: list) -> Tensor | None:
    return None if weights[0] is None else torch.stack(weights, dim=-2)  # (..., T, Ts)


def greedy_search(
    step, state, batch_size: int, *, sos: int, eos: int, max_len: int, alpha: float = 0.0, pad: int = 0
) -> Hypotheses:
    """Decode by taking the most probable next token at every step.

    Parameters
    ----------
    step : callable
        ``step(tokens (B,), state) -> (log_probs (B, V), state, weights (B, Ts) or None)``, B = N.
    state : Tensor or tuple of Tensor
        Initial state, batch first.
    batch_size : int
        N.
    sos, eos : int
        Start token (the first input) and end token (ends a hypothesis).
    max_len : int
        Most tokens generated.
    alpha : float, default 0.0
        Length normalisation exponent of the score.
    pad : int, default 0
        Written after the end token.

    Returns
    -------
    Hypotheses
        Shapes (N, T), (N,), (N,), (N,), (N, T, Ts).

    Raises
    ------
    ShapeError
        If ``step`` returns log-probabilities of the wrong shape.
    ValueError
        If a size is not positive or ``alpha`` is negative.
    DTypeError
        If a size is not an int or ``alpha`` not a number.
    """
    where = "greedy_search"
    check_options(where, batch_size, max_len, alpha)
    N = batch_size
    tokens = torch.full((N,), sos, dtype=torch.int64)
    done = torch.zeros(N, dtype=torch.bool)
    lengths = torch.zeros(N, dtype=torch.int64)
    log_prob = None
    out, weights = [], []
    for _ in range(max_len):
        log_probs, state, w = _step(where, step, tokens.to(_device(state)), state, N)
        best, tokens = log_probs.detach().cpu().max(dim=-1)  # (N,), (N,)
        tokens = torch.where(done, pad, tokens)
        best = torch.where(done, 0.0, best)
        log_prob = best if log_prob is None else log_prob + best
        lengths += ~done
        out.append(tokens)
        weights.append(None if w is None else torch.where(done[:, None], 0.0, w.detach().cpu()))
        done = done | (tokens == eos)
        if bool(done.all()):
            break
    scores = log_prob / lengths.to(log_prob.dtype) ** alpha
    return Hypotheses(torch.stack(out, 1), lengths, scores, log_prob, _stack(weights))


def _device(state) -> torch.device:
    return (state[0] if isinstance(state, tuple) else state).device


def beam_search(
    step,
    state,
    batch_size: int,
    *,
    beam_size: int,
    sos: int,
    eos: int,
    max_len: int,
    alpha: float = 0.0,
    pad: int = 0,
) -> Hypotheses:
    """Keep the ``beam_size`` most probable partial hypotheses of each example, for all N at once.

    Parameters
    ----------
    step : callable
        ``step(tokens (B,), state) -> (log_probs (B, V), state, weights (B, Ts) or None)``, B = N·k,
        rows example-major (row ``n * k + j`` is beam j of example n).
    state : Tensor or tuple of Tensor
        Initial state of the N examples, batch first; each row is repeated k times.
    batch_size : int
        N.
    beam_size : int
        k, the number of hypotheses kept (and returned) per example.
    sos, eos : int
        Start token and end token.
    max_len : int
        Most tokens generated.
    alpha : float, default 0.0
        Length normalisation exponent: hypotheses are ranked by ``log_prob / length ** alpha``
        at the end (and pruned by ``log_prob`` during the search).
    pad : int, default 0
        Written after the end token.

    Returns
    -------
    Hypotheses
        Shapes (N, k, T), (N, k), (N, k), (N, k), (N, k, T, Ts); best score first.

    Notes
    -----
    Bad arguments raise the errors of :func:`greedy_search` (a ``beam_size`` below 1 a ``ValueError``).

    Examples
    --------
    The same next-token probabilities at every step (padding, start, end, "a"): greedy writes "a a a"
    (probability 0.6³ = 0.216), but ending at once is more probable (0.4).

    >>> probs = torch.tensor([0.0, 0.0, 0.4, 0.6])
    >>> step = lambda tokens, state: (probs.log().expand(len(tokens), 4), state, None)
    >>> greedy_search(step, torch.zeros(1), 1, sos=1, eos=2, max_len=3).tokens
    tensor([[3, 3, 3]])
    >>> beam = beam_search(step, torch.zeros(1), 1, beam_size=2, sos=1, eos=2, max_len=3)
    >>> beam.tokens, beam.log_probs.exp()
    (tensor([[[2, 0, 0],
             [3, 3, 3]]]), tensor([[0.4000, 0.2160]]))
    """
    where = "beam_search"
    check_options(where, batch_size, max_len, alpha, beam_size)
    N, k = batch_size, beam_size
    state = _select(state, torch.arange(N).repeat_interleave(k))  # each (N·k, ...)
    tokens = torch.full((N * k,), sos, dtype=torch.int64)
    log_prob = torch.full((N, k), float("-inf"))
    log_prob[:, 0] = 0.0  # one live hypothesis per example at the start, so no duplicates
    done = torch.zeros(N, k, dtype=torch.bool)
    lengths = torch.zeros(N, k, dtype=torch.int64)
    history = torch.zeros(N, k, 0, dtype=torch.int64)
    weights = None
    examples = torch.arange(N).unsqueeze(1) * k  # (N, 1)
    for _ in range(max_len):
        log_probs, state, w = _step(where, step, tokens.to(_device(state)), state, N * k)
        log_probs = log_probs.detach().cpu().view(N, k, -1)  # (N, k, V)
        V = log_probs.shape[-1]
        if log_prob.dtype != log_probs.dtype:
            log_prob = log_prob.to(log_probs.dtype)
        ended = torch.full((V,), float("-inf"), dtype=log_probs.dtype)
        ended[pad] = 0.0  # a finished hypothesis can only be continued by padding, at no cost
        log_probs = torch.where(done.unsqueeze(-1), ended, log_probs)
        top, top_tokens = log_probs.topk(min(k, V), dim=-1)  # (N, k, k'): each beam's best tokens
        candidates = (log_prob.unsqueeze(-1) + top).view(N, -1)  # (N, k·k')
        log_prob, flat = candidates.topk(k, dim=-1)  # (N, k)
        beam = flat // top.shape[-1]  # (N, k): which hypothesis each survivor extends
        tokens = top_tokens.view(N, -1).gather(1, flat)  # (N, k)
        rows = (examples + beam).view(-1)  # (N·k,)
        state = _select(state, rows)
        done, lengths = done.gather(1, beam), lengths.gather(1, beam)
        history = torch.cat([history.gather(1, beam.unsqueeze(-1).expand_as(history)), tokens[..., None]], -1)
        if w is not None:
            w = w.detach().cpu().view(N, k, -1)[torch.arange(N)[:, None], beam]  # (N, k, Ts)
            w = torch.where(done.unsqueeze(-1), 0.0, w)
            old = [] if weights is None else [weights[torch.arange(N)[:, None], beam]]
            weights = torch.cat([*old, w.unsqueeze(2)], dim=2)  # (N, k, t, Ts)
        lengths += ~done
        done = done | (tokens == eos) | torch.isneginf(log_prob)  # -inf: no hypothesis in this slot
        tokens = tokens.view(-1)
        if bool(done.all()):
            break
    scores = log_prob / lengths.clamp(min=1).to(log_prob.dtype) ** alpha
    scores, order = scores.sort(dim=-1, descending=True, stable=True)  # (N, k)
    pick = (torch.arange(N)[:, None], order)
    return Hypotheses(
        history[pick], lengths[pick], scores, log_prob[pick], None if weights is None else weights[pick]
    )
