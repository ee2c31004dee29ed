"""companion.plots.music: a piano roll puts each note where its onset, duration and pitch say."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from companion.plots.music import note_name, onsets, plot_piano_roll  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize(
    "pitch, name", [(60, "C4"), (69, "A4"), (70, "A#4"), (59, "B3"), (0, "C-1"), (127, "G9"), (81, "A5")]
)
def test_note_names_follow_scientific_pitch_notation(pitch, name):
    assert note_name(pitch) == name


@pytest.mark.parametrize("pitch", [-1, 128, 60.0, None, True])
def test_note_name_refuses_what_is_not_a_midi_number(pitch):
    with pytest.raises(ValueError, match="note_name: expected a MIDI note number"):
        note_name(pitch)


def test_onsets_are_the_running_sum_of_the_durations():
    events = [(60, 0.5), (None, 1.5), (62, 1.0), (64, 3.0)]
    np.testing.assert_array_equal(onsets(events), [0.0, 0.5, 2.0, 3.0])
    assert onsets([]).shape == (0,)


def test_each_note_is_a_bar_at_its_onset_pitch_and_duration():
    events = [(67, 1.0), (69, 0.5), (None, 1.5), (71, 2.0), (67, 0.25)]
    ax = plot_piano_roll(events, title="four notes")
    bars = [(p.get_x(), p.get_y(), p.get_width(), p.get_height()) for p in ax.patches]
    want = [(0.0, 66.6, 1.0, 0.8), (1.0, 68.6, 0.5, 0.8), (3.0, 70.6, 2.0, 0.8), (5.0, 66.6, 0.25, 0.8)]
    np.testing.assert_allclose(bars, want)  # the rest is a gap of 1.5 between 1.5 and 3.0
    assert ax.get_xlim() == (0.0, 5.25)
    assert ax.get_title() == "four notes"


def test_pitch_axis_names_the_notes_and_spans_the_melody():
    ax = plot_piano_roll([(55, 1.0), (72, 1.0)])
    low, high = ax.get_ylim()
    assert low < 55 - 0.4 and high > 72 + 0.4
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["G3", "C4", "G4", "C5"]
    assert [int(t) for t in ax.get_yticks()] == [55, 60, 67, 72]


def test_pitch_range_and_barlines_can_be_set():
    events = [(60, 4.0), (62, 4.0), (64, 2.0)]
    ax = plot_piano_roll(events, pitch_range=(48, 84), beats_per_bar=4)
    assert ax.get_ylim() == (47.5, 84.5)
    assert [line.get_xdata()[0] for line in ax.lines] == [4.0, 8.0]
    assert len(plot_piano_roll(events, beats_per_bar=None).lines) == 0


def test_a_new_figure_fits_the_text_column():
    ax = plot_piano_roll([(60, 1.0)])
    assert ax.figure.get_size_inches()[0] <= 6.5


def test_draws_on_a_given_axes():
    fig, axes = plt.subplots(2, 1)
    assert plot_piano_roll([(60, 1.0)], ax=axes[1]) is axes[1]
    assert len(axes[1].patches) == 1 and len(axes[0].patches) == 0


@pytest.mark.parametrize(
    "events, message",
    [
        ([(60, 0.0)], "expected a positive duration, got 0.0 at index 0"),
        ([(60, 1.0), (62, -1.0)], "expected a positive duration, got -1.0 at index 1"),
        ([(128, 1.0)], r"expected a pitch in \[0, 127\] or None, got 128 at index 0"),
        ([(60, 1.0, 3)], r"expected events \(pitch, duration\), got \(60, 1.0, 3\) at index 0"),
        ([(None, 1.0)], "expected at least one note, got 1 events and no note"),
        ([], "expected at least one note, got 0 events and no note"),
    ],
)
def test_bad_melodies_are_refused_with_what_was_expected(events, message):
    with pytest.raises(ValueError, match=f"plot_piano_roll: {message}"):
        plot_piano_roll(events)
