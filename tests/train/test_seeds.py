"""companion.train.seeds: seed k of a side-by-side run is the single-model run with the same weights and data."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from companion import nn as cnn
from companion.data.tasks import adding_problem, copy_task
from companion.train import Readout, fit, seeds, to_tensors
from companion.train.seeds import SeedBatch, fit_seeds, per_seed_mse, summarise

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


def test_single_returns_the_current_weights():
    batch = SeedBatch("GRU", 2, 4, 1, [5, 6])
    with torch.no_grad():
        batch.weight_hh.mul_(2.0)
    x = torch.randn(2, 3, 7, 2)
    torch.testing.assert_close(batch.single(1)(x[1]), batch(x)[1])
    assert isinstance(batch.single(0).rnn, torch.nn.GRU)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("every_step", [False, True])
def test_k_models_side_by_side_equal_k_companion_models_trained_apart(mode, every_step):
    """A few Adam steps: every parameter of seed k equals that of its own companion Readout.

    Both run the same fast path (companion.nn.fused), the K models with a leading models dimension: their
    products are batched (bmm, and the weight gradient summed per step) where one model's are not (mm,
    one product over all steps), so the sums are rounded in another order. The parameters then agree to
    float32 rounding, a few units in the last place after four steps: rtol 1e-5, atol 1e-6."""
    seeds, D, H, O, N, T, steps = [4, 9], 2, 6, 3, 5, 7, 4
    batch = batched(mode, D, H, O, seeds, every_step=every_step)
    gen = torch.Generator().manual_seed(5)
    y_shape = (2, N, T, O) if every_step else (2, N, O)
    data = [
        (torch.randn(2, N, T, D, generator=gen), torch.randn(y_shape, generator=gen)) for _ in range(steps)
    ]
    optimizer = torch.optim.Adam(batch.parameters(), lr=1e-2)
    fit_seeds(batch, per_seed_mse, lambda step: data[step], optimizer, steps)
    for k, seed in enumerate(seeds):
        apart = single_model(mode, D, H, O, seed, every_step)  # a companion layer on its fast path
        assert isinstance(apart.rnn, (cnn.RNN, cnn.LSTM, cnn.GRU)) and apart.rnn.use_fused
        start = [p.detach().clone() for p in apart.parameters()]
        optimizer = torch.optim.Adam(apart.parameters(), lr=1e-2)
        for x, y in data:
            optimizer.zero_grad()
            per_seed_mse(apart(x[k])[None], y[k][None]).sum().backward()
            optimizer.step()
        for p, q, q0 in zip(batch.parameters(), apart.parameters(), start, strict=True):
            assert not torch.equal(q, q0)  # training moved it
            torch.testing.assert_close(p[k], q, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode, clip", [("LSTM", 1.0), ("GRU", 0.5), ("RNN", None), ("RNN_RELU", 1.0)])
def test_training_seed_k_equals_the_single_run(mode, clip):
    """Adam, per-seed clipping and per-seed data: the side-by-side run follows fit() on each single model."""
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


def test_states_are_each_layers_outputs():
    batch = SeedBatch("LSTM", 2, 4, 1, [0, 1], forget_bias=1.0)
    x = torch.randn(2, 3, 5, 2, generator=torch.Generator().manual_seed(6))
    states = batch(x, states=True)
    assert states.shape == (2, 3, 5, 4)
    for k in range(2):
        torch.testing.assert_close(states[k], batch.single(k).rnn(x[k])[0])


def test_errors_name_the_function_and_the_value():
    with pytest.raises(TypeError, match="SeedBatch: expected hidden_size to be an int, got float 3.0"):
        SeedBatch("GRU", 2, 3.0, 1, [0])
    with pytest.raises(ValueError, match="SeedBatch: expected output_size >= 1, got 0"):
        SeedBatch("GRU", 2, 3, 0, [0])
    with pytest.raises(ValueError, match="SeedBatch: expected at least one seed, got none"):
        SeedBatch("GRU", 2, 3, 1, [])
    with pytest.raises(TypeError, match="SeedBatch: expected every seed to be an int, got str 'a'"):
        SeedBatch("GRU", 2, 3, 1, [0, "a"])
    batch = SeedBatch("RNN", 2, 3, 1, [0, 1])
    with pytest.raises(TypeError, match="SeedBatch: expected input to be a torch.Tensor, got ndarray"):
        batch(np.zeros((2, 4, 5, 2)))
    with pytest.raises(ValueError, match=r"SeedBatch.single: expected 0 <= k < 2, got 2"):
        batch.single(2)
    with pytest.raises(TypeError, match="SeedBatch.single: expected k to be an int, got float"):
        batch.single(1.0)
    x, y = torch.zeros(2, 4, 5, 2), torch.zeros(2, 4, 1)
    optimizer = torch.optim.SGD(batch.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="fit_seeds: expected steps >= 1, got 0"):
        fit_seeds(batch, per_seed_mse, lambda step: (x, y), optimizer, 0)
    with pytest.raises(TypeError, match="fit_seeds: expected eval_every to be an int, got float"):
        fit_seeds(batch, per_seed_mse, lambda step: (x, y), optimizer, 1, eval_every=1.5)
    with pytest.raises(ValueError, match="fit_seeds: expected clip_norm > 0, got 0"):
        fit_seeds(batch, per_seed_mse, lambda step: (x, y), optimizer, 1, clip_norm=0)
    with pytest.raises(TypeError, match="fit_seeds: expected model to be a SeedBatch, got Readout"):
        fit_seeds(batch.single(0), per_seed_mse, lambda step: (x, y), optimizer, 1)
    with pytest.raises(ValueError, match=r"fit_seeds: expected loss_fn to return shape \(2,\), got \(\)"):
        fit_seeds(batch, lambda p, t: per_seed_mse(p, t).sum(), lambda step: (x, y), optimizer, 1)
