"""Self-checks for the exercises of chapter 2, *The hidden state*: one tanh RNN step, the whole
sequence, and a leaky RNN.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion.exercises.engine import Exercise, variants
from companion.exercises.inputs import make_cases, ref, rnn_weights, sigmoid
from companion.exercises.report import CheckPassed

__all__ = ["check_rnn_step_forward", "check_rnn_forward", "check_leaky_rnn_forward"]


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
    return _RNN_STEP.check(fn)


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
    return _RNN_SEQ.check(fn)


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
    return _LEAKY.check(fn)


_ACTIVATIONS = {
    "tanh": np.tanh,
    "none": lambda a: a,
    "sigmoid": sigmoid,
    "relu": lambda a: np.maximum(a, 0.0),
}


def _step(c: dict, *, act="tanh", bias=True, h_prev=True, Wx="Wx", Wh="Wh") -> dict:
    """One step (keywords at their defaults) and the known mistakes: another activation, the bias or
    ``h_prev`` left out, ``Wh`` transposed (``"Wh.T"``) or the two weights swapped."""
    weights = {"Wx": c["Wx"], "Wh": c["Wh"], "Wh.T": c["Wh"].T}
    Wx, Wh = weights[Wx], weights[Wh]
    if Wx.shape[0] != c["x"].shape[1] or Wh.shape[0] != c["h_prev"].shape[1]:
        return {}  # swapped weights that do not fit: a mistake these sizes cannot show
    a = c["x"] @ Wx + (c["h_prev"] @ Wh if h_prev else 0.0) + (c["b"] if bias else 0.0)  # (N, H)
    return {"h": _ACTIVATIONS[act](a)}


def _step_case(rng, N, D, H) -> dict:
    return {"x": rng.normal(size=(N, D)), "h_prev": rng.uniform(-1, 1, size=(N, H)), **rnn_weights(rng, D, H)}


_RNN_STEP = Exercise(
    "check_rnn_step_forward(x, h_prev, Wx, Wh, b) -> h (N, H), ...",
    # square first: Wx and Wh can be swapped
    cases=lambda: make_cases(201, "N D H", [(3, 4, 4), (2, 3, 5), (1, 2, 4)], _step_case),
    reference=lambda c: {"h": ref("rnn").rnn_step_forward(c["x"], c["h_prev"], c["Wx"], c["Wh"], c["b"])[0]},
    equation="The step is h = tanh(x @ Wx + h_prev @ Wh + b).",
    mistakes=variants(
        _step,
        {
            "The tanh is missing: h = tanh(x @ Wx + h_prev @ Wh + b).": {"act": "none"},
            "A sigmoid is used where the step applies tanh.": {"act": "sigmoid"},
            "A ReLU is used where the step applies tanh.": {"act": "relu"},
            "The bias b is missing.": {"bias": False},
            "h_prev is ignored: the previous state enters through h_prev @ Wh.": {"h_prev": False},
            "Wh is used transposed: with one row per sequence the recurrent term is h_prev @ Wh.": {
                "Wh": "Wh.T"
            },
            "Wx and Wh are swapped: x goes with Wx, h_prev with Wh.": {"Wx": "Wh", "Wh": "Wx"},
        },
    ),
)


def _rnn_loop(c: dict, *, zero_h0=False, carry=True, act="tanh", store_prev=False) -> dict:
    """The whole sequence (keywords at their defaults) and the known mistakes."""
    h0 = np.zeros_like(c["h0"]) if zero_h0 else c["h0"]
    state, hs = h0, []
    for t in range(c["x"].shape[1]):
        a = c["x"][:, t] @ c["Wx"] + (state if carry else h0) @ c["Wh"] + c["b"]  # (N, H)
        new = _ACTIVATIONS[act](a)
        hs.append(state if store_prev else new)
        state = new
    return {"h": np.stack(hs, axis=1)}  # (N, T, H)


def _seq_hint(name: str, got: tuple, want: tuple) -> str:
    N, T, H = want
    if got == (T, N, H):
        return " (time first? the package is batch first: (N, T, H))"
    if got == (N, H):
        return " (only the final state? return the state after every step; the final one is h[:, -1])"
    if got == (N, T + 1, H):
        return " (h0 included? h[:, t] is the state after reading x[:, t])"
    return ""


def _seq_case(rng, N, T, D, H, **extra) -> dict:
    return {
        "x": rng.normal(size=(N, T, D)),
        "h0": rng.uniform(-1, 1, size=(N, H)),
        **rnn_weights(rng, D, H),
        **extra,
    }


_H0_IGNORED = "h0 is ignored; the first step starts from the initial state it is given."

_RNN_SEQ = Exercise(
    "check_rnn_forward(x, h0, Wx, Wh, b) -> h (N, T, H), ...",
    # square first
    cases=lambda: make_cases(202, "N T D H", [(2, 5, 3, 3), (3, 4, 2, 4), (1, 1, 2, 3)], _seq_case),
    reference=lambda c: {"h": ref("rnn").rnn_forward(c["x"], c["h0"], c["Wx"], c["Wh"], c["b"])[0]},
    shape_hint=_seq_hint,
    equation="Starting from h0: h[:, t] = tanh(x[:, t] @ Wx + h[:, t-1] @ Wh + b) for t = 0, ..., T-1.",
    mistakes=variants(
        _rnn_loop,
        {
            _H0_IGNORED: {"zero_h0": True},
            "Each h[:, t] holds the state before step t; it must be the state after reading x[:, t].": {
                "store_prev": True
            },
            "The state is not carried: every step starts again from h0 instead of the previous state.": {
                "carry": False
            },
            "The tanh is missing at each step.": {"act": "none"},
        },
    ),
)


# --------------------------------------------------------------------------------------------------
# A leaky RNN: h_t = (1 - alpha) h_{t-1} + alpha tanh(x_t Wx + h_{t-1} Wh + b).


def _leaky(c: dict, *, mix="leaky", squash_mix=False, zero_h0=False) -> dict:
    """The leaky RNN (keywords at their defaults) and the known mistakes: the weights of the old state
    and the new candidate exchanged or the vanilla ones, the tanh on the mixture, h0 ignored."""
    alpha = c["alpha"]
    keep, take = {"leaky": (1.0 - alpha, alpha), "exchanged": (alpha, 1.0 - alpha), "vanilla": (0.0, 1.0)}[
        mix
    ]
    state, hs = (np.zeros_like(c["h0"]) if zero_h0 else c["h0"]), []
    for t in range(c["x"].shape[1]):
        a = c["x"][:, t] @ c["Wx"] + state @ c["Wh"] + c["b"]  # (N, H)
        state = np.tanh(keep * state + take * a) if squash_mix else keep * state + take * np.tanh(a)
        hs.append(state)
    return {"h": np.stack(hs, axis=1)}  # (N, T, H)


_LEAKY = Exercise(
    "check_leaky_rnn_forward(x, h0, Wx, Wh, b, alpha) -> h (N, T, H), ...",
    cases=lambda: make_cases(
        203,
        "N T D H alpha",
        [(2, 6, 3, 3, 0.2), (3, 4, 2, 5, 0.7), (1, 1, 2, 3, 0.35)],
        _seq_case,
    ),
    reference=_leaky,
    shape_hint=_seq_hint,
    equation="Starting from h0: h_t = (1 - alpha) * h_{t-1} + alpha * tanh(x_t @ Wx + h_{t-1} @ Wh + b).",
    keyword_mistakes={
        "alpha and 1 - alpha are exchanged: alpha is the weight of the new tanh step, 1 - alpha "
        "the weight of the old state.": {"mix": "exchanged"},
        "alpha is ignored: this is the vanilla RNN (alpha = 1).": {"mix": "vanilla"},
        "The tanh is applied to the mixture; the leak mixes the old state with tanh of the "
        "pre-activation, outside the tanh.": {"squash_mix": True},
        _H0_IGNORED: {"zero_h0": True},
    },
)
