"""companion.nn.layers: given torch.nn's state_dict, each layer computes torch's outputs and gradients."""

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from companion import nn as cnn
from companion.nn import layers

N, T, D, H = 3, 5, 4, 6
KINDS = {
    "rnn_tanh": (torch.nn.RNN, layers.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (torch.nn.RNN, layers.RNN, {"nonlinearity": "relu"}),
    "lstm": (torch.nn.LSTM, layers.LSTM, {}),
    "gru": (torch.nn.GRU, layers.GRU, {}),
}
TOLERANCE = {torch.float64: {}, torch.float32: {"rtol": 1e-5, "atol": 1e-5}}


def pair(kind, dtype=torch.float64, seed=0, **options):
    """A torch.nn layer and a companion layer carrying the torch layer's state_dict."""
    torch_cls, ours_cls, kwargs = KINDS[kind]
    torch.manual_seed(seed)
    reference = torch_cls(D, H, dtype=dtype, **kwargs, **options)
    ours = ours_cls(D, H, dtype=dtype, **kwargs, **options)
    ours.load_state_dict(reference.state_dict())
    return reference, ours


def flat(result):
    """(output, h_n) or (output, (h_n, c_n)) as a list of tensors."""
    output, final = result
    return [output, *final] if isinstance(final, tuple) else [output, final]


def outputs_and_gradients(module, x, hx, weights):
    result = flat(module(x, hx))
    loss = sum((w * r).sum() for w, r in zip(weights, result, strict=True))
    states = [] if hx is None else (list(hx) if isinstance(hx, tuple) else [hx])
    return result, torch.autograd.grad(loss, [x, *states, *module.parameters()])


def random_inputs(kind, dtype, batch_first, batched, with_state, seed=1, n=N, t=T):
    gen = torch.Generator().manual_seed(seed)
    shape = ((n, t) if batch_first else (t, n)) if batched else (t,)
    state_shape = (1, n, H) if batched else (1, H)
    x = torch.randn(*shape, D, generator=gen, dtype=dtype, requires_grad=True)
    n_states = 2 if kind == "lstm" else 1
    states = [
        torch.randn(state_shape, generator=gen, dtype=dtype, requires_grad=True) for _ in range(n_states)
    ]
    hx = None if not with_state else (tuple(states) if kind == "lstm" else states[0])
    weights = [torch.randn(*shape, H, generator=gen, dtype=dtype)]
    weights += [torch.randn(state_shape, generator=gen, dtype=dtype) for _ in range(n_states)]
    return x, hx, weights


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("with_state", [True, False], ids=["hx", "no_hx"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("batch_first", [True, False], ids=["batch_first", "time_first"])
@pytest.mark.parametrize("kind", KINDS)
def test_layer_equals_torch_nn_outputs_and_gradients(kind, batch_first, bias, with_state, dtype):
    reference, ours = pair(kind, dtype, bias=bias, batch_first=batch_first)
    x, hx, weights = random_inputs(kind, dtype, batch_first, True, with_state)
    expected, expected_grads = outputs_and_gradients(reference, x, hx, weights)
    got, got_grads = outputs_and_gradients(ours, x, hx, weights)
    assert [r.shape for r in got] == [r.shape for r in expected]
    torch.testing.assert_close(got, expected, **TOLERANCE[dtype])
    torch.testing.assert_close(got_grads, expected_grads, **TOLERANCE[dtype])


@pytest.mark.parametrize("n, t", [(1, 5), (3, 1), (1, 1)])
@pytest.mark.parametrize("with_state", [True, False], ids=["hx", "no_hx"])
@pytest.mark.parametrize("batch_first", [True, False], ids=["batch_first", "time_first"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_batch_of_one_and_a_single_step_like_torch(kind, batch_first, with_state, n, t):
    """N = 1 and T = 1 keep their axes: output (N, T, H) or (T, N, H) and states (1, N, H)."""
    reference, ours = pair(kind, batch_first=batch_first)
    x, hx, weights = random_inputs(kind, torch.float64, batch_first, True, with_state, n=n, t=t)
    expected, expected_grads = outputs_and_gradients(reference, x, hx, weights)
    got, got_grads = outputs_and_gradients(ours, x, hx, weights)
    assert got[0].shape == ((n, t, H) if batch_first else (t, n, H)) and got[1].shape == (1, n, H)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(got_grads, expected_grads)


@pytest.mark.parametrize("batch_first", [True, False], ids=["batch_first", "time_first"])
@pytest.mark.parametrize("kind", KINDS)
def test_an_empty_batch_gives_empty_outputs_like_torch(kind, batch_first):
    reference, ours = pair(kind, batch_first=batch_first)
    x = torch.zeros((0, T, D) if batch_first else (T, 0, D), dtype=torch.float64)
    got, expected = flat(ours(x)), flat(reference(x))
    assert [r.shape for r in got] == [r.shape for r in expected]
    assert got[0].shape == ((0, T, H) if batch_first else (T, 0, H))


@pytest.mark.parametrize("shape", [(N, 0, D), (0, D)], ids=["batched", "unbatched"])
@pytest.mark.parametrize("kind", KINDS)
def test_no_time_step_is_refused_like_torch(kind, shape):
    reference, ours = pair(kind, batch_first=True)
    x = torch.zeros(shape, dtype=torch.float64)
    with pytest.raises(RuntimeError, match="larger than 0"):
        reference(x)
    with pytest.raises(ValueError, match=r"got \(.*0, 4\) \(T > 0"):
        ours(x)


@pytest.mark.parametrize("t", [5, 1])
@pytest.mark.parametrize("with_state", [True, False], ids=["hx", "no_hx"])
@pytest.mark.parametrize("batch_first", [True, False], ids=["batch_first", "time_first"])
@pytest.mark.parametrize("kind", KINDS)
def test_unbatched_input_like_torch(kind, batch_first, with_state, t):
    reference, ours = pair(kind, batch_first=batch_first)
    x, hx, weights = random_inputs(kind, torch.float64, batch_first, False, with_state, t=t)
    expected, expected_grads = outputs_and_gradients(reference, x, hx, weights)
    got, got_grads = outputs_and_gradients(ours, x, hx, weights)
    assert got[0].shape == (t, H) and got[1].shape == (1, H)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(got_grads, expected_grads)


@pytest.mark.parametrize("kind", KINDS)
def test_state_dict_moves_both_ways_and_same_seed_gives_same_layer(kind):
    torch_cls, ours_cls, kwargs = KINDS[kind]
    torch.manual_seed(3)
    ours = ours_cls(D, H, batch_first=True, dtype=torch.float64, **kwargs)
    torch.manual_seed(3)
    same_seed = torch_cls(D, H, batch_first=True, dtype=torch.float64, **kwargs)
    assert list(ours.state_dict()) == list(same_seed.state_dict())
    for p, q in zip(ours.parameters(), same_seed.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    torch.manual_seed(4)
    reference = torch_cls(D, H, batch_first=True, dtype=torch.float64, **kwargs)
    reference.load_state_dict(ours.state_dict())
    x = torch.randn(N, T, D, dtype=torch.float64)
    torch.testing.assert_close(flat(ours(x)), flat(reference(x)))


def test_positional_arguments_follow_torch():
    """RNN(input_size, hidden_size, num_layers, nonlinearity, bias, batch_first, ...) as torch.nn.RNN."""
    rnn = cnn.RNN(D, H, 1, "relu", False, True)
    assert (rnn.nonlinearity, rnn.bias, rnn.batch_first) == ("relu", False, True)
    lstm = cnn.LSTM(D, H, 1, False, True, 0.0, False, 0)
    assert (lstm.bias, lstm.batch_first, lstm.proj_size) == (False, True, 0)
    assert [n for n, _ in cnn.GRU(D, H).named_parameters()] == [
        "weight_ih_l0",
        "weight_hh_l0",
        "bias_ih_l0",
        "bias_hh_l0",
    ]


def test_forget_bias_shifts_the_forget_block_and_the_forget_gate():
    torch.manual_seed(5)
    plain = cnn.LSTM(D, H, batch_first=True)
    torch.manual_seed(5)
    shifted = cnn.LSTM(D, H, batch_first=True, forget_bias=1.0)
    delta = (shifted.bias_ih_l0 - plain.bias_ih_l0).detach()
    assert torch.equal(delta[H : 2 * H], torch.ones(H)) and not delta[:H].any() and not delta[2 * H :].any()
    x = torch.zeros(N, 3, D)
    state = (torch.zeros(1, N, H), torch.ones(1, N, H))
    c_plain = plain(x, state)[1][1]
    c_shifted = shifted(x, state)[1][1]
    assert (c_shifted > c_plain).all()  # more of the initial cell state is kept


def test_packed_sequence_in_packed_sequence_out_like_torch():
    torch.manual_seed(3)
    reference = torch.nn.GRU(D, H, batch_first=True, num_layers=2, bidirectional=True, dtype=torch.float64)
    ours = cnn.GRU(D, H, batch_first=True, num_layers=2, bidirectional=True, dtype=torch.float64)
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(N, T, D, dtype=torch.float64)
    packed = pack_padded_sequence(x, torch.tensor([2, 5, 3]), batch_first=True, enforce_sorted=False)
    (got, h_got), (expected, h_expected) = ours(packed), reference(packed)
    assert torch.equal(got.batch_sizes, expected.batch_sizes)
    assert torch.equal(got.sorted_indices, expected.sorted_indices)
    torch.testing.assert_close((got.data, h_got), (expected.data, h_expected))


@pytest.mark.parametrize(
    "batch_first, shape, message",
    [
        (True, (N, T, D + 1), r"LSTM: expected input of shape \(N, T, 4\), got \(3, 5, 5\)"),
        (False, (T, N, D + 1), r"LSTM: expected input of shape \(T, N, 4\), got \(5, 3, 5\)"),
        (True, (N, D - 1), r"LSTM: expected unbatched input of shape \(T, 4\), got \(3, 3\)"),
        (True, (D,), r"LSTM: expected input of shape \(N, T, 4\), got \(4,\)"),
        (True, (N, 0, D), r"LSTM: expected input of shape \(N, T, 4\), got \(3, 0, 4\)"),
        (True, (1, N, T, D), r"LSTM: expected input of shape \(N, T, 4\), got \(1, 3, 5, 4\)"),
    ],
)
def test_wrong_input_shapes_raise_value_error(batch_first, shape, message):
    with pytest.raises(ValueError, match=message):
        cnn.LSTM(D, H, batch_first=batch_first)(torch.zeros(shape))


def test_wrong_states_and_types_raise():
    x = torch.zeros(N, T, D)
    with pytest.raises(ValueError, match=r"LSTM: expected c_0 of shape \(1, 3, 6\), got \(1, 3, 5\)"):
        cnn.LSTM(D, H, batch_first=True)(x, (torch.zeros(1, N, H), torch.zeros(1, N, H - 1)))
    with pytest.raises(ValueError, match=r"RNN: expected hx of shape \(1, 3, 6\), got \(3, 6\)"):
        cnn.RNN(D, H, batch_first=True)(x, torch.zeros(N, H))
    with pytest.raises(ValueError, match=r"GRU: expected hx of shape \(1, 6\), got \(1, 1, 6\)"):
        cnn.GRU(D, H)(torch.zeros(T, D), torch.zeros(1, 1, H))
    with pytest.raises(TypeError, match="LSTM: expected hx to be a tuple"):
        cnn.LSTM(D, H)(x, torch.zeros(1, T, H))
    with pytest.raises(TypeError, match=r"GRU: expected input of dtype torch.float64 .*, got torch.float32"):
        cnn.GRU(D, H, dtype=torch.float64)(x)
    with pytest.raises(ValueError, match="RNN: expected nonlinearity 'tanh' or 'relu', got 'gelu'"):
        cnn.RNN(D, H, nonlinearity="gelu")
    with pytest.raises(TypeError, match="GRU: expected batch_first to be a bool, got int"):
        cnn.GRU(D, H, batch_first=1)
    with pytest.raises(ValueError, match=r"LSTM: expected dropout to be a number in \[0, 1\], got 2"):
        cnn.LSTM(D, H, dropout=2)


def test_layer_is_the_cell_unrolled_and_trains():
    """The layer's loop equals LSTMCell applied step by step, and a few Adam steps lower a loss."""
    torch.manual_seed(0)
    layer = cnn.LSTM(D, H, batch_first=True)
    cell = cnn.LSTMCell(D, H)
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in layer.state_dict().items()})
    x = torch.randn(N, T, D)
    h = c = torch.zeros(N, H)
    for t in range(T):
        h, c = cell(x[:, t], (h, c))
    output, (h_n, c_n) = layer(x)
    torch.testing.assert_close(output[:, -1], h)
    torch.testing.assert_close(c_n[0], c)
    target = torch.randn(N, H)
    optimiser = torch.optim.Adam(layer.parameters(), lr=0.05)
    losses = []
    for _ in range(20):
        loss = ((layer(x)[0][:, -1] - target) ** 2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_bad_variable_length_input_names_what_was_expected():
    x = torch.zeros(N, T, D)
    lstm = cnn.LSTM(D, H, num_layers=2, bidirectional=True, batch_first=True)
    h0 = torch.zeros(2, N, H)  # one layer's worth: 2 layers x 2 directions need 4
    with pytest.raises(ValueError, match=r"LSTM: expected h_0 of shape \(4, 3, 6\), got \(2, 3, 6\) "):
        lstm(x, (h0, torch.zeros(4, N, H)))
    with pytest.raises(RuntimeError, match=r"num_layers·directions = 4"):
        lstm(x, (h0, torch.zeros(4, N, H)))
    with pytest.raises(ValueError, match=r"GRU: expected every length <= T = 5, got max length 6"):
        cnn.GRU(D, H, batch_first=True)(x, lengths=[6, 2, 1])
    with pytest.raises(ValueError, match=r"RNN: expected every length >= 1, got \[3, 0, 2\]"):
        cnn.RNN(D, H, batch_first=True)(x, lengths=[3, 0, 2])
    with pytest.raises(
        ValueError, match=r"RNN: expected lengths of shape \(N,\) = \(3,\) \(one per sequence\), got \(2,\)"
    ):
        cnn.RNN(D, H, batch_first=True)(x, lengths=[3, 2])
    with pytest.raises(TypeError, match="RNN: expected lengths to hold integers, got dtype float32"):
        cnn.RNN(D, H, batch_first=True)(x, lengths=torch.tensor([3.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match="LSTM: a PackedSequence carries its lengths"):
        lstm(pack_padded_sequence(x, torch.tensor([5, 3, 2]), batch_first=True), lengths=[5, 3, 2])
    # Unsorted lengths cannot be packed with enforce_sorted=True (torch refuses); lengths= needs no order.
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        pack_padded_sequence(x, torch.tensor([2, 5, 3]), batch_first=True, enforce_sorted=True)
    output, _ = cnn.GRU(D, H, batch_first=True)(torch.randn(N, T, D), lengths=[2, 5, 3])
    assert output[0, 2:].abs().sum() == 0 and output[1].abs().sum() > 0
