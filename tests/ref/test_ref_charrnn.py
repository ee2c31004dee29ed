"""companion.ref.charrnn: the hand-written model's gradients equal torch's (full and truncated), and training
really learns a text."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from companion.diagnostics.gradcheck import autograd_gradients, compare_gradients, numerical_gradients
from companion.ref import charrnn

NAMES = list(charrnn.PARAM_NAMES)


def batch(N, T, V, H, seed):
    rng = np.random.default_rng(seed)
    params = charrnn.init_params(V, H, rng=rng)
    ids = rng.integers(0, V, size=(N, T + 1))
    return params, ids[:, :-1], ids[:, 1:], rng.normal(scale=0.5, size=(N, H))


def torch_loss(inputs, targets, h0, k=None):
    """The same model with torch.nn.RNN, torch.nn.Linear and F.cross_entropy; state detached every k steps."""
    N, T = inputs.shape

    def f(Wx, Wh, b, Wy, c):
        V, H = Wx.shape
        rnn = torch.nn.RNN(V, H, batch_first=True, dtype=torch.float64)
        weights = {
            "weight_ih_l0": Wx.T,
            "weight_hh_l0": Wh.T,
            "bias_ih_l0": b,
            "bias_hh_l0": torch.zeros_like(b),
        }
        x = F.one_hot(torch.from_numpy(inputs), V).double()
        h, states = torch.from_numpy(h0)[None], []
        for start in range(0, T, k or T):
            out, h = functional_call(rnn, weights, (x[:, start : start + (k or T)], h))
            states.append(out)
            h = h.detach()
        logits = torch.cat(states, 1) @ Wy + c
        return F.cross_entropy(logits.reshape(N * T, V), torch.from_numpy(targets).reshape(-1))

    return f


@pytest.mark.parametrize("N, T, V, H", [(1, 1, 2, 1), (2, 5, 4, 3), (3, 8, 6, 5), (1, 12, 3, 4)])
def test_gradients_match_torch_autograd_and_finite_differences(N, T, V, H):
    params, inputs, targets, h0 = batch(N, T, V, H, seed=N + T + V + H)
    loss, grads, h_last = charrnn.loss_and_gradients(params, inputs, targets, h0)
    f = torch_loss(inputs, targets, h0)
    args = [params[n] for n in NAMES]
    assert loss == pytest.approx(f(*map(torch.from_numpy, args)).item(), rel=1e-13)
    analytic = [grads[n] for n in NAMES]
    reference = autograd_gradients(f, args)
    assert max(compare_gradients(analytic, reference, NAMES).values()) < 1e-10

    def numpy_loss(*values):
        return charrnn.loss_and_gradients(dict(zip(NAMES, values, strict=True)), inputs, targets, h0)[0]

    numeric = numerical_gradients(numpy_loss, args)
    assert max(compare_gradients(analytic, numeric, NAMES).values()) < 1e-7
    x = np.eye(V)[inputs]
    h = h0
    for t in range(T):
        h = np.tanh(x[:, t] @ params["Wx"] + h @ params["Wh"] + params["b"])
    np.testing.assert_allclose(h_last, h, rtol=1e-13)


@pytest.mark.parametrize("T", [1, 6, 9])
def test_tbptt_with_k_at_least_T_is_full_bptt_exactly(T):
    params, inputs, targets, h0 = batch(2, T, 5, 4, seed=T)
    full = charrnn.loss_and_gradients(params, inputs, targets, h0)
    for k in (T, T + 2):
        loss, grads, h_last = charrnn.tbptt_gradients(params, inputs, targets, h0, k)
        assert loss == full[0]
        np.testing.assert_array_equal(h_last, full[2])
        for n in NAMES:
            np.testing.assert_array_equal(grads[n], full[1][n])


@pytest.mark.parametrize("T, k", [(6, 1), (6, 2), (9, 4), (10, 3)])
def test_tbptt_matches_autograd_on_a_graph_detached_every_k_steps(T, k):
    params, inputs, targets, h0 = batch(2, T, 5, 4, seed=10 * T + k)
    loss, grads, h_last = charrnn.tbptt_gradients(params, inputs, targets, h0, k)
    full_loss, full_grads, full_h = charrnn.loss_and_gradients(params, inputs, targets, h0)
    assert loss == pytest.approx(full_loss, rel=1e-13)  # same loss, different gradient
    np.testing.assert_allclose(h_last, full_h, rtol=1e-13)  # the state is carried forward
    args = [params[n] for n in NAMES]
    reference = autograd_gradients(torch_loss(inputs, targets, h0, k), args)
    analytic = [grads[n] for n in NAMES]
    assert max(compare_gradients(analytic, reference, NAMES).values()) < 1e-10
    assert compare_gradients([grads["Wh"]], [full_grads["Wh"]], ["dWh"])["dWh"] > 1e-4


def test_training_learns_a_periodic_text_and_greedy_generation_continues_it():
    ids, vocab = charrnn.encode("abcd" * 20)
    params = charrnn.init_params(len(vocab), 8, rng=0)
    losses, _ = charrnn.train(params, ids, batch_size=2, k=5, steps=60, lr=0.05)
    assert losses.shape == (60,) and np.all(np.isfinite(losses))
    assert losses[0] > 1.0 and losses[-5:].mean() < 0.05  # ln 4 = 1.39 at the start
    assert charrnn.decode(charrnn.generate(params, ids[:1], 8), vocab) == "bcdabcda"


def test_training_is_deterministic_and_falls_on_a_short_text():
    ids, vocab = charrnn.encode("hello world " * 4)
    runs = []
    for _ in range(2):
        params = charrnn.init_params(len(vocab), 16, rng=3)
        runs.append(charrnn.train(params, ids, batch_size=2, k=8, steps=60, lr=0.05)[0])
    np.testing.assert_array_equal(runs[0], runs[1])
    assert runs[0][-5:].mean() < 0.1 * runs[0][:5].mean()


def test_train_reports_the_gradient_norm_before_clipping_and_clips():
    ids, vocab = charrnn.encode("hello world " * 4)
    start = charrnn.init_params(len(vocab), 16, rng=3)
    inputs, targets = ids[:-1][None, :8], ids[1:][None, :8]
    loss, grads, _ = charrnn.loss_and_gradients(start, inputs, targets, np.zeros((1, 16)))
    norm = np.sqrt(sum((g**2).sum() for g in grads.values()))
    params = {n: v.copy() for n, v in start.items()}
    losses, norms = charrnn.train(params, ids, batch_size=1, k=8, steps=1, lr=0.1, max_norm=1e-3)
    assert losses[0] == loss and norms[0] == pytest.approx(norm, rel=1e-12)
    # Adam's first step moves each weight by lr * c / (|c| + eps), c the (clipped) gradient
    scale = 1e-3 / (norm + 1e-6)
    for n in NAMES:
        clipped = scale * grads[n]
        np.testing.assert_allclose(
            params[n], start[n] - 0.1 * clipped / (np.abs(clipped) + 1e-8), rtol=1e-12, atol=1e-15
        )
    unclipped = {n: v.copy() for n, v in start.items()}
    charrnn.train(unclipped, ids, batch_size=1, k=8, steps=1, lr=0.1)
    assert max(np.abs(unclipped[n] - params[n]).max() for n in NAMES) > 1e-6  # clipping made a difference
    with pytest.raises(ValueError, match="clip_gradients: expected max_norm > 0, got 0.0"):
        charrnn.train(params, ids, batch_size=1, k=8, steps=1, max_norm=0.0)


def test_encode_decode_and_init_params():
    ids, vocab = charrnn.encode("hello")
    assert vocab == "ehlo" and ids.tolist() == [1, 0, 2, 2, 3] and ids.dtype == np.int64
    assert charrnn.decode(ids, vocab) == "hello"
    p, q = charrnn.init_params(4, 6, rng=1), charrnn.init_params(4, 6, rng=1)
    assert {n: v.shape for n, v in p.items()} == {
        "Wx": (4, 6),
        "Wh": (6, 6),
        "b": (6,),
        "Wy": (6, 4),
        "c": (4,),
    }
    assert all(np.array_equal(p[n], q[n]) for n in NAMES)
    assert max(np.abs(v).max() for v in p.values()) <= 1 / np.sqrt(6)
    with pytest.raises(ValueError, match="encode: expected a non-empty text"):
        charrnn.encode("")
    with pytest.raises(TypeError, match="encode: expected text to be a str, got list"):
        charrnn.encode(["a"])
    with pytest.raises(ValueError, match="init_params: expected hidden_size to be a positive int, got 0"):
        charrnn.init_params(3, 0, rng=0)
    with pytest.raises(TypeError, match="expected rng to be an int seed"):
        charrnn.init_params(3, 2, rng=None)


def test_bad_inputs_raise():
    params, inputs, targets, h0 = batch(2, 4, 5, 3, seed=0)
    with pytest.raises(ValueError, match=r"loss_and_gradients: expected params to be a dict with keys"):
        charrnn.loss_and_gradients({k: v for k, v in params.items() if k != "c"}, inputs, targets, h0)
    with pytest.raises(
        ValueError, match=r"loss_and_gradients: expected inputs in \[0, V\) = \[0, 5\), got values"
    ):
        charrnn.loss_and_gradients(params, inputs + 5, targets, h0)
    with pytest.raises(
        TypeError, match="loss_and_gradients: expected targets to be an integer numpy.ndarray"
    ):
        charrnn.loss_and_gradients(params, inputs, targets.astype(float), h0)
    with pytest.raises(
        ValueError, match=r"loss_and_gradients: expected targets of shape \(N, T\) = \(2, 4\), got \(2, 3\)"
    ):
        charrnn.loss_and_gradients(params, inputs, targets[:, :3], h0)
    with pytest.raises(
        ValueError, match=r"loss_and_gradients: expected h0 of shape \(N, H\) = \(2, 3\), got \(2, 4\)"
    ):
        charrnn.loss_and_gradients(params, inputs, targets, np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"loss_and_gradients: expected Wh of shape \(H, H\) = \(3, 3\)"):
        charrnn.loss_and_gradients(params | {"Wh": np.zeros((3, 4))}, inputs, targets, h0)
    with pytest.raises(
        ValueError, match=r"tbptt_gradients: expected targets of shape \(N, T\), got \(2, 3\)"
    ):
        charrnn.tbptt_gradients(params, inputs, targets[:, :3], h0, 2)
    with pytest.raises(ValueError, match="expected k to be a positive int, got 0"):
        charrnn.tbptt_gradients(params, inputs, targets, h0, 0)
    ids = np.arange(5)
    with pytest.raises(ValueError, match="train: expected ids longer than batch_size = 5, got 5"):
        charrnn.train(params, ids, batch_size=5, k=2, steps=1)
    with pytest.raises(ValueError, match="train: expected steps to be a positive int, got 0"):
        charrnn.train(params, ids, batch_size=1, k=2, steps=0)
    with pytest.raises(ValueError, match=r"generate: expected prefix of shape \(L,\), got \(0,\)"):
        charrnn.generate(params, np.array([], dtype=int), 3)
    with pytest.raises(ValueError, match="generate: expected length to be an int >= 0, got -1"):
        charrnn.generate(params, ids[:1], -1)
