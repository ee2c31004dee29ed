"""Figures of chapter 12: a confusion matrix and the frames of a clip."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_confusion", "plot_frames"]


def plot_confusion(matrix, labels, ax=None, xlabel: str = "predicted class", ylabel: str = "true class"):
    """Draw a confusion matrix (rows true, columns predicted) as a heat map with the counts written in.

    Parameters
    ----------
    matrix : array_like of int of shape (C, C)
    labels : sequence of str of length C
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If ``matrix`` is not square or ``labels`` has the wrong length.
    """
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or len(labels) != len(matrix):
        raise ValueError(
            f"plot_confusion: expected a (C, C) matrix and C labels, got {matrix.shape}, {len(labels)} labels"
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 3.8))
    ax.imshow(matrix, cmap="Blues")
    C = len(matrix)
    for i in range(C):
        for j in range(C):
            if matrix[i, j]:
                dark = matrix[i, j] > matrix.max() / 2
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")  # fmt: skip
    ax.set_xticks(range(C), labels)
    ax.set_yticks(range(C), labels)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


def plot_frames(videos, titles=None, axes=None, max_frames: int = 8):
    """Draw clips as rows of frames, one row per clip.

    Parameters
    ----------
    videos : array_like of shape (K, T, H, W)
    titles : sequence of str, optional
        One label per row, written at its left.

    Returns
    -------
    ndarray of Axes of shape (K, min(T, max_frames))
    """
    videos = np.asarray(videos)
    if videos.ndim != 4:
        raise ValueError(f"plot_frames: expected videos of shape (K, T, H, W), got {videos.shape}")
    K, T = videos.shape[0], min(videos.shape[1], max_frames)
    if axes is None:
        _, axes = plt.subplots(K, T, figsize=(0.75 * T + 0.8, 0.8 * K), squeeze=False)
    low, high = videos.min(), videos.max()
    for k in range(K):
        for t in range(T):
            ax = axes[k, t]
            ax.imshow(videos[k, t], cmap="gray", vmin=low, vmax=high)
            ax.set_xticks([])
            ax.set_yticks([])
            if k == K - 1:
                ax.set_xlabel(f"t={t}", fontsize=7)
        if titles is not None:
            axes[k, 0].set_ylabel(titles[k], fontsize=8, rotation=0, ha="right", va="center")
    return axes
