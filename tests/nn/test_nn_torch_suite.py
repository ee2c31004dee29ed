"""companion.nn against torch.nn: PyTorch's own RNN/LSTM/GRU tests, ported as a differential suite.

Sources: ``test/test_nn.py`` (test_RNN_cell, test_LSTM_cell, test_RNN_cell_no_broadcasting,
test_RNN_cell_forward_zero_hidden_size, test_rnn_args_check, test_projections_lstm_args_check,
test_cudnn_forward_exception, test_error_RNN_seq_len_zero, test_rnn_initial_hidden_state,
test_projections_lstm_initial_hidden_state, test_RNN_dropout, test_RNN_dropout_state,
test_RNN_change_dropout, test_rnn_retain_variables, test_variable_sequence, test_LSTM_grad_and_gradgrad,
test_rnn_weight_norm, test_lstmcell_backward_only_one_output_grad) and
``torch/testing/_internal/common_modules.py`` (module_inputs_torch_nn_RNN_GRU, _LSTM, _RNN_GRU_Cell,
_LSTMCell and the module_error_inputs of each). CUDA- and cuDNN-only tests (test_cudnn_weight_format,
test_rnn_check_device, ...) have no CPU counterpart and are not ported.

Each test builds the torch.nn module and the module under test with the same parameters, feeds both the
same inputs, and compares outputs, final states and the gradients of a fixed random weighting of them
with respect to the input, the initial states and every parameter (float64: ``assert_close`` defaults;
float32: rtol = atol = 1e-5); which inputs raise; and which warnings are given.

``COMPANION_NN_SUBJECT=torch pytest tests/nn/test_nn_torch_suite.py`` runs the suite with torch.nn itself as
the module under test (a padded batch with ``lengths=`` goes through ``pack_padded_sequence``): every test
must pass there too, which checks the suite.
"""

import io
import os
import pickle
from functools import partial

import pytest
import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

N, T, D, H, P = 3, 5, 4, 6, 2  # batch, time, input features, hidden, projection
F64 = torch.float64
TOL = {torch.float64: {}, torch.float32: {"rtol": 1e-5, "atol": 1e-5}}
LAYER_KINDS = {
    "rnn_tanh": ("RNN", {"nonlinearity": "tanh"}),
    "rnn_relu": ("RNN", {"nonlinearity": "relu"}),
    "lstm": ("LSTM", {}),
    "lstm_proj": ("LSTM", {"proj_size": P}),
    "gru": ("GRU", {}),
}
CELL_KINDS = {
    "rnncell_tanh": ("RNNCell", {"nonlinearity": "tanh"}),
    "rnncell_relu": ("RNNCell", {"nonlinearity": "relu"}),
    "lstmcell": ("LSTMCell", {}),
    "grucell": ("GRUCell", {}),
}
SUBJECT = os.environ.get("COMPANION_NN_SUBJECT", "companion")


def _torch_layer_with_lengths(base):
    """torch.nn layer taking ``lengths=`` for a padded batch, through pack_padded_sequence."""

    class Layer(base):
        def forward(self, input, hx=None, *, lengths=None):
            if lengths is None:
                return super().forward(input, hx)
            packed = pack_padded_sequence(input, torch.as_tensor(lengths), self.batch_first, False)
            output, state = super().forward(packed, hx)
            total = input.shape[1 if self.batch_first else 0]
            return pad_packed_sequence(output, self.batch_first, total_length=total)[0], state

    Layer.__name__ = base.__name__  # repr() as torch's
    Layer.__qualname__ = f"_Torch{base.__name__}"  # picklable as a module global
    globals()[Layer.__qualname__] = Layer
    return Layer


if SUBJECT == "torch":
    SUBJECTS = {n: _torch_layer_with_lengths(getattr(torch.nn, n)) for n in ("RNN", "LSTM", "GRU")}
    SUBJECTS |= {n: getattr(torch.nn, n) for n in ("RNNCell", "LSTMCell", "GRUCell")}
else:
    from companion import nn as cnn

    SUBJECTS = {n: getattr(cnn, n) for n in ("RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell")}


def build(name, *args, dtype=F64, **kwargs):
    """torch.nn.<name> and the module under test, carrying torch's state_dict."""
    reference = getattr(torch.nn, name)(*args, dtype=dtype, **kwargs)
    subject = SUBJECTS[name](*args, dtype=dtype, **kwargs)
    subject.load_state_dict(reference.state_dict())
    return reference, subject


def layer_pair(kind, dtype=F64, seed=0, **options):
    name, extra = LAYER_KINDS[kind]
    torch.manual_seed(seed)
    return build(name, D, H, dtype=dtype, **extra, **options)


def flat(result):
    """A module's result as a list of tensors (a PackedSequence contributes its data)."""
    if isinstance(result, torch.Tensor):
        return [result]
    if isinstance(result, PackedSequence):
        return [result.data]
    return [t for part in result for t in flat(part)]


def make_hx(kind, lead, batch, dtype=F64, seed=3):
    """Random initial states (hx, list of leaf tensors); ``lead`` = num_layers * directions, or None."""
    gen = torch.Generator().manual_seed(seed)
    shape = tuple(s for s in (lead, batch) if s is not None)
    h_size = P if kind == "lstm_proj" else H
    h = torch.randn(*shape, h_size, generator=gen, dtype=dtype, requires_grad=True)
    if kind.startswith("lstm"):
        c = torch.randn(*shape, H, generator=gen, dtype=dtype, requires_grad=True)
        return (h, c), [h, c]
    return h, [h]


def make_x(batch_first, dtype=F64, seed=1, batch=N, steps=T, features=D):
    gen = torch.Generator().manual_seed(seed)
    shape = (batch, steps) if batch_first else (steps, batch)
    return torch.randn(*shape, features, generator=gen, dtype=dtype, requires_grad=True)


def outputs_and_grads(module, call, leaves, names):
    """Results of ``call(module)`` and the gradients of a fixed random weighting of them."""
    results = flat(call(module))
    gen = torch.Generator().manual_seed(2)
    loss = sum((torch.randn(r.shape, generator=gen, dtype=r.dtype) * r).sum() for r in results)
    params = dict(module.named_parameters())
    wrt = [t for t in leaves if t.requires_grad] + [params[n] for n in names if params[n].requires_grad]
    return results, torch.autograd.grad(loss, wrt)


def assert_matches(reference, subject, call, leaves, dtype=F64, subject_call=None):
    """Same parameter names, outputs, final states and gradients (inputs, states, parameters)."""
    names = [n for n, _ in reference.named_parameters()]
    assert [n for n, _ in subject.named_parameters()] == names
    expected, expected_grads = outputs_and_grads(reference, call, leaves, names)
    got, got_grads = outputs_and_grads(subject, subject_call or call, leaves, names)
    assert [r.shape for r in got] == [r.shape for r in expected]
    torch.testing.assert_close(got, expected, **TOL[dtype])
    torch.testing.assert_close(got_grads, expected_grads, **TOL[dtype])


# --- dense batches: the full grid in float64, a corner of it in float32 ----------------------------


@pytest.mark.parametrize("with_hx", [False, True], ids=["no_hx", "hx"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["time_first", "batch_first"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("kind", LAYER_KINDS)
def test_layer_matches_torch(kind, num_layers, bidirectional, batch_first, bias, with_hx):
    options = {"bidirectional": bidirectional, "batch_first": batch_first, "bias": bias}
    reference, subject = layer_pair(kind, num_layers=num_layers, **options)
    x = make_x(batch_first)
    hx, states = make_hx(kind, num_layers * (1 + bidirectional), N) if with_hx else (None, [])
    assert_matches(reference, subject, lambda m: m(x, hx), [x, *states])


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 3])
@pytest.mark.parametrize("kind", LAYER_KINDS)
def test_layer_matches_torch_float32(kind, num_layers, bidirectional):
    f32 = torch.float32
    reference, subject = layer_pair(kind, f32, num_layers=num_layers, bidirectional=bidirectional)
    x = make_x(False, f32)
    hx, states = make_hx(kind, num_layers * (1 + bidirectional), N, f32)
    assert_matches(reference, subject, lambda m: m(x, hx), [x, *states], f32)


def _common_modules_unbatched_samples():
    """module_inputs_torch_nn_RNN_GRU / _LSTM: unbatched (T, D) input, with and without hx."""
    samples = []
    for kind in ("rnn_tanh", "rnn_relu", "gru", "lstm", "lstm_proj"):
        for bias in (False, True):
            for batch_first in (False, True):
                for bidirectional in (False, True):
                    options = {"num_layers": 2, "bias": bias, "batch_first": batch_first}
                    options["bidirectional"] = bidirectional
                    hidden = 3 if kind.startswith("lstm") else 2
                    samples.append((kind, 2, hidden, options, False))
                    samples.append((kind, 2, 3, options, True))
    return samples


@pytest.mark.parametrize(
    "kind, input_size, hidden_size, options, with_hx", _common_modules_unbatched_samples()
)
def test_unbatched_samples_match_torch(kind, input_size, hidden_size, options, with_hx):
    name, extra = LAYER_KINDS[kind]
    torch.manual_seed(0)
    reference, subject = build(name, input_size, hidden_size, **extra, **options)
    x = make_x(False, steps=3, features=input_size)[:, 0].detach().requires_grad_()  # (T, D)
    states = []
    if with_hx:
        lead = 2 * (1 + options["bidirectional"])
        h_size = P if kind == "lstm_proj" else hidden_size
        states = [torch.randn(lead, h_size, dtype=F64, requires_grad=True)]
        if name == "LSTM":
            states.append(torch.randn(lead, hidden_size, dtype=F64, requires_grad=True))
    hx = (tuple(states) if name == "LSTM" else states[0]) if with_hx else None
    assert_matches(reference, subject, lambda m: m(x, hx), [x, *states])


# --- variable lengths: padded batch + lengths, PackedSequence sorted and unsorted ------------------


@pytest.mark.parametrize("mode", ["padded_lengths", "packed_sorted", "packed_unsorted"])
@pytest.mark.parametrize("with_hx", [False, True], ids=["no_hx", "hx"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["time_first", "batch_first"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("kind", LAYER_KINDS)
def test_variable_lengths_match_torch_packed(kind, num_layers, bidirectional, batch_first, with_hx, mode):
    options = {"num_layers": num_layers, "bidirectional": bidirectional, "batch_first": batch_first}
    reference, subject = layer_pair(kind, **options)
    lengths = torch.tensor([5, 3, 2] if mode == "packed_sorted" else [3, 5, 2])
    x = make_x(batch_first)
    hx, states = make_hx(kind, num_layers * (1 + bidirectional), N) if with_hx else (None, [])

    def packed():
        return pack_padded_sequence(x, lengths, batch_first, enforce_sorted=mode == "packed_sorted")

    def through_torch_packing(m):
        output, state = m(packed(), hx)
        return pad_packed_sequence(output, batch_first, total_length=T)[0], state

    if mode == "padded_lengths":
        assert_matches(
            reference,
            subject,
            through_torch_packing,
            [x, *states],
            subject_call=lambda m: m(x, hx, lengths=lengths),
        )
        output = subject(x, hx, lengths=lengths)[0]
        steps = torch.arange(T)[:, None] if not batch_first else torch.arange(T)[None, :]
        pad = (steps >= lengths[None, :]) if not batch_first else (steps >= lengths[:, None])
        assert pad.any() and torch.equal(output[pad], torch.zeros_like(output[pad]))  # exactly 0
        return
    assert_matches(reference, subject, lambda m: m(packed(), hx), [x, *states])
    got, expected = subject(packed(), hx)[0], reference(packed(), hx)[0]
    assert isinstance(got, PackedSequence)
    for field in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        a, b = getattr(got, field), getattr(expected, field)
        assert (a is None and b is None) or torch.equal(a, b), field


@pytest.mark.parametrize(
    "as_type",
    [list, tuple, torch.tensor, partial(torch.tensor, dtype=torch.int32)],
    ids=["list", "tuple", "int64_tensor", "int32_tensor"],
)
@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm_proj", "gru"])
def test_lengths_shorter_than_the_padding_and_of_any_integer_type(kind, as_type):
    reference, subject = layer_pair(kind, num_layers=2, bidirectional=True, batch_first=True)
    x = make_x(True)
    lengths = [4, 2, 1]  # the batch is padded to T = 5, one step more than the longest sequence

    def through_torch_packing(m):
        output, state = m(pack_padded_sequence(x, torch.tensor(lengths), True, False))
        return pad_packed_sequence(output, True, total_length=T)[0], state

    assert_matches(
        reference, subject, through_torch_packing, [x], subject_call=lambda m: m(x, lengths=as_type(lengths))
    )


@pytest.mark.parametrize("kind", LAYER_KINDS)
def test_full_lengths_give_the_dense_result(kind):
    reference, subject = layer_pair(kind, num_layers=2, bidirectional=True)
    x = make_x(False)
    assert_matches(reference, subject, lambda m: m(x), [x], subject_call=lambda m: m(x, lengths=[T] * N))


@pytest.mark.parametrize("kind", LAYER_KINDS)
def test_variable_sequence_packed_equals_each_sequence_alone(kind):
    """test_variable_sequence: a packed batch gives each sequence's own outputs and final states."""
    _, subject = layer_pair(kind, num_layers=2, bidirectional=True)
    lengths = [5, 4, 4, 2, 1]
    x = make_x(False, batch=len(lengths))
    output, state = subject(pack_padded_sequence(x, torch.tensor(lengths)))
    padded = pad_packed_sequence(output)[0]
    states = state if isinstance(state, tuple) else (state,)
    for i, length in enumerate(lengths):
        alone_output, alone_state = subject(x[:length, i : i + 1])
        alone_states = alone_state if isinstance(alone_state, tuple) else (alone_state,)
        torch.testing.assert_close(padded[:length, i : i + 1], alone_output)
        torch.testing.assert_close([s[:, i : i + 1] for s in states], list(alone_states))


# --- cells -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [F64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("with_hx", [False, True], ids=["no_hx", "hx"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("kind", CELL_KINDS)
def test_cell_matches_torch(kind, bias, with_hx, batched, dtype):
    name, extra = CELL_KINDS[kind]
    torch.manual_seed(0)
    reference, subject = build(name, D, H, bias=bias, dtype=dtype, **extra)
    x = make_x(True, dtype, batch=N if batched else 1, steps=1)[:, 0].detach()
    x = (x if batched else x[0]).requires_grad_()
    hx, states = make_hx(kind, None, N if batched else None, dtype) if with_hx else (None, [])
    assert_matches(reference, subject, lambda m: m(x, hx), [x, *states], dtype)


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("kind", CELL_KINDS)
def test_cell_unrolled_six_steps_matches_torch(kind, bias):
    """test_RNN_cell / test_LSTM_cell: the same input six times, the state carried."""
    name, extra = CELL_KINDS[kind]
    torch.manual_seed(0)
    reference, subject = build(name, 10, 20, bias=bias, **extra)
    x = torch.randn(3, 10, dtype=F64, requires_grad=True)
    h0 = torch.randn(3, 20, dtype=F64, requires_grad=True)
    c0 = torch.randn(3, 20, dtype=F64, requires_grad=True)

    def unroll(m):
        state = (h0, c0) if name == "LSTMCell" else h0
        for _ in range(6):
            state = m(x, state)
        return state

    assert_matches(reference, subject, unroll, [x, h0, c0] if name == "LSTMCell" else [x, h0])


@pytest.mark.parametrize("kind", ["rnncell_tanh", "rnncell_relu", "grucell", "lstmcell"])
def test_cell_zero_hidden_size(kind):
    """test_RNN_cell_forward_zero_hidden_size."""
    name, extra = CELL_KINDS[kind]
    x = torch.randn(3, 10)
    hx = torch.zeros(3, 0)
    reference, subject = build(name, 10, 0, dtype=torch.float32, **extra)
    state = (hx, hx) if name == "LSTMCell" else hx
    assert [t.shape for t in flat(subject(x, state))] == [t.shape for t in flat(reference(x, state))]


def test_lstmcell_backward_through_one_output_only():
    """test_lstmcell_backward_only_one_output_grad: h alone or c alone reaches the input."""
    reference, subject = build("LSTMCell", 2, 3)
    s = torch.randn(1, 2, dtype=F64, requires_grad=True)
    for i in range(2):
        (expected,) = torch.autograd.grad(reference(s)[i].sum(), s)
        (got,) = torch.autograd.grad(subject(s)[i].sum(), s)
        assert got.abs().sum() > 0
        torch.testing.assert_close(got, expected)


# --- errors: the module under test raises where torch.nn raises --------------------------------


def raised(call):
    """The exception ``call()`` raises, or None."""
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the type is what the tests compare
        return error
    return None


def _randn(*shape, dtype=torch.float32):
    return partial(torch.randn, *shape, dtype=dtype)


def _packed(batch):
    return lambda: pack_padded_sequence(torch.randn(6, batch, 3), torch.full((batch,), 6))


def _layer_error_cases():
    """test_rnn_args_check, test_projections_lstm_args_check, test_cudnn_forward_exception and more."""
    good_x, good_h = (6, 4, 3), (2, 4, 5)
    wrong = {
        "input_batch": ((6, 7, 3), good_h),
        "hidden_batch": (good_x, (2, 7, 5)),
        "input_size": ((6, 4, 7), good_h),
        "hidden_size": (good_x, (2, 4, 7)),
        "hidden_layers": (good_x, (7, 4, 5)),
        "hidden_2d_for_batched_input": (good_x, (2, 5)),
        "hidden_3d_for_unbatched_input": ((6, 3), (2, 1, 5)),
    }
    cases = []
    for name in ("RNN", "GRU", "LSTM"):
        for what, (xs, hs) in wrong.items():
            good = (2, 5) if len(xs) == 2 else good_h
            if name != "LSTM":
                hx_specs = {"": _randn(*hs)}
            elif hs == good:
                hx_specs = {"": (_randn(*hs), _randn(*hs))}
            else:
                hx_specs = {"-h": (_randn(*hs), _randn(*good)), "-c": (_randn(*good), _randn(*hs))}
            for suffix, hx in hx_specs.items():
                cases.append(pytest.param(name, (3, 5, 2), {}, _randn(*xs), hx, id=f"{name}-{what}{suffix}"))
        double = torch.float64
        hx64 = _randn(1, 4, 5, dtype=double)
        hx64 = (hx64, _randn(1, 4, 5, dtype=double)) if name == "LSTM" else hx64
        hx19 = _randn(1, 2, 19)
        other = {
            "4d_input": ((3, 5), {}, _randn(1, 6, 4, 3), None),
            "1d_input": ((3, 5), {}, _randn(3), None),
            "seq_len_zero": ((3, 5), {}, _randn(0, 4, 3), None),
            "input_float64": ((3, 5), {}, _randn(6, 4, 3, dtype=double), None),
            "input_int64": ((3, 5), {}, partial(torch.zeros, 6, 4, 3, dtype=torch.long), None),
            "hx_float64": ((3, 5), {}, _randn(6, 4, 3), hx64),
            "batch_first_hidden_size": ((10, 20), {"batch_first": True}, _randn(2, 3, 10), (hx19, hx19)),
            "batch_first_input_size": ((10, 20), {"batch_first": True}, _randn(2, 3, 3), None),
        }
        if name != "LSTM":
            other["batch_first_hidden_size"] = ((10, 20), {"batch_first": True}, _randn(2, 3, 10), hx19)
            # torch.nn.LSTM does not check hx against a PackedSequence: the process aborts
            other["packed_hx_batch"] = ((3, 5), {}, _packed(4), _randn(1, 3, 5))
        cases += [pytest.param(name, *spec, id=f"{name}-{what}") for what, spec in other.items()]
    proj = {
        "input_batch": ((6, 7, 3), (2, 4, 2), (2, 4, 5)),
        "hidden_batch": (good_x, (2, 7, 2), (2, 7, 5)),
        "input_size": ((6, 4, 7), (2, 4, 2), (2, 4, 5)),
        "hidden_size": (good_x, (2, 4, 7), (2, 4, 7)),
        "hidden_layers": (good_x, (7, 4, 2), (7, 4, 5)),
        "h_layers_equal_hidden_size": (good_x, (5, 4, 2), (2, 4, 5)),
        "c_layers": (good_x, (2, 4, 2), (7, 4, 5)),
        "h_of_hidden_size_not_proj_size": (good_x, (2, 4, 5), (2, 4, 5)),
        "c_of_proj_size": (good_x, (2, 4, 2), (2, 4, 2)),
    }
    for what, (xs, hs, cs) in proj.items():
        cases.append(
            pytest.param(
                "LSTM",
                (3, 5, 2),
                {"proj_size": 2},
                _randn(*xs),
                (_randn(*hs), _randn(*cs)),
                id=f"LSTM_proj-{what}",
            )
        )
    return cases


def _cell_error_cases():
    """module_error_inputs_torch_nn_RNN_GRU_Cell / _LSTMCell and test_RNN_cell_no_broadcasting."""
    wrong = {
        "input_size": ((3, 11), (3, 20)),
        "hidden_size": ((3, 10), (3, 21)),
        "hidden_batch": ((3, 10), (5, 20)),
        "hidden_4d": ((3, 10), (3, 1, 1, 20)),
        "hidden_batch_1_no_broadcasting": ((3, 10), (1, 20)),
        "hidden_size_1_no_broadcasting": ((3, 10), (3, 1)),
        "input_size_1_no_broadcasting": ((3, 1), (3, 20)),
        "input_3d": ((1, 3, 10), (3, 20)),
        "unbatched_input_batched_hidden": ((10,), (3, 20)),
    }
    cases = []
    for name in ("RNNCell", "GRUCell", "LSTMCell"):
        for what, (xs, hs) in wrong.items():
            good = (20,) if len(xs) == 1 else (xs[0] if len(xs) == 2 else 3, 20)
            if name != "LSTMCell":
                hx_specs = {"": _randn(*hs)}
            elif hs == good:
                hx_specs = {"": (_randn(*hs), _randn(*hs))}
            else:
                hx_specs = {"-h": (_randn(*hs), _randn(*good)), "-c": (_randn(*good), _randn(*hs))}
            for suffix, hx in hx_specs.items():
                cases.append(pytest.param(name, (10, 20), {}, _randn(*xs), hx, id=f"{name}-{what}{suffix}"))
        cases += [
            pytest.param(
                name, (10, 20), {}, _randn(3, 10, dtype=torch.float64), None, id=f"{name}-input_float64"
            ),
            pytest.param(
                name,
                (10, 20),
                {},
                partial(torch.zeros, 3, 10, dtype=torch.long),
                None,
                id=f"{name}-input_int64",
            ),
        ]
    return cases


FORWARD_ERROR_CASES = _layer_error_cases() + _cell_error_cases()


def _forward_errors(name, args, kwargs, x_spec, hx_spec):
    """(torch.nn's exception, the subject's exception) for the same bad call."""
    x = x_spec()
    hx = None if hx_spec is None else tuple(f() for f in hx_spec) if isinstance(hx_spec, tuple) else hx_spec()
    torch.manual_seed(0)
    expected = raised(lambda: getattr(torch.nn, name)(*args, **kwargs)(x, hx))
    torch.manual_seed(0)
    subject = SUBJECTS[name](*args, **kwargs)
    return expected, raised(lambda: subject(x, hx))


@pytest.mark.parametrize("name, args, kwargs, x_spec, hx_spec", FORWARD_ERROR_CASES)
def test_forward_raises_where_torch_raises(name, args, kwargs, x_spec, hx_spec):
    expected, got = _forward_errors(name, args, kwargs, x_spec, hx_spec)
    assert expected is not None, "torch.nn accepts this call: the case is wrong"
    assert got is not None, f"torch.nn raises {type(expected).__name__}: {expected}; the subject returns"
    if SUBJECT == "companion":  # ShapeError / DTypeError subclass RuntimeError, as torch's own errors
        assert isinstance(got, RuntimeError), repr(got)


@pytest.mark.parametrize("name, args, kwargs, x_spec, hx_spec", FORWARD_ERROR_CASES)
def test_forward_error_is_catchable_as_torch_s_exception_class(name, args, kwargs, x_spec, hx_spec):
    expected, got = _forward_errors(name, args, kwargs, x_spec, hx_spec)
    assert isinstance(got, type(expected)), (
        f"torch.nn raises {type(expected).__name__}: {expected}; got {got!r}"
    )


def _construction_error_cases():
    """module_error_inputs_torch_nn_RNN_GRU, test_projections_errors_on_gru_and_rnn, test_RNN_nonlinearity."""
    common = [
        ((10, 0, 1), {}, "hidden_size_0"),
        ((10, 10, 0), {}, "num_layers_0"),
        ((3, 5), {"bias": 0}, "bias_int_0"),
        ((3, 5), {"bias": 1}, "bias_int_1"),
        ((3, 5), {"bias": "True"}, "bias_str"),
        ((3, 5), {"batch_first": 0}, "batch_first_int_0"),
        ((3, 5), {"batch_first": 1}, "batch_first_int_1"),
        ((3, 5), {"batch_first": "False"}, "batch_first_str"),
        ((3.0, 5), {}, "input_size_float"),
        (("10", 5), {}, "input_size_str"),
        ((0, 5), {}, "input_size_0"),
        ((-1, 5), {}, "input_size_negative"),
        ((3, 5.0), {}, "hidden_size_float"),
        ((3, -1), {}, "hidden_size_negative"),
        ((3, 5, 2.0), {}, "num_layers_float"),
        ((3, 5, 2), {"dropout": -0.1}, "dropout_negative"),
        ((3, 5, 2), {"dropout": 1.5}, "dropout_above_1"),
        ((3, 5, 2), {"dropout": True}, "dropout_bool"),
        ((3, 5, 2), {"dropout": "0.5"}, "dropout_str"),
    ]
    cases = [pytest.param(n, a, k, id=f"{n}-{i}") for n in ("RNN", "GRU", "LSTM") for a, k, i in common]
    cases += [pytest.param(n, (3, 5), {"proj_size": 2}, id=f"{n}-proj_size") for n in ("RNN", "GRU")]
    cases += [pytest.param("LSTM", (3, 5), {"proj_size": p}, id=f"LSTM-proj_size_{p}") for p in (-1, 5, 6)]
    cases += [pytest.param("RNN", (3, 5), {"nonlinearity": "garbage"}, id="RNN-nonlinearity")]
    cases += [pytest.param("RNN", (3, 5, 1, "sigmoid"), {}, id="RNN-nonlinearity_positional")]
    for name in ("RNNCell", "LSTMCell", "GRUCell"):
        cases += [
            pytest.param(name, a, {}, id=f"{name}-{i}")
            for a, i in [
                ((-1, 6), "input_size_negative"),
                ((4, -1), "hidden_size_negative"),
                ((4.0, 6), "input_size_float"),
                ((4, 6.0), "hidden_size_float"),
            ]
        ]
    return cases


@pytest.mark.parametrize("name, args, kwargs", _construction_error_cases())
def test_construction_errors_like_torch(name, args, kwargs):
    expected = raised(lambda: getattr(torch.nn, name)(*args, **kwargs))
    assert expected is not None, "torch.nn accepts these arguments: the case is wrong"
    got = raised(lambda: SUBJECTS[name](*args, **kwargs))
    assert isinstance(got, type(expected)), (
        f"torch.nn raises {type(expected).__name__}: {expected}; got {got!r}"
    )


def test_nonlinearity_attribute_and_positional_argument():
    """test_RNN_nonlinearity, test_RNN_nonlinearity_passed_as_arg."""
    assert SUBJECTS["RNN"](1, 10).nonlinearity == "tanh"
    assert SUBJECTS["RNN"](1, 10, nonlinearity="relu").nonlinearity == "relu"
    assert SUBJECTS["RNN"](2, 3, 1, "relu").nonlinearity == "relu"


# --- dropout -----------------------------------------------------------------------------------


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("p", [0, 0.276, 0.731, 1])
def test_rnn_dropout_sits_between_layers(p, train):
    """test_RNN_dropout: with all-ones weights the second layer counts the units dropout kept."""
    rnn = SUBJECTS["RNN"](10, 1000, 2, bias=False, dropout=p, nonlinearity="relu", dtype=F64)
    rnn.train(train)
    with torch.no_grad():
        for weight in rnn.parameters():
            weight.fill_(1)
    output, hy = rnn(torch.ones(1, 1, 10, dtype=F64), torch.zeros(2, 1, 1000, dtype=F64))
    assert output.min() == output.max()
    value = output[0, 0, 0].item()
    if p == 0 or not train:
        assert value == 10000
    elif p == 1:
        assert value == 0
    else:  # each kept unit adds 10 / (1 - p)
        assert 8000 < value < 12000
        remainder = (value * (1 - p)) % 10
        assert min(remainder, 10 - remainder) < 1e-2
    assert hy[0].min() == hy[0].max() and hy[0, 0, 0] == 10
    assert hy[1].min() == hy[1].max() and hy[1, 0, 0] == value


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("p", [0, 0.1234])
def test_rnn_dropout_state(p, train):
    """test_RNN_dropout_state: a fresh mask each call in training, also after torch.save/torch.load."""
    torch.manual_seed(0)
    rnn = SUBJECTS["RNN"](100, 100, 2, bias=False, dropout=p, nonlinearity="relu")
    rnn.train(train)
    x, hx = torch.rand(1, 1, 100), torch.rand(2, 1, 100)
    output1, hy1 = rnn(x, hx)
    output2, hy2 = rnn(x, hx)
    buffer = io.BytesIO()
    torch.save(rnn, buffer)
    buffer.seek(0)
    rnn2 = torch.load(buffer, weights_only=False)
    rnn2.flatten_parameters()
    output3, hy3 = rnn2(x, hx)
    same = p == 0 or not train
    for a, b in [(output1, output2), (output1, output3), (hy1, hy2), (hy1, hy3)]:
        assert torch.equal(a, b) == same


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_rnn_change_dropout(train):
    """test_RNN_change_dropout: assigning ``module.dropout`` takes effect at the next call."""
    torch.manual_seed(0)
    rnn = SUBJECTS["RNN"](100, 100, 2, dropout=0, nonlinearity="relu", dtype=F64)
    rnn.train(train)
    x = torch.rand(3, 2, 100, dtype=F64)
    previous = None
    for p in (0, 0.5, 0, 0.7, 0.2, 1, 0.2, 0):
        rnn.dropout = p
        output1, hy1 = rnn(x)
        output2, hy2 = rnn(x)
        deterministic = p in (0, 1) or not train
        assert torch.equal(output1, output2) == deterministic
        assert torch.equal(hy1, hy2) == deterministic
        if previous is not None:
            assert torch.equal(output1, previous) == (not train)
            assert torch.equal(output2, previous) == (not train)
        previous = output1


@pytest.mark.parametrize("kind", LAYER_KINDS)
def test_dropout_only_in_training_reproducible_with_a_seed(kind):
    """Evaluation mode equals torch; training draws a mask from the seed and spares layer 0's states."""
    reference, subject = layer_pair(kind, num_layers=3, bidirectional=True, dropout=0.5)
    x = make_x(False)
    reference.eval()
    subject.eval()
    assert_matches(reference, subject, lambda m: m(x), [x])
    evaluated = flat(subject(x))
    subject.train()
    names = [n for n, _ in subject.named_parameters()]
    runs = []
    for _ in range(2):
        torch.manual_seed(7)
        runs.append(outputs_and_grads(subject, lambda m: m(x), [x], names))
    torch.testing.assert_close(runs[0], runs[1], rtol=0, atol=0)
    trained = runs[0][0]
    assert not torch.allclose(trained[0], evaluated[0])
    torch.testing.assert_close([s[:2] for s in trained[1:]], [s[:2] for s in evaluated[1:]])


# --- autograd ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", LAYER_KINDS)
def test_zero_initial_state_equals_no_initial_state(kind):
    """test_rnn_initial_hidden_state, test_projections_lstm_initial_hidden_state."""
    _, subject = layer_pair(kind, num_layers=2, bidirectional=True)
    x = make_x(False)
    hx, _ = make_hx(kind, 4, N)
    zeros = tuple(torch.zeros_like(h) for h in hx) if isinstance(hx, tuple) else torch.zeros_like(hx)
    torch.testing.assert_close(flat(subject(x, zeros)), flat(subject(x)), rtol=0, atol=0)


@pytest.mark.parametrize("kind", LAYER_KINDS)
def test_backward_again_with_retain_graph(kind):
    """test_rnn_retain_variables: the same graph gives the same gradients five times."""
    _, subject = layer_pair(kind, num_layers=2)
    x = make_x(False)
    output = subject(x)[0]
    leaves = [x, *subject.parameters()]
    first = torch.autograd.grad(output.sum(), leaves, retain_graph=True)
    for _ in range(4):
        torch.testing.assert_close(torch.autograd.grad(output.sum(), leaves, retain_graph=True), first)


@pytest.mark.parametrize("kind", list(LAYER_KINDS) + list(CELL_KINDS))
def test_gradcheck_and_gradgradcheck(kind):
    """test_LSTM_grad_and_gradgrad, test_GRU_grad_and_gradgrad: first and second derivatives."""
    name, extra = (LAYER_KINDS | CELL_KINDS)[kind]
    torch.manual_seed(0)
    layer = name in ("RNN", "LSTM", "GRU")
    options = {"num_layers": 2, "bidirectional": True} if layer else {}
    subject = SUBJECTS[name](2, 3, dtype=F64, **extra, **options)
    x = torch.randn(*((3, 2) if layer else (2,)), 2, dtype=F64, requires_grad=True)
    lead = (4, 2) if layer else (2,)
    states = [torch.randn(*lead, P if kind == "lstm_proj" else 3, dtype=F64, requires_grad=True)]
    if name.startswith("LSTM"):
        states.append(torch.randn(*lead, 3, dtype=F64, requires_grad=True))

    def function(x, *states):
        return tuple(flat(subject(x, tuple(states) if len(states) == 2 else states[0])))

    assert torch.autograd.gradcheck(function, (x, *states))
    assert torch.autograd.gradgradcheck(function, (x, *states))


@pytest.mark.parametrize("which", ["input_only", "states_only", "parameters_only", "layer_0_frozen"])
@pytest.mark.parametrize("kind", LAYER_KINDS)
def test_gradients_when_only_some_inputs_require_grad(kind, which):
    reference, subject = layer_pair(kind, num_layers=2, bidirectional=True)
    x = make_x(False)
    hx, states = make_hx(kind, 4, N)
    for leaf in {"input_only": states, "states_only": [x], "parameters_only": [x, *states]}.get(which, []):
        leaf.requires_grad_(False)
    for module in (reference, subject):
        for name, param in module.named_parameters():
            param.requires_grad_(
                which == "parameters_only" or (which == "layer_0_frozen" and "_l0" not in name)
            )
    assert_matches(reference, subject, lambda m: m(x, hx), [x, *states])


@pytest.mark.parametrize("kind", LAYER_KINDS)
def test_non_contiguous_input_and_expanded_learned_state(kind):
    """A transposed input, and one learned initial state expanded (stride 0) over the batch."""
    reference, subject = layer_pair(kind, num_layers=2, bidirectional=True, batch_first=True)
    base = make_x(False)  # (T, N, D)
    x = base.transpose(0, 1)  # (N, T, D), not contiguous
    learned, _ = make_hx(kind, 4, 1)  # (4, 1, H) each
    learned = learned if isinstance(learned, tuple) else (learned,)
    expanded = tuple(h.expand(4, N, h.shape[-1]) for h in learned)  # (4, N, H), stride 0 over N
    hx = expanded if kind.startswith("lstm") else expanded[0]
    assert not x.is_contiguous() and expanded[0].stride(1) == 0
    assert_matches(reference, subject, lambda m: m(x, hx), [base, *learned])


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize(
    "kind, weight",
    [
        ("lstm", "weight_ih_l0"),
        ("lstm_proj", "weight_hr_l0"),
        ("gru", "weight_hh_l1"),
        ("rnn_tanh", "weight_hh_l0_reverse"),
    ],
)
def test_rnn_weight_norm(kind, weight):
    """test_rnn_weight_norm: the weight is recomputed before each call, and removing it restores it."""
    reference, subject = layer_pair(kind, num_layers=2, bidirectional=True)
    x = make_x(False)
    for module in (reference, subject):
        torch.nn.utils.weight_norm(module, name=weight)
    assert_matches(reference, subject, lambda m: m(x), [x])
    for module in (reference, subject):
        torch.nn.utils.remove_weight_norm(module, name=weight)
    params = dict(subject.named_parameters())
    assert weight in params and f"{weight}_g" not in params and f"{weight}_v" not in params
    assert_matches(reference, subject, lambda m: m(x), [x])


@pytest.mark.parametrize(
    "kind, weight",
    [
        ("lstm", "weight_hh_l0"),
        ("lstm_proj", "weight_hr_l1"),
        ("gru", "weight_ih_l1_reverse"),
        ("rnn_relu", "weight_ih_l0"),
    ],
)
def test_parametrized_weight_norm(kind, weight):
    reference, subject = layer_pair(kind, num_layers=2, bidirectional=True)
    x = make_x(False)
    for module in (reference, subject):
        torch.nn.utils.parametrizations.weight_norm(module, name=weight)
    assert_matches(reference, subject, lambda m: m(x), [x])


# --- state_dict: torch.nn -> module under test -> torch.nn, every configuration ----------------


def _configurations():
    return [
        pytest.param(
            kind,
            layers,
            bi,
            bias,
            id=f"{kind}-L{layers}-{'bi' if bi else 'uni'}-{'bias' if bias else 'nobias'}",
        )
        for kind in LAYER_KINDS
        for layers in (1, 2, 3)
        for bi in (False, True)
        for bias in (True, False)
    ]


@pytest.mark.parametrize("kind, num_layers, bidirectional, bias", _configurations())
def test_state_dict_moves_both_ways(kind, num_layers, bidirectional, bias):
    name, extra = LAYER_KINDS[kind]
    options = {"num_layers": num_layers, "bidirectional": bidirectional, "bias": bias, **extra}
    torch.manual_seed(5)
    subject = SUBJECTS[name](D, H, **options)
    reference = getattr(torch.nn, name)(D, H, **options)
    assert list(subject.state_dict()) == list(reference.state_dict())
    assert [v.shape for v in subject.state_dict().values()] == [
        v.shape for v in reference.state_dict().values()
    ]
    x = make_x(False, torch.float32)
    reference.load_state_dict(subject.state_dict())  # the module under test -> torch.nn
    torch.testing.assert_close(flat(reference(x)), flat(subject(x)))
    torch.manual_seed(6)
    other = getattr(torch.nn, name)(D, H, **options)
    subject.load_state_dict(other.state_dict())  # torch.nn -> the module under test
    torch.testing.assert_close(flat(subject(x)), flat(other(x)))
    restored = pickle.loads(pickle.dumps(subject.state_dict()))
    assert all(torch.equal(restored[k], v) for k, v in other.state_dict().items())


@pytest.mark.parametrize("kind, num_layers, bidirectional, bias", _configurations())
def test_same_seed_gives_torch_s_initial_parameters(kind, num_layers, bidirectional, bias):
    name, extra = LAYER_KINDS[kind]
    options = {"num_layers": num_layers, "bidirectional": bidirectional, "bias": bias, **extra}
    torch.manual_seed(5)
    subject = SUBJECTS[name](D, H, **options)
    torch.manual_seed(5)
    reference = getattr(torch.nn, name)(D, H, **options)
    for (key, got), expected in zip(
        subject.state_dict().items(), reference.state_dict().values(), strict=True
    ):
        assert torch.equal(got, expected), key
