"""Self-checks for the exercises at the end of each chapter.

Each ``check_*`` function takes the reader's own implementation, runs it on a few random inputs of
different shapes, and compares it with the package's reference implementation. If everything
agrees it returns a :class:`CheckPassed`, which a notebook shows as ``✓ ... all checks passed``.
Otherwise it raises :class:`ExerciseError` with a message that names the fault: an output of the
wrong shape, gates read in the wrong order, which gradient is wrong and by how much, or a common
mistake recognised by reproducing it (the tanh derivative left out, ``h`` used for ``h_prev``, the
carried gradient not added ...).

====  ================================  ===================================================
ch.   check                             the reader writes
====  ================================  ===================================================
1     :func:`check_window_features`     ``fn(x, width)``: the last ``width`` inputs per step
1     :func:`check_linear_recurrence`   ``fn(x, h0, A, B, C)``: a linear state-space model
2     :func:`check_rnn_step_forward`    ``fn(x, h_prev, Wx, Wh, b)``: one tanh RNN step
2     :func:`check_rnn_forward`         ``fn(x, h0, Wx, Wh, b)``: the whole sequence
3     :func:`check_rnn_step_backward`   ``fn(dh, cache)``: the gradients of one step
3     :func:`check_rnn_backward`        ``fn(dh, cache)``: backpropagation through time
4     :func:`check_clip_by_norm`        ``fn(grads, max_norm)``: gradient clipping
4     :func:`check_step_jacobian`       ``fn(x, h_prev, Wx, Wh, b)``: one step's Jacobian
5     :func:`check_lstm_step_forward`   ``fn(x, h_prev, c_prev, Wx, Wh, b)``: one LSTM step
6     :func:`check_gru_step_forward`    ``fn(x, h_prev, Wx, Wh, bx, bh)``: one GRU step
====  ================================  ===================================================

The inputs come from fixed seeds, so a check gives the same verdict every time it runs.
"""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from companion.gradcheck import relative_error

__all__ = [
    "ExerciseError",
    "CheckPassed",
    "check_window_features",
    "check_linear_recurrence",
    "check_rnn_step_forward",
    "check_rnn_forward",
    "check_rnn_step_backward",
    "check_rnn_backward",
    "check_clip_by_norm",
    "check_step_jacobian",
    "check_lstm_step_forward",
    "check_gru_step_forward",
]

TOLERANCE = 1e-7  # relative error below which an output counts as equal to the reference


class ExerciseError(AssertionError):
    """Raised by a check when the reader's implementation is wrong; the message names the fault."""


@dataclass(frozen=True)
class CheckPassed:
    """What a check returns when every case agrees with the reference.

    Attributes
    ----------
    check : str
        Name of the check, e.g. ``"check_rnn_step_forward"``.
    cases : int
        Number of input cases compared.
    """

    check: str
    cases: int

    def __repr__(self) -> str:
        return f"✓ {self.check}: all checks passed ({self.cases} cases)"

    __str__ = __repr__


@dataclass
class _Mistake:
    """A known wrong implementation: what to tell the reader, and the outputs it produces (only
    those it changes; an empty dict where it does not apply to a case)."""

    says: str
    outputs: Callable[[dict], dict]


@dataclass
class _Exercise:
    name: str
    outputs: tuple[str, ...]  # names of the values the reader's function returns, in order
    reference: Callable[[dict], dict]
    equation: str  # the rule to compare with, quoted when no known mistake matches
    mistakes: list[_Mistake]
    shapes: dict[str, str] = field(default_factory=dict)  # "(N, H)" for each output
    shape_hint: Callable[[str, tuple, tuple], str] | None = None
    extra_ok: bool = False  # the reader may return more values (a cache) after the outputs
    tolerance: float = TOLERANCE


def _ref(module: str):
    """The reference module ``companion.ref.<module>``, imported when a check first needs it."""
    return importlib.import_module(f"companion.ref.{module}")


def _sigmoid(a):
    return _ref("lstm").sigmoid(a)


def _label(**sizes) -> str:
    return ", ".join(f"{k}={v}" for k, v in sizes.items())


# --------------------------------------------------------------------------------------------------
# The engine: call, unpack, compare shapes, compare values, recognise a known mistake.


def _fail(ex: _Exercise, case: dict, message: str, cause: BaseException | None = None):
    raise ExerciseError(f"✗ {ex.name}: {message} [case {case['_label']}]") from cause


def _copy(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a NamedTuple cache
        return type(value)(*map(_copy, value))
    if isinstance(value, (list, tuple)):
        return type(value)(map(_copy, value))
    return value


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(map(_same, a, b))
    return True


def _call(ex: _Exercise, fn: Callable, case: dict, args: tuple[str, ...]):
    given = {k: _copy(case[k]) for k in args}
    try:
        out = fn(*(given[k] for k in args))
    except Exception as err:  # the reader's code failed: say so, and on which case
        _fail(ex, case, f"your function raised {type(err).__name__}: {err}", cause=err)
    for k in args:
        if not _same(case[k], given[k]):
            _fail(ex, case, f"your function modified its input {k} in place; compute new arrays instead")
    return out


def _unpack(ex: _Exercise, case: dict, out) -> dict:
    names = case.get("_outputs", ex.outputs)
    if len(names) == 1 and hasattr(out, "shape"):
        out = (out,)
    if not isinstance(out, (tuple, list)):
        _fail(ex, case, f"your function returned a {type(out).__name__}; expected {', '.join(names)}")
    if len(out) < len(names) or (len(out) > len(names) and not ex.extra_ok):
        _fail(
            ex, case, f"your function returned {len(out)} values; expected {len(names)}: {', '.join(names)}"
        )
    values = {}
    for name, value in zip(names, out[: len(names)], strict=True):
        try:
            values[name] = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            _fail(ex, case, f"{name} is a {type(value).__name__}; expected an array")
    return values


def _shape_hint(got: tuple, want: tuple) -> str:
    if len(got) == 2 and got == want[::-1]:
        return " (transposed?)"
    if len(got) == len(want) + 1 and got[1:] == want:
        return " (not summed over the batch axis, axis 0?)"
    if int(np.prod(got)) == int(np.prod(want)):
        return " (the right number of entries in the wrong arrangement?)"
    return ""


def _check_shapes(ex: _Exercise, case: dict, got: dict, want: dict) -> None:
    for name in got:
        g, w = got[name].shape, want[name].shape
        if g != w:
            spec = ex.shapes.get(name)
            expected = f"{spec} = {w}" if spec else f"{w}"
            hint = (ex.shape_hint(name, g, w) if ex.shape_hint else "") or _shape_hint(g, w)
            _fail(ex, case, f"{name} has shape {g}; expected {expected}{hint}")
        if not np.all(np.isfinite(got[name])):
            _fail(ex, case, f"{name} contains NaN or infinite values")


def _agrees(ex: _Exercise, got: dict, candidate: dict, names) -> bool:
    return all(
        candidate[n].shape == got[n].shape and relative_error(got[n], candidate[n]) < ex.tolerance
        for n in names
    )


def _listing(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _diagnose(ex: _Exercise, case: dict, got: dict, want: dict) -> None:
    names = list(got)
    errors = {n: relative_error(got[n], want[n]) for n in names}
    wrong = [n for n in names if errors[n] >= ex.tolerance]
    if not wrong:
        return
    right = [n for n in names if n not in wrong]
    if len(wrong) == 1:
        verdict = f"{wrong[0]} differs from the reference (relative error {errors[wrong[0]]:.2g})"
    else:
        listed = ", ".join(f"{errors[n]:.2g}" for n in wrong)
        verdict = f"{_listing(wrong)} differ from the reference (relative errors {listed})"
    if right:
        verdict += f"; {_listing(right)} {'is' if len(right) == 1 else 'are'} correct"
    changed = [(m, m.outputs(case)) for m in ex.mistakes]
    for mistake, outputs in changed:
        if outputs and _agrees(ex, got, {**want, **outputs}, names):
            _fail(ex, case, f"{verdict}. {mistake.says}")
    partial = []  # several mistakes at once: name the one that explains each wrong output
    for n in wrong:
        for mistake, outputs in changed:
            if n in outputs and _agrees(ex, got, outputs, [n]):
                partial.append(f"{n}: {mistake.says}")
                break
    _fail(ex, case, f"{verdict}. " + (" ".join(partial) if partial else ex.equation))


def _run(ex: _Exercise, fn: Callable, cases: list[dict], args: tuple[str, ...]) -> CheckPassed:
    if not callable(fn):
        raise TypeError(f"{ex.name}: expected your function, got {type(fn).__name__}")
    for case in cases:
        got = _unpack(ex, case, _call(ex, fn, case, args))
        want = ex.reference(case)
        _check_shapes(ex, case, got, want)
        _diagnose(ex, case, got, want)
    return CheckPassed(ex.name, len(cases))


# --------------------------------------------------------------------------------------------------
# Chapter 1


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


# --------------------------------------------------------------------------------------------------
# Chapter 2


def _rnn_params(rng, D: int, H: int) -> dict:
    return {
        "Wx": rng.normal(scale=0.6, size=(D, H)),
        "Wh": rng.normal(scale=0.6, size=(H, H)),
        "b": rng.normal(scale=0.5, size=H),
    }


def _rnn_step_cases() -> list[dict]:
    rng = np.random.default_rng(201)
    cases = []
    for N, D, H in [(3, 4, 5), (2, 3, 3), (1, 2, 4)]:
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
    for N, T, D, H in [(2, 5, 3, 4), (3, 4, 2, 2), (1, 1, 2, 3)]:
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
# Chapter 3

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


# --------------------------------------------------------------------------------------------------
# Chapter 4


def _clip_cases() -> list[dict]:
    rng = np.random.default_rng(401)
    shapes = [(3, 4), (5,), (2, 2, 2)]
    cases = []
    for scale, max_norm in [(2.0, 2.5), (0.1, 2.5), (1.0, 0.5)]:
        grads = [rng.normal(scale=scale, size=s) for s in shapes]
        cases.append({"grads": grads, "max_norm": max_norm, "_label": _label(scale=scale, max_norm=max_norm)})
    cases.append({"grads": [np.array([3.0, 4.0])], "max_norm": 1.0, "_label": "grads=[[3, 4]], max_norm=1"})
    for c in cases:
        c["_outputs"] = tuple(f"grads[{k}]" for k in range(len(c["grads"])))
        c["_norm"] = float(np.sqrt(sum(np.sum(g**2) for g in c["grads"])))
    return cases


def _clip_reference(c: dict) -> dict:
    import torch

    from companion.train import clip_grad_norm

    params = []
    for g in c["grads"]:
        p = torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
        p.grad = torch.tensor(g, dtype=torch.float64)
        params.append(p)
    clip_grad_norm(params, c["max_norm"])
    return {f"grads[{k}]": p.grad.numpy() for k, p in enumerate(params)}


def _scaled(c: dict, factor) -> dict:
    return {f"grads[{k}]": g * factor(g) for k, g in enumerate(c["grads"])}


_CLIP = _Exercise(
    name="check_clip_by_norm",
    outputs=(),
    reference=_clip_reference,
    equation="With norm = sqrt(sum of the squares of every entry of every array): if norm > max_norm, "
    "multiply every array by max_norm / norm; otherwise return them unchanged.",
    mistakes=[
        _Mistake(
            "Each array is clipped by its own norm; clipping by norm rescales all gradients together, "
            "by max_norm / norm with norm taken over all of them as one vector.",
            lambda c: _scaled(c, lambda g: min(1.0, c["max_norm"] / np.linalg.norm(g))),
        ),
        _Mistake(
            "The entries are clipped by value (np.clip); clipping by norm multiplies every entry by the "
            "same factor, so the direction of the gradient is kept.",
            lambda c: {
                f"grads[{k}]": np.clip(g, -c["max_norm"], c["max_norm"]) for k, g in enumerate(c["grads"])
            },
        ),
        _Mistake(
            "The gradients are rescaled even though their norm was already at most max_norm; leave "
            "them unchanged then.",
            lambda c: _scaled(c, lambda g: c["max_norm"] / c["_norm"]),
        ),
        _Mistake(
            "The factor is upside down: multiply by max_norm / norm.",
            lambda c: _scaled(c, lambda g: c["_norm"] / c["max_norm"] if c["_norm"] > c["max_norm"] else 1.0),
        ),
        _Mistake(
            "The gradients are divided by their norm only; multiply them by max_norm / norm.",
            lambda c: _scaled(c, lambda g: 1.0 / c["_norm"] if c["_norm"] > c["max_norm"] else 1.0),
        ),
    ],
)


def check_clip_by_norm(fn: Callable) -> CheckPassed:
    """Check the reader's gradient clipping by norm (chapter 4 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(grads, max_norm)`` with ``grads`` a list of ndarray (any shapes) and a float
        ``max_norm`` > 0, returning a list of new arrays of the same shapes: the gradients
        rescaled together so that their joint norm is at most ``max_norm``, and unchanged if it
        already is. The input arrays must not be modified.

    Returns
    -------
    CheckPassed
        When every case agrees with :func:`companion.train.clip_grad_norm`.

    Raises
    ------
    ExerciseError
        Naming the fault: inputs modified in place, each array clipped separately, clipping by
        value, rescaling below the threshold, or the factor inverted.

    Notes
    -----
    :math:`g \\leftarrow \\frac{\\theta}{\\lVert g \\rVert} g` if :math:`\\lVert g \\rVert > \\theta`
    (Pascanu et al., 2013), with :math:`g` all gradients as one vector.

    Examples
    --------
    >>> def clip(grads, max_norm):
    ...     norm = np.sqrt(sum(np.sum(g**2) for g in grads))
    ...     return [g * min(1.0, max_norm / norm) for g in grads]
    >>> check_clip_by_norm(clip)
    ✓ check_clip_by_norm: all checks passed (4 cases)
    """
    return _run(_CLIP, fn, _clip_cases(), ("grads", "max_norm"))


def _jacobian_cases() -> list[dict]:
    rng = np.random.default_rng(402)
    cases = []
    for D, H in [(3, 4), (2, 3), (1, 2)]:
        x, h_prev = rng.normal(size=D), rng.uniform(-1, 1, size=H)
        cases.append({"x": x, "h_prev": h_prev, **_rnn_params(rng, D, H), "_label": _label(D=D, H=H)})
    return cases


def _numerical_jacobian(c: dict) -> dict:
    from companion.gradcheck import numerical_gradient

    rnn = _ref("rnn")
    H = c["h_prev"].shape[0]

    def step(h_prev):  # (1, H) -> (1, H)
        return rnn.rnn_step_forward(c["x"][None], h_prev, c["Wx"], c["Wh"], c["b"])[0]

    rows = [
        numerical_gradient(step, [c["h_prev"][None]], wrt=0, upstream=np.eye(H)[i : i + 1]) for i in range(H)
    ]
    return {"J": np.concatenate(rows, axis=0)}  # (H, H): row i is dh_i / dh_prev


def _tanh_slope(c: dict, at: str = "h") -> np.ndarray:
    h = np.tanh(c["x"] @ c["Wx"] + c["h_prev"] @ c["Wh"] + c["b"])  # (H,)
    return 1.0 - (h if at == "h" else c["h_prev"]) ** 2  # (H,)


_JACOBIAN = _Exercise(
    name="check_step_jacobian",
    outputs=("J",),
    reference=_numerical_jacobian,
    tolerance=1e-6,  # the reference is a central-difference Jacobian
    shapes={"J": "(H, H)"},
    equation="With h = tanh(x @ Wx + h_prev @ Wh + b): J[i, j] = (1 - h[i]**2) * Wh[j, i], "
    "i.e. J = diag(1 - h**2) @ Wh.T.",
    mistakes=[
        _Mistake(
            "Your matrix is transposed: row i holds the derivatives of h[i], J[i, j] = dh[i] / dh_prev[j].",
            lambda c: {"J": c["Wh"] * _tanh_slope(c)[None, :]},
        ),
        _Mistake(
            "Wh is not transposed: with one row per sequence h = tanh(x @ Wx + h_prev @ Wh + b), so "
            "dh[i] / dh_prev[j] = (1 - h[i]**2) * Wh[j, i] and J = diag(1 - h**2) @ Wh.T.",
            lambda c: {"J": _tanh_slope(c)[:, None] * c["Wh"]},
        ),
        _Mistake(
            "The tanh derivative is missing: J = diag(1 - h**2) @ Wh.T.",
            lambda c: {"J": c["Wh"].T.copy()},
        ),
        _Mistake(
            "The tanh derivative is taken at h_prev; it is 1 - h**2 at the step's output h.",
            lambda c: {"J": _tanh_slope(c, at="h_prev")[:, None] * c["Wh"].T},
        ),
        _Mistake(
            "diag(1 - h**2) multiplies from the wrong side: it scales the rows, J = diag(1 - h**2) @ Wh.T.",
            lambda c: {"J": c["Wh"].T * _tanh_slope(c)[None, :]},
        ),
    ],
)


def check_step_jacobian(fn: Callable) -> CheckPassed:
    """Check the reader's Jacobian of one tanh RNN step (chapter 4 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(x, h_prev, Wx, Wh, b)`` for a single sequence: ``x`` (D,), ``h_prev`` (H,), ``Wx``
        (D, H), ``Wh`` (H, H), ``b`` (H,); returns the Jacobian ``J`` of shape (H, H) of the new
        state ``h = tanh(x @ Wx + h_prev @ Wh + b)`` with respect to ``h_prev``, with
        ``J[i, j] = dh[i] / dh_prev[j]``.

    Returns
    -------
    CheckPassed
        When every case agrees with a central-difference Jacobian of
        :func:`companion.ref.rnn.rnn_step_forward` (relative error below 1e-6).

    Raises
    ------
    ExerciseError
        Naming the fault: a wrong shape, the Jacobian transposed, ``Wh`` untransposed, the tanh
        derivative missing, taken at ``h_prev`` or applied from the wrong side.

    Notes
    -----
    :math:`\\partial h_t / \\partial h_{t-1} = \\operatorname{diag}(1 - h_t^2)\\, W_{hh}` in the
    column-vector convention, where :math:`W_{hh}` is ``Wh.T``.

    Examples
    --------
    >>> def jacobian(x, h_prev, Wx, Wh, b):
    ...     h = np.tanh(x @ Wx + h_prev @ Wh + b)
    ...     return (1 - h**2)[:, None] * Wh.T
    >>> check_step_jacobian(jacobian)
    ✓ check_step_jacobian: all checks passed (3 cases)
    """
    return _run(_JACOBIAN, fn, _jacobian_cases(), ("x", "h_prev", "Wx", "Wh", "b"))


# --------------------------------------------------------------------------------------------------
# Chapters 5 and 6: gated cells


def _blocks(W: np.ndarray, reader_order: str, torch_order: str) -> np.ndarray:
    """Reorder the gate blocks of W so the reference computes what a reader of ``reader_order`` does."""
    blocks = np.split(W, len(torch_order), axis=-1)
    return np.concatenate([blocks[reader_order.index(gate)] for gate in torch_order], axis=-1)


def _gated_cases(seed: int, gates: int, separate_biases: bool) -> list[dict]:
    rng = np.random.default_rng(seed)
    cases = []
    for N, D, H in [(3, 4, 5), (2, 3, 2), (1, 2, 3)]:
        c = {
            "x": rng.normal(size=(N, D)),
            "h_prev": rng.uniform(-1, 1, size=(N, H)),
            "Wx": rng.normal(scale=0.7, size=(D, gates * H)),
            "Wh": rng.normal(scale=0.7, size=(H, gates * H)),
            "_label": _label(N=N, D=D, H=H),
        }
        if separate_biases:
            c["bx"], c["bh"] = rng.normal(scale=0.5, size=(2, gates * H))
        else:
            c["c_prev"] = rng.normal(size=(N, H))
            c["b"] = rng.normal(scale=0.5, size=gates * H)
        cases.append(c)
    return cases


def _lstm(c: dict, order: str = "ifgo", acts: str = "ssts", cell: str = "ifg", out: str = "tanh_c") -> dict:
    a = c["x"] @ _blocks(c["Wx"], order, "ifgo") + c["h_prev"] @ _blocks(c["Wh"], order, "ifgo")  # (N, 4H)
    a = a + _blocks(c["b"], order, "ifgo")
    fns = {"s": _sigmoid, "t": np.tanh}
    i, f, g, o = (fns[k](block) for k, block in zip(acts, np.split(a, 4, axis=1), strict=True))
    c_new = f * c["c_prev"] + (i * g if cell == "ifg" else g)  # (N, H)
    h = o * {"tanh_c": np.tanh(c_new), "c": c_new, "tanh_c_prev": np.tanh(c["c_prev"])}[out]  # (N, H)
    return {"h": h, "c": c_new}


def _lstm_orders() -> list[_Mistake]:
    mistakes = []
    for order in itertools.permutations("ifgo"):
        order = "".join(order)
        if order != "ifgo":
            mistakes.append(
                _Mistake(
                    f"The gates are read in the order {', '.join(order)}; the package and torch.nn.LSTM "
                    "stack the H-column blocks of Wx, Wh and b as i, f, g, o (input gate, forget gate, "
                    "candidate, output gate).",
                    lambda c, order=order: _lstm(c, order=order),
                )
            )
    return mistakes


def _lstm_reference(c: dict) -> dict:
    h, c_new, _ = _ref("lstm").lstm_step_forward(c["x"], c["h_prev"], c["c_prev"], c["Wx"], c["Wh"], c["b"])
    return {"h": h, "c": c_new}


_LSTM_STEP = _Exercise(
    name="check_lstm_step_forward",
    outputs=("h", "c"),
    extra_ok=True,
    reference=_lstm_reference,
    shapes={"h": "(N, H)", "c": "(N, H)"},
    equation="[i, f, g, o] = [sigmoid, sigmoid, tanh, sigmoid](x @ Wx + h_prev @ Wh + b), H columns "
    "each in that order; c = f * c_prev + i * g; h = o * tanh(c).",
    mistakes=[
        *_lstm_orders(),
        _Mistake(
            "h and c are returned in the wrong order; return h first, then c.",
            lambda c: (lambda r: {"h": r["c"], "c": r["h"]})(_lstm(c)),
        ),
        _Mistake("The output is o * c; it is h = o * tanh(c).", lambda c: _lstm(c, out="c")),
        _Mistake(
            "The output reads the old cell state; it is h = o * tanh(c) with the new c.",
            lambda c: _lstm(c, out="tanh_c_prev"),
        ),
        _Mistake(
            "The input gate is missing from the cell update: c = f * c_prev + i * g.",
            lambda c: _lstm(c, cell="g"),
        ),
        _Mistake(
            "The candidate g goes through a sigmoid; it uses tanh (values in (-1, 1)), the gates i, f "
            "and o use the sigmoid.",
            lambda c: _lstm(c, acts="ssss"),
        ),
        _Mistake(
            "Every block goes through tanh; the gates i, f and o use the sigmoid (values in (0, 1)).",
            lambda c: _lstm(c, acts="tttt"),
        ),
    ],
)


def check_lstm_step_forward(fn: Callable) -> CheckPassed:
    """Check the reader's LSTM step (chapter 5 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(x, h_prev, c_prev, Wx, Wh, b)`` with ``x`` (N, D), ``h_prev`` and ``c_prev`` (N, H),
        ``Wx`` (D, 4H), ``Wh`` (H, 4H) and ``b`` (4H,), gate blocks in the order i, f, g, o;
        returns ``(h, c)``, each of shape (N, H) (a cache after them is allowed).

    Returns
    -------
    CheckPassed
        When every case agrees with :func:`companion.ref.lstm.lstm_step_forward`.

    Raises
    ------
    ExerciseError
        Naming the fault: a wrong shape, the gates read in another order (which one), ``h`` and
        ``c`` swapped, ``tanh(c)`` or the input gate missing, the wrong nonlinearity on a block.

    Notes
    -----
    The order is found by recomputing the reference with the gate blocks permuted in each of the
    23 other ways and comparing.

    Examples
    --------
    >>> from companion.ref.lstm import lstm_step_forward
    >>> check_lstm_step_forward(lstm_step_forward)
    ✓ check_lstm_step_forward: all checks passed (3 cases)
    """
    return _run(_LSTM_STEP, fn, _gated_cases(501, 4, False), ("x", "h_prev", "c_prev", "Wx", "Wh", "b"))


def _gru(c: dict, order: str = "rzn", reset: str = "after", mix: str = "torch", act_n=np.tanh) -> dict:
    Wx, Wh = _blocks(c["Wx"], order, "rzn"), _blocks(c["Wh"], order, "rzn")
    bx, bh = _blocks(c["bx"], order, "rzn"), _blocks(c["bh"], order, "rzn")
    xr, xz, xn = np.split(c["x"] @ Wx + bx, 3, axis=1)  # 3 x (N, H)
    hr, hz, hn = np.split(c["h_prev"] @ Wh + bh, 3, axis=1)  # 3 x (N, H)
    r, z = _sigmoid(xr + hr), _sigmoid(xz + hz)  # (N, H)
    H = hn.shape[1]
    candidate = {
        "after": r * hn,
        "before": (r * c["h_prev"]) @ Wh[:, 2 * H :] + bh[2 * H :],
        "no bias": r * (hn - bh[2 * H :]) + bh[2 * H :],
        "none": hn,
    }[reset]
    n = act_n(xn + candidate)  # (N, H)
    h = (1.0 - z) * n + z * c["h_prev"] if mix == "torch" else z * n + (1.0 - z) * c["h_prev"]
    return {"h": h}


def _gru_orders() -> list[_Mistake]:
    mistakes = []
    for order in itertools.permutations("rzn"):
        order = "".join(order)
        if order != "rzn":
            mistakes.append(
                _Mistake(
                    f"The gates are read in the order {', '.join(order)}; the package and torch.nn.GRU "
                    "stack the H-column blocks of Wx, Wh, bx and bh as r, z, n (reset gate, update gate, "
                    "candidate).",
                    lambda c, order=order: _gru(c, order=order),
                )
            )
    return mistakes


_GRU_STEP = _Exercise(
    name="check_gru_step_forward",
    outputs=("h",),
    extra_ok=True,
    reference=lambda c: {
        "h": _ref("gru").gru_step_forward(c["x"], c["h_prev"], c["Wx"], c["Wh"], c["bx"], c["bh"])[0]
    },
    shapes={"h": "(N, H)"},
    equation="r, z = sigmoid of the r and z blocks of x @ Wx + bx + h_prev @ Wh + bh; "
    "n = tanh(x @ Wx_n + bx_n + r * (h_prev @ Wh_n + bh_n)); h = (1 - z) * n + z * h_prev.",
    mistakes=[
        *_gru_orders(),
        _Mistake(
            "The interpolation is reversed: torch.nn.GRU keeps z * h_prev and adds (1 - z) * n; you "
            "computed z * n + (1 - z) * h_prev (the form of Chung et al., 2014).",
            lambda c: _gru(c, mix="chung"),
        ),
        _Mistake(
            "The reset gate is applied before the matrix product, (r * h_prev) @ Wh_n (Cho et al., "
            "2014); torch.nn.GRU applies it after, r * (h_prev @ Wh_n + bh_n).",
            lambda c: _gru(c, reset="before"),
        ),
        _Mistake(
            "The reset gate does not multiply the hidden bias: it is r * (h_prev @ Wh_n + bh_n), bias "
            "included.",
            lambda c: _gru(c, reset="no bias"),
        ),
        _Mistake(
            "The reset gate is missing from the candidate: "
            "n = tanh(x @ Wx_n + bx_n + r * (h_prev @ Wh_n + bh_n)).",
            lambda c: _gru(c, reset="none"),
        ),
        _Mistake("The candidate n goes through a sigmoid; it uses tanh.", lambda c: _gru(c, act_n=_sigmoid)),
    ],
)


def check_gru_step_forward(fn: Callable) -> CheckPassed:
    """Check the reader's GRU step (chapter 6 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(x, h_prev, Wx, Wh, bx, bh)`` with ``x`` (N, D), ``h_prev`` (N, H), ``Wx`` (D, 3H),
        ``Wh`` (H, 3H) and the input and hidden biases ``bx``, ``bh`` (3H,), gate blocks in the
        order r, z, n; returns the new state ``h`` of shape (N, H) (or a tuple that starts with it).

    Returns
    -------
    CheckPassed
        When every case agrees with :func:`companion.ref.gru.gru_step_forward`.

    Raises
    ------
    ExerciseError
        Naming the fault: a wrong shape, the gates read in another order (which one), the
        interpolation reversed, the reset gate applied before the product, outside the hidden
        bias or not at all, or a sigmoid on the candidate.

    Examples
    --------
    >>> from companion.ref.gru import gru_step_forward
    >>> check_gru_step_forward(gru_step_forward)
    ✓ check_gru_step_forward: all checks passed (3 cases)
    """
    return _run(_GRU_STEP, fn, _gated_cases(601, 3, True), ("x", "h_prev", "Wx", "Wh", "bx", "bh"))
