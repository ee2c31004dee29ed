"""companion.train.seeds: seed k of a batched run is the single-model run with the same weights and data."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from companion import nn as cnn
from companion.data.tasks import adding_problem, copy_task
from companion.train import Readout, fit, seeds, to_tensors
from companion.train.seeds import SeedBatch, fit_seeds, summarise

MODES = ["RNN", "LSTM", "GRU", "RNN_RELU"]


def batched(mode, *args, **kwargs):
    if mode == "RNN_RELU":
        return SeedBatch("RNN", *args, nonlinearity="relu", **kwargs)
    return SeedBatch(mode, *args, **kwargs)


def single_model(mode, D, H, O, seed, every_step=False, forget_bias=0.0, dtype=torch.float32):
    torch.manual_seed(seed)
    options = {"forget_bias": forget_bias} if mode == "LSTM" else {}
    if mode == "RNN_RELU":
        mode, options = "RNN", {"nonlinearity": "relu"}
    model = Readout(getattr(cnn, mode)(D, H, batch_first=True, **options), O, every_step=every_step)
    return model.to(dtype)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("every_step", [False, True])
def test_each_seed_is_the_single_model_forward_and_gradients(mode, every_step):
    seeds, D, H, O, N, T = [3, 7, 11], 3, 5, 2, 4, 6
    batch = batched(mode, D, H, O, seeds, every_step=every_step, forget_bias=1.0 if mode == "LSTM" else 0.0)
    batch = batch.double()
    x = torch.randn(len(seeds), N, T, D, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    out = batch(x)
    weights = torch.randn(out.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    (out * weights).sum().backward()
    for k, seed in enumerate(seeds):
        single = single_model(mode, D, H, O, seed, every_step, 1.0 if mode == "LSTM" else 0.0, torch.float64)
        y = single(x[k])
        torch.testing.assert_close(out[k], y, rtol=1e-12, atol=1e-12)
        (y * weights[k]).sum().backward()
        grads = [
            single.rnn.weight_ih_l0.grad,
            single.rnn.weight_hh_l0.grad,
            single.rnn.bias_ih_l0.grad,
            single.rnn.bias_hh_l0.grad,
            single.head.weight.grad,
            single.head.bias.grad,
        ]
        for p, g in zip(batch.parameters(), grads, strict=True):
            torch.testing.assert_close(p.grad[k].reshape(g.shape), g, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_backward_passes_gradcheck(mode):
    batch = batched(mode, 2, 3, 1, [0, 1]).double()
    x = torch.randn(2, 2, 4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    names = [n for n, _ in batch.named_parameters()]

    def fn(*params):
        return torch.func.functional_call(batch, dict(zip(names, params, strict=True)), (x,))

    assert torch.autograd.gradcheck(fn, tuple(p.detach().requires_grad_() for p in batch.parameters()))


def test_single_returns_the_current_weights():
    batch = SeedBatch("GRU", 2, 4, 1, [5, 6])
    with torch.no_grad():
        batch.weight_hh.mul_(2.0)
    x = torch.randn(2, 3, 7, 2)
    torch.testing.assert_close(batch.single(1)(x[1]), batch(x)[1])
    assert isinstance(batch.single(0).rnn, torch.nn.GRU)


@pytest.mark.parametrize("mode, clip", [("LSTM", 1.0), ("GRU", 0.5), ("RNN", None), ("RNN_RELU", 1.0)])
def test_training_seed_k_equals_the_single_run(mode, clip):
    """Adam, per-seed clipping and per-seed data: the batched run follows fit() on each single model."""
    seeds, T, N, steps = [0, 1, 2], 8, 16, 15
    batch = batched(mode, 2, 8, 1, seeds)
    gens = [np.random.default_rng(100 + s) for s in seeds]
    data = [[to_tensors(*adding_problem(N, T, rng=g)) for _ in range(steps)] for g in gens]  # per seed

    def batches(step):
        return torch.stack([d[step][0] for d in data]), torch.stack([d[step][1] for d in data])

    history = fit_seeds(
        batch,
        lambda pred, y: ((pred - y) ** 2).mean(dim=(1, 2)),
        batches,
        torch.optim.Adam(batch.parameters(), lr=1e-2),
        steps,
        clip_norm=clip,
    )
    assert history.steps == steps and np.stack(history.loss).shape == (steps, 3)
    for k, seed in enumerate(seeds):
        single = single_model(mode, 2, 8, 1, seed)
        ref = fit(
            single,
            lambda m, b: F.mse_loss(m(b[0]), b[1]),
            lambda step, k=k: data[k][step],
            torch.optim.Adam(single.parameters(), lr=1e-2),
            steps,
            clip_norm=clip,
            progress=False,
        )
        np.testing.assert_allclose([v[k] for v in history.loss], ref.loss, rtol=1e-4)
        np.testing.assert_allclose([v[k] for v in history.grad_norm], ref.grad_norm, rtol=1e-4)
        trained = batch.single(k)
        for p, q in zip(trained.parameters(), single.parameters(), strict=True):
            torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)


def test_copy_task_every_step_and_early_stop_per_seed():
    seeds, K = [0, 1], 8
    batch = SeedBatch("GRU", K + 2, 16, K, seeds, every_step=True)
    rngs = [np.random.default_rng(s) for s in seeds]

    def batches(step):
        pairs = [to_tensors(*copy_task(8, 2, 3, rng=r, n_symbols=K)) for r in rngs]
        return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])

    def loss(pred, y):  # pred (K_seeds, N, T, K), y (K_seeds, N, S)
        logits = pred[:, :, -2:]
        return F.cross_entropy(logits.permute(0, 3, 1, 2), y, reduction="none").mean(dim=(1, 2))

    calls = []
    history = fit_seeds(
        batch,
        loss,
        batches,
        torch.optim.Adam(batch.parameters(), lr=1e-2),
        6,
        metric=lambda m: np.array([0.5, 0.9]),
        eval_every=2,
        target=0.8,
        higher_is_better=True,
        callback=lambda s, m: calls.append(s),
    )
    # seed 1 meets the target at the first evaluation, seed 0 never: training runs the whole budget
    assert history.steps == 6 and calls == [1, 2, 3, 4, 5, 6]
    assert history.eval_steps == [2, 4, 6]
    np.testing.assert_array_equal(history.reached, [np.nan, 2.0])
    history = fit_seeds(
        batch,
        loss,
        batches,
        torch.optim.Adam(batch.parameters(), lr=1e-2),
        6,
        metric=lambda m: np.array([0.9, 0.9]),
        eval_every=2,
        target=0.8,
        higher_is_better=True,
    )
    assert history.steps == 2  # every seed met the target: stop


def test_a_non_finite_seed_gets_no_update():
    batch = SeedBatch("RNN", 2, 4, 1, [0, 1])
    before = [p.detach().clone() for p in batch.parameters()]

    def loss(pred, y):
        per_seed = ((pred - y) ** 2).mean(dim=(1, 2))
        return per_seed * torch.tensor([1.0, float("nan")])

    x, y = torch.randn(2, 3, 5, 2), torch.randn(2, 3, 1)
    history = fit_seeds(batch, loss, lambda step: (x, y), torch.optim.SGD(batch.parameters(), lr=0.1), 1)
    assert history.skipped == [(0, 1)]
    for p, q in zip(batch.parameters(), before, strict=True):
        assert torch.equal(p[1], q[1]) and not torch.equal(p[0], q[0])


def test_validation_and_summary():
    with pytest.raises(ValueError, match="expected mode 'RNN', 'LSTM' or 'GRU', got 'LSTMX'"):
        SeedBatch("LSTMX", 2, 3, 1, [0])
    with pytest.raises(
        ValueError, match="expected nonlinearity 'tanh' \\(or 'relu' for an RNN\\), got 'relu'"
    ):
        SeedBatch("GRU", 2, 3, 1, [0], nonlinearity="relu")
    with pytest.raises(ValueError, match="forget_bias applies to an LSTM only"):
        SeedBatch("GRU", 2, 3, 1, [0], forget_bias=1.0)
    batch = SeedBatch("GRU", 2, 3, 1, [0, 1])
    with pytest.raises(ValueError, match=r"expected input of shape \(2, N, T, 2\), got \(3, 4, 2\)"):
        batch(torch.zeros(3, 4, 2))
    s = summarise(np.array([100.0, np.nan, 300.0, 200.0, np.nan]), 500)
    assert (s["successes"], s["seeds"], s["median"], s["low"], s["high"]) == (3, 5, 200.0, 100.0, 300.0)
    assert np.isnan(summarise(np.full(5, np.nan), 500)["median"])


@pytest.mark.parametrize("mode", MODES)
def test_buffers_are_reused_inside_fit_seeds_only(mode):
    batch = batched(mode, 2, 4, 1, [0, 1])
    gen = torch.Generator().manual_seed(3)
    x1, x2, y = (
        torch.randn(2, 3, 5, 2, generator=gen),
        torch.randn(2, 3, 5, 2, generator=gen),
        torch.zeros(2, 3, 1),
    )
    fit_seeds(
        batch,
        lambda pred, target: ((pred - target) ** 2).mean(dim=(1, 2)),
        lambda step: (x1, y),
        torch.optim.SGD(batch.parameters(), lr=0.1),
        2,
    )
    first = batch(x1, states=True)
    kept = first.clone()
    second = batch(x2, states=True)
    torch.testing.assert_close(first, kept, rtol=0, atol=0)  # the second call did not write over the first
    assert not torch.equal(first, second)


def test_stack_seeds_puts_the_seed_axis_first_and_refuses_no_seeds():
    pairs = [(torch.full((2, 3, 1), float(k)), torch.full((2, 1), 10.0 + k)) for k in range(3)]
    x, y = seeds.stack_seeds(pairs)
    assert x.shape == (3, 2, 3, 1) and y.shape == (3, 2, 1)
    assert [float(x[k, 0, 0, 0]) for k in range(3)] == [0.0, 1.0, 2.0] and float(y[2, 1, 0]) == 12.0
    with pytest.raises(ValueError, match="one \\(x, y\\) pair per seed, got none"):
        seeds.stack_seeds([])


def test_per_seed_mse_is_each_seeds_own_mean_squared_error():
    prediction = torch.tensor([[[1.0], [3.0]], [[0.0], [0.0]]])  # (K=2, N=2, 1)
    target = torch.tensor([[[0.0], [1.0]], [[2.0], [0.0]]])
    torch.testing.assert_close(seeds.per_seed_mse(prediction, target), torch.tensor([2.5, 2.0]))
    with pytest.raises(
        ValueError, match=r"expected target of the prediction's shape \(2, 2, 1\), got \(2, 2\)"
    ):
        seeds.per_seed_mse(prediction, target[..., 0])
