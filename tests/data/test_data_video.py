"""companion.data.video: seeded synthetic clips, reproducible, with labels that only the order of
the frames reveals."""

import numpy as np
import pytest

from companion.data.video import DIRECTIONS, moving_squares, shuffle_frames


def test_shapes_dtypes_and_classes():
    clips = moving_squares(20, frames=6, size=12, side=(2, 3), seed=0)
    assert clips.videos.shape == (20, 6, 12, 12) and clips.videos.dtype == np.float32
    assert clips.labels.shape == (20,) and clips.labels.dtype == np.int64
    assert clips.classes == DIRECTIONS == ("left", "right", "up", "down")
    assert set(clips.labels.tolist()) <= {0, 1, 2, 3}


def test_seeded_generation_is_reproducible_and_seeds_differ():
    a, b, c = moving_squares(8, seed=3), moving_squares(8, seed=3), moving_squares(8, seed=4)
    assert np.array_equal(a.videos, b.videos) and np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.videos, c.videos)


def centre(frame):
    rows, cols = np.nonzero(frame > 0.25)
    return rows.mean(), cols.mean()


def test_the_square_moves_in_the_labelled_direction():
    clips = moving_squares(40, noise=0.0, speed=1, seed=5)
    for video, label in zip(clips.videos, clips.labels, strict=True):
        (r0, c0), (r1, c1) = centre(video[0]), centre(video[-1])
        step = {"left": (0, -7), "right": (0, 7), "up": (-7, 0), "down": (7, 0)}[DIRECTIONS[label]]
        assert (r1 - r0, c1 - c0) == step


def test_left_and_right_visit_the_same_positions():
    """Without order a clip moving right looks like one moving left: the same start distribution."""
    clips = moving_squares(4000, noise=0.0, seed=6)
    lefts = [
        sorted(centre(f)[1] for f in v) for v, y in zip(clips.videos, clips.labels, strict=True) if y == 0
    ]
    rights = [
        sorted(centre(f)[1] for f in v) for v, y in zip(clips.videos, clips.labels, strict=True) if y == 1
    ]
    lo, hi = np.mean([s[0] for s in lefts]), np.mean([s[0] for s in rights])
    assert abs(lo - hi) < 0.2  # mean leftmost position agrees (it differs by 7 if starts were not mirrored)


def test_shuffle_frames_permutes_within_each_clip():
    x = np.arange(2 * 5 * 3).reshape(2, 5, 3)
    y = shuffle_frames(x, seed=0)
    assert not np.array_equal(x, y)
    for i in range(2):
        assert sorted(map(tuple, y[i])) == sorted(map(tuple, x[i]))
    assert np.array_equal(shuffle_frames(x, seed=0), y)
    with pytest.raises(ValueError, match=r"expected videos of shape \(N, T, ...\), got \(4,\)"):
        shuffle_frames(np.zeros(4), seed=0)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n": 0}, ValueError, "expected n >= 1, got 0"),
        ({"n": 2.5}, TypeError, "expected n to be an int, got float"),
        ({"frames": 20}, ValueError, "needs a frame of at least 23 pixels, got size 16"),
        ({"side": (3, 2)}, ValueError, "expected side"),
        ({"noise": -1.0}, ValueError, "expected noise >= 0"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        moving_squares(**{"n": 4, "seed": 0, **kwargs})
