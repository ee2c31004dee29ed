"""companion.nn.cells: given torch.nn's state_dict, each cell computes torch's outputs and gradients."""

import pytest
import torch

from companion.nn import cells

D, H, N = 4, 6, 3
KINDS = {
    "rnn_tanh": (torch.nn.RNNCell, cells.RNNCell, {"nonlinearity": "tanh"}),
    "rnn_relu": (torch.nn.RNNCell, cells.RNNCell, {"nonlinearity": "relu"}),
    "lstm": (torch.nn.LSTMCell, cells.LSTMCell, {}),
    "gru": (torch.nn.GRUCell, cells.GRUCell, {}),
}
TOLERANCE = {torch.float64: {}, torch.float32: {"rtol": 1e-5, "atol": 1e-5}}


def pair(kind, bias=True, dtype=torch.float64, seed=0):
    """A torch.nn cell and a companion cell carrying the torch cell's state_dict."""
    torch_cls, ours_cls, kwargs = KINDS[kind]
    torch.manual_seed(seed)
    reference = torch_cls(D, H, bias=bias, dtype=dtype, **kwargs)
    ours = ours_cls(D, H, bias=bias, dtype=dtype, **kwargs)
    ours.load_state_dict(reference.state_dict())
    return reference, ours


def flat(result):
    return list(result) if isinstance(result, tuple) else [result]


def outputs_and_gradients(module, x, hx, weights):
    """Outputs, then gradients of sum(weights * outputs) wrt input, states and parameters."""
    result = flat(module(x, hx))
    loss = sum((w * r).sum() for w, r in zip(weights, result, strict=True))
    states = [] if hx is None else flat(hx)
    grads = torch.autograd.grad(loss, [x, *states, *module.parameters()])
    return result, grads


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("batch", [(3,), (1,), ()], ids=["N3", "N1", "unbatched"])
@pytest.mark.parametrize("with_state", [True, False], ids=["hx", "no_hx"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("kind", KINDS)
def test_cell_equals_torch_nn_outputs_and_gradients(kind, bias, with_state, batch, dtype):
    """A batch of one stays a batch: (1, H) out for (1, D) in, as torch; an unbatched (D,) gives (H,)."""
    reference, ours = pair(kind, bias, dtype)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(*batch, D, generator=gen, dtype=dtype, requires_grad=True)
    n_states = 2 if kind == "lstm" else 1
    states = [torch.randn(*batch, H, generator=gen, dtype=dtype, requires_grad=True) for _ in range(n_states)]
    hx = None if not with_state else (tuple(states) if kind == "lstm" else states[0])
    weights = [torch.randn(*batch, H, generator=gen, dtype=dtype) for _ in range(n_states)]
    expected, expected_grads = outputs_and_gradients(reference, x, hx, weights)
    got, got_grads = outputs_and_gradients(ours, x, hx, weights)
    assert [r.shape for r in got] == [torch.Size([*batch, H])] * n_states
    torch.testing.assert_close(got, expected, **TOLERANCE[dtype])
    torch.testing.assert_close(got_grads, expected_grads, **TOLERANCE[dtype])


@pytest.mark.parametrize("kind", KINDS)
def test_state_dict_moves_both_ways_and_same_seed_gives_same_cell(kind):
    torch_cls, ours_cls, kwargs = KINDS[kind]
    torch.manual_seed(3)
    ours = ours_cls(D, H, dtype=torch.float64, **kwargs)
    torch.manual_seed(3)
    same_seed = torch_cls(D, H, dtype=torch.float64, **kwargs)
    for (name, p), (name_t, q) in zip(ours.named_parameters(), same_seed.named_parameters(), strict=True):
        assert name == name_t
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    torch.manual_seed(4)
    reference = torch_cls(D, H, dtype=torch.float64, **kwargs)
    reference.load_state_dict(ours.state_dict())
    x = torch.randn(N, D, dtype=torch.float64)
    torch.testing.assert_close(flat(ours(x)), flat(reference(x)))


def test_parameters_are_uniform_in_the_torch_range():
    cell = cells.GRUCell(D, 100)
    bound = 1 / 100**0.5
    for p in cell.parameters():
        assert p.abs().max() <= bound and p.abs().max() > 0.9 * bound


def test_forget_bias_shifts_only_the_forget_block_of_bias_ih():
    torch.manual_seed(5)
    plain = cells.LSTMCell(D, H)
    torch.manual_seed(5)
    shifted = cells.LSTMCell(D, H, forget_bias=1.0)
    delta = (shifted.bias_ih - plain.bias_ih).detach()
    expected = torch.zeros(4 * H)
    expected[H : 2 * H] = 1.0
    torch.testing.assert_close(delta, expected)
    torch.testing.assert_close(shifted.bias_hh, plain.bias_hh, rtol=0, atol=0)
    with pytest.raises(ValueError, match="forget_bias=1.0 needs bias=True"):
        cells.LSTMCell(D, H, bias=False, forget_bias=1.0)


def test_step_functions_are_the_equations():
    """lstm_step/gru_step written out by hand with the gate blocks in torch's order."""
    gen = torch.Generator().manual_seed(0)
    h, c = torch.randn(N, H, generator=gen), torch.randn(N, H, generator=gen)
    xp4, W4 = torch.randn(N, 4 * H, generator=gen), torch.randn(4 * H, H, generator=gen)
    a = xp4 + h @ W4.T
    i, f, g, o = (
        a[:, :H].sigmoid(),
        a[:, H : 2 * H].sigmoid(),
        a[:, 2 * H : 3 * H].tanh(),
        a[:, 3 * H :].sigmoid(),
    )
    h1, c1 = cells.lstm_step(xp4, h, c, W4, None)
    torch.testing.assert_close(c1, f * c + i * g)
    torch.testing.assert_close(h1, o * torch.tanh(f * c + i * g))
    xp3, W3, b3 = (
        torch.randn(N, 3 * H, generator=gen),
        torch.randn(3 * H, H, generator=gen),
        torch.randn(3 * H),
    )
    hp = h @ W3.T + b3
    r, z = (xp3[:, :H] + hp[:, :H]).sigmoid(), (xp3[:, H : 2 * H] + hp[:, H : 2 * H]).sigmoid()
    n = torch.tanh(xp3[:, 2 * H :] + r * hp[:, 2 * H :])
    torch.testing.assert_close(cells.gru_step(xp3, h, W3, b3), (1 - z) * n + z * h)


@pytest.mark.parametrize(
    "args, hx, error, message",
    [
        ((N, D + 1), None, ValueError, r"LSTMCell: expected input of shape \(N, 4\) or \(4,\), got \(3, 5\)"),
        (
            (2, N, D),
            None,
            ValueError,
            r"LSTMCell: expected input of shape \(N, 4\) or \(4,\), got \(2, 3, 4\)",
        ),
        (
            (N, D),
            ((N + 1, H), (N, H)),
            ValueError,
            r"LSTMCell: expected hx\[0\] of shape \(3, 6\), got \(4, 6\)",
        ),
        (
            (N, D),
            ((N, H), (N, H - 1)),
            ValueError,
            r"LSTMCell: expected hx\[1\] of shape \(3, 6\), got \(3, 5\)",
        ),
        ((D,), ((1, H), (1, H)), ValueError, r"LSTMCell: expected hx\[0\] of shape \(6,\), got \(1, 6\)"),
    ],
)
def test_lstm_cell_rejects_bad_shapes(args, hx, error, message):
    cell = cells.LSTMCell(D, H)
    states = None if hx is None else tuple(torch.zeros(s) for s in hx)
    with pytest.raises(error, match=message):
        cell(torch.zeros(args), states)


def test_cells_reject_wrong_types_and_arguments():
    with pytest.raises(ValueError, match=r"GRUCell: expected hx of shape \(3, 6\), got \(1, 3, 6\)"):
        cells.GRUCell(D, H)(torch.zeros(N, D), torch.zeros(1, N, H))
    with pytest.raises(
        TypeError, match=r"RNNCell: expected input of dtype torch.float32 .*, got torch.float64"
    ):
        cells.RNNCell(D, H)(torch.zeros(N, D, dtype=torch.float64))
    with pytest.raises(TypeError, match="LSTMCell: expected hx to be a tuple"):
        cells.LSTMCell(D, H)(torch.zeros(N, D), torch.zeros(N, H))
    with pytest.raises(TypeError, match="expected input to be a torch.Tensor, got ndarray"):
        cells.GRUCell(D, H)(torch.zeros(N, D).numpy())
    with pytest.raises(ValueError, match="RNNCell: expected nonlinearity 'tanh' or 'relu', got 'sigmoid'"):
        cells.RNNCell(D, H, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="GRUCell: expected hidden_size >= 0, got -1"):
        cells.GRUCell(D, -1)
    with pytest.raises(TypeError, match="LSTMCell: expected input_size to be an int, got float"):
        cells.LSTMCell(4.0, H)


@pytest.mark.parametrize("kind", KINDS)
def test_an_empty_batch_gives_an_empty_batch_like_torch(kind):
    reference, ours = pair(kind)
    x = torch.zeros(0, D, dtype=torch.float64)
    got, expected = flat(ours(x)), flat(reference(x))
    assert [r.shape for r in got] == [r.shape for r in expected] == [torch.Size([0, H])] * len(expected)


def test_lstm_cell_refuses_a_state_that_is_not_a_pair():
    h = torch.zeros(N, H)
    with pytest.raises(TypeError, match="LSTMCell: expected hx to be a tuple"):
        cells.LSTMCell(D, H)(torch.zeros(N, D), (h, h, h))
    with pytest.raises(TypeError, match="LSTMCell: expected hx to be a tuple"):
        cells.LSTMCell(D, H)(torch.zeros(N, D), (h,))


def test_each_cell_stacks_the_gate_blocks_of_its_kind_and_runs_its_step():
    from companion.nn.kinds import KINDS

    for cell, mode in [(cells.RNNCell, "RNN_TANH"), (cells.LSTMCell, "LSTM"), (cells.GRUCell, "GRU")]:
        assert cell(D, H).weight_ih.shape == (KINDS[mode].gates * H, D)
    assert cells.LSTMCell._step_function is KINDS["LSTM"].step
    assert cells.GRUCell._step_function is KINDS["GRU"].step
