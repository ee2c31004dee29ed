"""companion.plots.diagrams.plot_bptt_graph: the diagram of chapter 3 draws the right edges, full and truncated."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from companion.plots import plot_bptt_graph  # noqa: E402

RED = (0.7529411764705882, 0.2235294117647059, 0.16862745098039217, 1.0)  # "#c0392b"


def backward_arrows(ax):
    return [
        a
        for a in ax.texts
        if getattr(a, "arrow_patch", None) is not None and a.arrow_patch.get_edgecolor() == RED
    ]


@pytest.mark.parametrize("length, k, cuts", [(5, None, 0), (6, 2, 2), (6, 3, 1), (4, 4, 0), (1, 1, 0)])
def test_backward_edges_are_removed_exactly_at_chunk_boundaries(length, k, cuts):
    ax = plot_bptt_graph(length, k=k)
    # one red arrow from each loss, one between consecutive states (minus the cuts), one into h_0
    assert len(backward_arrows(ax)) == length + (length - 1 - cuts) + 1
    assert sum("gradient\nstopped" == t.get_text() for t in ax.texts) == cuts
    assert ("truncated" in ax.get_title()) == (k is not None)
    plt.close(ax.figure)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="plot_bptt_graph: expected length to be an int in 1..12, got 0"):
        plot_bptt_graph(0)
    with pytest.raises(ValueError, match="plot_bptt_graph: expected k to be None or a positive int, got 0"):
        plot_bptt_graph(4, k=0)
