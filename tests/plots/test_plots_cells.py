"""companion.plots.cells: each cell diagram draws the book's symbols and fits the text column."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from companion import plots  # noqa: E402
from companion.plots import cells as plots_cells  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def texts(ax):
    return [t.get_text() for t in ax.texts]


def highlighted_lines(ax):
    return [line for line in ax.lines if to_hex(line.get_color()) == plots_cells.HIGHLIGHT]


def test_rnn_cell_shows_the_state_update_of_chapter_2():
    ax = plots_cells.plot_rnn_cell()
    labels = texts(ax)
    for symbol in ["$h_{t-1}$", "$x_t$", "$h_t$", "$W_{hh}$", "$W_{xh}$", "$W_{hy}$", "tanh"]:
        assert symbol in labels, symbol
    assert labels.count("tanh") == 1
    assert ax.get_title()


@pytest.mark.parametrize(
    "draw, symbols, layers",
    [
        (
            plots_cells.plot_lstm_cell,
            ["$c_{t-1}$", "$c_t$", "$h_{t-1}$", "$h_t$", "$x_t$", "$f_t$", "$i_t$", "$g_t$", "$o_t$"],
            {"$\\sigma$": 3, "tanh": 2},  # the candidate layer g_t and the elementwise tanh(c_t)
        ),
        (
            plots_cells.plot_gru_cell,
            ["$h_{t-1}$", "$h_t$", "$x_t$", "$r_t$", "$z_t$", "$n_t$", "$W_h^n$", "$1-$"],
            {"$\\sigma$": 2, "tanh": 1},
        ),
    ],
)
def test_gated_cells_label_every_gate_and_highlight_the_state_path(draw, symbols, layers):
    ax = draw()
    labels = texts(ax)
    for symbol in symbols:
        assert symbol in labels, symbol
    for layer, count in layers.items():
        assert labels.count(layer) == count, layer
    (path,) = highlighted_lines(ax)
    xs, ys = path.get_data()
    assert len(set(ys)) == 1 and min(xs) < 0 < 10 < max(xs)  # one straight line across the whole cell
    assert path.get_linewidth() > max(line.get_linewidth() for line in ax.lines if line is not path)
    assert not highlighted_lines(draw(highlight=False))


@pytest.mark.parametrize(
    "draw", [plots_cells.plot_rnn_cell, plots_cells.plot_lstm_cell, plots_cells.plot_gru_cell]
)
def test_cell_diagrams_fit_the_text_column_and_draw_on_a_given_axes(draw):
    ax = draw()
    assert ax.figure.get_size_inches()[0] <= 7
    _, given = plt.subplots()
    assert draw(ax=given) is given and given.texts


def test_cell_diagrams_are_part_of_companion_plots():
    assert plots.plot_lstm_cell is plots_cells.plot_lstm_cell
    assert {"plot_rnn_cell", "plot_lstm_cell", "plot_gru_cell"} <= set(plots.__all__)
