"""The machinery behind the exercise checks of every chapter.

A chapter module declares each exercise as an :class:`Exercise`: a signature that names the check,
the arguments of the reader's function and the outputs it returns with their shapes, the cases it is
called on, the reference that computes the outputs, and the known mistakes (:class:`Mistake`) that a
wrong answer is compared with. Most mistakes are the reference itself called with other keywords,
declared as a table (``keyword_mistakes``, or :func:`variants` for another function).
:meth:`Exercise.check` calls the reader's function on each case, unpacks and compares shapes and
values, and raises :class:`~companion.exercises.report.ExerciseError` naming the fault.

The inputs that several chapters share are built in :mod:`companion.exercises.inputs`.

Examples
--------
>>> from companion.exercises.inputs import make_cases
>>> def square(c, power=2):  # the reference, and with power=1 a known mistake
...     return {"y": c["x"] ** power}
>>> exercise = Exercise(
...     "check_square(x) -> y (N,)",
...     cases=lambda: make_cases(0, "N", [(3,), (5,)], lambda rng, N: {"x": rng.normal(size=N)}),
...     reference=square,
...     equation="y = x * x.",
...     keyword_mistakes={"y is x, not its square.": {"power": 1}},
... )
>>> exercise.name, exercise.args, exercise.outputs, exercise.shapes
('check_square', ('x',), ('y',), {'y': '(N,)'})
>>> exercise.check(lambda x: x * x)
✓ check_square: all checks passed (2 cases)
>>> try:
...     exercise.check(lambda x: x)
... except ExerciseError as error:
...     print(str(error).split("). ")[-1])
y is x, not its square. [case N=3]
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from companion.diagnostics.gradcheck import relative_error
from companion.exercises.report import CheckPassed, ExerciseError

__all__ = [
    "Mistake",
    "Exercise",
    "variants",
    "call",
    "fail",
    "same",
]

TOLERANCE = 1e-7  # relative error below which an output counts as equal to the reference


@dataclass
class Mistake:
    """A known wrong implementation.

    Attributes
    ----------
    says : str
        What the reader is told when their outputs match this mistake's.
    outputs : callable
        ``outputs(case) -> dict``: the outputs the mistake produces (only those it changes are
        needed; an empty dict where it does not apply to the case).
    """

    says: str
    outputs: Callable[[dict], dict]


@dataclass
class Exercise:
    """One exercise: what the reader's function is called with, and what it must return.

    Parameters
    ----------
    signature : str
        ``"check_name(arg, ...) -> output shape, ..."``: the public check's name, which every message
        starts with; the names of the case entries passed to the reader's function, in order; and the
        names of the values it returns, in order, each with the shape quoted when it is wrong, e.g.
        ``"check_lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b) -> h (N, H), c (N, H), ..."``. A last
        ``...`` lets the reader return more values (a cache) after the outputs; without ``->`` each
        case names its outputs in ``"_outputs"``.
    cases : callable
        ``cases() -> list of dict``, each case holding the arguments and a ``"_label"``; a case may
        hold ``"_outputs"``, the names of its outputs when they depend on the case.
    reference : callable
        ``reference(case) -> dict`` of the correct outputs.
    equation : str
        The rule to compare with, quoted when no known mistake matches.
    mistakes : list of Mistake
        The known wrong implementations, the first that matches wins; after construction, those of
        ``keyword_mistakes`` too.
    keyword_mistakes : dict
        Known mistakes that ``reference`` itself computes when called with other keywords: what to
        say, mapped to those keywords, as :func:`variants` takes them; tried after ``mistakes``.
    shape_hint : callable or None
        ``shape_hint(name, got, want) -> str``: what a wrong shape suggests, before the general hints.
    tolerance : float
        Relative error below which an output counts as equal.
    nonfinite_hint : str
        Said after "contains NaN or infinite values", e.g. what overflows.
    explain_nonfinite : callable or None
        ``explain_nonfinite(case, values) -> str or None``: the cause of NaN or inf in outputs of the
        right shape, said after the finding; None falls back to ``nonfinite_hint``.
    returns : callable or None
        Applied to what the reader's function returns (``float``, ``np.asarray``), as part of the call.
    quiet : bool
        Call the reader's function with numpy's floating-point warnings silenced.

    Attributes
    ----------
    name : str
        The check's name, from the signature.
    args : tuple of str
        The names of the arguments, from the signature.
    outputs : tuple of str
        The names of the outputs, from the signature (empty when the cases name them).
    shapes : dict
        The shape of each output that the signature gives one, e.g. ``{"h": "(N, H)"}``.
    extra_ok : bool
        Whether the signature ends in ``...``.
    """

    signature: str
    cases: Callable[[], list[dict]]
    reference: Callable[[dict], dict]
    equation: str
    mistakes: list[Mistake] = field(default_factory=list)
    keyword_mistakes: dict[str, dict] = field(default_factory=dict)
    shape_hint: Callable[[str, tuple, tuple], str] | None = None
    tolerance: float = TOLERANCE
    nonfinite_hint: str = ""
    explain_nonfinite: Callable[[dict, dict], str | None] | None = None
    returns: Callable | None = None
    quiet: bool = False
    name: str = field(init=False)
    args: tuple[str, ...] = field(init=False)
    outputs: tuple[str, ...] = field(init=False)
    shapes: dict[str, str] = field(init=False)
    extra_ok: bool = field(init=False)

    def __post_init__(self):
        self.name, self.args, self.outputs, self.shapes, self.extra_ok = _parse_signature(self.signature)
        self.mistakes = [*self.mistakes, *variants(self.reference, self.keyword_mistakes)]

    def check(self, fn: Callable) -> CheckPassed:
        """Run the reader's ``fn`` on every case and compare it with the reference.

        Parameters
        ----------
        fn : callable
            The reader's function, called with the case entries named by ``args``.

        Returns
        -------
        CheckPassed
            When the reader's outputs agree with ``reference`` on every case.

        Raises
        ------
        TypeError
            If ``fn`` is not callable.
        ExerciseError
            Naming the first fault found, and the case.
        """
        if not callable(fn):
            raise TypeError(f"{self.name}: expected your function, got {type(fn).__name__}")
        cases = self.cases()
        for case in cases:
            with np.errstate(all="ignore") if self.quiet else contextlib.nullcontext():
                got = _unpack(self, case, call(self, fn, case))
            want = {k: np.asarray(v, dtype=np.float64) for k, v in self.reference(case).items()}
            _check_shapes(self, case, got, want)
            _diagnose(self, case, got, want)
        return CheckPassed(self.name, len(cases))


_SIGNATURE = re.compile(r"(?P<name>\w+)\((?P<args>[^)]*)\)(?:\s*->\s*(?P<outputs>.*))?", re.DOTALL)


def _top_level_items(text: str) -> list[str]:
    """``text`` split at the commas outside parentheses, each item stripped."""
    items, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            items.append(text[start:i].strip())
            start = i + 1
    return [item for item in [*items, text[start:].strip()] if item]


def _parse_signature(signature: str) -> tuple[str, tuple, tuple, dict, bool]:
    """The name, arguments, outputs, output shapes and ``extra_ok`` of an :class:`Exercise` signature."""
    match = _SIGNATURE.fullmatch(signature.strip())
    if match is None:
        raise ValueError(f"Exercise: expected a signature 'check_name(args) -> outputs', got {signature!r}")
    args = tuple(_top_level_items(match["args"]))
    outputs = _top_level_items(match["outputs"] or "")
    extra_ok = bool(outputs) and outputs[-1] == "..."
    named_shapes = [output.split(maxsplit=1) for output in outputs[: len(outputs) - extra_ok]]
    names = tuple(parts[0] for parts in named_shapes)
    shapes = {parts[0]: parts[1] for parts in named_shapes if len(parts) == 2}
    return match["name"], args, names, shapes, extra_ok


def variants(compute: Callable[..., dict], table: dict[str, dict]) -> list[Mistake]:
    """The mistakes of one wrong implementation, told apart by its keywords.

    Parameters
    ----------
    compute : callable
        ``compute(case, **keywords) -> dict``: the outputs of a reader who makes the mistake that the
        keywords select.
    table : dict
        What to say for each mistake, mapped to its keywords, e.g.
        ``{"The interpolation is reversed: ...": {"mix": "chung"}}``.

    Returns
    -------
    list of Mistake
        In the order of ``table``.
    """
    return [Mistake(says, lambda c, kw=keywords: compute(c, **kw)) for says, keywords in table.items()]


# --------------------------------------------------------------------------------------------------
# The engine: call, unpack, compare shapes, compare values, recognise a known mistake.


def fail(ex: Exercise, case: dict, message: str, cause: BaseException | None = None):
    """Raise the :class:`~companion.exercises.report.ExerciseError` of ``ex`` on ``case``."""
    raise ExerciseError(f"✗ {ex.name}: {message} [case {case['_label']}]") from cause


def _copy(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a NamedTuple cache
        return type(value)(*map(_copy, value))
    if isinstance(value, (list, tuple)):
        return type(value)(map(_copy, value))
    return value


def same(a, b) -> bool:
    """Whether ``b`` holds the same arrays as ``a`` (nested in lists and tuples alike)."""
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(map(same, a, b))
    return True


def call(ex: Exercise, fn: Callable, case: dict):
    """Call the reader's ``fn`` on copies of the case's ``ex.args``; an exception, or an input
    changed in place, fails the check."""
    given = {k: _copy(case[k]) for k in ex.args}
    try:
        out = fn(*(given[k] for k in ex.args))
        if ex.returns is not None:
            out = ex.returns(out)
    except Exception as err:  # the reader's code failed: say so, and on which case
        fail(ex, case, f"your function raised {type(err).__name__}: {err}", cause=err)
    for k in ex.args:
        if not same(case[k], given[k]):
            fail(ex, case, f"your function modified its input {k} in place; compute new arrays instead")
    return out


def _unpack(ex: Exercise, case: dict, out) -> dict:
    names = case.get("_outputs", ex.outputs)
    if len(names) == 1 and (hasattr(out, "shape") or isinstance(out, (int, float, np.number))):
        out = (out,)  # a single array, or a single number
    if not isinstance(out, (tuple, list)):
        fail(ex, case, f"your function returned a {type(out).__name__}; expected {', '.join(names)}")
    if len(out) < len(names) or (len(out) > len(names) and not ex.extra_ok):
        fail(ex, case, f"your function returned {len(out)} values; expected {len(names)}: {', '.join(names)}")
    values = {}
    for name, value in zip(names, out[: len(names)], strict=True):
        try:
            values[name] = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            fail(ex, case, f"{name} is a {type(value).__name__}; expected an array")
    return values


def _shape_hint(got: tuple, want: tuple) -> str:
    if len(got) == 2 and got == want[::-1]:
        return " (transposed?)"
    if len(got) == len(want) + 1 and got[1:] == want:
        return " (not summed over the batch axis, axis 0?)"
    if int(np.prod(got)) == int(np.prod(want)):
        return " (the right number of entries in the wrong arrangement?)"
    return ""


def _check_shapes(ex: Exercise, case: dict, got: dict, want: dict) -> None:
    for name in got:
        g, w = got[name].shape, want[name].shape
        if g != w:
            spec = ex.shapes.get(name)
            expected = f"{spec} = {w}" if spec else f"{w}"
            hint = (ex.shape_hint(name, g, w) if ex.shape_hint else "") or _shape_hint(g, w)
            fail(ex, case, f"{name} has shape {g}; expected {expected}{hint}")
        if not np.all(np.isfinite(got[name])):
            cause = ex.explain_nonfinite(case, got) if ex.explain_nonfinite else None
            if cause:
                fail(ex, case, f"{name} contains NaN or infinite values. {cause}")
            hint = f" ({ex.nonfinite_hint})" if ex.nonfinite_hint else ""
            fail(ex, case, f"{name} contains NaN or infinite values{hint}")


def _agrees(ex: Exercise, got: dict, candidate: dict, names) -> bool:
    return all(
        candidate[n].shape == got[n].shape and relative_error(got[n], candidate[n]) < ex.tolerance
        for n in names
    )


def _listing(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _diagnose(ex: Exercise, case: dict, got: dict, want: dict) -> None:
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
            fail(ex, case, f"{verdict}. {mistake.says}")
    partial = []  # several mistakes at once: name the one that explains each wrong output
    for n in wrong:
        for mistake, outputs in changed:
            if n in outputs and _agrees(ex, got, outputs, [n]):
                partial.append(f"{n}: {mistake.says}")
                break
    fail(ex, case, f"{verdict}. " + (" ".join(partial) if partial else ex.equation))
