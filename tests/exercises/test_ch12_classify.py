"""Chapter 12's exercises: the readouts of a padded batch and the confusion matrix; their references
agree with the package's.
"""

import numpy as np
import torch
from exercise_suite import chapter_tests

from companion import exercises as ex
from companion.classify import confusion_matrix
from companion.exercises import ch12_classify as ch12
from companion.nn.utils import last_valid, masked_mean


def my_masked_mean(output, lengths):
    valid = np.arange(output.shape[1])[None, :] < lengths[:, None]  # (N, T)
    return (output * valid[:, :, None]).sum(axis=1) / lengths[:, None]


def my_last_valid(output, lengths):
    return output[np.arange(len(lengths)), lengths - 1]


def my_confusion_matrix(y_true, y_pred, num_classes):
    m = np.zeros((num_classes, num_classes), dtype=int)
    np.add.at(m, (y_true, y_pred), 1)
    return m


def mean_over_all_steps(output, lengths):
    return output.mean(axis=1)


def mean_divided_by_t(output, lengths):
    valid = np.arange(output.shape[1])[None, :] < lengths[:, None]
    return (output * valid[:, :, None]).sum(axis=1) / output.shape[1]


def mean_with_le(output, lengths):
    valid = np.arange(output.shape[1])[None, :] <= lengths[:, None]
    return (output * valid[:, :, None]).sum(axis=1) / (lengths[:, None] + 1)


def last_column(output, lengths):
    return output[:, -1]


def last_off_by_one(output, lengths):
    return output[np.arange(len(lengths)), np.minimum(lengths, output.shape[1] - 1)]


def confusion_transposed(y_true, y_pred, num_classes):
    return my_confusion_matrix(y_pred, y_true, num_classes)


def confusion_normalised(y_true, y_pred, num_classes):
    m = my_confusion_matrix(y_true, y_pred, num_classes)
    return m / np.maximum(m.sum(axis=1, keepdims=True), 1)


def confusion_classes_seen(y_true, y_pred, num_classes):
    return my_confusion_matrix(y_true, np.minimum(y_pred, y_true.max()), y_true.max() + 1)


SOLUTIONS = [
    (ex.check_masked_mean, my_masked_mean),
    (ex.check_last_valid, my_last_valid),
    (ex.check_confusion_matrix, my_confusion_matrix),
]


WRONG = [
    (ex.check_masked_mean, mean_over_all_steps, r"mean differs .*over all T steps, padding included"),
    (ex.check_masked_mean, mean_divided_by_t, "divided by T, the padded length"),
    (ex.check_masked_mean, mean_with_le, r"keeps t <= lengths\[n\]"),
    (ex.check_last_valid, last_column, r"output\[:, -1\] is read"),
    (ex.check_last_valid, last_off_by_one, "the step after the end"),
    (ex.check_confusion_matrix, confusion_transposed, "Rows are the predicted classes"),
    (ex.check_confusion_matrix, confusion_normalised, "Each row is divided by its total"),
    (
        ex.check_confusion_matrix,
        confusion_classes_seen,
        r"matrix has shape \(2, 2\); expected .*use num_classes",
    ),
]


globals().update(chapter_tests(SOLUTIONS, WRONG))


def test_checks_agree_with_the_package():
    """The exercises' references are the package's torch readouts and confusion matrix."""
    for case in ch12._padded_cases(1201):
        out = torch.as_tensor(case["output"])
        np.testing.assert_allclose(ch12._mean(case)["mean"], masked_mean(out, case["lengths"]).numpy())
        np.testing.assert_allclose(ch12._last(case)["last"], last_valid(out, case["lengths"]).numpy())
    for case in ch12._confusion_cases():
        want = confusion_matrix(case["y_true"], case["y_pred"], case["num_classes"])
        np.testing.assert_array_equal(ch12._confusion(case)["matrix"], want)
