"""Synthetic video: short clips of a square moving across a noisy frame (chapter 12).

The clips are generated, not recorded: a bright square of random size and brightness starts at a
random place and moves one way, ``speed`` pixels per frame, over Gaussian pixel noise. The label is
the direction (left, right, up or down). Start positions are drawn so that, in every direction, the
square visits the same set of positions with the same probabilities: a clip moving right is a clip
moving left played backwards. The *set* of frames of a clip therefore says nothing about its label,
only their *order* does, which makes the task a clean test of whether a model uses order
(:func:`shuffle_frames`).

Everything is drawn from a ``numpy.random.Generator`` made from the ``seed`` given; the same seed
gives the same clips on every machine.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from companion._validate import positive_int

__all__ = ["DIRECTIONS", "Clips", "moving_squares", "shuffle_frames"]

#: The class names of :func:`moving_squares`, by label: 0 left, 1 right, 2 up, 3 down.
DIRECTIONS = ("left", "right", "up", "down")
_STEP = {0: (0, -1), 1: (0, 1), 2: (-1, 0), 3: (1, 0)}  # label -> (row, column) step per frame


class Clips(NamedTuple):
    """A set of synthetic clips.

    Attributes
    ----------
    videos : ndarray of float32 of shape (N, T, H, W)
        N clips of T grey-level frames of H x W pixels.
    labels : ndarray of int64 of shape (N,)
        Index into ``classes`` of each clip's direction of motion.
    classes : tuple of str
        The class names, ``DIRECTIONS``.
    """

    videos: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]


def moving_squares(
    n: int,
    *,
    frames: int = 8,
    size: int = 16,
    side: tuple[int, int] = (2, 4),
    speed: int = 1,
    noise: float = 0.25,
    seed: int,
) -> Clips:
    """Generate ``n`` synthetic clips of a square moving left, right, up or down.

    Parameters
    ----------
    n : int
        Number of clips; the four directions are drawn uniformly.
    frames : int, default 8
        Frames per clip, T.
    size : int, default 16
        Height and width of a frame, H = W.
    side : (int, int), default (2, 4)
        Smallest and largest side of the square, in pixels (drawn uniformly per clip).
    speed : int, default 1
        Pixels moved per frame.
    noise : float, default 0.25
        Standard deviation of the Gaussian noise added to every pixel. The square's brightness is
        drawn from [0.5, 1] per clip, the background is 0.
    seed : int
        Seed of the generator; required, so that every set of clips can be made again.

    Returns
    -------
    Clips
        ``videos`` (n, frames, size, size) float32, ``labels`` (n,) int64, ``classes``.

    Raises
    ------
    ValueError
        If a size is not positive, ``noise`` is negative, or the largest square cannot make the
        whole trip inside the frame (``side[1] + (frames - 1) * speed > size``).
    TypeError
        If a size is not an int.

    Examples
    --------
    >>> clips = moving_squares(6, seed=0)
    >>> clips.videos.shape, clips.videos.dtype, clips.labels.shape
    ((6, 8, 16, 16), dtype('float32'), (6,))
    """
    where = "moving_squares"
    n, frames, size, speed = (positive_int(where, k, v) for k, v in
                              [("n", n), ("frames", frames), ("size", size), ("speed", speed)])  # fmt: skip
    if len(side) != 2 or not 1 <= side[0] <= side[1]:
        raise ValueError(
            f"{where}: expected side = (smallest, largest) with 1 <= smallest <= largest, got {side}"
        )
    low, high = (positive_int(where, "side", s) for s in side)
    travel = (frames - 1) * speed
    if high + travel > size:
        raise ValueError(
            f"{where}: a square of side {high} moving {speed} pixel(s) per frame for {frames} frames needs "
            f"a frame of at least {high + travel} pixels, got size {size}"
        )
    if not noise >= 0:
        raise ValueError(f"{where}: expected noise >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(DIRECTIONS), size=n)  # (n,)
    sides = rng.integers(low, high + 1, size=n)  # (n,)
    brightness = rng.uniform(0.5, 1.0, size=n)  # (n,)
    videos = rng.normal(0.0, noise, size=(n, frames, size, size)).astype(np.float32)  # (N, T, H, W)
    t = np.arange(frames)
    for i in range(n):
        s, (dr, dc) = sides[i], _STEP[int(labels[i])]
        free = size - s - travel  # start offsets along the motion that keep the whole trip inside
        along = rng.integers(0, free + 1) + (travel if dr + dc < 0 else 0)  # the same visited set
        across = rng.integers(0, size - s + 1)
        rows = along + dr * speed * t if dr else np.full(frames, across)  # (T,)
        cols = along + dc * speed * t if dc else np.full(frames, across)  # (T,)
        for k in range(frames):
            videos[i, k, rows[k] : rows[k] + s, cols[k] : cols[k] + s] += brightness[i]
    return Clips(videos, labels.astype(np.int64), DIRECTIONS)


def shuffle_frames(videos: np.ndarray, *, seed: int) -> np.ndarray:
    """The clips with the frames of each put in a random order (a new permutation per clip).

    Parameters
    ----------
    videos : ndarray of shape (N, T, ...)
        Clips, frames along axis 1.
    seed : int
        Seed of the permutations.

    Returns
    -------
    ndarray of shape (N, T, ...)
        A new array; clip i holds the same frames as ``videos[i]``, reordered.

    Raises
    ------
    ValueError
        If ``videos`` has fewer than 2 dimensions.

    Examples
    --------
    >>> x = np.arange(6).reshape(1, 6)
    >>> sorted(shuffle_frames(x, seed=0)[0].tolist())
    [0, 1, 2, 3, 4, 5]
    """
    videos = np.asarray(videos)
    if videos.ndim < 2:
        raise ValueError(f"shuffle_frames: expected videos of shape (N, T, ...), got {videos.shape}")
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random(videos.shape[:2]), axis=1)  # (N, T): one permutation per clip
    return np.take_along_axis(videos, order.reshape(order.shape + (1,) * (videos.ndim - 2)), axis=1)
