"""Self-checks for the exercises of chapter 2, *The hidden state*: one tanh RNN step, the whole
sequence, and a leaky RNN.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion.exercises._engine import _Exercise, _label, _Mistake, _ref, _run, _sigmoid
from companion.exercises.report import CheckPassed

__all__ = ["check_rnn_step_forward", "check_rnn_forward", "check_leaky_rnn_forward"]


def _rnn_params(rng, D: int, H: int) -> dict:
    return {
        "Wx": rng.normal(scale=0.6, size=(D, H)),
        "Wh": rng.normal(scale=0.6, size=(H, H)),
        "b": rng.normal(scale=0.5, size=H),
    }


def _rnn_step_cases() -> list[dict]:
    rng = np.random.default_rng(201)
    cases = []
    for N, D, H in [(3, 4, 4), (2, 3, 5), (1, 2, 4)]:  # square first: Wx and Wh can be swapped
        x, h_prev = rng.normal(size=(N, D)), rng.uniform(-1, 1, size=(N, H))
        cases.append({"x": x, "h_prev": h_prev, **_rnn_params(rng, D, H), "_label": _label(N=N, D=D, H=H)})
    return cases


def _pre(c: dict, Wh=None) -> np.ndarray:
    return c["x"] @ c["Wx"] + c["h_prev"] @ (c["Wh"] if Wh is None else Wh) + c["b"]  # (N, H)


def _swapped(c: dict) -> dict:
    if c["Wx"].shape != c["Wh"].shape:
        return {}
    return {"h": np.tanh(c["x"] @ c["Wh"] + c["h_prev"] @ c["Wx"] + c["b"])}


_RNN_STEP = _Exercise(
    name="check_rnn_step_forward",
    outputs=("h",),
    extra_ok=True,
    reference=lambda c: {"h": _ref("rnn").rnn_step_forward(c["x"], c["h_prev"], c["Wx"], c["Wh"], c["b"])[0]},
    shapes={"h": "(N, H)"},
    equation="The step is h = tanh(x @ Wx + h_prev @ Wh + b).",
    mistakes=[
        _Mistake("The tanh is missing: h = tanh(x @ Wx + h_prev @ Wh + b).", lambda c: {"h": _pre(c)}),
        _Mistake("A sigmoid is used where the step applies tanh.", lambda c: {"h": _sigmoid(_pre(c))}),
        _Mistake("A ReLU is used where the step applies tanh.", lambda c: {"h": np.maximum(_pre(c), 0.0)}),
        _Mistake("The bias b is missing.", lambda c: {"h": np.tanh(_pre(c) - c["b"])}),
        _Mistake(
            "h_prev is ignored: the previous state enters through h_prev @ Wh.",
            lambda c: {"h": np.tanh(c["x"] @ c["Wx"] + c["b"])},
        ),
        _Mistake(
            "Wh is used transposed: with one row per sequence the recurrent term is h_prev @ Wh.",
            lambda c: {"h": np.tanh(_pre(c, Wh=c["Wh"].T))},
        ),
        _Mistake("Wx and Wh are swapped: x goes with Wx, h_prev with Wh.", _swapped),
    ],
)


def check_rnn_step_forward(fn: Callable) -> CheckPassed:
    """Check the reader's vanilla RNN step (chapter 2 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(x, h_prev, Wx, Wh, b)`` with ``x`` (N, D), ``h_prev`` (N, H), ``Wx`` (D, H), ``Wh``
        (H, H) and ``b`` (H,), returning the new state ``h`` of shape (N, H) (or a tuple that
        starts with it, such as ``(h, cache)``).

    Returns
    -------
    CheckPassed
        When every case agrees with :func:`companion.ref.rnn.rnn_step_forward`.

    Raises
    ------
    ExerciseError
        Naming the fault: a wrong shape, tanh missing or replaced, the bias or ``h_prev`` left out,
        a weight transposed or the two weights swapped.

    Notes
    -----
    :math:`h = \\tanh(x W_x + h_{\\text{prev}} W_h + b)`, one row per sequence.

    Examples
    --------
    >>> from companion.ref.rnn import rnn_step_forward
    >>> check_rnn_step_forward(rnn_step_forward)
    ✓ check_rnn_step_forward: all checks passed (3 cases)
    """
    return _run(_RNN_STEP, fn, _rnn_step_cases(), ("x", "h_prev", "Wx", "Wh", "b"))


def _rnn_seq_cases() -> list[dict]:
    rng = np.random.default_rng(202)
    cases = []
    for N, T, D, H in [(2, 5, 3, 3), (3, 4, 2, 4), (1, 1, 2, 3)]:  # square first
        x, h0 = rng.normal(size=(N, T, D)), rng.uniform(-1, 1, size=(N, H))
        cases.append({"x": x, "h0": h0, **_rnn_params(rng, D, H), "_label": _label(N=N, T=T, D=D, H=H)})
    return cases


def _rnn_loop(c: dict, h0=None, carry: bool = True, act=np.tanh, store_prev: bool = False) -> np.ndarray:
    h0 = c["h0"] if h0 is None else h0
    state, hs = h0, []
    for t in range(c["x"].shape[1]):
        new = act(c["x"][:, t] @ c["Wx"] + (state if carry else h0) @ c["Wh"] + c["b"])  # (N, H)
        hs.append(state if store_prev else new)
        state = new
    return np.stack(hs, axis=1)  # (N, T, H)


def _seq_hint(name: str, got: tuple, want: tuple) -> str:
    N, T, H = want
    if got == (T, N, H):
        return " (time first? the package is batch first: (N, T, H))"
    if got == (N, H):
        return " (only the final state? return the state after every step; the final one is h[:, -1])"
    if got == (N, T + 1, H):
        return " (h0 included? h[:, t] is the state after reading x[:, t])"
    return ""


_RNN_SEQ = _Exercise(
    name="check_rnn_forward",
    outputs=("h",),
    extra_ok=True,
    reference=lambda c: {"h": _ref("rnn").rnn_forward(c["x"], c["h0"], c["Wx"], c["Wh"], c["b"])[0]},
    shapes={"h": "(N, T, H)"},
    shape_hint=_seq_hint,
    equation="Starting from h0: h[:, t] = tanh(x[:, t] @ Wx + h[:, t-1] @ Wh + b) for t = 0, ..., T-1.",
    mistakes=[
        _Mistake(
            "h0 is ignored; the first step starts from the initial state it is given.",
            lambda c: {"h": _rnn_loop(c, h0=np.zeros_like(c["h0"]))},
        ),
        _Mistake(
            "Each h[:, t] holds the state before step t; it must be the state after reading x[:, t].",
            lambda c: {"h": _rnn_loop(c, store_prev=True)},
        ),
        _Mistake(
            "The state is not carried: every step starts again from h0 instead of the previous state.",
            lambda c: {"h": _rnn_loop(c, carry=False)},
        ),
        _Mistake("The tanh is missing at each step.", lambda c: {"h": _rnn_loop(c, act=lambda a: a)}),
    ],
)


def check_rnn_forward(fn: Callable) -> CheckPassed:
    """Check the reader's vanilla RNN over a whole sequence (chapter 2 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(x, h0, Wx, Wh, b)`` with ``x`` (N, T, D), ``h0`` (N, H), ``Wx`` (D, H), ``Wh`` (H, H)
        and ``b`` (H,), returning every hidden state ``h`` of shape (N, T, H) (or a tuple that
        starts with it).

    Returns
    -------
    CheckPassed
        When every case agrees with :func:`companion.ref.rnn.rnn_forward`.

    Raises
    ------
    ExerciseError
        Naming the fault: time first instead of batch first, only the final state, ``h0`` ignored,
        states shifted by one step, the state not carried, or tanh missing.

    Examples
    --------
    >>> from companion.ref.rnn import rnn_forward
    >>> check_rnn_forward(rnn_forward)
    ✓ check_rnn_forward: all checks passed (3 cases)
    """
    return _run(_RNN_SEQ, fn, _rnn_seq_cases(), ("x", "h0", "Wx", "Wh", "b"))


# --------------------------------------------------------------------------------------------------
# A leaky RNN: h_t = (1 - alpha) h_{t-1} + alpha tanh(x_t Wx + h_{t-1} Wh + b).


def _leaky_cases() -> list[dict]:
    rng = np.random.default_rng(203)
    cases = []
    for N, T, D, H, alpha in [(2, 6, 3, 3, 0.2), (3, 4, 2, 5, 0.7), (1, 1, 2, 3, 0.35)]:
        x, h0 = rng.normal(size=(N, T, D)), rng.uniform(-1, 1, size=(N, H))
        cases.append(
            {
                "x": x,
                "h0": h0,
                **_rnn_params(rng, D, H),
                "alpha": alpha,
                "_label": _label(N=N, T=T, D=D, H=H, alpha=alpha),
            }
        )
    return cases


def _leaky(c: dict, keep=None, take=None, squash_mix: bool = False, h0=None) -> np.ndarray:
    alpha = c["alpha"]
    keep = 1.0 - alpha if keep is None else keep  # weight of the old state
    take = alpha if take is None else take  # weight of the new candidate
    state, hs = (c["h0"] if h0 is None else h0), []
    for t in range(c["x"].shape[1]):
        a = c["x"][:, t] @ c["Wx"] + state @ c["Wh"] + c["b"]  # (N, H)
        state = np.tanh(keep * state + take * a) if squash_mix else keep * state + take * np.tanh(a)
        hs.append(state)
    return np.stack(hs, axis=1)  # (N, T, H)


_LEAKY = _Exercise(
    name="check_leaky_rnn_forward",
    outputs=("h",),
    extra_ok=True,
    reference=lambda c: {"h": _leaky(c)},
    shapes={"h": "(N, T, H)"},
    shape_hint=_seq_hint,
    equation="Starting from h0: h_t = (1 - alpha) * h_{t-1} + alpha * tanh(x_t @ Wx + h_{t-1} @ Wh + b).",
    mistakes=[
        _Mistake(
            "alpha and 1 - alpha are exchanged: alpha is the weight of the new tanh step, 1 - alpha "
            "the weight of the old state.",
            lambda c: {"h": _leaky(c, keep=c["alpha"], take=1.0 - c["alpha"])},
        ),
        _Mistake(
            "alpha is ignored: this is the vanilla RNN (alpha = 1).",
            lambda c: {"h": _leaky(c, keep=0.0, take=1.0)},
        ),
        _Mistake(
            "The tanh is applied to the mixture; the leak mixes the old state with tanh of the "
            "pre-activation, outside the tanh.",
            lambda c: {"h": _leaky(c, squash_mix=True)},
        ),
        _Mistake(
            "h0 is ignored; the first step starts from the initial state it is given.",
            lambda c: {"h": _leaky(c, h0=np.zeros_like(c["h0"]))},
        ),
    ],
)


def check_leaky_rnn_forward(fn: Callable) -> CheckPassed:
    """Check the reader's leaky RNN over a whole sequence (chapter 2 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(x, h0, Wx, Wh, b, alpha)`` with ``x`` (N, T, D), ``h0`` (N, H), ``Wx`` (D, H), ``Wh``
        (H, H), ``b`` (H,) and a float ``alpha`` in (0, 1], returning every hidden state ``h`` of
        shape (N, T, H) (or a tuple that starts with it).

    Returns
    -------
    CheckPassed
        When every case agrees with the leaky update below.

    Raises
    ------
    ExerciseError
        Naming the fault: a wrong shape, ``alpha`` and ``1 - alpha`` exchanged, ``alpha`` ignored,
        the tanh applied to the mixture, or ``h0`` ignored.

    Notes
    -----
    :math:`h_t = (1 - \\alpha)\\, h_{t-1} + \\alpha \\tanh(x_t W_x + h_{t-1} W_h + b)`: a leaky unit,
    which keeps a fraction :math:`1 - \\alpha` of its state at every step; :math:`\\alpha = 1` is the
    vanilla RNN of :func:`companion.ref.rnn.rnn_forward`.

    Examples
    --------
    >>> def leaky(x, h0, Wx, Wh, b, alpha):
    ...     h, out = h0, []
    ...     for t in range(x.shape[1]):
    ...         h = (1 - alpha) * h + alpha * np.tanh(x[:, t] @ Wx + h @ Wh + b)
    ...         out.append(h)
    ...     return np.stack(out, axis=1)
    >>> check_leaky_rnn_forward(leaky)
    ✓ check_leaky_rnn_forward: all checks passed (3 cases)
    """
    return _run(_LEAKY, fn, _leaky_cases(), ("x", "h0", "Wx", "Wh", "b", "alpha"))
