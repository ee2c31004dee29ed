"""companion.exercises.report: what a check returns and what it raises."""

from companion.exercises.report import CheckPassed, ExerciseError


def test_a_passed_check_reads_as_a_tick_and_a_failed_one_is_an_assertion():
    report = CheckPassed("check_rnn_forward", 3)
    assert repr(report) == str(report) == "✓ check_rnn_forward: all checks passed (3 cases)"
    assert issubclass(ExerciseError, AssertionError)
