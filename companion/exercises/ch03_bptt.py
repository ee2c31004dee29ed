"""Self-checks for the exercises of chapter 3, *Backpropagation through time*: the backward pass of
one RNN step and of the whole sequence, the masked cross-entropy and its gradient, and how much of
the gradient truncated BPTT keeps.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion.exercises._engine import _Exercise, _label, _Mistake, _ref, _run
from companion.exercises.ch02_hidden_state import _rnn_params
from companion.exercises.report import CheckPassed

__all__ = [
    "check_rnn_step_backward",
    "check_rnn_backward",
    "check_masked_cross_entropy",
    "check_truncation_ratio",
]


_STEP_GRADS = ("dx", "dh_prev", "dWx", "dWh", "db")


def _rnn_step_backward_cases() -> list[dict]:
    rng = np.random.default_rng(301)
    cases = []
    for N, D, H in [(3, 4, 4), (4, 3, 5), (1, 2, 4)]:  # square first: Wx.T and Wx fit alike
        p = _rnn_params(rng, D, H)
        _, cache = _ref("rnn").rnn_step_forward(
            rng.normal(size=(N, D)), rng.uniform(-1, 1, size=(N, H)), p["Wx"], p["Wh"], p["b"]
        )
        cases.append({"dh": rng.normal(size=(N, H)), "cache": cache, "_label": _label(N=N, D=D, H=H)})
    return cases


def _step_grads(c: dict, da=None) -> dict:
    k = c["cache"]
    da = c["dh"] * (1.0 - k.h**2) if da is None else da  # (N, H)
    return {
        "dx": da @ k.Wx.T,
        "dh_prev": da @ k.Wh.T,
        "dWx": k.x.T @ da,
        "dWh": k.h_prev.T @ da,
        "db": da.sum(0),
    }


def _da(c: dict) -> np.ndarray:
    return c["dh"] * (1.0 - c["cache"].h ** 2)


def _untransposed_dx(c: dict) -> dict:
    k = c["cache"]
    return {"dx": _da(c) @ k.Wx} if k.Wx.shape[0] == k.Wx.shape[1] else {}


_RNN_STEP_BACKWARD = _Exercise(
    name="check_rnn_step_backward",
    outputs=_STEP_GRADS,
    reference=lambda c: dict(
        zip(_STEP_GRADS, _ref("rnn").rnn_step_backward(c["dh"], c["cache"]), strict=True)
    ),
    shapes={"dx": "(N, D)", "dh_prev": "(N, H)", "dWx": "(D, H)", "dWh": "(H, H)", "db": "(H,)"},
    equation="With da = dh * (1 - h**2): dx = da @ Wx.T, dh_prev = da @ Wh.T, dWx = x.T @ da, "
    "dWh = h_prev.T @ da, db = da.sum(axis=0).",
    mistakes=[
        _Mistake(
            "The tanh derivative is missing: first form da = dh * (1 - h**2), with h = cache.h the "
            "step's output.",
            lambda c: _step_grads(c, da=c["dh"]),
        ),
        _Mistake(
            "The tanh derivative is taken at h_prev; it is 1 - h**2 with h = cache.h, the step's output.",
            lambda c: _step_grads(c, da=c["dh"] * (1.0 - c["cache"].h_prev ** 2)),
        ),
        _Mistake(
            "tanh is applied twice: cache.h is already tanh(a), so the derivative is 1 - h**2, "
            "not 1 - tanh(h)**2.",
            lambda c: _step_grads(c, da=c["dh"] * (1.0 - np.tanh(c["cache"].h) ** 2)),
        ),
        _Mistake(
            "dWh uses h instead of h_prev: dWh = h_prev.T @ da, because Wh multiplies the previous state.",
            lambda c: {"dWh": c["cache"].h.T @ _da(c)},
        ),
        _Mistake(
            "dh_prev uses Wh instead of Wh.T: dh_prev = da @ Wh.T.",
            lambda c: {"dh_prev": _da(c) @ c["cache"].Wh},
        ),
        _Mistake("dx uses Wx instead of Wx.T: dx = da @ Wx.T.", _untransposed_dx),
        _Mistake(
            "db is averaged over the batch; the loss sums over the batch, so db = da.sum(axis=0).",
            lambda c: {"db": _da(c).mean(0)},
        ),
    ],
)


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
    return _run(_RNN_STEP_BACKWARD, fn, _rnn_step_backward_cases(), ("dh", "cache"))


_SEQ_GRADS = ("dx", "dh0", "dWx", "dWh", "db")


def _rnn_backward_cases() -> list[dict]:
    rng = np.random.default_rng(302)
    cases = []
    for N, T, D, H in [(2, 5, 3, 3), (3, 3, 2, 4), (1, 1, 2, 3)]:  # square first
        p = _rnn_params(rng, D, H)
        x, h0 = rng.normal(size=(N, T, D)), rng.uniform(-1, 1, size=(N, H))
        _, cache = _ref("rnn").rnn_forward(x, h0, p["Wx"], p["Wh"], p["b"])
        cases.append({"dh": rng.normal(size=(N, T, H)), "cache": cache, "_label": _label(N=N, T=T, D=D, H=H)})
    return cases


def _bptt(c: dict, carry: bool = True, accumulate: bool = True, backwards: bool = True) -> dict:
    rnn, k, dh = _ref("rnn"), c["cache"], c["dh"]
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
    return dict(zip(_SEQ_GRADS, [dx, dh_next, *sums], strict=True))


_RNN_BACKWARD = _Exercise(
    name="check_rnn_backward",
    outputs=_SEQ_GRADS,
    reference=lambda c: dict(zip(_SEQ_GRADS, _ref("rnn").rnn_backward(c["dh"], c["cache"]), strict=True)),
    shapes={"dx": "(N, T, D)", "dh0": "(N, H)", "dWx": "(D, H)", "dWh": "(H, H)", "db": "(H,)"},
    equation="Walk t = T-1, ..., 0, call the step backward on dh[:, t] + dh_next (the gradient carried "
    "from step t+1), sum dWx, dWh and db over the steps; dh0 is the last dh_prev.",
    mistakes=[
        _Mistake(
            "The carried gradient is not added: the gradient of h[:, t] is the upstream dh[:, t] plus "
            "the dh_prev that step t+1 sent back.",
            lambda c: _bptt(c, carry=False),
        ),
        _Mistake(
            "The weight gradients are not accumulated: Wx, Wh and b are shared by every step, so dWx, "
            "dWh and db are sums over all T steps.",
            lambda c: _bptt(c, accumulate=False),
        ),
        _Mistake(
            "The loop runs forward in time; BPTT walks t = T-1, ..., 0, because the gradient of "
            "h[:, t] needs the one of h[:, t+1] first.",
            lambda c: _bptt(c, backwards=False),
        ),
    ],
)


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
    return _run(_RNN_BACKWARD, fn, _rnn_backward_cases(), ("dh", "cache"))


# --------------------------------------------------------------------------------------------------
# The masked softmax cross-entropy and its gradient.


def _ce_cases() -> list[dict]:
    rng = np.random.default_rng(303)
    cases = []
    for N, T, V, scale in [(2, 5, 4, 2.0), (3, 4, 6, 1.0), (1, 3, 3, 1.0), (2, 3, 5, 1e3)]:
        mask = rng.random((N, T)) < 0.7
        mask[0, 0], mask[-1, -1] = True, False  # at least one position counts, at least one does not
        targets = np.where(mask, rng.integers(0, V, size=(N, T)), 0)  # padding holds class 0
        cases.append(
            {
                "logits": rng.normal(scale=scale, size=(N, T, V)),
                "targets": targets,
                "mask": mask,
                "_label": _label(N=N, T=T, V=V, scale=scale),
            }
        )
    return cases


def _ce(c: dict, divide: str = "M", mask_grad: bool = True, mask_loss: bool = True, sign: float = 1.0):
    """The loss and gradient with one part changed: the divisor, the mask, or the gradient's sign."""
    z, y, keep = c["logits"], c["targets"], c["mask"]
    log_p = z - z.max(-1, keepdims=True)  # (N, T, V)
    log_p = log_p - np.log(np.exp(log_p).sum(-1, keepdims=True))
    onehot = np.eye(z.shape[-1])[y]  # (N, T, V)
    counts = keep if mask_loss else np.ones_like(keep)
    M = {"M": keep.sum(), "NT": keep.size, "1": 1}[divide]
    loss = -(np.sum(log_p * onehot, -1) * counts).sum() / M
    grad = sign * (np.exp(log_p) - onehot) / M
    return {"loss": np.asarray(loss), "dlogits": grad * keep[..., None] if mask_grad else grad}


_CE = _Exercise(
    name="check_masked_cross_entropy",
    outputs=("loss", "dlogits"),
    reference=lambda c: dict(
        zip(
            ("loss", "dlogits"),
            _ref("losses").softmax_cross_entropy(c["logits"], c["targets"], c["mask"]),
            strict=True,
        )
    ),
    shapes={"loss": "() (a number)", "dlogits": "(N, T, V)"},
    nonfinite_hint="exp overflows for large logits: subtract each row's largest logit first",
    equation="With p = softmax(logits) and M = mask.sum(): loss = -sum over unmasked positions of "
    "log p[target] / M, and dlogits = (p - onehot(target)) / M at unmasked positions, 0 at masked ones.",
    mistakes=[
        _Mistake(
            "The mask is ignored: padded positions count in the loss and get a gradient.",
            lambda c: _ce(c, divide="NT", mask_grad=False, mask_loss=False),
        ),
        _Mistake(
            "The sum is divided by N·T, the number of all positions; the mean is over the M = mask.sum() "
            "positions that count.",
            lambda c: _ce(c, divide="NT"),
        ),
        _Mistake(
            "The masked positions get a gradient; a position that does not count in the loss has "
            "dlogits exactly 0.",
            lambda c: {"dlogits": _ce(c, mask_grad=False)["dlogits"]},
        ),
        _Mistake(
            "dlogits is not divided by M: the loss is a mean over M positions, so each position's "
            "gradient is (p - onehot) / M.",
            lambda c: {"dlogits": _ce(c, divide="1")["dlogits"]},
        ),
        _Mistake(
            "The loss is a sum over the positions, not their mean: divide by M = mask.sum().",
            lambda c: {"loss": _ce(c, divide="1")["loss"]},
        ),
        _Mistake(
            "dlogits has the wrong sign: the gradient of -log p[target] is p - onehot, not onehot - p.",
            lambda c: {"dlogits": _ce(c, sign=-1.0)["dlogits"]},
        ),
    ],
)


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
    return _run(_CE, fn, _ce_cases(), ("logits", "targets", "mask"))


# --------------------------------------------------------------------------------------------------
# Pen and paper: the fraction of the gradient that truncated BPTT keeps, for a pulse at step 1.


def _ratio_cases() -> list[dict]:
    # (T, k) with k >= T first, then chunks that divide T and ones that do not
    pairs = [(7, 10), (10, 5), (12, 5), (9, 3), (20, 6)]
    return [{"T": T, "k": k, "_label": _label(T=T, k=k)} for T, k in pairs]


def _ratio(c: dict, kept=None, total=None) -> dict:
    T, k = c["T"], c["k"]
    start = k * ((T - 1) // k) + 1  # first step of the last chunk; chunks start at steps 1, k+1, ...
    kept = (T - max(start, 2) + 1) if kept is None else kept  # terms t >= 2 in the last chunk
    total = T - 1 if total is None else total
    return {"ratio": np.asarray(kept / total)}


_RATIO = _Exercise(
    name="check_truncation_ratio",
    outputs=("ratio",),
    reference=_ratio,
    shapes={"ratio": "() (a number)"},
    equation="The full gradient is (T - 1) w^(T-2): one term w^(T-t) h_{t-1} for each step t = 2, ..., T. "
    "Truncation keeps the terms of the last chunk only; chunks start at steps 1, k + 1, 2k + 1, ...",
    mistakes=[
        _Mistake(
            "Your last chunk is always k steps long, as if chunks were counted back from T; they start "
            "at step 1, so the last one holds T - k*floor((T-1)/k) steps.",
            lambda c: _ratio(c, kept=min(c["k"], c["T"] - 1)),
        ),
        _Mistake(
            "A ratio above 1: with k >= T nothing is truncated and the ratio is 1; and when k does "
            "not divide T the last chunk is shorter than k.",
            lambda c: _ratio(c, kept=c["k"]),
        ),
        _Mistake(
            "The full gradient has T - 1 terms, not T: the term of step 1 is w^(T-1) h_0 = 0, "
            "because h_0 = 0.",
            lambda c: _ratio(c, total=c["T"]),
        ),
        _Mistake(
            "The ratio is upside down: it is the truncated gradient divided by the full one, at most 1.",
            lambda c: {"ratio": 1.0 / _ratio(c)["ratio"]},
        ),
    ],
)


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
    if not callable(fn):
        raise TypeError(f"check_truncation_ratio: expected your function, got {type(fn).__name__}")
    return _run(_RATIO, fn, _ratio_cases(), ("T", "k"))
