"""Self-checks for the exercises of chapter 3, *Backpropagation through time*: the backward pass of
one RNN step and of the whole sequence, the masked cross-entropy and its gradient, and how much of
the gradient truncated BPTT keeps.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion.exercises.engine import Exercise, variants
from companion.exercises.inputs import label, make_cases, named, ref, rnn_weights
from companion.exercises.report import CheckPassed

__all__ = [
    "check_rnn_step_backward",
    "check_rnn_backward",
    "check_masked_cross_entropy",
    "check_truncation_ratio",
]


def check_rnn_step_backward(fn: Callable) -> CheckPassed:
    """Check the reader's backward pass of one vanilla RNN step (chapter 3 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(dh, cache)`` with ``dh`` (N, H), the gradient of the loss with respect to the step's
        output, and ``cache``, a :class:`companion.ref.rnn.RNNStepCache` (fields ``x``, ``h_prev``,
        ``h``, ``Wx``, ``Wh``), returning ``(dx, dh_prev, dWx, dWh, db)`` with the shapes of
        ``x``, ``h_prev``, ``Wx``, ``Wh`` and ``b``.

    Returns
    -------
    CheckPassed
        When every case agrees with :func:`companion.ref.rnn.rnn_step_backward`.

    Raises
    ------
    ExerciseError
        Naming each wrong gradient with its relative error and the correct ones, and the mistake
        when it is a common one: the tanh derivative missing or taken at ``h_prev``, ``h`` used for
        ``h_prev`` in ``dWh``, an untransposed weight, ``db`` averaged or not summed over the batch.

    Examples
    --------
    >>> from companion.ref.rnn import rnn_step_backward
    >>> check_rnn_step_backward(rnn_step_backward)
    ✓ check_rnn_step_backward: all checks passed (3 cases)
    """
    return _RNN_STEP_BACKWARD.check(fn)


def check_rnn_backward(fn: Callable) -> CheckPassed:
    """Check the reader's backpropagation through time for the vanilla RNN (chapter 3 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(dh, cache)`` with ``dh`` (N, T, H), the upstream gradient of every hidden state, and
        ``cache``, a :class:`companion.ref.rnn.RNNCache` (fields ``x``, ``h0``, ``h``, ``Wx``,
        ``Wh``), returning ``(dx, dh0, dWx, dWh, db)``.

    Returns
    -------
    CheckPassed
        When every case agrees with :func:`companion.ref.rnn.rnn_backward`.

    Raises
    ------
    ExerciseError
        Naming each wrong gradient and, when recognised, the mistake: the carried gradient not
        added, weight gradients not summed over time, or the loop run forward in time.

    Examples
    --------
    >>> from companion.ref.rnn import rnn_backward
    >>> check_rnn_backward(rnn_backward)
    ✓ check_rnn_backward: all checks passed (3 cases)
    """
    return _RNN_BACKWARD.check(fn)


def check_masked_cross_entropy(fn: Callable) -> CheckPassed:
    """Check the reader's masked softmax cross-entropy and its gradient (chapter 3 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(logits, targets, mask)`` with ``logits`` (N, T, V), integer ``targets`` (N, T) and a
        boolean ``mask`` (N, T), True where a position counts, returning ``(loss, dlogits)``: the
        mean cross-entropy over the positions that count, and its gradient of shape (N, T, V).

    Returns
    -------
    CheckPassed
        When every case agrees with :func:`companion.ref.losses.softmax_cross_entropy`.

    Raises
    ------
    ExerciseError
        Naming the fault: the mask ignored, the mean taken over all N·T positions, masked positions
        given a gradient, the gradient not divided by M, the loss summed, the gradient's sign, or an
        overflow for large logits.

    Notes
    -----
    With :math:`M` positions that count, :math:`\\mathcal{L} = -\\frac{1}{M}\\sum_{\\text{counted } (n,t)}
    \\log p_{n,t,y_{n,t}}` and
    :math:`\\partial \\mathcal{L} / \\partial z_{n,t} = (p_{n,t} - \\text{onehot}(y_{n,t})) / M`.

    Examples
    --------
    >>> from companion.ref.losses import softmax_cross_entropy
    >>> check_masked_cross_entropy(softmax_cross_entropy)
    ✓ check_masked_cross_entropy: all checks passed (4 cases)
    """
    return _CE.check(fn)


def check_truncation_ratio(fn: Callable) -> CheckPassed:
    """Check the reader's formula for the share of the gradient that truncated BPTT keeps.

    The model is the scalar linear RNN :math:`h_t = w h_{t-1} + x_t` with :math:`h_0 = 0`, a pulse
    :math:`x_1 = 1` and :math:`x_t = 0` afterwards, and the loss :math:`\\mathcal{L} = h_T`. Truncated
    BPTT cuts the gradient into chunks of ``k`` steps starting at step 1 (steps 1..k, k+1..2k, ...).

    Parameters
    ----------
    fn : callable
        ``fn(T, k)`` with ints ``T >= 2`` and ``k >= 1``, returning the ratio of the truncated
        gradient :math:`\\partial \\mathcal{L} / \\partial w` to the full one (a number; it does not
        depend on ``w``).

    Returns
    -------
    CheckPassed
        When every case agrees with the exact ratio.

    Raises
    ------
    ExerciseError
        Naming the fault: chunks counted back from ``T``, a ratio above 1 when ``k >= T`` or ``k``
        does not divide ``T``, ``T`` terms counted instead of ``T - 1``, or the ratio inverted.

    Examples
    --------
    >>> check_truncation_ratio(lambda T, k: 1.0 if k >= T else (T - k * ((T - 1) // k)) / (T - 1))
    ✓ check_truncation_ratio: all checks passed (5 cases)
    """
    return _RATIO.check(fn)


_STEP_GRADS = ("dx", "dh_prev", "dWx", "dWh", "db")


def _step_case(rng, N, D, H) -> dict:
    p = rnn_weights(rng, D, H)
    _, cache = ref("rnn").rnn_step_forward(
        rng.normal(size=(N, D)), rng.uniform(-1, 1, size=(N, H)), p["Wx"], p["Wh"], p["b"]
    )
    return {"dh": rng.normal(size=(N, H)), "cache": cache}


def _step_grads(c: dict, *, slope_at="h", dWh_reads="h_prev", untransposed=None, db="sum") -> dict:
    """:func:`companion.ref.rnn.rnn_step_backward` (keywords at their defaults) and the known mistakes:
    the tanh derivative taken at another state (``"none"`` for no derivative), ``h`` for ``h_prev`` in
    ``dWh``, a weight used untransposed, ``db`` averaged over the batch."""
    k = c["cache"]
    at = {"h": k.h, "none": np.zeros_like(k.h), "h_prev": k.h_prev, "tanh(h)": np.tanh(k.h)}[slope_at]
    changed = {"h": at, "h_prev": getattr(k, dWh_reads)}
    if untransposed is not None:
        W = getattr(k, untransposed)
        if W.shape[0] != W.shape[1]:
            return {}  # Wx.T and Wx do not fit alike: a mistake these sizes cannot show
        changed[untransposed] = W.T
    grads = named(_STEP_GRADS, ref("rnn").rnn_step_backward(c["dh"], k._replace(**changed)))
    return {**grads, "db": grads["db"] / len(c["dh"])} if db == "mean" else grads


_RNN_STEP_BACKWARD = Exercise(
    "check_rnn_step_backward(dh, cache) -> dx (N, D), dh_prev (N, H), dWx (D, H), dWh (H, H), db (H,)",
    # square first: Wx.T and Wx fit alike
    cases=lambda: make_cases(301, "N D H", [(3, 4, 4), (4, 3, 5), (1, 2, 4)], _step_case),
    reference=_step_grads,
    equation="With da = dh * (1 - h**2): dx = da @ Wx.T, dh_prev = da @ Wh.T, dWx = x.T @ da, "
    "dWh = h_prev.T @ da, db = da.sum(axis=0).",
    keyword_mistakes={
        "The tanh derivative is missing: first form da = dh * (1 - h**2), with h = cache.h the "
        "step's output.": {"slope_at": "none"},
        "The tanh derivative is taken at h_prev; it is 1 - h**2 with h = cache.h, the step's output.": {
            "slope_at": "h_prev"
        },
        "tanh is applied twice: cache.h is already tanh(a), so the derivative is 1 - h**2, "
        "not 1 - tanh(h)**2.": {"slope_at": "tanh(h)"},
        "dWh uses h instead of h_prev: dWh = h_prev.T @ da, because Wh multiplies the previous state.": {
            "dWh_reads": "h"
        },
        "dh_prev uses Wh instead of Wh.T: dh_prev = da @ Wh.T.": {"untransposed": "Wh"},
        "dx uses Wx instead of Wx.T: dx = da @ Wx.T.": {"untransposed": "Wx"},
        "db is averaged over the batch; the loss sums over the batch, so db = da.sum(axis=0).": {
            "db": "mean"
        },
    },
)


_SEQ_GRADS = ("dx", "dh0", "dWx", "dWh", "db")


def _sequence_case(rng, N, T, D, H) -> dict:
    p = rnn_weights(rng, D, H)
    x, h0 = rng.normal(size=(N, T, D)), rng.uniform(-1, 1, size=(N, H))
    _, cache = ref("rnn").rnn_forward(x, h0, p["Wx"], p["Wh"], p["b"])
    return {"dh": rng.normal(size=(N, T, H)), "cache": cache}


def _bptt(c: dict, *, carry=True, accumulate=True, backwards=True) -> dict:
    rnn, k, dh = ref("rnn"), c["cache"], c["dh"]
    T = dh.shape[1]
    dx = np.zeros_like(k.x)  # (N, T, D)
    sums = [np.zeros_like(k.Wx), np.zeros_like(k.Wh), np.zeros(k.Wh.shape[0])]
    dh_next = np.zeros_like(k.h0)  # (N, H)
    for t in reversed(range(T)) if backwards else range(T):
        h_prev = k.h[:, t - 1] if t > 0 else k.h0
        step = rnn.RNNStepCache(k.x[:, t], h_prev, k.h[:, t], k.Wx, k.Wh)
        dx[:, t], dh_step, *weights = rnn.rnn_step_backward(dh[:, t] + (dh_next if carry else 0.0), step)
        dh_next = dh_step
        sums = [s + w for s, w in zip(sums, weights, strict=True)] if accumulate else weights
    return named(_SEQ_GRADS, [dx, dh_next, *sums])


_RNN_BACKWARD = Exercise(
    "check_rnn_backward(dh, cache) -> dx (N, T, D), dh0 (N, H), dWx (D, H), dWh (H, H), db (H,)",
    # square first
    cases=lambda: make_cases(302, "N T D H", [(2, 5, 3, 3), (3, 3, 2, 4), (1, 1, 2, 3)], _sequence_case),
    reference=lambda c: named(_SEQ_GRADS, ref("rnn").rnn_backward(c["dh"], c["cache"])),
    equation="Walk t = T-1, ..., 0, call the step backward on dh[:, t] + dh_next (the gradient carried "
    "from step t+1), sum dWx, dWh and db over the steps; dh0 is the last dh_prev.",
    mistakes=variants(
        _bptt,
        {
            "The carried gradient is not added: the gradient of h[:, t] is the upstream dh[:, t] plus "
            "the dh_prev that step t+1 sent back.": {"carry": False},
            "The weight gradients are not accumulated: Wx, Wh and b are shared by every step, so dWx, "
            "dWh and db are sums over all T steps.": {"accumulate": False},
            "The loop runs forward in time; BPTT walks t = T-1, ..., 0, because the gradient of "
            "h[:, t] needs the one of h[:, t+1] first.": {"backwards": False},
        },
    ),
)


# --------------------------------------------------------------------------------------------------
# The masked softmax cross-entropy and its gradient.


def _ce_case(rng, N, T, V, scale) -> dict:
    mask = rng.random((N, T)) < 0.7
    mask[0, 0], mask[-1, -1] = True, False  # at least one position counts, at least one does not
    targets = np.where(mask, rng.integers(0, V, size=(N, T)), 0)  # padding holds class 0
    return {"logits": rng.normal(scale=scale, size=(N, T, V)), "targets": targets, "mask": mask}


def _ce(c: dict, *, loss_over="M", grad_over="M", mask_loss=True, mask_grad=True, sign=1.0) -> dict:
    """The loss and gradient (keywords at their defaults) and the known mistakes: the divisor of the
    loss or of the gradient (M, all N·T positions or none), the mask left out of either, the sign."""
    z, y, keep = c["logits"], c["targets"], c["mask"]
    log_p = z - z.max(-1, keepdims=True)  # (N, T, V)
    log_p = log_p - np.log(np.exp(log_p).sum(-1, keepdims=True))
    onehot = np.eye(z.shape[-1])[y]  # (N, T, V)
    counts = keep if mask_loss else np.ones_like(keep)
    divisor = {"M": keep.sum(), "NT": keep.size, "1": 1}
    loss = -(np.sum(log_p * onehot, -1) * counts).sum() / divisor[loss_over]
    grad = sign * (np.exp(log_p) - onehot) / divisor[grad_over]
    return {"loss": np.asarray(loss), "dlogits": grad * keep[..., None] if mask_grad else grad}


_CE = Exercise(
    "check_masked_cross_entropy(logits, targets, mask) -> loss () (a number), dlogits (N, T, V)",
    cases=lambda: make_cases(
        303, "N T V scale", [(2, 5, 4, 2.0), (3, 4, 6, 1.0), (1, 3, 3, 1.0), (2, 3, 5, 1e3)], _ce_case
    ),
    reference=lambda c: named(
        ("loss", "dlogits"), ref("losses").softmax_cross_entropy(c["logits"], c["targets"], c["mask"])
    ),
    nonfinite_hint="exp overflows for large logits: subtract each row's largest logit first",
    equation="With p = softmax(logits) and M = mask.sum(): loss = -sum over unmasked positions of "
    "log p[target] / M, and dlogits = (p - onehot(target)) / M at unmasked positions, 0 at masked ones.",
    mistakes=variants(
        _ce,
        {
            "The mask is ignored: padded positions count in the loss and get a gradient.": {
                "loss_over": "NT",
                "grad_over": "NT",
                "mask_loss": False,
                "mask_grad": False,
            },
            "The sum is divided by N·T, the number of all positions; the mean is over the M = mask.sum() "
            "positions that count.": {"loss_over": "NT", "grad_over": "NT"},
            "The masked positions get a gradient; a position that does not count in the loss has "
            "dlogits exactly 0.": {"mask_grad": False},
            "dlogits is not divided by M: the loss is a mean over M positions, so each position's "
            "gradient is (p - onehot) / M.": {"grad_over": "1"},
            "The loss is a sum over the positions, not their mean: divide by M = mask.sum().": {
                "loss_over": "1"
            },
            "dlogits has the wrong sign: the gradient of -log p[target] is p - onehot, not onehot - p.": {
                "sign": -1.0
            },
        },
    ),
)


# --------------------------------------------------------------------------------------------------
# Pen and paper: the fraction of the gradient that truncated BPTT keeps, for a pulse at step 1.


def _ratio_cases() -> list[dict]:
    # (T, k) with k >= T first, then chunks that divide T and ones that do not
    pairs = [(7, 10), (10, 5), (12, 5), (9, 3), (20, 6)]
    return [{"T": T, "k": k, "_label": label(T=T, k=k)} for T, k in pairs]


def _ratio(c: dict, *, last_chunk="from step 1", terms="T - 1", inverted=False) -> dict:
    """The ratio (keywords at their defaults) and the known mistakes: the last chunk as long as chunks
    counted back from T, or always k steps; T terms in the full gradient; the ratio upside down."""
    T, k = c["T"], c["k"]
    start = k * ((T - 1) // k) + 1  # first step of the last chunk; chunks start at steps 1, k+1, ...
    kept = {"from step 1": T - max(start, 2) + 1, "from T": min(k, T - 1), "k steps": k}[last_chunk]
    total = T - 1 if terms == "T - 1" else T  # terms t >= 2 in the full gradient
    return {"ratio": np.asarray(total / kept if inverted else kept / total)}


_RATIO = Exercise(
    "check_truncation_ratio(T, k) -> ratio () (a number)",
    cases=_ratio_cases,
    reference=_ratio,
    equation="The full gradient is (T - 1) w^(T-2): one term w^(T-t) h_{t-1} for each step t = 2, ..., T. "
    "Truncation keeps the terms of the last chunk only; chunks start at steps 1, k + 1, 2k + 1, ...",
    keyword_mistakes={
        "Your last chunk is always k steps long, as if chunks were counted back from T; they start "
        "at step 1, so the last one holds T - k*floor((T-1)/k) steps.": {"last_chunk": "from T"},
        "A ratio above 1: with k >= T nothing is truncated and the ratio is 1; and when k does "
        "not divide T the last chunk is shorter than k.": {"last_chunk": "k steps"},
        "The full gradient has T - 1 terms, not T: the term of step 1 is w^(T-1) h_0 = 0, because h_0 = 0.": {
            "terms": "T"
        },
        "The ratio is upside down: it is the truncated gradient divided by the full one, at most 1.": {
            "inverted": True
        },
    },
)
