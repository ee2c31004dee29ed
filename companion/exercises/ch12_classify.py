"""Self-checks for the exercises of chapter 12, *Classifying sequences*: the readouts of a padded
batch (the mean over valid steps, the output at the last valid step) and the confusion matrix.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion.exercises._engine import _Exercise, _label, _Mistake, _run
from companion.exercises.report import CheckPassed

__all__ = ["check_masked_mean", "check_last_valid", "check_confusion_matrix"]


def _padded_cases(seed: int) -> list[dict]:
    """Padded outputs whose padded steps hold nonzero values, as a layer without lengths leaves them."""
    rng = np.random.default_rng(seed)
    cases = []
    for N, T, H in [(3, 5, 2), (4, 7, 3), (2, 9, 4)]:
        lengths = rng.integers(1, T, size=N)  # (N,): every sequence shorter than T ...
        lengths[0] = T  # ... but one
        rng.shuffle(lengths)
        output = rng.normal(size=(N, T, H))  # (N, T, H): values past the end are not zero
        cases.append({"output": output, "lengths": lengths, "_label": _label(N=N, T=T, H=H)})
    return cases


def _valid(c: dict) -> np.ndarray:
    return np.arange(c["output"].shape[1])[None, :] < c["lengths"][:, None]  # (N, T)


# --------------------------------------------------------------------------------------------------
# Exercise 12.1: the mean over each sequence's valid steps.


def _reference_mean(c: dict) -> dict:
    total = np.where(_valid(c)[:, :, None], c["output"], 0.0).sum(axis=1)  # (N, H)
    return {"mean": total / c["lengths"][:, None]}


def _mean_off_by_one(c: dict) -> dict:
    keep = np.arange(c["output"].shape[1])[None, :] <= c["lengths"][:, None]  # (N, T): one step too many
    return {"mean": np.where(keep[:, :, None], c["output"], 0.0).sum(axis=1) / (c["lengths"][:, None] + 1)}


_MEAN = _Exercise(
    name="check_masked_mean",
    outputs=("mean",),
    reference=_reference_mean,
    shapes={"mean": "(N, H)"},
    equation="mean[n] = (1 / lengths[n]) * sum over t < lengths[n] of output[n, t].",
    mistakes=[
        _Mistake(
            "The mean is taken over all T steps, padding included: average only the steps t < lengths[n].",
            lambda c: {"mean": c["output"].mean(axis=1)},
        ),
        _Mistake(
            "The valid steps are summed but divided by T, the padded length: divide by lengths[n].",
            lambda c: {"mean": _reference_mean(c)["mean"] * c["lengths"][:, None] / c["output"].shape[1]},
        ),
        _Mistake(
            "The mask keeps t <= lengths[n], one step past the end of each sequence: use t < lengths[n].",
            _mean_off_by_one,
        ),
    ],
)


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
    return _run(_MEAN, fn, _padded_cases(1201), ("output", "lengths"))


# --------------------------------------------------------------------------------------------------
# Exercise 12.2: the output at each sequence's last valid step.


def _reference_last(c: dict) -> dict:
    return {"last": c["output"][np.arange(len(c["lengths"])), c["lengths"] - 1]}


_LAST = _Exercise(
    name="check_last_valid",
    outputs=("last",),
    reference=_reference_last,
    shapes={"last": "(N, H)"},
    equation="last[n] = output[n, lengths[n] - 1].",
    mistakes=[
        _Mistake(
            "output[:, -1] is read: for every sequence shorter than T that is a padded step. Read "
            "output[n, lengths[n] - 1].",
            lambda c: {"last": c["output"][:, -1]},
        ),
        _Mistake(
            "output[n, lengths[n]] is read, the step after the end: lengths count from 1, indices from 0.",
            lambda c: {
                "last": c["output"][
                    np.arange(len(c["lengths"])), np.minimum(c["lengths"], c["output"].shape[1] - 1)
                ]
            },
        ),
        _Mistake(
            "The first step, output[:, 0], is read: a forward recurrence has read the whole sequence "
            "only at its last valid step.",
            lambda c: {"last": c["output"][:, 0]},
        ),
    ],
)


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
    return _run(_LAST, fn, _padded_cases(1202), ("output", "lengths"))


# --------------------------------------------------------------------------------------------------
# Exercise 12.3: the confusion matrix.


def _confusion_cases() -> list[dict]:
    rng = np.random.default_rng(1203)
    cases = []
    for N, C in [(12, 3), (40, 5), (25, 4)]:
        y_true = rng.integers(0, C, size=N)
        y_true[y_true == C - 1] = 0  # the last class never occurs in y_true ...
        y_pred = np.where(rng.random(N) < 0.6, y_true, rng.integers(0, C, size=N))
        y_pred[0] = C - 1  # ... but is predicted once
        cases.append({"y_true": y_true, "y_pred": y_pred, "num_classes": C, "_label": _label(N=N, C=C)})
    return cases


def _reference_confusion(c: dict) -> dict:
    C = c["num_classes"]
    m = np.zeros((C, C), dtype=np.int64)
    np.add.at(m, (c["y_true"], c["y_pred"]), 1)
    return {"matrix": m}


_CONFUSION = _Exercise(
    name="check_confusion_matrix",
    outputs=("matrix",),
    reference=_reference_confusion,
    shapes={"matrix": "(C, C)"},
    equation="matrix[i, j] = the number of examples of true class i predicted as class j.",
    mistakes=[
        _Mistake(
            "Rows are the predicted classes and columns the true ones: row i must count the examples "
            "whose true class is i.",
            lambda c: {"matrix": _reference_confusion(c)["matrix"].T},
        ),
        _Mistake(
            "Each row is divided by its total: the matrix holds counts (normalise it when you plot it, "
            "not here).",
            lambda c: {
                "matrix": _reference_confusion(c)["matrix"]
                / np.maximum(_reference_confusion(c)["matrix"].sum(axis=1, keepdims=True), 1)
            },
        ),
        _Mistake(
            "Only correct predictions are counted (the diagonal): the mistakes off the diagonal are "
            "what the matrix is for.",
            lambda c: {"matrix": np.diag(np.diag(_reference_confusion(c)["matrix"]))},
        ),
    ],
    shape_hint=lambda name, got, want: (
        " (the number of classes taken from the labels seen? A class may never occur: use num_classes)"
        if got[0] < want[0]
        else ""
    ),
)


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
    return _run(_CONFUSION, fn, _confusion_cases(), ("y_true", "y_pred", "num_classes"))
