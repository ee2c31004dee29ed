"""Self-checks for the exercises of chapter 1, *Sequences*: window features, a linear recurrence, and
weights set by hand for a two-step difference.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion.exercises.engine import Exercise, variants
from companion.exercises.inputs import make_cases, ref
from companion.exercises.report import CheckPassed, ExerciseError

__all__ = ["check_window_features", "check_linear_recurrence", "check_difference_weights"]


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
    return _WINDOW.check(fn)


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
    return _LINEAR.check(fn)


def check_difference_weights(A, B, C) -> CheckPassed:
    """Check weights ``(A, B, C)`` chosen by hand for ``y_t = x_t - x_{t-2}`` (chapter 1 exercise).

    The linear recurrence :math:`h_t = h_{t-1} A + x_t B`, :math:`y_t = h_t C` with :math:`h_0 = 0`
    and one input and one output feature must output :math:`y_t = x_t - x_{t-2}` at every step,
    with :math:`x_t = 0` before the sequence starts.

    Parameters
    ----------
    A : array_like of shape (H, H)
        State transition, for any state size H.
    B : array_like of shape (1, H)
        Input map (D = 1).
    C : array_like of shape (H, 1)
        Read-out (K = 1).

    Returns
    -------
    CheckPassed
        When the recurrence computes ``x_t - x_{t-2}`` on every case (random sequences of
        lengths 1 to 12).

    Raises
    ------
    ExerciseError
        Naming the fault: a shape that does not fit, the weights written for column vectors, or
        the difference the weights compute instead (its sign, or how far back it reaches).

    Notes
    -----
    With :math:`h_0 = 0` the output is :math:`y_t = \\sum_{j \\ge 0} (B A^j C)\\, x_{t-j}`: the weights
    must make :math:`B C = 1`, :math:`B A^2 C = -1` and every other :math:`B A^j C = 0`.

    Examples
    --------
    >>> A = np.eye(3, k=1)  # a shift register: slot i holds x_{t-i}
    >>> B, C = np.eye(1, 3), np.array([[1.0], [0.0], [-1.0]])
    >>> check_difference_weights(A, B, C)
    ✓ check_difference_weights: all checks passed (3 cases)
    """
    A, B, C = _as_matrix("A", A), _as_matrix("B", B), _as_matrix("C", C)
    H = A.shape[0]
    if A.shape != (H, H):
        _difference_fail(f"A has shape {A.shape}; expected a square (H, H)")
    if B.shape != (1, H):
        hint = " (transposed? with rows, x_t @ B is (1, H))" if B.shape == (H, 1) else ""
        _difference_fail(f"B has shape {B.shape}; expected (D, H) = (1, {H}){hint}")
    if C.shape != (H, 1):
        hint = " (transposed? with rows, h_t @ C is (1, 1))" if C.shape == (1, H) else ""
        _difference_fail(f"C has shape {C.shape}; expected (H, K) = ({H}, 1){hint}")
    m = _response(A, B, C, steps=max(6, H + 2))
    if not np.allclose(m, np.pad(_TARGET_RESPONSE, (0, len(m) - 6)), rtol=0, atol=1e-9):
        if np.allclose(_response(A.T, B, C, len(m))[:6], _TARGET_RESPONSE, rtol=0, atol=1e-9):
            _difference_fail(
                "A is written for column vectors (A h); with one row per sequence the step is h @ A, "
                "so use the transpose of your A."
            )
        said = "y_t should be x_t - x_{t-2}, but your weights give y_t = " + _describe_response(m)
        for response, says in _DIFFERENCE_MISTAKES:
            want = np.zeros(len(m))
            want[: len(response)] = response
            if np.allclose(m, want, rtol=0, atol=1e-9):
                _difference_fail(f"{said}. {says}")
        _difference_fail(f"{said}. The weight of x_{{t-j}} in y_t is B A^j C: make it 1, 0, -1, 0, ...")
    rng = np.random.default_rng(103)
    linear = ref("linear")
    for T in (12, 2, 1):  # also on sequences shorter than the delay, which start from h_0 = 0
        x = rng.normal(size=(3, T, 1))
        y, _ = linear.linear_recurrence(x, np.zeros((3, H)), A, B, C)
        past = np.concatenate([np.zeros((3, 2, 1)), x], axis=1)[:, :T]  # (N, T, 1): x_{t-2}
        if not np.allclose(y, x - past, rtol=1e-9, atol=1e-9):  # pragma: no cover - follows from m
            _difference_fail(f"the outputs differ from x_t - x_{{t-2}} on a sequence of length {T}")
    return CheckPassed(_DIFFERENCE, 3)


def _window(case: dict, *, order="oldest", pad="zeros", end=0, group="time") -> dict:
    """The reference window (keywords at their defaults) and the known mistakes."""
    x, w = case["x"], case["width"]
    N, T, D = x.shape
    lags = range(w - 1 + end, end - 1, -1) if order == "oldest" else range(end, w + end)
    cols = []
    for lag in lags:  # the column holding x[t - lag]
        shifted = np.roll(x, lag, axis=1)  # (N, T, D), wraps around
        if pad == "zeros":
            shifted[:, : min(lag, T)] = 0.0
        cols.append(shifted)
    features = np.concatenate(cols, axis=2)  # (N, T, w*D)
    if group == "feature":
        features = features.reshape(N, T, w, D).transpose(0, 1, 3, 2).reshape(N, T, w * D)
    return {"features": features}


def _window_case(rng, N, T, D, width) -> dict:
    return {"x": rng.normal(size=(N, T, D)), "width": width}


_WINDOW = Exercise(
    "check_window_features(x, width) -> features (N, T, width * D)",
    cases=lambda: make_cases(
        101, "N T D width", [(2, 6, 3, 3), (3, 4, 2, 6), (1, 5, 1, 1), (2, 7, 2, 2)], _window_case
    ),
    reference=lambda c: {"features": ref("window").window_features(c["x"], c["width"])},
    equation="Row [n, t] must be x[n, t-width+1], ..., x[n, t] flattened, oldest first, with zeros "
    "where t-width+1 < 0.",
    mistakes=variants(
        _window,
        {
            "Your window is ordered newest first; order it oldest first: x[t-width+1], ..., x[t].": {
                "order": "newest"
            },
            "Steps before the start of the sequence wrap around to its end (np.roll?); they must be zeros.": {
                "pad": "wrap"
            },
            "Your window ends one step too early; it must include the current input x[t].": {"end": 1},
            "The features are grouped by input dimension; group them by time step: the D values of "
            "x[t-width+1] first, then those of the next step.": {"group": "feature"},
        },
    ),
)


def _linear(case: dict, *, carry=True, zero_h0=False, transpose_A=False, read_before=False) -> dict:
    """The recurrence's outputs (keywords at their defaults) and the known mistakes."""
    A = case["A"].T if transpose_A else case["A"]
    h0 = np.zeros_like(case["h0"]) if zero_h0 else case["h0"]
    state, ys = h0, []
    for t in range(case["x"].shape[1]):
        new = (state if carry else h0) @ A + case["x"][:, t] @ case["B"]  # (N, H)
        ys.append((state if read_before else new) @ case["C"])  # (N, K)
        state = new
    return {"y": np.stack(ys, axis=1)}  # (N, T, K)


def _linear_case(rng, N, T, D, H, K) -> dict:
    return {
        "x": rng.normal(size=(N, T, D)),
        "h0": rng.normal(size=(N, H)),
        "A": rng.normal(scale=0.5, size=(H, H)),
        "B": rng.normal(size=(D, H)),
        "C": rng.normal(size=(H, K)),
    }


_LINEAR = Exercise(
    "check_linear_recurrence(x, h0, A, B, C) -> y (N, T, K), ...",
    cases=lambda: make_cases(
        102, "N T D H K", [(2, 5, 2, 3, 2), (3, 6, 3, 3, 1), (1, 4, 1, 2, 1)], _linear_case
    ),
    reference=lambda c: {"y": ref("linear").linear_recurrence(c["x"], c["h0"], c["A"], c["B"], c["C"])[0]},
    equation="Starting from h0: h_t = h_{t-1} @ A + x_t @ B and y_t = h_t @ C for every step.",
    mistakes=variants(
        _linear,
        {
            "The output reads the state before the update; y_t = h_t @ C uses the new state "
            "h_t = h_{t-1} @ A + x_t @ B.": {"read_before": True},
            "h0 is ignored; the recursion starts from the initial state it is given.": {"zero_h0": True},
            "The transition is applied as A @ h (column vectors); with one row per sequence it is h @ A.": {
                "transpose_A": True
            },
            "The state is not carried: every step starts again from h0 instead of the previous state.": {
                "carry": False
            },
        },
    ),
)


# --------------------------------------------------------------------------------------------------
# Weights by hand: y_t = x_t - x_{t-2}.

_DIFFERENCE = "check_difference_weights"
_TARGET_RESPONSE = np.array([1.0, 0.0, -1.0, 0.0, 0.0, 0.0])  # y_t = sum_j m_j x_{t-j}: m = (1, 0, -1)

# Impulse responses of common wrong answers, and what to say about each (the first that matches wins).
_DIFFERENCE_MISTAKES = [
    ((-1.0, 0.0, 1.0), "The sign is reversed: you compute x_{t-2} - x_t."),
    ((1.0, 0.0, 1.0), "x_{t-2} is added; the task subtracts it."),
    ((1.0, -1.0, 0.0), "Your weights compute x_t - x_{t-1}: the state must reach back two steps, not one."),
    ((1.0, 0.0, 0.0, -1.0), "Your weights compute x_t - x_{t-3}: the state reaches back one step too far."),
    ((0.0, 0.0, -1.0), "x_t is missing: the read-out must add the newest input as well."),
    ((1.0, 0.0, 0.0), "Only x_t is read; the read-out must also subtract x_{t-2}."),
]


def _difference_fail(message: str):
    raise ExerciseError(f"✗ {_DIFFERENCE}: {message}")


def _as_matrix(name: str, value) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        _difference_fail(f"{name} is a {type(value).__name__}; expected a 2-d array")
    if array.ndim != 2:
        _difference_fail(f"{name} has shape {array.shape}; expected a 2-d array")
    if not np.all(np.isfinite(array)):
        _difference_fail(f"{name} contains NaN or infinite values")
    return array


def _response(A, B, C, steps: int = 6) -> np.ndarray:
    """m_j = B A^j C, the weight of x_{t-j} in y_t, for j = 0, ..., steps - 1."""
    out, row = [], B  # (1, H)
    for _ in range(steps):
        out.append(float((row @ C)[0, 0]))
        row = row @ A  # (1, H)
    return np.array(out)


def _describe_response(m: np.ndarray) -> str:
    terms = [f"{v:+.3g}·x_{{t-{j}}}" if j else f"{v:+.3g}·x_t" for j, v in enumerate(m) if abs(v) > 1e-9]
    return " ".join(terms).lstrip("+") if terms else "0"
