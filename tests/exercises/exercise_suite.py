"""The tests that every chapter's exercise file runs, parametrised by its own solutions, wrong
implementations and exercises: a chapter's test file lists them and calls :func:`chapter_tests`."""

import re

import pytest

from companion import exercises as ex
from companion.exercises.engine import same


def imitate(exercise, mistake):
    """A function that returns what ``mistake`` computes, for the inputs of any of the exercise's cases."""
    known = exercise.cases()

    def fn(*values):
        case = next(
            c for c in known if all(same(c[a], v) for a, v in zip(exercise.args, values, strict=True))
        )
        outputs = {**exercise.reference(case), **mistake.outputs(case)}
        names = case.get("_outputs", exercise.outputs)
        result = [outputs[n] for n in names]
        return result[0] if len(names) == 1 and not exercise.extra_ok and not case.get("_outputs") else result

    return fn


def _name(value):
    return value.__name__ if callable(value) else ""


def chapter_tests(solutions, wrong, exercises=(), references=(), real_mistakes=()):
    """The generic tests of one chapter, as a dict of test functions for the chapter's module.

    ``solutions``: (check, solution) pairs; ``wrong``: (check, wrong implementation, regex of the fault);
    ``exercises``: (check, Exercise) whose every known mistake, imitated, must be named;
    ``references``: (check, package function) that must pass; ``real_mistakes``: (check, wrong
    implementation, index of the mistake it makes), for checks whose every mistake has one.
    """
    tests = {}

    @pytest.mark.parametrize("check, solution", solutions, ids=_name)
    def test_solution_passes_its_check(check, solution):
        report = check(solution)
        assert isinstance(report, ex.CheckPassed)
        assert report.check == check.__name__ and report.cases >= 3
        assert repr(report) == f"✓ {check.__name__}: all checks passed ({report.cases} cases)"

    tests["test_solution_passes_its_check"] = test_solution_passes_its_check

    @pytest.mark.parametrize("check, wrong, fault", wrong, ids=_name)
    def test_wrong_implementation_is_reported_with_its_fault(check, wrong, fault):
        with pytest.raises(ex.ExerciseError) as info:
            check(wrong)
        message = str(info.value)
        assert message.startswith(f"✗ {check.__name__}: ")
        assert re.search(fault, message), message
        assert re.search(r"\[case [^\]]+=", message), "the message says which case failed"

    tests["test_wrong_implementation_is_reported_with_its_fault"] = (
        test_wrong_implementation_is_reported_with_its_fault
    )

    mistakes = [(check, exercise, k) for check, exercise in exercises for k in range(len(exercise.mistakes))]
    if mistakes:

        @pytest.mark.parametrize(
            "check, exercise, k", mistakes, ids=[f"{m[0].__name__}-{m[2]}" for m in mistakes]
        )
        def test_each_known_mistake_is_recognised(check, exercise, k):
            mistake = exercise.mistakes[k]
            with pytest.raises(ex.ExerciseError) as info:
                check(imitate(exercise, mistake))
            assert mistake.says in str(info.value)

        tests["test_each_known_mistake_is_recognised"] = test_each_known_mistake_is_recognised

    if references:

        @pytest.mark.parametrize("check, reference", references, ids=_name)
        def test_the_package_reference_passes(check, reference):
            report = check(reference)
            assert isinstance(report, ex.CheckPassed) and report.cases == 3

        tests["test_the_package_reference_passes"] = test_the_package_reference_passes

    if real_mistakes:
        by_check = {}
        for check, _, k in real_mistakes:
            by_check.setdefault(check, set()).add(k)

        @pytest.mark.parametrize(
            "check, wrong, k", real_mistakes, ids=lambda v: getattr(v, "__name__", str(v))
        )
        def test_each_mistake_is_reported_for_a_real_implementation(check, wrong, k, request):
            mistakes = request.module.EXERCISE_OF[check].mistakes
            with pytest.raises(ex.ExerciseError) as info:
                check(wrong)
            message = str(info.value)
            assert mistakes[k].says in message, message
            assert all(m.says not in message for j, m in enumerate(mistakes) if j != k), message

        def test_every_known_mistake_has_a_real_implementation(request):
            chapter, exercise_of = request.module.CHAPTER, request.module.EXERCISE_OF
            not_functions = getattr(request.module, "NOT_FUNCTIONS", set())  # checks that take weights
            assert set(exercise_of) | not_functions == {getattr(chapter, name) for name in chapter.__all__}
            for check, exercise in exercise_of.items():
                assert by_check.get(check) == set(range(len(exercise.mistakes))), check.__name__
                assert len(by_check[check]) >= 2, f"{check.__name__}: at least two plausible wrong answers"

        tests["test_each_mistake_is_reported_for_a_real_implementation"] = (
            test_each_mistake_is_reported_for_a_real_implementation
        )
        tests["test_every_known_mistake_has_a_real_implementation"] = (
            test_every_known_mistake_has_a_real_implementation
        )
    return tests
