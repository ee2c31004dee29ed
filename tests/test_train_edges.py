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
from companion import train
from companion.train import Readout, fit


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


def test_a_finite_loss_with_a_non_finite_gradient_is_never_applied():
    model = Linear1()
    with pytest.raises(
        FloatingPointError, match=r"non-finite loss \(-0.2\) or gradient norm \(inf\) at step 1"
    ):
        fit(
            model, blows_up_at_step_1, BATCHES, torch.optim.SGD(model.parameters(), lr=0.1), 3, progress=False
        )
    np.testing.assert_allclose(model.w.detach().numpy(), [-0.1, -0.1])
    model = Linear1()
    h = fit(
        model,
        blows_up_at_step_1,
        BATCHES,
        torch.optim.SGD(model.parameters(), lr=0.1),
        3,
        on_nonfinite="skip",
        progress=False,
    )
    assert h.skipped == [1] and h.loss[1] == pytest.approx(-0.2) and h.grad_norm[1] == float("inf")
    np.testing.assert_allclose(model.w.detach().numpy(), [-0.2, -0.2])


def test_a_target_met_on_the_last_step_is_not_an_early_stop():
    model = Linear1()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    h = fit(model, linear_loss, ones, opt, 6, target=-1.0, progress=False)  # loss_k = -0.2 k: met at k = 5
    assert h.steps == 6 and h.loss[-1] == pytest.approx(-1.0) and not h.stopped_early
    h = fit(Linear1(), linear_loss, ones, torch.optim.SGD(Linear1().parameters(), lr=0.1), 6, progress=False)
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
    fit(
        model,
        loss_fn,
        ones,
        torch.optim.SGD(model.parameters(), lr=0.1),
        4,
        metric=metric,
        eval_every=1,
        progress=False,
    )
    assert modes == [True] * 4 and model.training


@pytest.mark.parametrize(
    "value, higher", [(float("-inf"), False), (float("inf"), True), (float("nan"), False)]
)
def test_a_metric_that_is_not_finite_never_meets_the_target(value, higher):
    model = Linear1()
    h = fit(
        model,
        linear_loss,
        ones,
        torch.optim.SGD(model.parameters(), lr=0.1),
        5,
        metric=lambda m: value,
        eval_every=2,
        target=0.0,
        higher_is_better=higher,
        progress=False,
    )
    assert h.steps == 5 and not h.stopped_early and [s for s, _ in h.metric] == [2, 4, 5]


def test_a_training_loss_that_is_not_finite_never_meets_the_target():
    model = Linear1()
    batches = [torch.tensor([-float("inf"), 0.0], dtype=torch.float64)] + [
        torch.ones(2, dtype=torch.float64)
    ] * 3
    with torch.no_grad():
        model.w.fill_(1.0)
    h = fit(
        model,
        linear_loss,
        batches,
        torch.optim.SGD(model.parameters(), lr=0.1),
        4,
        target=0.0,
        on_nonfinite="skip",
        progress=False,
    )
    assert h.skipped == [0] and h.steps == 4 and not h.stopped_early


@pytest.mark.parametrize("name", ["clip_norm", "clip_value"])
def test_infinite_clipping_thresholds_are_refused_before_training(name):
    model = Linear1()
    with pytest.raises(ValueError, match=f"fit: expected {name} to be None or a positive number, got inf"):
        fit(
            model,
            linear_loss,
            ones,
            torch.optim.SGD(model.parameters(), lr=0.1),
            2,
            progress=False,
            **{name: float("inf")},
        )
    assert not model.w.detach().any()


def test_the_metric_is_evaluated_every_100_steps_by_default():
    model = Linear1()
    h = fit(
        model,
        linear_loss,
        ones,
        torch.optim.SGD(model.parameters(), lr=1e-3),
        250,
        metric=lambda m: 1.0,
        progress=False,
    )
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
