"""The machinery behind the exercise checks of every chapter.

An :class:`_Exercise` describes one check: the outputs the reader's function returns, the reference
that computes them, and the known mistakes (:class:`_Mistake`) that a wrong answer is compared with.
:func:`_run` calls the reader's function on each case, unpacks and compares shapes and values, and
raises :class:`~companion.exercises.report.ExerciseError` naming the fault.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from companion.diagnostics.gradcheck import relative_error
from companion.exercises.report import CheckPassed, ExerciseError

__all__: list[str] = []

TOLERANCE = 1e-7  # relative error below which an output counts as equal to the reference


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
    nonfinite_hint: str = ""  # said after "contains NaN or infinite values", e.g. what overflows


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
    if len(names) == 1 and (hasattr(out, "shape") or isinstance(out, (int, float, np.number))):
        out = (out,)  # a single array, or a single number
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
            hint = f" ({ex.nonfinite_hint})" if ex.nonfinite_hint else ""
            _fail(ex, case, f"{name} contains NaN or infinite values{hint}")


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
    changed = [
        (m, {k: np.asarray(v, dtype=np.float64) for k, v in m.outputs(case).items()}) for m in ex.mistakes
    ]
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
        want = {k: np.asarray(v, dtype=np.float64) for k, v in ex.reference(case).items()}
        _check_shapes(ex, case, got, want)
        _diagnose(ex, case, got, want)
    return CheckPassed(ex.name, len(cases))
