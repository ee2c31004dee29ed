"""Self-checks for the exercises of chapter 12, *Classifying sequences*: the readouts of a padded
batch (the mean over valid steps, the output at the last valid step) and the confusion matrix.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion.exercises.engine import Exercise
from companion.exercises.inputs import make_cases
from companion.exercises.report import CheckPassed

__all__ = ["check_masked_mean", "check_last_valid", "check_confusion_matrix"]


def check_masked_mean(fn: Callable) -> CheckPassed:
    """Check the reader's mean of a padded batch's outputs over each sequence's valid steps (chapter 12).

    Parameters
    ----------
    fn : callable
        ``fn(output, lengths)`` with ``output`` of shape (N, T, H) and ``lengths`` of shape (N,); it
        returns the mean over ``t < lengths[n]`` of ``output[n, t]``, shape (N, H). The padded steps
        hold arbitrary values.

    Returns
    -------
    CheckPassed

    Raises
    ------
    ExerciseError
        Naming the fault: padding averaged in, a division by T, or a mask one step too long.

    See Also
    --------
    companion.nn.utils.masked_mean : the package's version, in torch.

    Examples
    --------
    >>> def mean(output, lengths):
    ...     valid = np.arange(output.shape[1]) < lengths[:, None]
    ...     return (output * valid[:, :, None]).sum(axis=1) / lengths[:, None]
    >>> check_masked_mean(mean)
    ✓ check_masked_mean: all checks passed (3 cases)
    """
    return _MEAN.check(fn)


def check_last_valid(fn: Callable) -> CheckPassed:
    """Check the reader's readout of each sequence's output at its last valid step (chapter 12).

    Parameters
    ----------
    fn : callable
        ``fn(output, lengths)`` with ``output`` (N, T, H) and ``lengths`` (N,), each in [1, T]; it
        returns ``output[n, lengths[n] - 1]`` for every n, shape (N, H).

    Returns
    -------
    CheckPassed

    Raises
    ------
    ExerciseError
        Naming the fault: the padded last column, one step past the end, or the first step.

    See Also
    --------
    companion.nn.utils.last_valid : the package's version, in torch.

    Examples
    --------
    >>> def last(output, lengths):
    ...     return output[np.arange(len(lengths)), lengths - 1]
    >>> check_last_valid(last)
    ✓ check_last_valid: all checks passed (3 cases)
    """
    return _LAST.check(fn)


def check_confusion_matrix(fn: Callable) -> CheckPassed:
    """Check the reader's confusion matrix (chapter 12).

    Parameters
    ----------
    fn : callable
        ``fn(y_true, y_pred, num_classes)`` with two int arrays of shape (N,) with classes in
        ``[0, num_classes)``; it returns the (C, C) counts, ``matrix[i, j]`` the number of examples
        of true class i predicted as j. Some class may never occur in ``y_true``.

    Returns
    -------
    CheckPassed

    Raises
    ------
    ExerciseError
        Naming the fault: rows and columns swapped, rows normalised, only the diagonal counted, or
        the size taken from the labels seen.

    See Also
    --------
    companion.classify.confusion_matrix : the package's version.

    Examples
    --------
    >>> def confusion(y_true, y_pred, num_classes):
    ...     m = np.zeros((num_classes, num_classes), dtype=int)
    ...     np.add.at(m, (y_true, y_pred), 1)
    ...     return m
    >>> check_confusion_matrix(confusion)
    ✓ check_confusion_matrix: all checks passed (3 cases)
    """
    return _CONFUSION.check(fn)


def _padded_case(rng, N, T, H) -> dict:
    lengths = rng.integers(1, T, size=N)  # (N,): every sequence shorter than T ...
    lengths[0] = T  # ... but one
    rng.shuffle(lengths)
    output = rng.normal(size=(N, T, H))  # (N, T, H): values past the end are not zero
    return {"output": output, "lengths": lengths}


def _padded_cases(seed: int) -> list[dict]:
    """Padded outputs whose padded steps hold nonzero values, as a layer without lengths leaves them."""
    return make_cases(seed, "N T H", [(3, 5, 2), (4, 7, 3), (2, 9, 4)], _padded_case)


# --------------------------------------------------------------------------------------------------
# Exercise 12.1: the mean over each sequence's valid steps.


def _mean(c: dict, *, steps="t < lengths", divisor="lengths") -> dict:
    """The masked mean (keywords at their defaults) and the known mistakes: the padding averaged in, a
    division by T, a mask one step too long."""
    L, T = c["lengths"][:, None], c["output"].shape[1]
    t = np.arange(T)[None, :]
    keep = {"t < lengths": t < L, "all": t < T, "t <= lengths": t <= L}[steps]  # (N, T)
    total = np.where(keep[:, :, None], c["output"], 0.0).sum(axis=1)  # (N, H)
    return {"mean": total / {"lengths": L, "T": T, "lengths + 1": L + 1}[divisor]}


_MEAN = Exercise(
    "check_masked_mean(output, lengths) -> mean (N, H)",
    cases=lambda: _padded_cases(1201),
    reference=_mean,
    equation="mean[n] = (1 / lengths[n]) * sum over t < lengths[n] of output[n, t].",
    keyword_mistakes={
        "The mean is taken over all T steps, padding included: average only the steps t < lengths[n].": {
            "steps": "all",
            "divisor": "T",
        },
        "The valid steps are summed but divided by T, the padded length: divide by lengths[n].": {
            "divisor": "T"
        },
        "The mask keeps t <= lengths[n], one step past the end of each sequence: use t < lengths[n].": {
            "steps": "t <= lengths",
            "divisor": "lengths + 1",
        },
    },
)


# --------------------------------------------------------------------------------------------------
# Exercise 12.2: the output at each sequence's last valid step.


def _last(c: dict, *, step="lengths - 1") -> dict:
    """The output at each last valid step (``step`` at its default) and the known mistakes: the last
    column, the step after the end, the first step."""
    T, n = c["output"].shape[1], np.arange(len(c["lengths"]))
    at = {"lengths - 1": c["lengths"] - 1, "-1": T - 1, "lengths": np.minimum(c["lengths"], T - 1), "0": 0}
    return {"last": c["output"][n, at[step]]}


_LAST = Exercise(
    "check_last_valid(output, lengths) -> last (N, H)",
    cases=lambda: _padded_cases(1202),
    reference=_last,
    equation="last[n] = output[n, lengths[n] - 1].",
    keyword_mistakes={
        "output[:, -1] is read: for every sequence shorter than T that is a padded step. Read "
        "output[n, lengths[n] - 1].": {"step": "-1"},
        "output[n, lengths[n]] is read, the step after the end: lengths count from 1, indices from 0.": {
            "step": "lengths"
        },
        "The first step, output[:, 0], is read: a forward recurrence has read the whole sequence "
        "only at its last valid step.": {"step": "0"},
    },
)


# --------------------------------------------------------------------------------------------------
# Exercise 12.3: the confusion matrix.


def _confusion_case(rng, N, C) -> dict:
    y_true = rng.integers(0, C, size=N)
    y_true[y_true == C - 1] = 0  # the last class never occurs in y_true ...
    y_pred = np.where(rng.random(N) < 0.6, y_true, rng.integers(0, C, size=N))
    y_pred[0] = C - 1  # ... but is predicted once
    return {"y_true": y_true, "y_pred": y_pred, "num_classes": C}


def _confusion_cases() -> list[dict]:
    return make_cases(1203, "N C", [(12, 3), (40, 5), (25, 4)], _confusion_case)


def _confusion(c: dict, *, rows="true", normalised=False, diagonal_only=False) -> dict:
    """The confusion matrix (keywords at their defaults) and the known mistakes: rows the predicted
    classes, rows normalised, the diagonal alone."""
    C = c["num_classes"]
    m = np.zeros((C, C), dtype=np.int64)
    np.add.at(m, (c["y_true"], c["y_pred"]), 1)
    m = m.T if rows == "predicted" else m
    if normalised:
        return {"matrix": m / np.maximum(m.sum(axis=1, keepdims=True), 1)}
    return {"matrix": np.diag(np.diag(m)) if diagonal_only else m}


_CONFUSION = Exercise(
    "check_confusion_matrix(y_true, y_pred, num_classes) -> matrix (C, C)",
    cases=_confusion_cases,
    reference=_confusion,
    equation="matrix[i, j] = the number of examples of true class i predicted as class j.",
    keyword_mistakes={
        "Rows are the predicted classes and columns the true ones: row i must count the examples "
        "whose true class is i.": {"rows": "predicted"},
        "Each row is divided by its total: the matrix holds counts (normalise it when you plot it, "
        "not here).": {"normalised": True},
        "Only correct predictions are counted (the diagonal): the mistakes off the diagonal are "
        "what the matrix is for.": {"diagonal_only": True},
    },
    shape_hint=lambda name, got, want: (
        " (the number of classes taken from the labels seen? A class may never occur: use num_classes)"
        if got[0] < want[0]
        else ""
    ),
)
