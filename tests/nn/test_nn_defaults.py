"""companion.nn defaults: a module built with torch.nn's arguments has torch.nn's attributes and repr."""

import pytest
import torch

from companion import nn as cnn
from companion.nn import cells

D, H = 4, 6
CELLS = [
    (torch.nn.RNNCell, cnn.RNNCell, {}),
    (torch.nn.RNNCell, cnn.RNNCell, {"nonlinearity": "relu", "bias": False}),
    (torch.nn.LSTMCell, cnn.LSTMCell, {}),
    (torch.nn.LSTMCell, cnn.LSTMCell, {"bias": False}),
    (torch.nn.GRUCell, cnn.GRUCell, {}),
    (torch.nn.GRUCell, cnn.GRUCell, {"bias": 0}),
]
STACKED = {"num_layers": 2, "bias": False, "batch_first": True, "dropout": 0.5, "bidirectional": True}
LAYERS = [
    (torch.nn.RNN, cnn.RNN, {}),
    (torch.nn.RNN, cnn.RNN, {"nonlinearity": "relu", **STACKED}),
    (torch.nn.LSTM, cnn.LSTM, {}),
    (torch.nn.LSTM, cnn.LSTM, {"proj_size": 2, **STACKED}),
    (torch.nn.GRU, cnn.GRU, {}),
    (torch.nn.GRU, cnn.GRU, STACKED),
]


def public_attributes(module):
    return {k: v for k, v in vars(module).items() if not k.startswith("_")}


def build(torch_cls, ours_cls, options):
    torch.manual_seed(0)
    reference = torch_cls(D, H, **options)
    torch.manual_seed(0)
    return reference, ours_cls(D, H, **options)


@pytest.mark.parametrize(
    "torch_cls, ours_cls, options", CELLS + LAYERS, ids=lambda v: getattr(v, "__name__", "")
)
def test_attributes_and_repr_are_torch_nn_s(torch_cls, ours_cls, options):
    reference, ours = build(torch_cls, ours_cls, options)
    expected = public_attributes(reference)
    got = public_attributes(ours)
    assert {k: got.get(k, "missing") for k in expected} == expected
    typed = [k for k in expected if k != "bias"]  # torch keeps bias=0 as given; the value is compared above
    assert {k: type(got[k]) for k in typed} == {k: type(expected[k]) for k in typed}
    assert repr(ours) == repr(reference)
    assert ours.extra_repr() == reference.extra_repr()
    for (name, p), (name_t, q) in zip(ours.named_parameters(), reference.named_parameters(), strict=True):
        assert name == name_t
        torch.testing.assert_close(p, q, rtol=0, atol=0)  # the same draws in the same order


def test_default_layers_are_time_first_tanh_with_one_layer():
    for cls in (cnn.RNN, cnn.LSTM, cnn.GRU):
        layer = cls(D, H)
        assert (layer.num_layers, layer.batch_first, layer.bidirectional, layer.dropout) == (
            1,
            False,
            False,
            0.0,
        )
        assert layer.bias is True and layer.proj_size == 0
    assert (cnn.RNN(D, H).mode, cnn.RNN(D, H).nonlinearity) == ("RNN_TANH", "tanh")
    assert cnn.RNN(D, H, nonlinearity="relu").mode == "RNN_RELU"
    assert (cnn.LSTM(D, H).mode, cnn.GRU(D, H).mode) == ("LSTM", "GRU")
    assert cnn.RNNCell(D, H).nonlinearity == "tanh"
    assert cnn.LSTM(D, H).forget_bias == cnn.LSTMCell(D, H).forget_bias == 0.0


def test_a_default_layer_reads_time_first_input_like_torch():
    """(T, N, D) with T != N: a layer that read it batch first would return other numbers."""
    for torch_cls, ours_cls in ((torch.nn.RNN, cnn.RNN), (torch.nn.LSTM, cnn.LSTM), (torch.nn.GRU, cnn.GRU)):
        reference, ours = build(torch_cls, ours_cls, {"dtype": torch.float64})
        x = torch.randn(5, 3, D, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        got, expected = ours(x), reference(x)
        torch.testing.assert_close(got, expected)


def test_rnn_step_and_rnn_cell_default_to_tanh():
    gen = torch.Generator().manual_seed(0)
    xp, h, W = (
        torch.randn(3, H, generator=gen),
        torch.randn(3, H, generator=gen),
        torch.randn(H, H, generator=gen),
    )
    a = xp + h @ W.T
    assert (a < 0).any()  # relu and tanh differ here
    torch.testing.assert_close(cells.rnn_step(xp, h, W, None), torch.tanh(a))
    torch.testing.assert_close(cells.rnn_step(xp, h, W, None, "relu"), torch.relu(a))
    cell = cnn.RNNCell(D, H)
    x = torch.randn(3, D, generator=gen)
    expected = torch.tanh(x @ cell.weight_ih.T + cell.bias_ih + cell.bias_hh)
    torch.testing.assert_close(cell(x), expected)
