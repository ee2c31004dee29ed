"""companion.ref.rnn, lstm and gru side by side: the checks every recurrence must pass in the same way.

Hand BPTT against finite differences and torch autograd, step-level validation, dtype promotion, the
torch layout converters and what a padded batch leaves in the cache, parametrised over the three layers.
"""

from typing import NamedTuple

import numpy as np
import pytest
import torch
from torch.func import functional_call

from companion.diagnostics.gradcheck import autograd_gradients, compare_gradients, numerical_gradients
from companion.ref import gru, lstm, rnn


class Kind(NamedTuple):
    module: object
    gates: int  # G: the weights are (D, G·H), (H, G·H)
    states: int  # 1 (h) or 2 (h, c)
    biases: int  # numpy keeps 1 (b) or 2 (bx, bh)
    torch_cls: type

    def problem(self, rng, N, T, D, H, scale=0.5):
        """(x, *initial states, Wx, Wh, *biases) in float64."""
        G = self.gates * H
        x = rng.normal(size=(N, T, D))
        states = [rng.normal(scale=scale, size=(N, H)) for _ in range(self.states)]
        params = [rng.normal(scale=scale, size=(D, G)), rng.normal(scale=scale, size=(H, G))]
        biases = [rng.normal(scale=scale, size=G) for _ in range(self.biases)]
        return [x, *states, *params, *biases]

    def forward(self, *args, **kw):
        return getattr(self.module, f"{NAMES[self]}_forward")(*args, **kw)

    def backward(self, *args):
        return getattr(self.module, f"{NAMES[self]}_backward")(*args)

    def step_forward(self, *args):
        return getattr(self.module, f"{NAMES[self]}_step_forward")(*args)

    def step_backward(self, *args):
        return getattr(self.module, f"{NAMES[self]}_step_backward")(*args)


KINDS = {
    "rnn": Kind(rnn, 1, 1, 1, torch.nn.RNN),
    "lstm": Kind(lstm, 4, 2, 1, torch.nn.LSTM),
    "gru": Kind(gru, 3, 1, 2, torch.nn.GRU),
}
NAMES = {kind: name for name, kind in KINDS.items()}


def torch_layer(kind: Kind):
    """torch.nn's own kernel on tensors carrying numpy-layout weights, differentiable in all of them."""

    def run(x, *rest):
        states, (Wx, Wh, *biases) = rest[: kind.states], rest[kind.states :]
        D, H = Wx.shape[0], Wh.shape[0]
        module = kind.torch_cls(D, H, batch_first=True, dtype=torch.float64)
        b_ih, b_hh = biases if len(biases) == 2 else (biases[0], torch.zeros_like(biases[0]))
        params = {"weight_ih_l0": Wx.T, "weight_hh_l0": Wh.T, "bias_ih_l0": b_ih, "bias_hh_l0": b_hh}
        hx = tuple(s[None] for s in states) if kind.states == 2 else states[0][None]
        return functional_call(module, params, (x, hx))[0]

    return run


def sequence_gradients(kind, rng, N, T, D, H):
    args = kind.problem(rng, N, T, D, H)
    dh = rng.normal(size=(N, T, H))
    _, cache = kind.forward(*args)
    return args, dh, kind.backward(dh, cache)


@pytest.mark.parametrize("N, T, D, H", [(1, 1, 1, 1), (2, 4, 3, 3)])
@pytest.mark.parametrize("name", KINDS)
def test_backward_matches_finite_differences(name, N, T, D, H):
    kind = KINDS[name]
    args, dh, grads = sequence_gradients(kind, np.random.default_rng(T), N, T, D, H)
    numeric = numerical_gradients(lambda *a: kind.forward(*a)[0], args, upstream=dh)
    errors = compare_gradients(grads, numeric, [f"d{i}" for i in range(len(args))])
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("N, T, D, H", [(1, 1, 1, 1), (3, 9, 4, 5)])
@pytest.mark.parametrize("name", KINDS)
def test_backward_matches_torch_autograd(name, N, T, D, H):
    kind = KINDS[name]
    args, dh, grads = sequence_gradients(kind, np.random.default_rng(T + 1), N, T, D, H)
    reference = autograd_gradients(torch_layer(kind), args, upstream=dh)
    errors = compare_gradients(grads, reference, [f"d{i}" for i in range(len(args))])
    assert max(errors.values()) < 1e-10, errors
    assert all(np.any(g != 0) for g in grads)
    assert [g.shape for g in grads] == [a.shape for a in args]


# ---- step-level functions: the same validation as the sequence functions ----


def step_problem(kind, N=2, D=3, H=4):
    args = kind.problem(np.random.default_rng(0), N, 1, D, H)
    args[0] = args[0][:, 0]  # (N, D)
    return args


@pytest.mark.parametrize("name", KINDS)
def test_step_backward_refuses_upstream_gradients_of_the_wrong_shape(name):
    kind = KINDS[name]
    out = kind.step_forward(*step_problem(kind))
    cache, upstream = out[-1], [np.ones((2, 4))] * kind.states
    assert [g.shape for g in kind.step_backward(*upstream, cache)][:2] == [(2, 3), (2, 4)]
    for k in range(kind.states):
        bad = list(upstream)
        bad[k] = np.ones((3, 4))
        grad = "dh" if k == 0 else "dc"
        with pytest.raises(
            ValueError,
            match=rf"{name}_step_backward: expected {grad} of shape \(N, H\) = \(2, 4\), got \(3, 4\)",
        ):
            kind.step_backward(*bad, cache)
        bad[k] = np.ones((2, 4), dtype=int)
        with pytest.raises(
            TypeError, match=f"{name}_step_backward: expected {grad} to have a floating-point dtype"
        ):
            kind.step_backward(*bad, cache)


@pytest.mark.parametrize("name", KINDS)
def test_step_forward_refuses_parameters_of_the_wrong_shape(name):
    kind = KINDS[name]
    args = step_problem(kind)
    names = (
        ["x", "h_prev", "c_prev"][: 1 + kind.states]
        + ["Wx", "Wh"]
        + (["b"] if kind.biases == 1 else ["bx", "bh"])
    )
    G = f"{kind.gates}H" if kind.gates > 1 else "H"
    specs = {
        "Wx": rf"\(D, {G}\)",
        "Wh": rf"\(H, {G}\)",
        "b": rf"\({G},\)",
        "bx": rf"\({G},\)",
        "bh": rf"\({G},\)",
    }
    for i, arg in enumerate(names[1 + kind.states :], start=1 + kind.states):
        bad = list(args)
        bad[i] = np.zeros(args[i].shape[:-1] + (args[i].shape[-1] + 1,))
        with pytest.raises(ValueError, match=rf"{name}_step_forward: expected {arg} of shape {specs[arg]}"):
            kind.step_forward(*bad)
        bad[i] = args[i].astype(int)
        with pytest.raises(TypeError, match=f"{name}_step_forward: expected {arg} to have a floating-point"):
            kind.step_forward(*bad)


@pytest.mark.parametrize("name", KINDS)
def test_backward_refuses_a_cache_of_another_kind(name):
    kind = KINDS[name]
    out = kind.step_forward(*step_problem(kind))
    with pytest.raises((TypeError, AttributeError)):
        kind.backward(np.ones((2, 1, 4)), out[-1])


# ---- dtypes: the result has the promoted dtype of all inputs, as numpy's own operations ----


@pytest.mark.parametrize("name", KINDS)
def test_one_float64_argument_makes_every_result_float64(name):
    kind = KINDS[name]
    args = [a.astype(np.float32) for a in kind.problem(np.random.default_rng(1), 2, 3, 2, 4)]
    for i in range(len(args)):
        mixed = list(args)
        mixed[i] = mixed[i].astype(np.float64)
        h, cache = kind.forward(*mixed, lengths=[3, 1])
        grads = kind.backward(np.ones(h.shape, np.float32), cache)
        assert h.dtype == np.float64 and [g.dtype for g in grads] == [np.float64] * len(args), i
        step_args = [mixed[0][:, 0], *mixed[1:]]
        *outs, step_cache = kind.step_forward(*step_args)
        step_grads = kind.step_backward(*[np.ones((2, 4), np.float32)] * kind.states, step_cache)
        assert [o.dtype for o in (*outs, *step_grads)] == [np.float64] * (len(outs) + len(step_grads)), i
    h, cache = kind.forward(*args)
    assert [g.dtype for g in kind.backward(np.ones(h.shape), cache)] == [np.float64] * len(args)


@pytest.mark.parametrize("name", KINDS)
def test_torch_layout_round_trip_keeps_float32(name):
    kind = KINDS[name]
    torch.manual_seed(0)
    module = kind.torch_cls(3, 4, batch_first=True)
    params = kind.module.from_torch(module.state_dict())
    assert [p.dtype for p in params] == [np.float32] * len(params)
    state = kind.module.to_torch(*params)
    assert [v.dtype for v in state.values()] == [np.float32] * 4
    for got, expected in zip(kind.module.from_torch(state), params, strict=True):
        np.testing.assert_array_equal(got, expected)


# ---- padded batches ----


@pytest.mark.parametrize("name", KINDS)
def test_padded_steps_are_zero_in_the_cached_inputs(name):
    kind = KINDS[name]
    args = kind.problem(np.random.default_rng(2), 3, 4, 2, 3)
    lengths = [4, 1, 2]
    _, cache = kind.forward(*args, lengths=lengths)
    padded = np.arange(4) >= np.array(lengths)[:, None]  # (N, T)
    assert np.all(cache.x[padded] == 0.0) and np.all(cache.x[~padded] == args[0][~padded])
    np.testing.assert_array_equal(cache.lengths, lengths)
    _, full = kind.forward(*args, lengths=[4, 4, 4])
    assert full.lengths is None or len(full.lengths) == 0
