"""companion.ref.rnn: the numpy forward pass equals torch.nn.RNN with copied weights."""

import numpy as np
import pytest
import torch

from companion.ref import rnn

SHAPES = [(1, 1, 1, 1), (2, 5, 3, 4), (3, 7, 1, 6), (4, 2, 5, 2), (1, 12, 2, 3)]


def random_params(rng, D, H, scale=0.5):
    return (
        rng.normal(scale=scale, size=(D, H)),
        rng.normal(scale=scale, size=(H, H)),
        rng.normal(scale=scale, size=H),
    )


def torch_rnn(Wx, Wh, b, bias=True):
    D, H = Wx.shape
    module = torch.nn.RNN(D, H, batch_first=True, bias=bias, dtype=torch.float64)
    state = {k: torch.from_numpy(v) for k, v in rnn.to_torch(Wx, Wh, b).items()}
    if not bias:
        state = {k: v for k, v in state.items() if k.startswith("weight")}
    module.load_state_dict(state)
    return module


@pytest.mark.parametrize("N, T, D, H", SHAPES)
def test_forward_matches_torch_rnn(N, T, D, H):
    rng = np.random.default_rng(N * 1000 + T * 100 + D * 10 + H)
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    Wx, Wh, b = random_params(rng, D, H)
    h, cache = rnn.rnn_forward(x, h0, Wx, Wh, b)
    out, h_n = torch_rnn(Wx, Wh, b)(torch.from_numpy(x), torch.from_numpy(h0)[None])
    assert h.shape == (N, T, H)
    np.testing.assert_allclose(h, out.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(h[:, -1], h_n[0].detach().numpy(), rtol=1e-12, atol=1e-13)
    assert cache.h is h and cache.x is x


@pytest.mark.parametrize("N, D, H", [(1, 1, 1), (3, 4, 5)])
def test_step_forward_matches_torch_rnn_cell(N, D, H):
    rng = np.random.default_rng(7)
    x, h_prev = rng.normal(size=(N, D)), rng.normal(size=(N, H))
    Wx, Wh, b = random_params(rng, D, H)
    cell = torch.nn.RNNCell(D, H, dtype=torch.float64)
    state = rnn.to_torch(Wx, Wh, b, suffix="")
    cell.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    h, _ = rnn.rnn_step_forward(x, h_prev, Wx, Wh, b)
    expected = cell(torch.from_numpy(x), torch.from_numpy(h_prev)).detach().numpy()
    np.testing.assert_allclose(h, expected, rtol=1e-12, atol=1e-13)


def test_forward_is_the_loop_in_torch_docs():
    """The reference loop from torch.nn.RNN's docstring, in numpy, with two biases."""
    rng = np.random.default_rng(3)
    x, h0 = rng.normal(size=(2, 6, 3)), rng.normal(size=(2, 4))
    W_ih, W_hh = rng.normal(size=(4, 3)), rng.normal(size=(4, 4))
    b_ih, b_hh = rng.normal(size=4), rng.normal(size=4)
    h_t, expected = h0, []
    for t in range(6):
        h_t = np.tanh(x[:, t] @ W_ih.T + b_ih + h_t @ W_hh.T + b_hh)
        expected.append(h_t)
    Wx, Wh, b = rnn.from_torch(
        {"weight_ih_l0": W_ih, "weight_hh_l0": W_hh, "bias_ih_l0": b_ih, "bias_hh_l0": b_hh}
    )
    h, _ = rnn.rnn_forward(x, h0, Wx, Wh, b)
    np.testing.assert_allclose(h, np.stack(expected, axis=1), rtol=1e-13)


def test_from_torch_reads_a_torch_state_dict_and_round_trips():
    torch.manual_seed(0)
    module = torch.nn.RNN(3, 5, batch_first=True, dtype=torch.float64)
    Wx, Wh, b = rnn.from_torch(module.state_dict())
    assert Wx.shape == (3, 5) and Wh.shape == (5, 5) and b.shape == (5,)
    np.testing.assert_array_equal(Wx, module.weight_ih_l0.detach().numpy().T)
    np.testing.assert_allclose(b, (module.bias_ih_l0 + module.bias_hh_l0).detach().numpy(), rtol=1e-15)
    Wx2, Wh2, b2 = rnn.from_torch(rnn.to_torch(Wx, Wh, b))
    for a, c in [(Wx, Wx2), (Wh, Wh2), (b, b2)]:
        np.testing.assert_array_equal(a, c)
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    h, _ = rnn.rnn_forward(x.numpy(), np.zeros((2, 5)), Wx, Wh, b)
    np.testing.assert_allclose(h, module(x)[0].detach().numpy(), rtol=1e-12, atol=1e-13)


def test_from_torch_without_bias_and_with_missing_weight():
    module = torch.nn.RNN(2, 3, bias=False, dtype=torch.float64)
    _, _, b = rnn.from_torch(module.state_dict())
    np.testing.assert_array_equal(b, np.zeros(3))
    with pytest.raises(KeyError, match="weight_hh_l0"):
        rnn.from_torch({"weight_ih_l0": np.zeros((3, 2))})


def test_to_torch_without_bias_matches_bias_free_module():
    rng = np.random.default_rng(1)
    Wx, Wh, _ = random_params(rng, 2, 3)
    x = rng.normal(size=(2, 4, 2))
    h, _ = rnn.rnn_forward(x, np.zeros((2, 3)), Wx, Wh, np.zeros(3))
    out, _ = torch_rnn(Wx, Wh, np.zeros(3), bias=False)(torch.from_numpy(x))
    np.testing.assert_allclose(h, out.detach().numpy(), rtol=1e-12, atol=1e-13)


@pytest.fixture
def good():
    rng = np.random.default_rng(0)
    N, T, D, H = 4, 5, 8, 3
    return {
        "x": rng.normal(size=(N, T, D)),
        "h0": rng.normal(size=(N, H)),
        "Wx": rng.normal(size=(D, H)),
        "Wh": rng.normal(size=(H, H)),
        "b": rng.normal(size=H),
    }


@pytest.mark.parametrize(
    "name, bad, message",
    [
        ("x", (4, 8), r"expected x of shape \(N, T, D\), got \(4, 8\)"),
        ("x", (4, 0, 8), r"expected x of shape \(N, T, D\), got \(4, 0, 8\)"),
        ("h0", (3, 3), r"expected h0 of shape \(N, H\) = \(4, H\), got \(3, 3\)"),
        ("Wx", (7, 3), r"expected Wx of shape \(D, H\) = \(8, 3\), got \(7, 3\)"),
        ("Wh", (3, 4), r"expected Wh of shape \(H, H\) = \(3, 3\), got \(3, 4\)"),
        ("b", (3, 1), r"expected b of shape \(H,\) = \(3,\), got \(3, 1\)"),
    ],
)
def test_forward_rejects_bad_shapes(good, name, bad, message):
    good[name] = np.zeros(bad)
    with pytest.raises(ValueError, match="rnn_forward: " + message):
        rnn.rnn_forward(**good)


def test_forward_rejects_non_arrays_and_integer_arrays(good):
    good["x"] = good["x"].tolist()
    with pytest.raises(TypeError, match="expected x to be a numpy.ndarray, got list"):
        rnn.rnn_forward(**good)
    good["x"] = np.ones((4, 5, 8), dtype=np.int64)
    with pytest.raises(TypeError, match="floating-point dtype, got int64"):
        rnn.rnn_forward(**good)


def test_step_forward_rejects_batch_mismatch(good):
    with pytest.raises(ValueError, match=r"rnn_step_forward: expected h_prev of shape \(N, H\)"):
        rnn.rnn_step_forward(good["x"][:, 0], good["h0"][:2], good["Wx"], good["Wh"], good["b"])


# ---- variable lengths: a padded batch with `lengths` equals torch.nn.RNN fed a PackedSequence ----

LENGTHS = [[1], [5, 2, 5], [3, 1, 4, 4], [2, 7, 1, 6, 7]]  # unsorted, with ties, with length 1 and T


def torch_packed_rnn(x, h0, Wx, Wh, b, lengths):
    """Padded outputs (zeros after each sequence's end) and h_n of torch.nn.RNN on a PackedSequence."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    module = torch_rnn(Wx, Wh, b)
    packed = pack_padded_sequence(
        torch.from_numpy(x), torch.as_tensor(lengths), batch_first=True, enforce_sorted=False
    )
    out, h_n = module(packed, torch.from_numpy(h0)[None])
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    return out.detach().numpy(), h_n[0].detach().numpy()


@pytest.mark.parametrize("lengths", LENGTHS)
def test_forward_with_lengths_matches_torch_packed_sequence(lengths):
    N, T, D, H = len(lengths), max(lengths) + 1, 3, 4
    rng = np.random.default_rng(sum(lengths))
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    Wx, Wh, b = random_params(rng, D, H)
    h, cache = rnn.rnn_forward(x, h0, Wx, Wh, b, lengths=np.array(lengths))
    out, h_n = torch_packed_rnn(x, h0, Wx, Wh, b, lengths)
    np.testing.assert_allclose(h, out, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(cache.h_n, h_n, rtol=1e-12, atol=1e-13)
    np.testing.assert_array_equal(rnn.final_state(h, lengths), cache.h_n)
    padded = np.arange(T)[None, :] >= np.array(lengths)[:, None]  # (N, T)
    assert np.all(h[padded] == 0.0) and np.all(h[~padded] != 0.0)


def test_full_lengths_change_nothing_and_final_state_is_the_last_step():
    rng = np.random.default_rng(4)
    x, h0 = rng.normal(size=(3, 5, 2)), rng.normal(size=(3, 4))
    params = random_params(rng, 2, 4)
    h, cache = rnn.rnn_forward(x, h0, *params)
    h_full, cache_full = rnn.rnn_forward(x, h0, *params, lengths=[5, 5, 5])
    np.testing.assert_array_equal(h, h_full)
    np.testing.assert_array_equal(cache.h_n, h[:, -1])
    np.testing.assert_array_equal(cache_full.h_n, h[:, -1])
    np.testing.assert_array_equal(rnn.final_state(h), h[:, -1])


def test_the_cache_holds_inputs_states_and_weights_and_with_padding_the_lengths():
    """Chapter 3 counts the cache's bytes: N T (D + H) + N H + D H + H H numbers, plus N lengths."""
    N, T, D, H = 3, 5, 2, 4
    rng = np.random.default_rng(7)
    args = (rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), *random_params(rng, D, H))
    size = 8 * (N * T * (D + H) + N * H + D * H + H * H)
    for lengths, extra in [(None, 0), ([5, 5, 5], 0), ([5, 2, 4], N * np.dtype(np.intp).itemsize)]:
        _, cache = rnn.rnn_forward(*args, lengths=lengths)
        assert sum(array.nbytes for array in cache) == size + extra


def test_padded_inputs_are_never_read():
    rng = np.random.default_rng(5)
    x, h0 = rng.normal(size=(3, 6, 2)), rng.normal(size=(3, 4))
    params, lengths = random_params(rng, 2, 4), [6, 2, 4]
    h, _ = rnn.rnn_forward(x, h0, *params, lengths=lengths)
    garbage = x.copy()
    for n, length in enumerate(lengths):
        garbage[n, length:] = [np.nan, np.inf][n % 2]
    with np.errstate(all="raise"):
        h_garbage, cache = rnn.rnn_forward(garbage, h0, *params, lengths=lengths)
    np.testing.assert_array_equal(h_garbage, h)
    assert np.all(np.isfinite(cache.x))


@pytest.mark.parametrize(
    "lengths, error, message",
    [
        (
            [4, 4, 4],
            ValueError,
            r"rnn_forward: expected lengths of shape \(N,\) = \(4,\) \(one per sequence\), got \(3,\)",
        ),
        (
            [[1, 2, 3, 4]],
            ValueError,
            r"expected lengths of shape \(N,\) = \(4,\) \(one per sequence\), got \(1, 4\)",
        ),
        ([1, 0, 5, 5], ValueError, r"expected every length >= 1, got \[1, 0, 5, 5\]"),
        ([1, 2, 6, 5], ValueError, r"expected every length <= T = 5, got max length 6"),
        ([1.0, 2.0, 3.0, 4.0], TypeError, "expected lengths to hold integers, got dtype float64"),
        ([True, True, True, True], TypeError, "expected lengths to hold integers, got dtype bool"),
    ],
)
def test_forward_rejects_bad_lengths(good, lengths, error, message):
    with pytest.raises(error, match=message):
        rnn.rnn_forward(**good, lengths=lengths)
    with pytest.raises(error, match=message.replace("rnn_forward", "final_state")):
        rnn.final_state(np.zeros((4, 5, 3)), lengths)
