"""companion.train at its edges: a finite loss with a non-finite gradient, a target met on the last step,
a metric that leaves the model in eval mode or is not finite, infinite thresholds, the default
evaluation interval, the progress bar's automatic choice and Readout on a projected LSTM."""

import itertools
import sys
import types

import numpy as np
import pytest
import torch

import companion.nn
from companion.train import Readout, fit
from companion.train import loop as train


class Linear1(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))


def linear_loss(model, batch):
    return torch.dot(model.w, batch)


def ones(step):
    return torch.ones(2, dtype=torch.float64)


class InfiniteGradient(torch.autograd.Function):
    """The identity forward; an infinite gradient backward."""

    @staticmethod
    def forward(ctx, value):
        return value.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * float("inf")


def blows_up_at_step_1(model, batch):
    vector, bad = batch
    loss = torch.dot(model.w, vector)
    return InfiniteGradient.apply(loss) if bad else loss


BATCHES = [(torch.ones(2, dtype=torch.float64), bad) for bad in (False, True, False)]


def sgd_fit(model, loss_fn, batches, steps, *, lr=0.1, **kwargs):
    """``fit`` with plain SGD and no progress bar, as most of these cases call it."""
    return fit(
        model, loss_fn, batches, torch.optim.SGD(model.parameters(), lr=lr), steps, progress=False, **kwargs
    )


def test_a_finite_loss_with_a_non_finite_gradient_is_never_applied():
    model = Linear1()
    with pytest.raises(
        FloatingPointError, match=r"non-finite loss \(-0.2\) or gradient norm \(inf\) at step 1"
    ):
        sgd_fit(model, blows_up_at_step_1, BATCHES, 3)
    np.testing.assert_allclose(model.w.detach().numpy(), [-0.1, -0.1])
    model = Linear1()
    h = sgd_fit(model, blows_up_at_step_1, BATCHES, 3, on_nonfinite="skip")
    assert h.skipped == [1] and h.loss[1] == pytest.approx(-0.2) and h.grad_norm[1] == float("inf")
    np.testing.assert_allclose(model.w.detach().numpy(), [-0.2, -0.2])


def test_a_target_met_on_the_last_step_is_not_an_early_stop():
    model = Linear1()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    h = fit(model, linear_loss, ones, opt, 6, target=-1.0, progress=False)  # loss_k = -0.2 k: met at k = 5
    assert h.steps == 6 and h.loss[-1] == pytest.approx(-1.0) and not h.stopped_early
    h = sgd_fit(Linear1(), linear_loss, ones, 6)
    assert not h.stopped_early


def test_the_model_trains_again_after_a_metric_switched_it_to_eval():
    modes = []

    def loss_fn(model, batch):
        modes.append(model.training)
        return linear_loss(model, batch)

    def metric(model):
        model.eval()  # what an evaluation does
        return 0.0

    model = Linear1()
    sgd_fit(model, loss_fn, ones, 4, metric=metric, eval_every=1)
    assert modes == [True] * 4 and model.training


@pytest.mark.parametrize(
    "value, higher", [(float("-inf"), False), (float("inf"), True), (float("nan"), False)]
)
def test_a_metric_that_is_not_finite_never_meets_the_target(value, higher):
    model = Linear1()
    h = sgd_fit(
        model, linear_loss, ones, 5, metric=lambda m: value, eval_every=2, target=0.0, higher_is_better=higher
    )
    assert h.steps == 5 and not h.stopped_early and [s for s, _ in h.metric] == [2, 4, 5]


def test_a_training_loss_that_is_not_finite_never_meets_the_target():
    model = Linear1()
    batches = [torch.tensor([-float("inf"), 0.0], dtype=torch.float64)] + [
        torch.ones(2, dtype=torch.float64)
    ] * 3
    with torch.no_grad():
        model.w.fill_(1.0)
    h = sgd_fit(model, linear_loss, batches, 4, target=0.0, on_nonfinite="skip")
    assert h.skipped == [0] and h.steps == 4 and not h.stopped_early


@pytest.mark.parametrize("name", ["clip_norm", "clip_value"])
def test_infinite_clipping_thresholds_are_refused_before_training(name):
    model = Linear1()
    with pytest.raises(ValueError, match=f"fit: expected {name} > 0, got inf"):
        sgd_fit(model, linear_loss, ones, 2, **{name: float("inf")})
    assert not model.w.detach().any()


def test_the_metric_is_evaluated_every_100_steps_by_default():
    model = Linear1()
    h = sgd_fit(model, linear_loss, ones, 250, lr=1e-3, metric=lambda m: 1.0)
    assert [s for s, _ in h.metric] == [100, 200, 250]


class FakeStderr:
    def __init__(self, tty):
        self.tty = tty

    def isatty(self):
        return self.tty

    def write(self, text):
        return len(text)

    def flush(self):
        pass


def shell(name):
    """A stand-in for the IPython module whose get_ipython() returns a shell of class ``name``."""
    module = types.ModuleType("IPython")
    instance = type(name, (), {})()
    module.get_ipython = lambda: instance
    return module


@pytest.mark.parametrize(
    "tty, ipython, shown",
    [
        (True, None, True),  # a terminal
        (False, None, False),  # a log file or a pipe
        (False, "ZMQInteractiveShell", True),  # a Jupyter kernel (its stderr is not a terminal)
        (False, "TerminalInteractiveShell", False),  # IPython writing to a pipe
    ],
)
def test_the_progress_bar_is_shown_where_someone_watches(monkeypatch, tty, ipython, shown):
    monkeypatch.setattr(sys, "stderr", FakeStderr(tty))
    if ipython is None:
        monkeypatch.delitem(sys.modules, "IPython", raising=False)
    else:
        monkeypatch.setitem(sys.modules, "IPython", shell(ipython))
    assert train._want_progress(None) is shown
    assert train._want_progress(False) is False and train._want_progress(True) is True
    bars = []
    monkeypatch.setattr(train, "_progress_bar", lambda total, desc, enabled: bars.append(enabled))
    model = Linear1()
    fit(model, linear_loss, ones, torch.optim.SGD(model.parameters(), lr=0.1), 1)
    assert bars == [shown]


def test_stderr_without_isatty_gets_no_bar(monkeypatch):
    monkeypatch.setattr(sys, "stderr", object())
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert train._want_progress(None) is False


@pytest.mark.parametrize("layer", [torch.nn.LSTM, companion.nn.LSTM])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_readout_reads_the_projected_size_of_an_lstm(layer, bidirectional):
    torch.manual_seed(0)
    rnn = layer(2, 8, proj_size=3, batch_first=True, bidirectional=bidirectional)
    model = Readout(rnn, 4, every_step=True)
    assert model.head.in_features == 3 * (2 if bidirectional else 1)
    x = torch.randn(5, 6, 2)
    out = model(x)
    assert out.shape == (5, 6, 4)
    torch.testing.assert_close(out, model.head(rnn(x)[0]))
    assert list(itertools.chain(model.parameters())) == [*rnn.parameters(), *model.head.parameters()]


def test_grad_norm_and_clipping_take_a_single_tensor():
    p = torch.nn.Parameter(torch.zeros(2))
    p.grad = torch.tensor([3.0, 4.0])
    assert train.grad_norm(p) == 5.0
    assert train.clip_grad_norm(p, 1.0) == 5.0
    torch.testing.assert_close(p.grad, torch.tensor([0.6, 0.8]))


@pytest.mark.parametrize("name", ["steps", "eval_every"])
def test_a_bool_is_not_a_number_of_steps(name):
    arguments = {"steps": 2, "eval_every": 1, name: True}
    model = Linear1()
    with pytest.raises(TypeError, match=f"fit: expected {name} to be an int, got bool True"):
        sgd_fit(model, linear_loss, ones, **arguments)


def test_a_metric_that_is_not_callable_is_refused_before_training():
    model = Linear1()
    with pytest.raises(TypeError, match="^fit: expected metric to be callable or None, got float$"):
        sgd_fit(model, linear_loss, ones, 2, metric=0.5)
    assert not model.w.detach().any()


def test_a_batch_function_is_called_with_the_step_number():
    seen = []

    def batches(step):
        seen.append(step)
        return ones(step)

    model = Linear1()
    sgd_fit(model, linear_loss, batches, 3)
    assert seen == [0, 1, 2]


def test_the_gradients_of_a_refused_step_are_discarded_not_zeroed():
    """A zero gradient still moves Adam (its moments); no gradient leaves the parameter alone."""
    model = Linear1()
    with pytest.raises(FloatingPointError):
        sgd_fit(model, blows_up_at_step_1, BATCHES[:2], 2)
    assert model.w.grad is None
    h = sgd_fit(model, blows_up_at_step_1, BATCHES[:2], 2, on_nonfinite="skip")
    assert h.skipped == [1] and model.w.grad is None


def test_a_target_met_one_step_before_the_end_is_an_early_stop():
    model = Linear1()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    h = fit(model, linear_loss, ones, opt, 7, target=-1.0, progress=False)  # loss_k = -0.2 k: met at k = 5
    assert h.steps == 6 and h.stopped_early


def test_a_metric_equal_to_a_higher_is_better_target_meets_it():
    model = Linear1()
    h = sgd_fit(
        model, linear_loss, ones, 5, metric=lambda m: 0.75, eval_every=2, target=0.75, higher_is_better=True
    )
    assert h.steps == 2 and h.stopped_early


def test_evaluate_weights_each_batch_by_the_length_of_its_first_part():
    mean = lambda m, batch: float(batch[-1]) if isinstance(batch, tuple) else float(batch.float().mean())  # noqa: E731
    model = torch.nn.Linear(1, 1)
    # (x, y) with y time first: x's first dimension (4, then 1) is the batch size
    batches = [(torch.zeros(4, 3), torch.zeros(3, 4), 1.0), (torch.zeros(1, 3), torch.zeros(3, 1), 6.0)]
    assert train.evaluate(model, mean, batches) == pytest.approx((4 * 1.0 + 1 * 6.0) / 5)
    # a tensor batch counts its rows; a 0-d tensor or an object without a shape counts once
    batches = [torch.full((3, 2), 2.0), torch.tensor(5.0), torch.full((1,), 9.0)]
    assert train.evaluate(model, mean, batches) == pytest.approx((3 * 2.0 + 5.0 + 9.0) / 5)
    assert train.evaluate(model, lambda m, b: b, [1.0, 2.0, 6.0]) == pytest.approx(3.0)
    assert train.evaluate(model, lambda m, b: b[-1], [(2.0,), (torch.ones(3), 6.0)]) == pytest.approx(
        (2.0 + 3 * 6.0) / 4
    )


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_to_tensors_gives_float32_for_every_float_array_by_default(dtype):
    (x,) = train.to_tensors(np.ones(3, dtype=dtype))
    assert x.dtype == torch.float32
    (x,) = train.to_tensors(np.ones(3, dtype=dtype), dtype=torch.float64)
    assert x.dtype == torch.float64


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.uint8, np.int64])
def test_to_tensors_gives_int64_class_indices_for_every_integer_array(dtype):
    (y,) = train.to_tensors(np.arange(3, dtype=dtype), dtype=torch.float64)
    assert y.dtype == torch.int64 and y.tolist() == [0, 1, 2]


class Bare(torch.nn.Module):
    """A recurrent layer with torch.nn's forward but none of its optional attributes."""

    def __init__(self, batch_first=True):
        super().__init__()
        if batch_first:
            self.batch_first = True
        self.hidden_size = 5
        self.gru = torch.nn.GRU(2, 5, batch_first=True)

    def forward(self, x):
        return self.gru(x)


def test_readout_reads_only_the_attributes_a_layer_has():
    model = Readout(Bare(), 3)
    assert model.head.in_features == 5
    assert model(torch.zeros(4, 6, 2)).shape == (4, 3)
    with pytest.raises(
        ValueError, match="^Readout: expected a recurrent layer with batch_first=True, got Bare"
    ):
        Readout(Bare(batch_first=False), 3)
    with pytest.raises(TypeError, match="^Readout: expected out_features to be an int, got bool True$"):
        Readout(Bare(), True)


class TwoParts(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
        self.u = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))


def test_a_parameter_a_step_does_not_use_is_left_alone_by_that_step():
    """Its gradient from the step before is cleared to None, so Adam's momentum does not move it."""
    model = TwoParts()
    after = []

    def loss_fn(m, step):
        return m.w.sum() + (m.u.sum() if step == 0 else 0.0)

    fit(
        model,
        loss_fn,
        lambda step: step,
        torch.optim.Adam(model.parameters(), lr=0.1),
        3,
        callback=lambda done, m: after.append(m.u.detach().clone()),
        progress=False,
    )
    torch.testing.assert_close(after[0], torch.full((2,), 0.9, dtype=torch.float64))
    torch.testing.assert_close(after[1], after[0], rtol=0, atol=0)
    torch.testing.assert_close(after[2], after[0], rtol=0, atol=0)
    assert model.u.grad is None
