"""Self-checks for the exercises of chapter 1, *Sequences*: window features and a linear recurrence."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion.exercises._engine import _Exercise, _label, _Mistake, _ref, _run
from companion.exercises.report import CheckPassed

__all__ = ["check_window_features", "check_linear_recurrence"]


def _window_cases() -> list[dict]:
    rng = np.random.default_rng(101)
    cases = []
    for N, T, D, width in [(2, 6, 3, 3), (3, 4, 2, 6), (1, 5, 1, 1), (2, 7, 2, 2)]:
        cases.append(
            {"x": rng.normal(size=(N, T, D)), "width": width, "_label": _label(N=N, T=T, D=D, width=width)}
        )
    return cases


def _window(case: dict, order: str = "oldest", pad: str = "zeros", end: int = 0) -> np.ndarray:
    x, w = case["x"], case["width"]
    N, T, D = x.shape
    lags = range(w - 1 + end, end - 1, -1) if order == "oldest" else range(end, w + end)
    cols = []
    for lag in lags:  # the column holding x[t - lag]
        shifted = np.roll(x, lag, axis=1)  # (N, T, D), wraps around
        if pad == "zeros":
            shifted[:, : min(lag, T)] = 0.0
        cols.append(shifted)
    return np.concatenate(cols, axis=2)  # (N, T, w*D)


_WINDOW = _Exercise(
    name="check_window_features",
    outputs=("features",),
    reference=lambda c: {"features": _ref("window").window_features(c["x"], c["width"])},
    shapes={"features": "(N, T, width * D)"},
    equation="Row [n, t] must be x[n, t-width+1], ..., x[n, t] flattened, oldest first, with zeros "
    "where t-width+1 < 0.",
    mistakes=[
        _Mistake(
            "Your window is ordered newest first; order it oldest first: x[t-width+1], ..., x[t].",
            lambda c: {"features": _window(c, order="newest")},
        ),
        _Mistake(
            "Steps before the start of the sequence wrap around to its end (np.roll?); they must be zeros.",
            lambda c: {"features": _window(c, pad="wrap")},
        ),
        _Mistake(
            "Your window ends one step too early; it must include the current input x[t].",
            lambda c: {"features": _window(c, end=1)},
        ),
        _Mistake(
            "The features are grouped by input dimension; group them by time step: the D values of "
            "x[t-width+1] first, then those of the next step.",
            lambda c: {
                "features": _window(c)
                .reshape(*c["x"].shape[:2], c["width"], -1)
                .transpose(0, 1, 3, 2)
                .reshape(*c["x"].shape[:2], -1)
            },
        ),
    ],
)


def check_window_features(fn: Callable) -> CheckPassed:
    """Check the reader's window features (chapter 1 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(x, width)`` with ``x`` of shape (N, T, D) and an int ``width`` >= 1, returning an
        ndarray of shape (N, T, width * D) whose row ``[n, t]`` is ``x[n, t-width+1], ..., x[n, t]``
        flattened, oldest first, with zeros before the start of the sequence.

    Returns
    -------
    CheckPassed
        When every case agrees with :func:`companion.ref.window.window_features`.

    Raises
    ------
    ExerciseError
        Naming the fault: a wrong shape, the window reversed, wrapped around the start, one step
        early, or grouped by feature instead of by time step.

    Examples
    --------
    >>> from companion.ref.window import window_features
    >>> check_window_features(window_features)
    ✓ check_window_features: all checks passed (4 cases)
    """
    return _run(_WINDOW, fn, _window_cases(), ("x", "width"))


def _linear_cases() -> list[dict]:
    rng = np.random.default_rng(102)
    cases = []
    for N, T, D, H, K in [(2, 5, 2, 3, 2), (3, 6, 3, 3, 1), (1, 4, 1, 2, 1)]:
        cases.append(
            {
                "x": rng.normal(size=(N, T, D)),
                "h0": rng.normal(size=(N, H)),
                "A": rng.normal(scale=0.5, size=(H, H)),
                "B": rng.normal(size=(D, H)),
                "C": rng.normal(size=(H, K)),
                "_label": _label(N=N, T=T, D=D, H=H, K=K),
            }
        )
    return cases


def _linear(case: dict, carry: bool = True, A=None, h0=None, read_before: bool = False) -> np.ndarray:
    A = case["A"] if A is None else A
    h0 = case["h0"] if h0 is None else h0
    state, ys = h0, []
    for t in range(case["x"].shape[1]):
        new = (state if carry else h0) @ A + case["x"][:, t] @ case["B"]  # (N, H)
        ys.append((state if read_before else new) @ case["C"])  # (N, K)
        state = new
    return np.stack(ys, axis=1)  # (N, T, K)


_LINEAR = _Exercise(
    name="check_linear_recurrence",
    outputs=("y",),
    extra_ok=True,
    reference=lambda c: {"y": _ref("linear").linear_recurrence(c["x"], c["h0"], c["A"], c["B"], c["C"])[0]},
    shapes={"y": "(N, T, K)"},
    equation="Starting from h0: h_t = h_{t-1} @ A + x_t @ B and y_t = h_t @ C for every step.",
    mistakes=[
        _Mistake(
            "The output reads the state before the update; y_t = h_t @ C uses the new state "
            "h_t = h_{t-1} @ A + x_t @ B.",
            lambda c: {"y": _linear(c, read_before=True)},
        ),
        _Mistake(
            "h0 is ignored; the recursion starts from the initial state it is given.",
            lambda c: {"y": _linear(c, h0=np.zeros_like(c["h0"]))},
        ),
        _Mistake(
            "The transition is applied as A @ h (column vectors); with one row per sequence it is h @ A.",
            lambda c: {"y": _linear(c, A=c["A"].T)},
        ),
        _Mistake(
            "The state is not carried: every step starts again from h0 instead of the previous state.",
            lambda c: {"y": _linear(c, carry=False)},
        ),
    ],
)


def check_linear_recurrence(fn: Callable) -> CheckPassed:
    """Check the reader's linear recurrence (chapter 1 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(x, h0, A, B, C)`` with ``x`` (N, T, D), ``h0`` (N, H), ``A`` (H, H), ``B`` (D, H) and
        ``C`` (H, K), returning the outputs ``y`` of shape (N, T, K) (or a tuple that starts with
        them).

    Returns
    -------
    CheckPassed
        When every case agrees with :func:`companion.ref.linear.linear_recurrence`.

    Raises
    ------
    ExerciseError
        Naming the fault: a wrong shape, the output read before the update, ``h0`` ignored, the
        transition applied from the wrong side, or the state not carried.

    Notes
    -----
    :math:`h_t = h_{t-1} A + x_t B`, :math:`y_t = h_t C`, for :math:`t = 1, \\dots, T`.

    Examples
    --------
    >>> from companion.ref.linear import linear_recurrence
    >>> check_linear_recurrence(linear_recurrence)
    ✓ check_linear_recurrence: all checks passed (3 cases)
    """
    return _run(_LINEAR, fn, _linear_cases(), ("x", "h0", "A", "B", "C"))
