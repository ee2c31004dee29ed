"""Self-checks for the exercises of chapter 3, *Backpropagation through time*: the backward pass of
one RNN step and of the whole sequence.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion.exercises._engine import _Exercise, _label, _Mistake, _ref, _run
from companion.exercises.ch02_hidden_state import _rnn_params
from companion.exercises.report import CheckPassed

__all__ = ["check_rnn_step_backward", "check_rnn_backward"]


_STEP_GRADS = ("dx", "dh_prev", "dWx", "dWh", "db")


def _rnn_step_backward_cases() -> list[dict]:
    rng = np.random.default_rng(301)
    cases = []
    for N, D, H in [(3, 4, 5), (4, 3, 3), (1, 2, 4)]:
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
    for N, T, D, H in [(2, 5, 3, 4), (3, 3, 2, 2), (1, 1, 2, 3)]:
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
