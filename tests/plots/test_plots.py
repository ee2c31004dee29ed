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


def test_encoder_decoder_reads_one_length_and_emits_another():
    ax = plots.plot_problem_shape("encoder-decoder", length=4)
    labels = [t.get_text() for t in ax.texts]
    assert sum(s.startswith("$x_") for s in labels) == 4
    assert sum(s.startswith("$h_") for s in labels) == 4
    assert sum(s.startswith("$y_") for s in labels) == sum(s.startswith("$s_") for s in labels) == 2
    assert "$z$" in labels and "encoder" in labels and "decoder" in labels
    assert ax.get_title().startswith("encoder-decoder")


def test_book_style_sizes_figures_for_the_column_at_200_dpi():
    with matplotlib.rc_context():
        assert plots.book_style() is None
        for key, value in plots.style.BOOK_RC.items():
            assert plt.rcParams[key] == (list(value) if isinstance(value, tuple) else value), key
        assert plt.rcParams["savefig.dpi"] >= 200
        assert plt.rcParams["figure.figsize"][0] <= 7
        fig, _ = plt.subplots()
        assert fig.get_size_inches()[0] <= 7


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


def test_padded_batch_draws_every_valid_step_and_hatches_the_padding():
    lengths = [4, 2, 5]
    ax = plots.plot_padded_batch(lengths)
    patches = ax.patches
    assert len(patches) == 3 * 5
    assert sum(bool(p.get_hatch()) for p in patches) == 3 * 5 - sum(lengths)
    labels = [t.get_text() for t in ax.texts]
    assert {s for s in labels if s != "0"} == {
        f"{'ABC'[n]}{t + 1}" for n in range(3) for t in range(lengths[n])
    }
    assert ax.get_xlabel() and ax.get_ylabel()


@pytest.mark.parametrize("name", ["plot_padded_batch", "plot_packed_batch"])
@pytest.mark.parametrize(
    "lengths, error, message",
    [
        ([[4, 2]], ValueError, r"expected lengths of shape \(N,\)"),
        ([3, 0], ValueError, r"expected every length >= 1, got \[3, 0\]"),
        ([3, 21], ValueError, r"expected every length <= T = 20, got max length 21"),
        (
            [2] * 9,
            ValueError,
            r"expected lengths of shape \(N,\) with 1 <= N <= 8 \(one colour per sequence\)",
        ),
        ([], ValueError, r"expected lengths of shape \(N,\) with 1 <= N <= 8 .*got shape \(0,\)"),
        ([3.0, 2.0], TypeError, "expected lengths to hold integers, got dtype float64"),
    ],
)
def test_batch_figures_refuse_lengths_they_cannot_draw(name, lengths, error, message):
    with pytest.raises(error, match=f"{name}: {message}"):
        getattr(plots, name)(lengths)


@pytest.mark.parametrize("lengths", [[4, 2, 5], [1, 6, 3, 2], [3]])
def test_packed_batch_shows_the_rows_and_batch_sizes_of_torch_packing(lengths):
    torch = pytest.importorskip("torch")
    from torch.nn.utils.rnn import pack_padded_sequence

    N, T = len(lengths), max(lengths)
    codes = torch.tensor([[100 * n + t for t in range(T)] for n in range(N)], dtype=torch.float64)  # (N, T)
    packed = pack_padded_sequence(
        codes[..., None], torch.tensor(lengths), batch_first=True, enforce_sorted=False
    )
    want = [f"{chr(65 + int(c) // 100)}{int(c) % 100 + 1}" for c in packed.data[:, 0]]
    ax = plots.plot_packed_batch(lengths, sorted_indices=packed.sorted_indices.tolist())
    cells = [t.get_text() for t in ax.texts if t.get_text()[:1].isalpha() and t.get_text()[1:].isdigit()]
    assert cells == want
    sizes = [t.get_text() for t in ax.texts if t.get_color() == "#c0392b" and t.get_text().isdigit()]
    assert sizes == [str(s) for s in packed.batch_sizes.tolist()]
    assert cells == [t.get_text() for t in plots.plot_packed_batch(lengths).texts if t.get_text() in cells]


def test_packed_batch_refuses_an_order_that_is_not_longest_first():
    with pytest.raises(
        ValueError, match=r"expected sorted_indices to order lengths \[4, 2, 5\] longest first"
    ):
        plots.plot_packed_batch([4, 2, 5], sorted_indices=[0, 1, 2])


def test_attention_heat_map_puts_the_source_and_output_tokens_on_the_axes():
    weights = np.random.default_rng(0).dirichlet(np.ones(5), size=4)  # (Tt, Ts) = (4, 5), rows sum to 1
    ax = plots.plot_attention(weights, "3 May", ["0", "5", "-", "</s>"])
    np.testing.assert_array_equal(ax.images[0].get_array(), weights)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["3", "␣", "M", "a", "y"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "5", "-", "</s>"]
    assert ax.get_xlabel() == "source character" and ax.get_ylabel() == "output character"
    assert ax.images[0].get_clim() == (0, 1)
    assert ax.figure.get_size_inches()[0] <= 6.5


def test_attention_heat_map_refuses_weights_that_do_not_fit():
    with pytest.raises(ValueError, match=r"expected weights of shape \(Tt, Ts\) = \(2, 3\) .*got \(3, 2\)"):
        plots.plot_attention(np.full((3, 2), 0.5), "abc", "xy")
    with pytest.raises(ValueError, match=r"expected weights in \[0, 1\], got values from -0.5 to 1"):
        plots.plot_attention(np.array([[1.0, -0.5]]), "ab", "x")
