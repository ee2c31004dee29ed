"""companion.plots: every figure draws, labels its axes and refuses malformed input."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from companion import plots  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("kind", ["many-to-one", "one-to-many", "many-to-many"])
def test_problem_shape_draws_inputs_and_outputs_where_the_kind_says(kind):
    ax = plots.plot_problem_shape(kind, length=4)
    labels = [t.get_text() for t in ax.texts]
    n_inputs = sum(s.startswith("$x_") for s in labels)
    n_outputs = sum(s.startswith("$y_") for s in labels)
    assert (n_inputs, n_outputs) == {
        "many-to-one": (4, 1),
        "one-to-many": (1, 4),
        "many-to-many": (4, 4),
    }[kind]
    with pytest.raises(ValueError, match="expected kind"):
        plots.plot_problem_shape("many-to-few")


def test_unrolled_diagram_labels_every_recurrent_arrow_with_the_shared_weight():
    ax = plots.plot_unrolled(length=3)
    labels = [t.get_text() for t in ax.texts]
    assert labels.count("$W_{hh}$") == 1 + 3


def test_hidden_states_heat_map_is_time_by_unit_with_labels():
    h = np.tanh(np.random.default_rng(0).normal(size=(20, 6)))
    ax = plots.plot_hidden_states(h, title="t")
    assert ax.images[0].get_array().shape == (6, 20)
    assert ax.get_xlabel() and ax.get_ylabel()
    with pytest.raises(ValueError, match=r"expected h of shape \(T, H\)"):
        plots.plot_hidden_states(h[None])


def test_sequences_plot_one_line_per_series():
    ax = plots.plot_sequences(np.arange(5.0), np.ones(5), labels=["a", "b"])
    assert len(ax.lines) == 2 and ax.get_legend() is not None
    with pytest.raises(ValueError, match=r"expected each series of shape \(T,\)"):
        plots.plot_sequences(np.ones((2, 2)))
