"""companion.nn.fused: the hand-written BPTT equals autograd through the step-by-step path."""

import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from hypothesis import given, settings
from hypothesis import strategies as st

from companion import nn as cnn
from companion.nn import fused
from companion.nn.recurrence import plain_recurrence

N, T, H, D = 3, 5, 4, 2
MODES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def inputs(mode, masked, seed=0, bias=True):
    """The fused function's inputs: ``xin`` is ``(x, w_ih, b)`` for the LSTM (it projects its inputs
    itself) and ``(xp,)`` for the others."""
    gen = torch.Generator().manual_seed(seed)
    G = MODES[mode] * H
    kw = {"generator": gen, "dtype": torch.float64, "requires_grad": True}
    if mode == "LSTM":
        xin = (torch.randn(T, N, D, **kw), torch.randn(G, D, **kw), torch.randn(G, **kw) if bias else None)
    else:
        xin = (torch.randn(T, N, G, **kw),)
    states = (
        (torch.randn(N, H, **kw),) if mode != "LSTM" else (torch.randn(N, H, **kw), torch.randn(N, H, **kw))
    )
    w_hh = torch.randn(G, H, **kw)
    b_hh = torch.randn(G, **kw) if mode == "GRU" else None
    mask = (torch.arange(T)[:, None] < torch.tensor([5, 2, 4])[None, :]).unsqueeze(2) if masked else None
    return xin, states, w_hh, b_hh, mask


def run_fused(mode, xin, states, w_hh, b_hh, mask, reverse):
    if mode == "LSTM":
        out, h, c = fused.lstm_recurrence(*xin, states[0], states[1], w_hh, mask, reverse)
        return out, (h, c)
    if mode == "GRU":
        out, h = fused.gru_recurrence(*xin, states[0], w_hh, b_hh, mask, reverse)
    else:
        out, h = fused.rnn_recurrence(*xin, states[0], w_hh, mask, reverse, mode == "RNN_RELU")
    return out, (h,)


def run_plain(mode, xin, states, w_hh, b_hh, mask, reverse):
    """Autograd through the step-by-step path, the LSTM's input projection by ``F.linear``."""
    xp = F.linear(*xin) if mode == "LSTM" else xin[0]
    return plain_recurrence(mode, xp, states, w_hh, b_hh, None, mask, reverse)


def leaves_of(xin, states, w_hh, b_hh):
    return [t for t in (*xin, *states, w_hh, b_hh) if t is not None]


@pytest.mark.parametrize("copy_from", [1, T + 1], ids=["W_hh-copied", "W_hh-view"])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("masked", [False, True], ids=["dense", "masked"])
@pytest.mark.parametrize("mode", MODES)
def test_fused_equals_autograd_through_the_plain_loop(monkeypatch, mode, masked, reverse, copy_from):
    # Both ways of passing W_hhᵀ to the step products: a contiguous copy (long sequences) and the view.
    monkeypatch.setattr(fused, "COPY_FROM_STEPS", copy_from)
    xin, states, w_hh, b_hh, mask = inputs(mode, masked)
    leaves = leaves_of(xin, states, w_hh, b_hh)
    results = []
    for run in (run_fused, run_plain):
        out, finals = run(mode, xin, states, w_hh, b_hh, mask, reverse)
        gen = torch.Generator().manual_seed(7)
        loss = (torch.randn(out.shape, generator=gen, dtype=out.dtype) * out).sum()
        loss = loss + sum((torch.randn(f.shape, generator=gen, dtype=f.dtype) * f).sum() for f in finals)
        results.append(([out, *finals], torch.autograd.grad(loss, leaves)))
    (values, grads), (values_ref, grads_ref) = results
    torch.testing.assert_close(values, values_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grads, grads_ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("masked", [False, True], ids=["dense", "masked"])
@pytest.mark.parametrize("steps", [1, 2, 3], ids=lambda s: f"{s}-step-blocks")
def test_lstm_backward_in_blocks_of_steps_equals_autograd(monkeypatch, steps, masked, reverse):
    # The LSTM's backward prepares its gate factors a block of steps at a time; with T = 5, blocks of
    # 2 and 3 steps leave a shorter last block, in either reading direction.
    monkeypatch.setattr(fused, "BLOCK_ELEMENTS", steps * N * 4 * H)
    xin, states, w_hh, _, mask = inputs("LSTM", masked, seed=3)
    leaves = leaves_of(xin, states, w_hh, None)
    gen = torch.Generator().manual_seed(5)
    weights = [torch.randn(s, generator=gen, dtype=torch.float64) for s in ((T, N, H), (N, H), (N, H))]
    grads = []
    for run in (run_fused, run_plain):
        out, finals = run("LSTM", xin, states, w_hh, None, mask, reverse)
        loss = sum((w * v).sum() for w, v in zip(weights, (out, *finals), strict=True))
        grads.append(torch.autograd.grad(loss, leaves))
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("masked", [False, True], ids=["dense", "masked"])
@pytest.mark.parametrize("mode", MODES)
def test_fused_passes_torch_gradcheck(mode, masked, reverse):
    xin, states, w_hh, b_hh, mask = inputs(mode, masked, seed=1)
    if mode == "RNN_RELU":  # keep pre-activations away from the kink at 0, where ReLU has no derivative
        xin = ((xin[0].detach() + 3.0).requires_grad_(),)
    k = len(xin)

    def function(*args):
        out, finals = run_fused(mode, args[:k], args[k + 1 :], args[k], b_hh, mask, reverse)
        return (out, *finals)

    assert torch.autograd.gradcheck(function, (*xin, w_hh, *states))


@pytest.mark.parametrize("masked", [False, True], ids=["dense", "masked"])
def test_lstm_without_biases_equals_autograd_and_passes_gradcheck(masked):
    xin, states, w_hh, _, mask = inputs("LSTM", masked, seed=2, bias=False)
    leaves = leaves_of(xin, states, w_hh, None)
    grads = []
    for run in (run_fused, run_plain):
        out, finals = run("LSTM", xin, states, w_hh, None, mask, False)
        grads.append(torch.autograd.grad((out * out).sum() + finals[1].sum(), leaves))
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-10, atol=1e-12)

    def function(x, w_ih, w_hh, h0, c0):
        out, finals = run_fused("LSTM", (x, w_ih, None), (h0, c0), w_hh, None, mask, True)
        return (out, *finals)

    assert torch.autograd.gradcheck(function, (xin[0], xin[1], w_hh, *states))


def test_the_layers_run_the_fused_path_by_default_and_fall_back_for_a_projection(monkeypatch):
    calls = []
    original = fused.lstm_recurrence
    monkeypatch.setattr(fused, "lstm_recurrence", lambda *a, **k: calls.append(1) or original(*a, **k))
    x = torch.randn(2, 6, 3)
    cnn.LSTM(3, 4, batch_first=True)(x)
    assert calls == [1]
    cnn.LSTM(3, 4, batch_first=True, proj_size=2)(x)
    layer = cnn.LSTM(3, 4, batch_first=True)
    layer.use_fused = False
    layer(x)
    assert calls == [1]


@settings(max_examples=25, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 6), min_size=1, max_size=4),
    extra=st.integers(0, 4),
    pad_value=st.floats(-1e3, 1e3, allow_nan=False),
    kind=st.sampled_from(["RNN", "LSTM", "GRU"]),
    bidirectional=st.booleans(),
    fast=st.booleans(),
)
def test_padding_never_changes_a_sequences_outputs_or_final_states(
    lengths, extra, pad_value, kind, bidirectional, fast
):
    """Any amount of padding, of any value, after any sequence leaves its results unchanged."""
    torch.manual_seed(0)
    layer = getattr(cnn, kind)(2, 3, num_layers=2, bidirectional=bidirectional, batch_first=True)
    layer.use_fused = fast
    gen = torch.Generator().manual_seed(sum(lengths))
    T = max(lengths) + extra
    x = torch.full((len(lengths), T, 2), pad_value)
    for n, length in enumerate(lengths):
        x[n, :length] = torch.randn(length, 2, generator=gen)
    output, finals = layer(x, lengths=lengths)
    finals = finals if isinstance(finals, tuple) else (finals,)
    for n, length in enumerate(lengths):
        alone, alone_finals = layer(x[n : n + 1, :length])  # the sequence by itself, no padding at all
        alone_finals = alone_finals if isinstance(alone_finals, tuple) else (alone_finals,)
        torch.testing.assert_close(output[n, :length], alone[0])
        assert torch.count_nonzero(output[n, length:]) == 0
        for state, alone_state in zip(finals, alone_finals, strict=True):
            torch.testing.assert_close(state[:, n], alone_state[:, 0])


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["one-direction", "bidirectional"])
def test_the_output_can_be_changed_in_place_before_backward(name, bidirectional):
    # torch.nn allows this for the RNN and the GRU (its one-direction float32 LSTM refuses it); the
    # companion layers allow it for all three, with the gradients of the same computation done out of place.
    torch.manual_seed(0)
    ours = getattr(cnn, name)(3, 4, batch_first=True, bidirectional=bidirectional)
    reference = getattr(torch.nn, name)(3, 4, batch_first=True, bidirectional=bidirectional)
    reference.load_state_dict(ours.state_dict())
    x = torch.randn(2, 5, 3)
    out, _ = ours(x)
    out.mul_(2)  # in place, as users scale or mask outputs
    out.sum().backward()
    expected, _ = reference(x)
    (expected * 2).sum().backward()
    torch.testing.assert_close(out, expected * 2, rtol=1e-5, atol=1e-6)
    for mine, theirs in zip(ours.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(mine.grad, theirs.grad, rtol=1e-5, atol=1e-6)
