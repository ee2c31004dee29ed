"""companion.ref.gru: forward equals torch.nn.GRU, hand BPTT equals finite differences and autograd."""

import numpy as np
import pytest
import torch
from torch.func import functional_call

from companion.diagnostics.gradcheck import autograd_gradients, compare_gradients, numerical_gradients
from companion.ref import gru

NAMES = ["dx", "dh0", "dWx", "dWh", "dbx", "dbh"]


def random_problem(rng, N, T, D, H, scale=0.5):
    return (
        rng.normal(size=(N, T, D)),
        rng.normal(scale=scale, size=(N, H)),
        rng.normal(scale=scale, size=(D, 3 * H)),
        rng.normal(scale=scale, size=(H, 3 * H)),
        rng.normal(scale=scale, size=3 * H),
        rng.normal(scale=scale, size=3 * H),
    )


def torch_gru(x, h0, Wx, Wh, bx, bh):
    """torch.nn.GRU's own kernel on tensors carrying numpy-layout weights (differentiable in all)."""
    D, H = Wx.shape[0], Wh.shape[0]
    module = torch.nn.GRU(D, H, batch_first=True, dtype=torch.float64)
    params = {"weight_ih_l0": Wx.T, "weight_hh_l0": Wh.T, "bias_ih_l0": bx, "bias_hh_l0": bh}
    return functional_call(module, params, (x, h0[None]))[0]


@pytest.mark.parametrize("N, T, D, H", [(1, 1, 1, 1), (2, 5, 3, 4), (3, 7, 2, 6)])
def test_forward_matches_torch_gru(N, T, D, H):
    rng = np.random.default_rng(N * 100 + T * 10 + H)
    args = random_problem(rng, N, T, D, H)
    h, cache = gru.gru_forward(*args)
    out = torch_gru(*(torch.from_numpy(a) for a in args))
    assert h.shape == (N, T, H) and cache.gates.shape == (N, T, 3 * H)
    np.testing.assert_allclose(h, out.detach().numpy(), rtol=1e-12, atol=1e-13)


def test_step_forward_matches_torch_gru_cell():
    rng = np.random.default_rng(5)
    x, h0, Wx, Wh, bx, bh = random_problem(rng, 3, 1, 4, 5)
    cell = torch.nn.GRUCell(4, 5, dtype=torch.float64)
    cell.load_state_dict({k: torch.from_numpy(v) for k, v in gru.to_torch(Wx, Wh, bx, bh, suffix="").items()})
    h, _ = gru.gru_step_forward(x[:, 0], h0, Wx, Wh, bx, bh)
    expected = cell(torch.from_numpy(x[:, 0]), torch.from_numpy(h0)).detach().numpy()
    np.testing.assert_allclose(h, expected, rtol=1e-12, atol=1e-13)


def test_the_hidden_bias_of_the_candidate_is_gated_by_r():
    """Moving b_h^n into b_x^n changes the output (r multiplies it); moving the r or z blocks does not."""
    rng = np.random.default_rng(1)
    x, h0, Wx, Wh, bx, bh = random_problem(rng, 2, 4, 3, 2)
    h, _ = gru.gru_forward(x, h0, Wx, Wh, bx, bh)
    H = 2
    moved_rz = bx.copy(), bh.copy()
    moved_rz[0][: 2 * H] += moved_rz[1][: 2 * H]
    moved_rz[1][: 2 * H] = 0.0
    np.testing.assert_allclose(gru.gru_forward(x, h0, Wx, Wh, *moved_rz)[0], h, rtol=1e-13)
    moved_n = bx.copy(), bh.copy()
    moved_n[0][2 * H :] += moved_n[1][2 * H :]
    moved_n[1][2 * H :] = 0.0
    assert np.abs(gru.gru_forward(x, h0, Wx, Wh, *moved_n)[0] - h).max() > 1e-3


def test_update_gate_one_copies_the_state():
    N, D, H = 2, 3, 2
    rng = np.random.default_rng(0)
    x, h0 = rng.normal(size=(N, 6, D)), rng.normal(size=(N, H))
    bx = np.concatenate([np.zeros(H), np.full(H, 60.0), np.zeros(H)])
    h, _ = gru.gru_forward(
        x, h0, rng.normal(size=(D, 3 * H)), rng.normal(size=(H, 3 * H)), bx, np.zeros(3 * H)
    )
    np.testing.assert_allclose(h[:, -1], h0, rtol=1e-12)


def sequence_gradients(rng, N, T, D, H):
    args = random_problem(rng, N, T, D, H)
    dh = rng.normal(size=(N, T, H))
    _, cache = gru.gru_forward(*args)
    return args, dh, gru.gru_backward(dh, cache)


def test_the_bias_gradients_differ_only_in_the_candidate_block():
    """dbx and dbh agree on r and z (both biases enter the same sum) and differ on n (r gates b_h^n)."""
    N, T, D, H = 3, 9, 4, 5
    args, dh, grads = sequence_gradients(np.random.default_rng(T + 1), N, T, D, H)
    dbx, dbh = grads[4], grads[5]
    np.testing.assert_allclose(dbx[: 2 * H], dbh[: 2 * H], rtol=1e-12)
    assert np.abs(dbx[2 * H :] - dbh[2 * H :]).max() > 1e-6


def test_step_backward_matches_finite_differences():
    rng = np.random.default_rng(3)
    x, h0, Wx, Wh, bx, bh = random_problem(rng, 2, 1, 3, 3)
    args = [x[:, 0], h0, Wx, Wh, bx, bh]
    dh = rng.normal(size=(2, 3))
    _, cache = gru.gru_step_forward(*args)
    numeric = numerical_gradients(lambda *a: gru.gru_step_forward(*a)[0], args, upstream=dh)
    names = ["dx", "dh_prev", "dWx", "dWh", "dbx", "dbh"]
    errors = compare_gradients(gru.gru_step_backward(dh, cache), numeric, names)
    assert max(errors.values()) < 1e-7, errors


def test_to_torch_from_torch_round_trip_and_torch_state_dict():
    torch.manual_seed(0)
    module = torch.nn.GRU(3, 5, batch_first=True, dtype=torch.float64)
    Wx, Wh, bx, bh = gru.from_torch(module.state_dict())
    assert Wx.shape == (3, 15) and Wh.shape == (5, 15) and bx.shape == bh.shape == (15,)
    np.testing.assert_array_equal(bh, module.bias_hh_l0.detach().numpy())
    state = gru.to_torch(Wx, Wh, bx, bh)
    for key, value in module.state_dict().items():
        np.testing.assert_array_equal(state[key], value.numpy())
    for a, c in zip((Wx, Wh, bx, bh), gru.from_torch(state), strict=True):
        np.testing.assert_array_equal(a, c)
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    h, _ = gru.gru_forward(x.numpy(), np.zeros((2, 5)), Wx, Wh, bx, bh)
    np.testing.assert_allclose(h, module(x)[0].detach().numpy(), rtol=1e-12, atol=1e-13)


def test_from_torch_cell_without_bias_and_missing_key():
    cell = torch.nn.GRUCell(2, 3, bias=False, dtype=torch.float64)
    Wx, _, bx, bh = gru.from_torch(cell.state_dict(), suffix="")
    np.testing.assert_array_equal(Wx, cell.weight_ih.detach().numpy().T)
    np.testing.assert_array_equal(bx, np.zeros(9))
    np.testing.assert_array_equal(bh, np.zeros(9))
    with pytest.raises(KeyError, match="weight_ih"):
        gru.from_torch({"weight_hh": np.zeros((9, 3))}, suffix="")


@pytest.fixture
def good():
    x, h0, Wx, Wh, bx, bh = random_problem(np.random.default_rng(0), 4, 5, 8, 3)
    return {"x": x, "h0": h0, "Wx": Wx, "Wh": Wh, "bx": bx, "bh": bh}


@pytest.mark.parametrize(
    "name, bad, message",
    [
        ("x", (4, 8), r"expected x of shape \(N, T, D\), got \(4, 8\)"),
        ("h0", (5, 3), r"expected h0 of shape \(N, H\) = \(4, H\), got \(5, 3\)"),
        ("Wx", (8, 12), r"expected Wx of shape \(D, 3H\) = \(8, 9\), got \(8, 12\)"),
        ("Wh", (3, 12), r"expected Wh of shape \(H, 3H\) = \(3, 9\), got \(3, 12\)"),
        ("bx", (12,), r"expected bx of shape \(3H,\) = \(9,\), got \(12,\)"),
        ("bh", (9, 1), r"expected bh of shape \(3H,\) = \(9,\), got \(9, 1\)"),
    ],
)
def test_forward_rejects_bad_shapes(good, name, bad, message):
    good[name] = np.zeros(bad)
    with pytest.raises(ValueError, match="gru_forward: " + message):
        gru.gru_forward(**good)


def test_backward_rejects_bad_upstream(good):
    _, cache = gru.gru_forward(**good)
    with pytest.raises(ValueError, match=r"gru_backward: expected dh of shape \(N, T, H\) = \(4, 5, 3\)"):
        gru.gru_backward(np.zeros((4, 3)), cache)


# ---- variable lengths: a padded batch with `lengths` equals torch.nn.GRU fed a PackedSequence ----


def torch_packed_gru(lengths):
    """torch.nn.GRU on a PackedSequence: padded outputs (N, T, H), then h_n as step T."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    def run(x, h0, Wx, Wh, bx, bh):
        D, H = Wx.shape[0], Wh.shape[0]
        module = torch.nn.GRU(D, H, batch_first=True, dtype=torch.float64)
        params = {"weight_ih_l0": Wx.T, "weight_hh_l0": Wh.T, "bias_ih_l0": bx, "bias_hh_l0": bh}
        packed = pack_padded_sequence(x, torch.as_tensor(lengths), batch_first=True, enforce_sorted=False)
        out, h_n = functional_call(module, params, (packed, h0[None]))
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return torch.cat([out, h_n[0][:, None]], dim=1)

    return run


@pytest.mark.parametrize("lengths", [[1], [5, 2, 5], [3, 1, 4, 4], [2, 7, 1, 6, 7]])
def test_forward_with_lengths_matches_torch_packed_sequence(lengths):
    N, T, D, H = len(lengths), max(lengths) + 1, 3, 4
    args = random_problem(np.random.default_rng(sum(lengths)), N, T, D, H)
    h, cache = gru.gru_forward(*args, lengths=lengths)
    expected = torch_packed_gru(lengths)(*(torch.from_numpy(a) for a in args)).detach().numpy()
    np.testing.assert_allclose(h, expected[:, :T], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(cache.h_n, expected[:, T], rtol=1e-12, atol=1e-13)
    padded = np.arange(T)[None, :] >= np.array(lengths)[:, None]  # (N, T)
    for array in (h, cache.hn, cache.gates):
        assert np.all(array[padded] == 0.0)


@pytest.mark.parametrize("lengths", [[3, 1, 4], [2, 2], [1]])
def test_backward_with_lengths_matches_finite_differences_and_packed_autograd(lengths):
    N, T, D, H = len(lengths), max(lengths), 2, 3
    rng = np.random.default_rng(20 + sum(lengths))
    args = random_problem(rng, N, T, D, H)
    upstream = rng.normal(size=(N, T + 1, H))
    dh = upstream[:, :T].copy()  # gradients at padded steps too: they must be ignored
    dh[np.arange(N), np.array(lengths) - 1] += upstream[:, T]  # the gradient of h_n
    _, cache = gru.gru_forward(*args, lengths=lengths)
    grads = gru.gru_backward(dh, cache)

    def outputs_and_final(*a):
        h, c = gru.gru_forward(*a, lengths=lengths)
        return np.concatenate([h, c.h_n[:, None]], axis=1)

    numeric = numerical_gradients(outputs_and_final, args, upstream=upstream)
    assert max(compare_gradients(grads, numeric, NAMES).values()) < 1e-7
    reference = autograd_gradients(torch_packed_gru(lengths), args, upstream=upstream)
    errors = compare_gradients(grads, reference, NAMES)
    assert max(errors.values()) < 1e-10, errors
    for n, length in enumerate(lengths):
        assert np.all(grads[0][n, length:] == 0.0)


def test_padded_inputs_are_never_read_and_full_lengths_change_nothing():
    rng = np.random.default_rng(8)
    x, h0, Wx, Wh, bx, bh = random_problem(rng, 3, 5, 2, 4)
    lengths = [5, 1, 3]
    h, _ = gru.gru_forward(x, h0, Wx, Wh, bx, bh, lengths=lengths)
    garbage = x.copy()
    garbage[1, 1:], garbage[2, 3:] = np.nan, np.inf
    np.testing.assert_array_equal(gru.gru_forward(garbage, h0, Wx, Wh, bx, bh, lengths=lengths)[0], h)
    h_plain, cache_plain = gru.gru_forward(x, h0, Wx, Wh, bx, bh)
    h_full, cache_full = gru.gru_forward(x, h0, Wx, Wh, bx, bh, lengths=np.array([5, 5, 5]))
    np.testing.assert_array_equal(h_full, h_plain)
    np.testing.assert_array_equal(cache_plain.h_n, h_plain[:, -1])
    dh = rng.normal(size=h.shape)
    for a, c in zip(gru.gru_backward(dh, cache_plain), gru.gru_backward(dh, cache_full), strict=True):
        np.testing.assert_array_equal(a, c)


def test_forward_rejects_bad_lengths(good):
    with pytest.raises(
        ValueError,
        match=r"gru_forward: expected lengths of shape \(N,\) = \(4,\) \(one per sequence\), got \(\)",
    ):
        gru.gru_forward(**good, lengths=5)
    with pytest.raises(ValueError, match=r"gru_forward: expected every length >= 1, got \[5, -1, 5, 5\]"):
        gru.gru_forward(**good, lengths=[5, -1, 5, 5])
