"""companion.nn as a drop-in for torch.nn: behaviour users meet, each compared with torch.nn's.

Mixed precision under ``torch.autocast``, truncated-BPTT state handling, empty batches, ``all_weights``,
unusual but legal sizes, the dropout warning, errors catchable both as torch's ``RuntimeError`` and as
the course's ``ValueError``/``TypeError``, ``repr``, ``state_dict``/pickle/deepcopy/``.to()`` and
``torch.func.functional_call``.

``COMPANION_NN_SUBJECT=torch`` runs the file with torch.nn itself as the module under test (the tests of
companion-only contracts skip), which checks the tests.
"""

import copy
import io
import os
import pickle
import re
import warnings

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

N, T, D, H, P = 3, 5, 4, 6, 2
F64 = torch.float64
LAYERS = {
    "rnn_tanh": ("RNN", {}),
    "rnn_relu": ("RNN", {"nonlinearity": "relu"}),
    "lstm": ("LSTM", {}),
    "lstm_proj": ("LSTM", {"proj_size": P}),
    "gru": ("GRU", {}),
}
CELLS = {
    "rnncell_tanh": ("RNNCell", {}),
    "rnncell_relu": ("RNNCell", {"nonlinearity": "relu"}),
    "lstmcell": ("LSTMCell", {}),
    "grucell": ("GRUCell", {}),
}
NAMES = ("RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell")
SUBJECT = os.environ.get("COMPANION_NN_SUBJECT", "companion")
if SUBJECT == "torch":
    SUBJECTS = {name: getattr(torch.nn, name) for name in NAMES}
else:
    from companion import nn as cnn

    SUBJECTS = {name: getattr(cnn, name) for name in NAMES}
companion_only = pytest.mark.skipif(
    SUBJECT == "torch", reason="a companion.nn contract torch.nn does not have"
)


def build(name, *args, seed=0, **kwargs):
    """torch.nn.<name> and the module under test, carrying torch's state_dict."""
    torch.manual_seed(seed)
    reference = getattr(torch.nn, name)(*args, **kwargs)
    subject = SUBJECTS[name](*args, **kwargs)
    subject.load_state_dict(reference.state_dict())
    return reference, subject


def pair(kind, **options):
    name, extra = (LAYERS | CELLS)[kind]
    if name in ("RNN", "LSTM", "GRU"):
        options = {"num_layers": 2, "bidirectional": True} | options
    return build(name, D, H, **extra, **options)


def flat(result):
    if isinstance(result, torch.Tensor):
        return [result]
    if isinstance(result, PackedSequence):
        return [result.data]
    return [t for part in result for t in flat(part)]


def states(kind, lead, batch, dtype=torch.float32, seed=3):
    """Random initial states for ``kind`` with leading shape (lead, batch), None entries left out."""
    gen = torch.Generator().manual_seed(seed)
    shape = tuple(s for s in (lead, batch) if s is not None)
    h = torch.randn(*shape, P if kind == "lstm_proj" else H, generator=gen, dtype=dtype, requires_grad=True)
    if kind.startswith("lstm"):
        return (h, torch.randn(*shape, H, generator=gen, dtype=dtype, requires_grad=True))
    return h


def grads(module, results, leaves):
    gen = torch.Generator().manual_seed(2)
    loss = sum((torch.randn(r.shape, generator=gen, dtype=r.dtype) * r).sum() for r in results)
    return torch.autograd.grad(loss, [*leaves, *module.parameters()])


# --- (1) torch.autocast on the CPU -------------------------------------------------------------


@pytest.mark.parametrize("input_dtype", ["float32", "low"])
@pytest.mark.parametrize("low", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
@pytest.mark.parametrize(
    "kind", ["rnn_tanh", "lstm", "lstm_proj", "gru", "rnncell_relu", "lstmcell", "grucell"]
)
def test_autocast_runs_with_torch_s_output_dtypes(kind, low, input_dtype):
    reference, subject = pair(kind)
    layer = kind in LAYERS
    x = torch.randn(*((T, N) if layer else (N,)), D, dtype=low if input_dtype == "low" else torch.float32)
    full = flat(reference(x.float()))
    try:
        with torch.autocast("cpu", dtype=low):
            expected = flat(reference(x))
    except RuntimeError as error:
        pytest.skip(f"torch.nn raises under this autocast: {error}"[:200])
    with torch.autocast("cpu", dtype=low):
        got = flat(subject(x))
        sum(r.float().sum() for r in got).backward()
    assert [r.dtype for r in got] == [r.dtype for r in expected]
    assert [r.shape for r in got] == [r.shape for r in expected]
    tolerance = 4 * torch.finfo(low).eps  # a few roundings of the low precision
    torch.testing.assert_close([r.float() for r in got], full, rtol=tolerance, atol=tolerance)
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in subject.parameters())


# --- (2) final states are tensors of their own: truncated BPTT, in-place updates ----------------


@pytest.mark.parametrize("kind", LAYERS)
def test_truncated_bptt_detaches_final_states_in_place(kind):
    reference, subject = pair(kind, dtype=F64)
    chunks = torch.randn(3, T, N, D, dtype=F64).unbind(0)
    carried = {id(reference): None, id(subject): None}
    for chunk in chunks:
        per_module = []
        for module in (reference, subject):
            output, hidden = module(chunk, carried[id(module)])
            per_module.append((flat((output, hidden)), grads(module, [output], [])))
            for h in hidden if isinstance(hidden, tuple) else (hidden,):
                h.detach_()  # the idiom: cut the graph, keep the values
            carried[id(module)] = hidden
        torch.testing.assert_close(per_module[1], per_module[0])


@pytest.mark.parametrize("kind", LAYERS)
def test_in_place_update_of_final_states_before_backward(kind):
    reference, subject = pair(kind, dtype=F64)
    x = torch.randn(T, N, D, dtype=F64, requires_grad=True)
    results = []
    for module in (reference, subject):
        output, hidden = module(x)
        for h in hidden if isinstance(hidden, tuple) else (hidden,):
            h.add_(1)
        results.append((flat((output, hidden)), grads(module, flat((output, hidden)), [x])))
    torch.testing.assert_close(results[1], results[0])


# --- (3) empty batch ---------------------------------------------------------------------------


@pytest.mark.parametrize("with_hx", [False, True], ids=["no_hx", "hx"])
@pytest.mark.parametrize("kind", list(LAYERS) + list(CELLS))
def test_empty_batch_gives_torch_s_shapes_and_a_working_backward(kind, with_hx):
    reference, subject = pair(kind, dtype=F64)
    layer = kind in LAYERS
    x = torch.randn(*((T, 0) if layer else (0,)), D, dtype=F64, requires_grad=True)
    hx = states(kind, 4 if layer else None, 0, F64) if with_hx else None
    leaves = [x, *(hx if isinstance(hx, tuple) else [hx] if with_hx else [])]
    expected, got = flat(reference(x, hx)), flat(subject(x, hx))
    assert [r.shape for r in got] == [r.shape for r in expected]
    torch.testing.assert_close(grads(subject, got, leaves), grads(reference, expected, leaves))


# --- (4) all_weights ---------------------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("kind", LAYERS)
def test_all_weights_has_torch_s_structure(kind, num_layers, bidirectional, bias):
    reference, subject = pair(kind, num_layers=num_layers, bidirectional=bidirectional, bias=bias)
    names = {id(p): n for n, p in reference.named_parameters()}
    expected = [[names[id(p)] for p in group] for group in reference.all_weights]
    assert len(subject.all_weights) == num_layers * (1 + bidirectional)
    identical = [
        [a is getattr(subject, n) for a, n in zip(g, e, strict=True)]
        for g, e in zip(subject.all_weights, expected, strict=True)
    ]
    assert all(all(row) for row in identical)
    got = [[tuple(p.shape) for p in group] for group in subject.all_weights]
    assert got == [[tuple(p.shape) for p in group] for group in reference.all_weights]
    assert all(isinstance(p, torch.nn.Parameter) for group in subject.all_weights for p in group)


# --- (5) sizes and flags: accepted where torch.nn accepts them ---------------------------------

SIZE_CASES = [
    ("RNN", (0, H), {}),
    ("LSTM", (D, 0), {}),
    ("GRU", (D, H), {"bias": 0}),
    ("LSTM", (D, H), {"bias": 1}),
    ("RNN", (np.int64(D), np.int64(H)), {}),
    ("GRU", (D, H, np.int64(2)), {}),
    ("LSTM", (D, H, 2), {"bidirectional": 1}),
    ("RNNCell", (0, H), {}),
    ("LSTMCell", (0, H), {}),
    ("GRUCell", (D, 0), {}),
    ("RNNCell", (D, 0), {"nonlinearity": "relu"}),
    ("LSTMCell", (D, H), {"bias": 0}),
    ("GRUCell", (D, H), {"bias": 1}),
    ("RNNCell", (np.int64(D), np.int64(H)), {}),
    ("LSTMCell", (np.int64(D), np.int64(H)), {}),
    ("GRUCell", (np.int64(D), np.int64(H)), {"bias": np.bool_(False)}),
]


@pytest.mark.parametrize("name, args, kwargs", SIZE_CASES, ids=[f"{n}-{a}-{k}" for n, a, k in SIZE_CASES])
def test_sizes_and_flags_accepted_where_torch_accepts_them(name, args, kwargs):
    x = torch.randn(*((T, N) if name in ("RNN", "LSTM", "GRU") else (N,)), int(args[0]), dtype=F64)
    try:
        reference = getattr(torch.nn, name)(*args, dtype=F64, **kwargs)
        expected = flat(reference(x))
    except Exception as error:  # noqa: BLE001 - torch.nn's exception type is what is compared
        with pytest.raises(type(error)):
            SUBJECTS[name](*args, dtype=F64, **kwargs)(x)
        return
    subject = SUBJECTS[name](*args, dtype=F64, **kwargs)
    assert [n for n, _ in subject.named_parameters()] == [n for n, _ in reference.named_parameters()]
    subject.load_state_dict(reference.state_dict())
    torch.testing.assert_close(flat(subject(x)), expected)


# --- (6) dropout with one layer: torch's warning, then it runs ---------------------------------


def _warnings(construct):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = construct()
    return module, [(w.category, str(w.message)) for w in caught]


@pytest.mark.parametrize("num_layers, dropout", [(1, 0.5), (1, 1.0), (2, 0.5), (1, 0.0)])
@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_dropout_warning_like_torch_then_runs(name, num_layers, dropout):
    reference, expected = _warnings(lambda: getattr(torch.nn, name)(D, H, num_layers, dropout=dropout))
    subject, got = _warnings(lambda: SUBJECTS[name](D, H, num_layers, dropout=dropout))
    assert [category for category, _ in got] == [category for category, _ in expected]
    for _, message in got:
        assert "dropout" in message and "num_layers" in message
    if num_layers == 1:  # nothing to drop between layers: training equals torch.nn
        subject.load_state_dict(reference.state_dict())
        x = torch.randn(T, N, D)
        torch.testing.assert_close(flat(subject.train()(x)), flat(reference.train()(x)))


# --- (7) errors: the course's ValueError / TypeError and torch's RuntimeError at once ----------

ERROR_CASES = {
    "layer_input_size": ("LSTM", {}, lambda: (torch.zeros(T, N, D + 1), None), ValueError, "4", r"\(5, 3, 5\)"),
    "layer_h0_shape": ("GRU", {}, lambda: (torch.zeros(T, N, D), torch.zeros(1, N, H + 1)), ValueError,
                       r"\(1, 3, 6\)", r"\(1, 3, 7\)"),
    "layer_c0_shape": ("LSTM", {}, lambda: (torch.zeros(T, N, D), (torch.zeros(1, N, H), torch.zeros(1, N, 5))),
                       ValueError, r"\(1, 3, 6\)", r"\(1, 3, 5\)"),
    "layer_input_dtype": ("RNN", {}, lambda: (torch.zeros(T, N, D, dtype=F64), None), TypeError, "float32",
                          "float64"),
    "layer_h0_dtype": ("GRU", {}, lambda: (torch.zeros(T, N, D), torch.zeros(1, N, H, dtype=F64)), TypeError,
                       "float32", "float64"),
    "cell_input_size": ("RNNCell", {}, lambda: (torch.zeros(N, D + 1), None), ValueError, "4", r"\b5\b"),
    "cell_h_shape": ("LSTMCell", {}, lambda: (torch.zeros(N, D), (torch.zeros(N + 1, H), torch.zeros(N, H))),
                     ValueError, r"\(3, 6\)", r"\(4, 6\)"),
    "cell_input_dtype": ("GRUCell", {}, lambda: (torch.zeros(N, D, dtype=F64), None), TypeError, "float32",
                         "float64"),
    "packed_h0_batch": ("LSTM", {}, lambda: (pack_padded_sequence(torch.zeros(T, N, D), torch.tensor([5, 3, 2])),
                        (torch.zeros(1, N + 1, H), torch.zeros(1, N + 1, H))), ValueError, r"\b3\b", r"\b4\b"),
}  # fmt: skip


@companion_only
@pytest.mark.parametrize("case", ERROR_CASES)
def test_errors_are_runtime_errors_and_the_documented_class(case):
    name, options, inputs, documented, expected, actual = ERROR_CASES[case]
    module = SUBJECTS[name](D, H, **options)
    x, hx = inputs()
    pattern = rf"(?is)expected.*{expected}.*got.*{actual}"
    with pytest.raises(RuntimeError, match=pattern):
        module(x, hx)
    with pytest.raises(documented, match=pattern):
        module(x, hx)


@companion_only
@pytest.mark.parametrize("lengths", [[5, 3], [5, 3, 2, 1], [6, 3, 2], [[5, 3, 2]]], ids=str)
def test_bad_lengths_raise_a_shape_error(lengths):
    gru = SUBJECTS["GRU"](D, H)
    with pytest.raises(RuntimeError, match="length"):
        gru(torch.zeros(T, N, D), lengths=lengths)
    with pytest.raises(ValueError, match="length"):
        gru(torch.zeros(T, N, D), lengths=lengths)


# --- (8) repr ----------------------------------------------------------------------------------

REPR_CASES = [
    ("RNN", (3, 5), {"nonlinearity": "relu"}),
    ("RNN", (3, 5, 2), {"bias": False, "batch_first": True, "dropout": 0.5, "bidirectional": True}),
    ("LSTM", (3, 5), {"proj_size": 2}),
    ("LSTM", (3, 5, 3), {"dropout": 0.25, "batch_first": True}),
    ("GRU", (3, 5), {"bidirectional": True, "bias": False}),
    ("RNNCell", (3, 5), {"nonlinearity": "relu"}),
    ("RNNCell", (3, 5), {"bias": False}),
    ("LSTMCell", (3, 5), {}),
    ("GRUCell", (3, 5), {"bias": False}),
]


@pytest.mark.parametrize("name, args, kwargs", REPR_CASES, ids=[f"{n}{a}{k}" for n, a, k in REPR_CASES])
def test_repr_like_torch(name, args, kwargs):
    expected = repr(getattr(torch.nn, name)(*args, **kwargs))
    got = repr(SUBJECTS[name](*args, **kwargs))
    assert re.match(rf"^{name}\(", got), got
    assert got.split("(", 1)[1] == expected.split("(", 1)[1]


# --- state_dict, serialisation, copies, dtype and device moves ---------------------------------


@pytest.mark.parametrize("kind", list(LAYERS) + list(CELLS))
def test_state_dict_through_torch_save_both_ways(kind):
    reference, subject = pair(kind)
    buffer = io.BytesIO()
    torch.save(subject.state_dict(), buffer)
    buffer.seek(0)
    fresh = copy.deepcopy(reference)
    for param in fresh.parameters():
        torch.nn.init.zeros_(param)
    fresh.load_state_dict(torch.load(buffer, weights_only=True))  # the module under test -> torch.nn
    x = torch.randn(*((T, N) if kind in LAYERS else (N,)), D)
    torch.testing.assert_close(flat(fresh(x)), flat(reference(x)))
    torch.testing.assert_close(flat(subject(x)), flat(reference(x)))


@pytest.mark.parametrize("kind", list(LAYERS) + list(CELLS))
def test_copies_pickles_and_dtype_moves(kind):
    reference, subject = pair(kind)
    layer = kind in LAYERS
    x = torch.randn(*((T, N) if layer else (N,)), D)
    if layer:
        assert subject.flatten_parameters() is None
    assert subject.to("cpu") is subject and subject.to(torch.float32) is subject
    copied, unpickled = copy.deepcopy(subject), pickle.loads(pickle.dumps(subject))
    with torch.no_grad():
        next(copied.parameters()).add_(1.0)  # the copy owns its parameters
    torch.testing.assert_close(flat(unpickled(x)), flat(reference(x)))
    torch.testing.assert_close(flat(subject(x)), flat(reference(x)))
    assert not torch.allclose(flat(copied(x))[0], flat(reference(x))[0])
    for move in (lambda m: m.double(), lambda m: m.to(F64), lambda m: m.to(dtype=F64, device="cpu")):
        moved, moved_reference = move(copy.deepcopy(subject)), move(copy.deepcopy(reference))
        assert all(p.dtype == F64 for p in moved.parameters())
        torch.testing.assert_close(flat(moved(x.double())), flat(moved_reference(x.double())))


@pytest.mark.parametrize("name", NAMES)
def test_meta_device_then_to_empty(name):
    module = SUBJECTS[name](D, H, device="meta")
    assert all(p.is_meta for p in module.parameters())
    module = module.to_empty(device="cpu")
    module.reset_parameters()
    reference = getattr(torch.nn, name)(D, H)
    reference.load_state_dict(module.state_dict())
    x = torch.randn(*((T, N) if name in ("RNN", "LSTM", "GRU") else (N,)), D)
    torch.testing.assert_close(flat(module(x)), flat(reference(x)))


@pytest.mark.parametrize("kind", list(LAYERS) + list(CELLS))
def test_functional_call_and_assigned_parameters(kind):
    reference, subject = pair(kind, dtype=F64)
    gen = torch.Generator().manual_seed(4)
    new = {n: 0.3 * torch.randn(p.shape, generator=gen, dtype=F64) for n, p in reference.named_parameters()}
    x = torch.randn(*((T, N) if kind in LAYERS else (N,)), D, dtype=F64)
    expected = flat(torch.func.functional_call(reference, new, (x,)))
    torch.testing.assert_close(flat(torch.func.functional_call(subject, new, (x,))), expected)
    torch.testing.assert_close(flat(subject(x)), flat(reference(x)))  # the module's own parameters again
    name = "weight_hh_l1_reverse" if kind in LAYERS else "weight_hh"
    for module in (reference, subject):
        setattr(module, name, torch.nn.Parameter(new[name].clone()))
    torch.testing.assert_close(flat(subject(x)), flat(reference(x)))


@pytest.mark.parametrize("kind", LAYERS)
def test_no_grad_and_inference_mode(kind):
    reference, subject = pair(kind)
    x = torch.randn(T, N, D, requires_grad=True)
    for context in (torch.no_grad, torch.inference_mode):
        with context():
            got, expected = flat(subject(x)), flat(reference(x))
        assert not any(r.requires_grad for r in got)
        torch.testing.assert_close(got, expected)


AUTOCAST_STATE_CASES = [
    (name, x_dtype, state_dtype)
    for name in ("GRU", "LSTM-proj", "GRUCell", "LSTMCell", "RNN", "LSTM")
    for x_dtype in (torch.float32, torch.bfloat16)
    for state_dtype in (torch.float32, torch.bfloat16)
]


@pytest.mark.parametrize(
    "name, x_dtype, state_dtype", AUTOCAST_STATE_CASES, ids=lambda v: str(v).replace("torch.", "")
)
def test_under_autocast_a_given_state_sets_the_dtype_as_in_torch_nn(name, x_dtype, state_dtype):
    # GRU, LSTMCell, GRUCell and a projected LSTM's cell state follow the dtype of the state they are
    # given (not the input's) under autocast; the others compute in the autocast dtype regardless.
    D, H, N = 3, 4, 2
    cell = name.endswith("Cell")
    kind, proj = name.split("-")[0], {"proj_size": 2} if name.endswith("proj") else {}
    torch.manual_seed(0)
    ours = getattr(cnn, kind)(D, H, **proj)
    theirs = getattr(torch.nn, kind)(D, H, **proj)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(N, D) if cell else torch.randn(5, N, D)
    P = proj.get("proj_size", H)
    lead = () if cell else (1,)
    if kind.startswith("LSTM"):
        hx = (torch.randn(*lead, N, P), torch.randn(*lead, N, H))
        hx = tuple(s.to(state_dtype) for s in hx)
    else:
        hx = torch.randn(*lead, N, H).to(state_dtype)
    results = []
    for module in (ours, theirs):
        with warnings.catch_warnings(), torch.autocast("cpu", dtype=torch.bfloat16):
            warnings.simplefilter("ignore")  # torch: "LSTM with projections is not supported with oneDNN"
            out = module(x.to(x_dtype), hx)
        results.append(torch.utils._pytree.tree_leaves(out))
    assert [t.dtype for t in results[0]] == [t.dtype for t in results[1]]
    for mine, reference in zip(*results, strict=True):
        torch.testing.assert_close(mine.float(), reference.float(), rtol=2e-2, atol=2e-2)
