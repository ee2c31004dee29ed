"""companion.train: clipping keeps the direction and bounds the norm, non-finite gradients never reach
the optimizer, the history records norms before clipping, early stopping, evaluation, and a model
that actually learns."""

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import companion.nn
from companion.data.tasks import adding_problem, copy_task, sum_task
from companion.train import (
    History,
    Readout,
    clip_grad_norm,
    clip_grad_value,
    evaluate,
    fit,
    grad_norm,
    to_tensors,
)


def params_with_grads(scale, dtype=torch.float64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    params = [torch.nn.Parameter(torch.zeros(s, dtype=dtype)) for s in [(3, 4), (4,), (2, 2, 2)]]
    for p in params:
        p.grad = scale * torch.randn(p.shape, generator=gen, dtype=dtype)
    return params


def flat(params):
    return torch.cat([p.grad.reshape(-1) for p in params])


def test_grad_norm_is_the_norm_of_all_gradients_as_one_vector():
    params = params_with_grads(3.0)
    assert grad_norm(params) == pytest.approx(float(flat(params).norm()), rel=1e-14)
    assert grad_norm(params) == pytest.approx(float(torch.nn.utils.get_total_norm([p.grad for p in params])))
    assert grad_norm([torch.nn.Parameter(torch.zeros(2))]) == 0.0  # no .grad at all
    big = torch.nn.Parameter(torch.zeros(2))
    big.grad = torch.full((2,), 3e38)  # finite float32 entries whose float32 squares would overflow
    assert grad_norm([big]) == pytest.approx(3e38 * math.sqrt(2), rel=1e-6)


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 1e-6)])
@pytest.mark.parametrize("max_norm", [0.01, 1.0, 7.5])
def test_clip_by_norm_bounds_the_norm_and_keeps_the_direction(dtype, tol, max_norm):
    params = params_with_grads(10.0, dtype)
    before = flat(params).clone()
    returned = clip_grad_norm(params, max_norm)
    after = flat(params)
    assert returned == pytest.approx(float(before.double().norm()), rel=1e-6)
    assert float(after.double().norm()) <= max_norm * (1 + tol)
    assert float(after.double().norm()) == pytest.approx(max_norm, rel=tol)
    cosine = float(
        torch.dot(before.double(), after.double()) / (before.double().norm() * after.double().norm())
    )
    assert cosine == pytest.approx(1.0, abs=tol)
    ratio = after.double() / before.double()
    np.testing.assert_allclose(ratio.numpy(), max_norm / float(before.double().norm()), rtol=tol)


def test_clip_by_norm_matches_torch_and_leaves_short_gradients_alone():
    ours, theirs = params_with_grads(2.0), params_with_grads(2.0)
    clip_grad_norm(ours, 1.0)
    torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    np.testing.assert_allclose(flat(ours).numpy(), flat(theirs).numpy(), rtol=1e-5)
    short = params_with_grads(0.01)
    before = flat(short).clone()
    assert clip_grad_norm(short, 1.0) < 1.0
    assert torch.equal(flat(short), before)


def test_clip_by_norm_refuses_non_finite_norms_and_bad_thresholds():
    params = params_with_grads(1.0)
    params[1].grad[0] = float("nan")
    with pytest.raises(FloatingPointError, match="expected a finite gradient norm, got nan"):
        clip_grad_norm(params, 1.0)
    for bad in (0.0, -1.0, float("inf"), "1"):
        with pytest.raises(ValueError, match="clip_grad_norm: expected max_norm > 0"):
            clip_grad_norm(params_with_grads(1.0), bad)


def test_clip_by_value_matches_torch():
    ours, theirs = params_with_grads(2.0), params_with_grads(2.0)
    clip_grad_value(ours, 0.5)
    torch.nn.utils.clip_grad_value_(theirs, 0.5)
    assert torch.equal(flat(ours), flat(theirs))
    assert float(flat(ours).abs().max()) == 0.5
    with pytest.raises(ValueError, match="clip_grad_value: expected clip_value > 0"):
        clip_grad_value(ours, 0)


class Linear1(torch.nn.Module):
    """L = w . batch: the gradient is the batch itself, so every step is predictable."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))


def linear_loss(model, batch):
    return torch.dot(model.w, batch)


def constant_batches(*vectors):
    return [torch.tensor(v, dtype=torch.float64) for v in vectors]


def test_history_records_the_norm_before_clipping_and_the_update_uses_the_clipped_gradient():
    model = Linear1()
    batches = constant_batches([3.0, 4.0], [0.0, 0.1])
    h = fit(
        model,
        linear_loss,
        batches,
        torch.optim.SGD(model.parameters(), lr=0.5),
        2,
        clip_norm=1.0,
        progress=False,
    )
    assert isinstance(h, History) and h.steps == 2 and not h.stopped_early and h.skipped == []
    assert h.grad_norm == pytest.approx([5.0, 0.1])
    assert h.loss == pytest.approx([0.0, 0.0 * 3 - 0.5 * 0.8 * 0.1])  # w after step 1: -0.5 * (0.6, 0.8)
    np.testing.assert_allclose(model.w.detach().numpy(), [-0.3, -0.4 - 0.05])


def test_fit_clips_by_value_before_norm():
    model = Linear1()
    fit(
        model,
        linear_loss,
        constant_batches([3.0, 0.5]),
        torch.optim.SGD(model.parameters(), lr=1.0),
        1,
        clip_value=1.0,
        clip_norm=1.0,
        progress=False,
    )
    direction = np.array([1.0, 0.5]) / np.linalg.norm([1.0, 0.5])  # clamped to (1, 0.5), then rescaled
    np.testing.assert_allclose(model.w.detach().numpy(), -direction, rtol=1e-12)


@pytest.mark.parametrize("bad", [float("inf"), float("nan")])
def test_non_finite_gradient_raises_by_default_and_is_never_applied(bad):
    model = Linear1()
    batches = constant_batches([1.0, 1.0], [bad, 1.0], [1.0, 1.0])
    with pytest.raises(FloatingPointError, match="non-finite loss .* at step 1; no update was applied"):
        fit(model, linear_loss, batches, torch.optim.SGD(model.parameters(), lr=0.1), 3, progress=False)
    np.testing.assert_allclose(model.w.detach().numpy(), [-0.1, -0.1])
    assert model.w.grad is None


def test_non_finite_gradient_is_recorded_and_skipped_on_request():
    model = Linear1()
    batches = constant_batches([1.0, 1.0], [float("inf"), 1.0], [1.0, 2.0])
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    h = fit(model, linear_loss, batches, opt, 3, on_nonfinite="skip", clip_norm=10.0, progress=False)
    assert h.skipped == [1] and h.steps == 3
    assert not math.isfinite(h.grad_norm[1]) and h.grad_norm[0] == pytest.approx(math.sqrt(2))
    reference = Linear1()
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    fit(reference, linear_loss, constant_batches([1.0, 1.0], [1.0, 2.0]), ref_opt, 2, progress=False)
    np.testing.assert_allclose(model.w.detach().numpy(), reference.w.detach().numpy(), rtol=1e-15)


def test_early_stop_on_the_training_loss_and_on_a_metric():
    model = Linear1()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    ones = itertools.repeat(torch.ones(2, dtype=torch.float64))
    h = fit(model, linear_loss, ones, opt, 100, target=-1.0, progress=False)  # loss_k = -0.2 k
    assert h.stopped_early and h.steps == 6 and h.loss[-1] <= -1.0 < h.loss[-2]
    calls = []

    def metric(m):
        calls.append(m.training)
        return float(-m.w.detach().sum())  # rises by 0.2 a step

    model = Linear1()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    h = fit(
        model,
        linear_loss,
        lambda step: torch.ones(2, dtype=torch.float64),
        opt,
        100,
        metric=metric,
        eval_every=3,
        target=1.1,
        higher_is_better=True,
        progress=False,
    )
    assert [s for s, _ in h.metric] == [3, 6] and h.stopped_early and h.steps == 6
    assert h.metric[-1][1] == pytest.approx(1.2)
    assert model.training and calls == [True, True]  # fit hands over the model in training mode
    model = Linear1()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    ones = itertools.repeat(torch.ones(2, dtype=torch.float64))
    h = fit(model, linear_loss, ones, opt, 7, metric=metric, eval_every=3, progress=False)
    assert [s for s, _ in h.metric] == [3, 6, 7] and not h.stopped_early


def test_callback_sees_every_step_after_its_update():
    model = Linear1()
    seen = []
    fit(
        model,
        linear_loss,
        constant_batches([1.0, 0.0], [float("nan"), 0.0], [1.0, 0.0]),
        torch.optim.SGD(model.parameters(), lr=1.0),
        3,
        on_nonfinite="skip",
        callback=lambda done, m: seen.append((done, float(m.w[0].detach()))),
        progress=False,
    )
    assert seen == [(1, -1.0), (2, -1.0), (3, -2.0)]
    with pytest.raises(TypeError, match="fit: expected callback to be callable or None, got int"):
        fit(model, linear_loss, [torch.ones(2)], torch.optim.SGD(model.parameters(), lr=1.0), 1, callback=3)


def test_fit_rejects_bad_arguments_and_short_data():
    model = Linear1()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    batches = constant_batches([1.0, 1.0])
    for kwargs, message in [
        ({"steps": 0}, "expected steps >= 1, got 0"),
        ({"clip_norm": -1.0}, "expected clip_norm > 0, got -1.0"),
        ({"clip_value": 0}, "expected clip_value > 0, got 0"),
        ({"on_nonfinite": "ignore"}, "expected on_nonfinite in"),
        ({"eval_every": 0}, "expected eval_every >= 1, got 0"),
        ({"target": float("nan")}, "expected target to be None or a finite number"),
    ]:
        args = {"steps": 1} | kwargs
        with pytest.raises(ValueError, match="fit: " + message):
            fit(model, linear_loss, batches, opt, progress=False, **args)
    with pytest.raises(ValueError, match="fit: batches ran out after 1 steps"):
        fit(model, linear_loss, batches, opt, 2, progress=False)
    with pytest.raises(ValueError, match="fit: expected loss_fn to return a scalar tensor"):
        fit(model, lambda m, b: m.w * b, batches, opt, 1, progress=False)


def test_progress_bar_only_when_asked_or_watched(capsys):
    model = Linear1()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    batches = lambda step: torch.ones(2, dtype=torch.float64)  # noqa: E731
    fit(model, linear_loss, batches, opt, 3, progress=False)
    fit(model, linear_loss, batches, opt, 3)  # captured stderr is not a terminal: quiet
    assert capsys.readouterr().err == ""
    fit(model, linear_loss, batches, opt, 3, progress=True, desc="adding")
    assert "adding" in capsys.readouterr().err


def test_fit_uses_no_global_random_state():
    torch.manual_seed(0)
    model = Readout(torch.nn.RNN(1, 4, batch_first=True), 1)
    state = torch.get_rng_state()
    rng = np.random.default_rng(0)
    fit(
        model,
        lambda m, b: F.mse_loss(m(b[0]), b[1]),
        lambda step: to_tensors(*sum_task(8, 5, rng=rng)),
        torch.optim.SGD(model.parameters(), lr=0.01),
        3,
        progress=False,
    )
    assert torch.equal(state, torch.get_rng_state())


def test_a_recurrent_model_learns_the_adding_problem_at_short_length():
    torch.manual_seed(0)
    model = Readout(torch.nn.GRU(2, 16, batch_first=True), 1)
    rng = np.random.default_rng(0)
    test = to_tensors(*adding_problem(500, 6, rng=1))
    mse = lambda m, b: F.mse_loss(m(b[0]), b[1])  # noqa: E731
    before = evaluate(model, mse, [test])
    h = fit(
        model,
        mse,
        lambda step: to_tensors(*adding_problem(64, 6, rng=rng)),
        torch.optim.Adam(model.parameters(), lr=1e-2),
        400,
        metric=lambda m: evaluate(m, mse, [test]),
        target=0.01,
        progress=False,
    )
    assert before > 0.1 and h.metric[-1][1] < 0.05
    assert np.mean(h.loss[-20:]) < np.mean(h.loss[:20]) / 5


def test_evaluate_weights_batches_by_size_and_restores_the_mode():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Dropout(0.5))
    x, y = torch.randn(10, 3), torch.randn(10, 1)
    mse = lambda m, b: F.mse_loss(m(b[0]), b[1])  # noqa: E731
    whole = evaluate(model, mse, [(x, y)])
    split = evaluate(model, mse, [(x[:3], y[:3]), (x[3:], y[3:])])
    assert split == pytest.approx(whole, rel=1e-6)
    with torch.no_grad():
        assert whole == pytest.approx(float(F.mse_loss(model[0](x), y)), rel=1e-6)  # dropout off
    assert model.training
    model.eval()
    evaluate(model, mse, [(x, y)])
    assert not model.training
    with pytest.raises(ValueError, match="evaluate: expected at least one batch"):
        evaluate(model, mse, [])


def test_to_tensors():
    x, y = to_tensors(*copy_task(2, 3, 2, rng=0))
    assert x.dtype == torch.float32 and y.dtype == torch.int64 and x.shape == (2, 8, 10)
    (z,) = to_tensors(np.ones(3), dtype=torch.float64)
    assert z.dtype == torch.float64
    with pytest.raises(TypeError, match="to_tensors: expected argument 1 to be a numpy.ndarray, got list"):
        to_tensors(np.ones(2), [1.0])
    with pytest.raises(TypeError, match="expected argument 0 to be float or int, got dtype bool"):
        to_tensors(np.ones(2, dtype=bool))


@pytest.mark.parametrize("cls", [torch.nn.RNN, torch.nn.LSTM, torch.nn.GRU])
def test_readout_shapes_and_last_step(cls):
    torch.manual_seed(0)
    rnn = cls(3, 5, batch_first=True)
    x = torch.randn(4, 7, 3)
    one = Readout(rnn, 2)
    every = Readout(rnn, 2, every_step=True)
    every.head.load_state_dict(one.head.state_dict())
    assert one(x).shape == (4, 2) and every(x).shape == (4, 7, 2)
    torch.testing.assert_close(one(x), every(x)[:, -1])
    assert Readout(cls(3, 5, batch_first=True, bidirectional=True), 1).head.in_features == 10


def test_readout_rejects_time_first_layers_and_bad_sizes():
    with pytest.raises(ValueError, match="Readout: expected a recurrent layer with batch_first=True"):
        Readout(torch.nn.RNN(2, 3), 1)
    with pytest.raises(ValueError, match="Readout: expected out_features >= 1, got 0"):
        Readout(torch.nn.RNN(2, 3, batch_first=True), 0)


# Devices: nothing in companion.train creates a tensor on a device of its own choosing. The "meta"
# device (shapes without storage) shows it on any machine; a GPU, where one exists, runs the loop.


@pytest.mark.parametrize("layer", [torch.nn.GRU, companion.nn.LSTM])
def test_readout_head_is_created_where_the_recurrent_layer_lives(layer):
    rnn = layer(2, 4, batch_first=True, device="meta", dtype=torch.float64)
    model = Readout(rnn, 3)
    assert {(p.device.type, p.dtype) for p in model.parameters()} == {("meta", torch.float64)}


def test_to_tensors_puts_the_tensors_on_the_requested_device():
    x, y = to_tensors(np.ones((2, 3)), np.arange(2), device="meta", dtype=torch.float64)
    assert (x.device.type, x.dtype, tuple(x.shape)) == ("meta", torch.float64, (2, 3))
    assert (y.device.type, y.dtype) == ("meta", torch.int64)
    assert {t.device.type for t in to_tensors(np.ones(2), np.arange(2))} == {"cpu"}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_fit_trains_on_a_gpu_exactly_as_on_the_cpu():
    x, y = adding_problem(32, 12, rng=np.random.default_rng(0))
    results = []
    for device in ("cpu", "cuda"):
        gen = torch.Generator().manual_seed(0)
        model = Readout(companion.nn.LSTM(2, 8, batch_first=True, dtype=torch.float64), 1)
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.rand(p.shape, generator=gen, dtype=torch.float64) - 0.5)
        model.to(device)
        batch = to_tensors(x, y, dtype=torch.float64, device=device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        loss_fn = lambda m, b: F.mse_loss(m(b[0]), b[1])  # noqa: E731
        batches = itertools.repeat(batch)
        history = fit(model, loss_fn, batches, optimizer, 20, clip_norm=1.0, progress=False)
        assert {p.device.type for p in model.parameters()} == {device}
        assert history.loss[-1] < history.loss[0]
        results.append((history, {k: v.cpu() for k, v in model.state_dict().items()}))
    (cpu_history, cpu_params), (gpu_history, gpu_params) = results
    torch.testing.assert_close(gpu_history.grad_norm, cpu_history.grad_norm, rtol=1e-9, atol=0)
    torch.testing.assert_close(gpu_params, cpu_params, rtol=1e-9, atol=1e-12)
