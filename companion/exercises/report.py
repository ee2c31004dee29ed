"""What an exercise check reports, for the checks of every chapter.

A check returns a :class:`CheckPassed` when the reader's function agrees with the reference on every
case, and raises an :class:`ExerciseError` whose message names the fault otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ExerciseError", "CheckPassed"]


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
