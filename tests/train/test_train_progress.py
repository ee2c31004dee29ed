"""What companion.train.loop.fit shows its user: the progress bar as a terminal shows it (the label, steps
done out of the total, the last loss, one redraw per step, the width following the terminal, no bar
left behind), and the message that points from a bare recurrent layer's tuple to Readout."""

import contextlib
import io
import os
import re

import pytest
import torch
import tqdm.auto

from companion.train import fit


class Terminal(io.StringIO):
    """A terminal on stderr whose width the test changes; it records what is written to it."""

    def __init__(self, columns):
        super().__init__()
        self.columns = columns

    def isatty(self):
        return True

    def fileno(self):
        return 2

    def size(self, fd=None):
        return os.terminal_size((self.columns, 24))


class EveryUpdate(tqdm.auto.tqdm):
    """tqdm as ``fit`` creates it, redrawn at every update (no minimum interval), so each step shows."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, mininterval=0, **kwargs)


@pytest.fixture
def terminal(monkeypatch):
    screen = Terminal(columns=80)  # becomes stderr inside run() (pytest resets sys.stderr before a test)
    monkeypatch.setattr(os, "get_terminal_size", screen.size)
    monkeypatch.setattr(tqdm.auto, "tqdm", EveryUpdate)
    monkeypatch.setattr(EveryUpdate, "monitor_interval", 0)  # no monitor thread
    return screen


class Scalar(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(1.0, dtype=torch.float64))


def square_loss(model, batch):
    return (model.w * batch) ** 2


def run(screen, steps, callback=None, **options):
    model = Scalar()
    with contextlib.redirect_stderr(screen):
        return fit(
            model,
            square_loss,
            lambda step: torch.tensor(1.0 + step, dtype=torch.float64),
            torch.optim.SGD(model.parameters(), lr=0.01),
            steps,
            callback=callback,
            progress=True,
            **options,
        )


def redraws(text):
    """Each drawing of the bar (tqdm starts each one with a carriage return), blank ones left out."""
    return [line for line in text.split("\r") if line.strip()]


def test_the_bar_counts_steps_out_of_the_total_under_its_label(terminal):
    history = run(terminal, 4)
    lines = redraws(terminal.getvalue())
    assert [re.search(r"\| (\d+)/(\d+) \[", line).groups() for line in lines] == [
        (str(k), "4") for k in range(5)
    ]  # one redraw when created, one per step: the loss is updated without a redraw of its own
    assert all(line.startswith("fit: ") for line in lines)
    shown = [re.search(r"loss=(\S+)\]", line) for line in lines]
    assert shown[:2] == [None, None]
    assert [m.group(1) for m in shown[2:]] == [f"{value:.4g}" for value in history.loss[:3]]


def test_the_bar_takes_the_label_it_is_given(terminal):
    run(terminal, 2, desc="chapter 4")
    assert all(line.startswith("chapter 4: ") for line in redraws(terminal.getvalue()))


def test_no_bar_is_left_behind_when_training_ends(terminal):
    run(terminal, 3)
    text = terminal.getvalue()
    assert "\n" not in text  # a bar left on screen ends with a new line
    assert text.endswith("\r") and not text.rsplit("\r", 2)[-2].strip()  # the last drawing is blank


def test_the_bar_follows_the_terminal_width(terminal):
    def narrow(steps_done, model):
        terminal.columns = 40

    run(terminal, 3, callback=narrow)
    widths = [len(line.rstrip()) for line in redraws(terminal.getvalue())]  # (padding erases a longer line)
    assert len(widths) == 4 and widths[0] == 79  # the full width, one column left free
    assert all(width <= 39 for width in widths[1:])  # narrowed during the first step


def lstm_fit(loss_fn, model=None):
    torch.manual_seed(0)
    model = torch.nn.LSTM(2, 4, batch_first=True) if model is None else model
    x, y = torch.zeros(3, 5, 2), torch.zeros(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    fit(model, loss_fn, lambda step: (x, y), optimizer, 2, progress=False)
    return model


HINT = (
    "expected the model to return one tensor, got a tuple (Tensor of shape (3, 5, 4), (Tensor of shape "
    "(1, 3, 4), Tensor of shape (1, 3, 4))) (torch.nn.RNN, LSTM and GRU return (output, h_n) or "
    "(output, (h_n, c_n))): wrap the layer in companion.train.Readout(rnn, out_features) for one "
    "prediction per sequence (per step with every_step=True), or take the part you need inside loss_fn"
)


def test_a_bare_layer_s_tuple_is_named_with_the_way_out():
    def mse(model, batch):
        return torch.nn.functional.mse_loss(model(batch[0]), batch[1])

    with pytest.raises(TypeError) as caught:
        lstm_fit(mse)
    cause = caught.value.__cause__
    assert type(cause) in (TypeError, AttributeError) and "tuple" in str(cause)
    assert str(caught.value) == f"fit: loss_fn raised {type(cause).__name__} ({cause}); {HINT}"
    with pytest.raises(ValueError) as caught:
        lstm_fit(lambda m, b: m(b[0]))
    message = str(caught.value)
    assert message.startswith("fit: expected loss_fn to return a scalar tensor, got (tensor(")
    assert message.endswith(f"; {HINT}")


def test_errors_that_are_not_about_the_tuple_pass_through_unchanged():
    def fails(model, batch):
        model(batch[0])
        raise TypeError("a mistake of the loss function")

    with pytest.raises(TypeError, match="^a mistake of the loss function$"):
        lstm_fit(fails)

    def fails_on_a_tuple(model, batch):
        raise AttributeError("'tuple' object has no attribute 'size', before the model ran")

    with pytest.raises(
        AttributeError, match="^'tuple' object has no attribute 'size', before the model ran$"
    ):
        lstm_fit(fails_on_a_tuple)

    with pytest.raises(ValueError) as caught:
        lstm_fit(lambda m, b: m(b[0]), torch.nn.Linear(2, 1))  # not a scalar, and no tuple in sight
    assert caught.value.args[0].startswith("fit: expected loss_fn to return a scalar tensor, got tensor(")
    assert ";" not in caught.value.args[0]


def test_fit_removes_its_forward_hook():
    model = lstm_fit(lambda m, b: m(b[0])[0].sum())
    assert not model._forward_hooks


class Pair(torch.nn.Module):
    """Returns its input's projection together with an int: what a model with extra outputs does."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, x):
        return self.linear(x), 7


def test_the_tuple_is_described_part_by_part():
    with pytest.raises(TypeError, match=r"got a tuple \(Tensor of shape \(3, 5, 1\), int\) \(torch\.nn\.RNN"):
        lstm_fit(lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[1]), Pair())


def test_a_loss_that_is_not_a_tensor_is_named_without_a_hint():
    with pytest.raises(ValueError, match="^fit: expected loss_fn to return a scalar tensor, got 0.5$"):
        lstm_fit(lambda m, b: (m(b[0]), 0.5)[1], torch.nn.Linear(2, 1))


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
def test_a_module_that_takes_no_hooks_still_trains():
    torch.manual_seed(0)
    model = torch.jit.script(torch.nn.Linear(2, 1))
    x, y = torch.randn(8, 2), torch.randn(8, 1)
    h = fit(
        model,
        lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[1]),
        lambda step: (x, y),
        torch.optim.SGD(model.parameters(), lr=0.1),
        3,
        progress=False,
    )
    assert h.steps == 3 and h.loss[2] < h.loss[0]
