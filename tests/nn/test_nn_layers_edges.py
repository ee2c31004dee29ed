"""companion.nn's layers and cells at their edges: argument checks and their messages, the dropout
between layers, autocast, the projected LSTM, the fast-path switch and the meta device."""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import companion
from companion import nn as cnn
from companion.nn.errors import ArgumentError, DTypeError, ShapeError

D, H = 4, 6
LAYERS = {"RNN": cnn.RNN, "LSTM": cnn.LSTM, "GRU": cnn.GRU}
PACKAGE = Path(companion.__file__).resolve().parent
TORCH = {"RNN": torch.nn.RNN, "LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}


def full(message):
    """A pattern matching exactly this message."""
    return "^" + re.escape(message) + "$"


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize(
    "options, error, message",
    [
        ({"input_size": 2.0}, DTypeError, "expected input_size to be an int, got float"),
        ({"hidden_size": 0}, ArgumentError, "expected hidden_size > 0, got 0"),
        ({"num_layers": "2"}, DTypeError, "expected num_layers to be an int, got str"),
        ({"bias": 1}, DTypeError, "expected bias to be a bool, got int 1"),
        ({"bidirectional": None}, DTypeError, "expected bidirectional to be a bool, got NoneType None"),
        ({"dropout": True}, DTypeError, "expected dropout to be a number in [0, 1], got True"),
        ({"dropout": 1.5}, ArgumentError, "expected dropout to be a number in [0, 1], got 1.5"),
    ],
)
def test_constructor_errors_name_the_layer_the_argument_and_the_value(name, options, error, message):
    arguments = {"input_size": D, "hidden_size": H, **options}
    with pytest.raises(error, match=full(f"{name}: {message}")):
        LAYERS[name](**arguments)


@pytest.mark.parametrize("name", LAYERS)
def test_dropout_one_and_any_integral_num_layers_are_accepted_like_torch(name):
    layer = LAYERS[name](D, H, num_layers=np.int64(2), dropout=1)
    reference = TORCH[name](D, H, num_layers=np.int64(2), dropout=1)
    assert (layer.num_layers, type(layer.num_layers), layer.dropout) == (2, int, 1.0)
    assert reference.num_layers == 2


@pytest.mark.parametrize(
    "proj_size, error, message",
    [
        (-1, ArgumentError, "expected proj_size to be an int >= 0 (0: no projection), got -1"),
        (True, DTypeError, "expected proj_size to be an int >= 0 (0: no projection), got True"),
        (2.0, DTypeError, "expected proj_size to be an int >= 0 (0: no projection), got 2.0"),
        (H, ArgumentError, f"expected proj_size < hidden_size = {H}, got {H}"),
    ],
)
def test_a_projection_must_be_an_int_smaller_than_hidden_size(proj_size, error, message):
    with pytest.raises(error, match=full(f"LSTM: {message}")):
        cnn.LSTM(D, H, proj_size=proj_size)


@pytest.mark.parametrize("name", ["RNN", "GRU"])
def test_only_the_lstm_takes_proj_size_or_extra_keywords(name):
    with pytest.raises(
        ArgumentError, match=full(f"{name}: proj_size is only supported by LSTM, got proj_size=2")
    ):
        LAYERS[name](D, H, proj_size=2)
    with pytest.raises(TypeError, match=full(f"{name}: unexpected keyword argument 'forget_bias'")):
        LAYERS[name](D, H, forget_bias=1.0)


def test_a_forget_bias_without_bias_is_refused_by_name():
    with pytest.raises(
        ArgumentError, match=full("LSTM: forget_bias=1.0 needs bias=True (there is no bias to shift)")
    ):
        cnn.LSTM(D, H, bias=False, forget_bias=1.0)


def test_dropout_with_one_layer_warns_at_the_caller_and_only_then():
    message = (
        "{}: dropout is applied between stacked layers (not after the last one), so dropout=0.25 does "
        "nothing with num_layers=1"
    )
    for name, cls in LAYERS.items():
        with pytest.warns(UserWarning, match=full(message.format(name))) as record:
            cls(D, H, dropout=0.25)
        # attributed to the code that built the layer, not to the package
        assert len(record) == 1 and PACKAGE not in Path(record[0].filename).resolve().parents
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for cls in LAYERS.values():
            cls(D, H, dropout=0.0)
            cls(D, H, num_layers=2, dropout=0.25)
            cls(D, H, num_layers=3, dropout=0.25)


@pytest.mark.parametrize("name", LAYERS)
def test_bad_initial_states_are_named_in_the_error(name):
    layer = LAYERS[name](D, H)
    x = torch.zeros(5, D)  # unbatched (T, D)
    h, c = torch.zeros(1, H + 1), torch.zeros(1, H)
    state = (h, c) if name == "LSTM" else h
    first = "h_0" if name == "LSTM" else "hx"
    with pytest.raises(
        ShapeError, match=full(f"{name}: expected {first} of shape (1, {H}), got (1, {H + 1})")
    ):
        layer(x, state)
    h = torch.zeros(1, H, dtype=torch.float64)
    state = (h, torch.zeros(1, H)) if name == "LSTM" else h
    with pytest.raises(
        DTypeError,
        match=full(f"{name}: expected {first} of dtype torch.float32 (the parameters'), got torch.float64"),
    ):
        layer(x, state)
    state = ([0.0] * H, torch.zeros(1, H)) if name == "LSTM" else [0.0] * H
    with pytest.raises(DTypeError, match=full(f"{name}: expected {first} to be a torch.Tensor, got list")):
        layer(x, state)


def test_the_lstm_checks_the_cell_state_under_its_own_name():
    layer = cnn.LSTM(D, H, proj_size=2)
    x = torch.zeros(5, 3, D)
    h0, c0 = torch.zeros(1, 3, 2), torch.zeros(1, 3, H, dtype=torch.float64)
    with pytest.raises(
        DTypeError,
        match=full("LSTM: expected c_0 of dtype torch.float32 (the parameters'), got torch.float64"),
    ):
        layer(x, (h0, c0))


def relu_stack(dropout):
    """A 2-layer RNN whose second layer passes its input through: output = relu(layer-1 output after dropout)."""
    torch.manual_seed(0)
    layer = cnn.RNN(D, H, num_layers=2, nonlinearity="relu", dropout=dropout)
    with torch.no_grad():
        layer.weight_ih_l1.copy_(torch.eye(H))
        for name in ("weight_hh_l1", "bias_ih_l1", "bias_hh_l1"):
            getattr(layer, name).zero_()
    first = cnn.RNN(D, H, nonlinearity="relu")
    first.load_state_dict({k: v for k, v in layer.state_dict().items() if k.endswith("l0")})
    return layer, first


def test_dropout_acts_between_layers_in_training_only():
    p = 0.3
    layer, first = relu_stack(p)
    x = torch.randn(20, 8, D, generator=torch.Generator().manual_seed(1))
    h1 = first(x)[0]  # (T, N, H): what the second layer reads before dropout
    assert (h1 > 0).float().mean() > 0.3
    torch.manual_seed(2)
    out, h_n = layer(x)
    kept = out != 0
    # every value either dropped or scaled by 1 / (1 - p); nothing is dropped after the last layer
    torch.testing.assert_close(out[kept], h1[kept] / (1 - p))
    dropped = (h1 > 0) & ~kept
    assert 0.2 < dropped.sum() / (h1 > 0).sum() < 0.4
    torch.testing.assert_close(h_n[1], out[-1])
    layer.eval()
    torch.testing.assert_close(layer(x)[0], h1)  # no dropout at evaluation


def torch_twin(name, **options):
    torch.manual_seed(0)
    reference = TORCH[name](D, H, **options)
    ours = LAYERS[name](D, H, **options)
    ours.load_state_dict(reference.state_dict())
    return reference, ours


def flat(result):
    output, final = result
    return [output, *final] if isinstance(final, tuple) else [output, final]


AUTOCAST_CASES = [
    ("RNN", {}, torch.bfloat16),
    ("RNN", {"bias": False, "num_layers": 2, "bidirectional": True}, torch.bfloat16),
    ("LSTM", {}, torch.bfloat16),
    ("LSTM", {"proj_size": 2}, torch.bfloat16),
    ("GRU", {}, torch.float32),
    ("GRU", {"bias": False}, torch.float32),
]


@pytest.mark.parametrize(
    "name, options, dtype, state_dtype",
    [
        (*case, state_dtype)
        for case in AUTOCAST_CASES
        for state_dtype in (None, torch.float32, torch.bfloat16)
    ],
)
@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
def test_under_autocast_the_dtypes_and_values_are_torch_nn_s(name, options, dtype, state_dtype):
    reference, ours = torch_twin(name, **options)
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(5, 2, D, generator=gen)
    hx = None
    if state_dtype is not None:  # any float dtype is taken under autocast
        L = reference.num_layers * (2 if reference.bidirectional else 1)
        h0 = torch.randn(L, 2, reference.proj_size or H, generator=gen, dtype=state_dtype)
        hx = (h0, torch.randn(L, 2, H, generator=gen, dtype=state_dtype)) if name == "LSTM" else h0
    with torch.autocast("cpu", dtype=torch.bfloat16):
        expected, got = flat(reference(x, hx)), flat(ours(x, hx))
    assert [t.dtype for t in got] == [t.dtype for t in expected]
    # the GRU computes in its initial state's dtype when given one, else the input's (float32)
    assert got[0].dtype == (state_dtype or dtype if name == "GRU" else dtype)
    if name == "LSTM":  # c_n in c_0's dtype, or the input's, only with a projection
        assert got[2].dtype == ((state_dtype or torch.float32) if options else torch.bfloat16)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a.float(), b.float(), atol=0.05, rtol=0.05)


def test_a_projected_lstm_computes_torch_nn_s_outputs():
    reference, ours = torch_twin("LSTM", proj_size=2, dtype=torch.float64)
    assert ours.weight_hr_l0.dtype == torch.float64
    x = torch.randn(5, 3, D, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for a, b in zip(flat(ours(x)), flat(reference(x)), strict=True):
        torch.testing.assert_close(a, b)


def graph_nodes(tensor):
    """The class names of every node of the autograd graph that produced ``tensor``."""
    seen, stack, names = set(), [tensor.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        names.add(type(node).__name__)
        stack.extend(next_node for next_node, _ in node.next_functions)
    return names


@pytest.mark.parametrize("name", LAYERS)
def test_use_fused_chooses_the_hand_written_backward(name):
    layer = LAYERS[name](D, H)
    x = torch.randn(5, 2, D, generator=torch.Generator().manual_seed(0))
    fused = {n for n in graph_nodes(layer(x)[0]) if "Recurrence" in n}
    assert len(fused) == 1
    layer.use_fused = False
    assert not {n for n in graph_nodes(layer(x)[0]) if "Recurrence" in n}


@pytest.mark.parametrize("name", LAYERS)
def test_layers_run_on_the_meta_device(name):
    layer = LAYERS[name](D, H, device="meta")
    output, _ = layer(torch.empty(5, 2, D, device="meta"))
    assert output.shape == (5, 2, H) and output.device.type == "meta"


CELLS = {"RNNCell": (torch.nn.RNNCell, cnn.RNNCell), "LSTMCell": (torch.nn.LSTMCell, cnn.LSTMCell)}
CELLS["GRUCell"] = (torch.nn.GRUCell, cnn.GRUCell)


def cell_state(name, n, dtype, gen):
    h = torch.randn(n, H, generator=gen).to(dtype)
    return (h, torch.randn(n, H, generator=gen).to(dtype)) if name == "LSTMCell" else h


def as_list(result):
    return list(result) if isinstance(result, tuple) else [result]


@pytest.mark.parametrize(
    "name, x_dtype, state_dtype",
    [
        (name, x_dtype, state_dtype)
        for name in CELLS
        for x_dtype in (torch.float32, torch.bfloat16)
        for state_dtype in (None, x_dtype, torch.float32 if x_dtype == torch.bfloat16 else torch.bfloat16)
    ],
)
@pytest.mark.parametrize("bias", [True, False])
def test_cells_under_autocast_give_torch_nn_s_dtypes_and_values(name, x_dtype, state_dtype, bias):
    torch_cls, ours_cls = CELLS[name]
    torch.manual_seed(0)
    reference = torch_cls(D, H, bias=bias)
    ours = ours_cls(D, H, bias=bias)
    ours.load_state_dict(reference.state_dict())
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(3, D, generator=gen).to(x_dtype)
    hx = None if state_dtype is None else cell_state(name, 3, state_dtype, gen)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        expected, got = as_list(reference(x, hx)), as_list(ours(x, hx))
    assert [t.dtype for t in got] == [t.dtype for t in expected]
    # RNNCell in the autocast dtype; LSTMCell and GRUCell in the state's dtype if given, else the input's
    assert got[0].dtype == (torch.bfloat16 if name == "RNNCell" else state_dtype or x_dtype)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a.float(), b.float(), atol=0.05, rtol=0.05)


@pytest.mark.parametrize("name", CELLS)
def test_cell_errors_name_the_cell_and_the_argument(name):
    cls = CELLS[name][1]
    with pytest.raises(DTypeError, match=full(f"{name}: expected bias to be a bool (or 0/1), got int 2")):
        cls(D, H, bias=2)
    cell = cls(D, H)
    with pytest.raises(DTypeError, match=full(f"{name}: expected input to be a torch.Tensor, got list")):
        cell([0.0] * D)
    first = "hx[0]" if name == "LSTMCell" else "hx"
    x, gen = torch.zeros(3, D), torch.Generator().manual_seed(0)
    state = cell_state(name, 2, torch.float32, gen)
    with pytest.raises(ShapeError, match=full(f"{name}: expected {first} of shape (3, {H}), got (2, {H})")):
        cell(x, state)
    state = cell_state(name, 3, torch.float64, gen)
    with pytest.raises(
        DTypeError,
        match=full(f"{name}: expected {first} of dtype torch.float32 (the parameters'), got torch.float64"),
    ):
        cell(x, state)


def test_a_forget_bias_without_bias_is_refused_by_the_cell_too():
    with pytest.raises(
        ArgumentError, match=full("LSTMCell: forget_bias=1.0 needs bias=True (there is no bias to shift)")
    ):
        cnn.LSTMCell(D, H, bias=False, forget_bias=1.0)


@pytest.mark.parametrize("name", CELLS)
def test_cells_are_created_on_the_requested_device(name):
    cell = CELLS[name][1](D, H, device="meta")
    assert {p.device.type for p in cell.parameters()} == {"meta"}
    assert as_list(cell(torch.empty(3, D, device="meta")))[0].device.type == "meta"
