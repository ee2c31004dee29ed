"""The training loop of every chapter from chapter 4 on: :func:`fit`, :func:`evaluate`, :func:`to_tensors`.

:func:`fit` runs a fixed number of optimizer steps and returns a :class:`History` of the loss and of
the gradient norm *before* clipping at every step. It clips gradients by value and/or by norm (with
:mod:`companion.train.clipping`), stops early when a target is reached, shows a tqdm progress bar
only where someone can watch it, and never applies an update whose gradient (or loss) is not
finite. Nothing here seeds a random generator: pass seeded data and seed the model's initialisation
yourself.

A model is any ``torch.nn.Module``; what a batch is and how the loss is computed is left to a
``loss_fn(model, batch)`` that returns a scalar tensor. :class:`~companion.train.readout.Readout`
turns a recurrent layer with ``torch.nn``'s forward signature into a sequence-to-vector or
sequence-to-sequence model.

Nothing here moves a tensor between devices: the model, the batches and the optimizer stay where the
caller put them (:func:`to_tensors` takes a ``device``), so the same code trains on a CPU, on a GPU
and under ``torch.nn.parallel.DistributedDataParallel``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from companion._validate import positive_int
from companion.train.clipping import _check_threshold, clip_grad_norm, clip_grad_value, grad_norm

__all__ = ["History", "fit", "evaluate", "to_tensors"]


_NONFINITE = ("raise", "skip")


@dataclass
class History:
    """What :func:`fit` records, one entry per optimizer step attempted.

    Attributes
    ----------
    loss : list of float
        Training loss of each step's batch, computed before that step's update.
    grad_norm : list of float
        Euclidean norm of all gradients together (as if flattened into one vector), measured before
        any clipping; ``inf`` or ``nan`` where the gradient was not finite.
    skipped : list of int
        Steps (0-based) whose update was skipped because the loss or gradient norm was not finite
        (only with ``on_nonfinite="skip"``).
    metric : list of (int, float)
        ``(step, value)`` each time the ``metric`` passed to :func:`fit` was evaluated; ``step`` is the
        number of steps completed at that moment.
    stopped_early : bool
        True if the target was reached before ``steps`` steps.
    """

    loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    metric: list[tuple[int, float]] = field(default_factory=list)
    stopped_early: bool = False

    @property
    def steps(self) -> int:
        """Number of steps attempted (updates applied plus updates skipped)."""
        return len(self.loss)


def _want_progress(progress: bool | None) -> bool:
    if progress is not None:
        return bool(progress)
    return _in_jupyter_kernel() or (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())


def _in_jupyter_kernel() -> bool:
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def _progress_bar(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm  # imported only when a bar is shown

    return tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True)


def _check_fit_args(steps, clip_norm, clip_value, eval_every, on_nonfinite, metric, callback, target) -> None:
    positive_int("fit", "steps", steps)
    positive_int("fit", "eval_every", eval_every)
    for name, value in (("clip_norm", clip_norm), ("clip_value", clip_value)):
        if value is not None:
            _check_threshold("fit", name, value)
    if on_nonfinite not in _NONFINITE:
        raise ValueError(f"fit: expected on_nonfinite in {_NONFINITE}, got {on_nonfinite!r}")
    for name, value in (("metric", metric), ("callback", callback)):
        if value is not None and not callable(value):
            raise TypeError(f"fit: expected {name} to be callable or None, got {type(value).__name__}")
    if target is not None and not (isinstance(target, (int, float)) and math.isfinite(target)):
        raise ValueError(f"fit: expected target to be None or a finite number, got {target!r}")


def _next_batch(batches, source, step: int):
    if source is None:
        return batches(step)
    try:
        return next(source)
    except StopIteration:
        raise ValueError(f"fit: batches ran out after {step} steps; pass at least `steps` batches") from None


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"Tensor of shape {tuple(value.shape)}"
    if isinstance(value, tuple):
        return "(" + ", ".join(_describe(v) for v in value) + ")"
    return type(value).__name__


def _tuple_hint(returned: list) -> str:
    """What to say when the model's forward returned a tuple: empty if it did not."""
    tuples = [out for out in returned if isinstance(out, tuple)]
    if not tuples:
        return ""
    return (
        f"expected the model to return one tensor, got a tuple {_describe(tuples[0])} (torch.nn.RNN, LSTM "
        "and GRU return (output, h_n) or (output, (h_n, c_n))): wrap the layer in "
        "companion.train.Readout(rnn, out_features) for one prediction per sequence (per step with "
        "every_step=True), or take the part you need inside loss_fn"
    )


def _loss(loss_fn, model: nn.Module, batch) -> torch.Tensor:
    returned: list = []  # the model's outputs during this call, for the error messages only
    try:
        handle = model.register_forward_hook(lambda _module, _args, output: returned.append(output))
    except RuntimeError:  # modules that take no hooks (TorchScript): no hint, the same checks
        handle = None
    try:
        loss = loss_fn(model, batch)
    except (TypeError, AttributeError) as error:  # what torch raises when a tuple arrives for a tensor
        hint = _tuple_hint(returned) if "tuple" in str(error) else ""
        if not hint:
            raise
        raise TypeError(f"fit: loss_fn raised {type(error).__name__} ({error}); {hint}") from error
    finally:
        if handle is not None:
            handle.remove()
    if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
        hint = _tuple_hint(returned)
        suffix = f"; {hint}" if hint else ""
        raise ValueError(f"fit: expected loss_fn to return a scalar tensor, got {loss!r:.80}{suffix}")
    return loss


def fit(
    model: nn.Module,
    loss_fn: Callable[[nn.Module, Any], torch.Tensor],
    batches: Callable[[int], Any] | Iterable[Any],
    optimizer: torch.optim.Optimizer,
    steps: int,
    *,
    clip_norm: float | None = None,
    clip_value: float | None = None,
    metric: Callable[[nn.Module], float] | None = None,
    eval_every: int = 100,
    target: float | None = None,
    higher_is_better: bool = False,
    on_nonfinite: str = "raise",
    callback: Callable[[int, nn.Module], None] | None = None,
    progress: bool | None = None,
    desc: str = "fit",
) -> History:
    """Train ``model`` for ``steps`` optimizer steps and record the loss and gradient norm of each.

    Parameters
    ----------
    model : torch.nn.Module
        Put in training mode at the start (and after each evaluation of ``metric``).
    loss_fn : callable ``(model, batch) -> torch.Tensor``
        Returns the scalar loss of one batch, e.g.
        ``lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[1])``.
    batches : callable ``step -> batch``, or iterable of batches
        Either a function called with the step number (0, 1, ...) that returns a batch (handy for
        data generated afresh from a seeded generator), or an iterable that yields at least
        ``steps`` batches (wrap a data loader in ``itertools.cycle`` to reuse it).
    optimizer : torch.optim.Optimizer
        Its parameters are the ones whose gradients are measured and clipped.
    steps : int
        Number of steps to run (fewer if the target is reached).
    clip_norm : float, optional
        Rescale the gradients to this joint norm when they are longer
        (:func:`~companion.train.clipping.clip_grad_norm`).
    clip_value : float, optional
        Clamp each gradient entry to ``[-clip_value, clip_value]``
        (:func:`~companion.train.clipping.clip_grad_value`); applied before ``clip_norm`` when both are
        given.
    metric : callable ``model -> float``, optional
        Evaluated every ``eval_every`` steps and after the last step, e.g. a held-out loss computed
        with :func:`evaluate`. Recorded in ``History.metric``.
    eval_every : int, default 100
    target : float, optional
        Stop as soon as the metric reaches it (``<= target``, or ``>= target`` with
        ``higher_is_better``). Without ``metric`` the target is compared with each step's training
        loss.
    higher_is_better : bool, default False
        Direction of ``target`` (True for accuracies).
    on_nonfinite : {"raise", "skip"}, default "raise"
        What happens when a step's loss or gradient norm is ``inf`` or ``nan``. ``"raise"``: a
        ``FloatingPointError`` naming the step, with no update applied. ``"skip"``: the step's
        loss and norm are recorded, its step number is appended to ``History.skipped``, the
        gradients are discarded and no update is applied; training goes on. Either way, a
        non-finite gradient never reaches the optimizer.
    callback : callable ``(steps_done, model) -> None``, optional
        Called after every step (updated or skipped) with the number of steps completed so far, e.g.
        to measure :func:`companion.diagnostics.analysis.state_gradient_norms` now and then during training.
    progress : bool, optional
        Show a tqdm progress bar (``tqdm.auto``). The default, None, shows one only when stderr is
        a terminal or the code runs in a Jupyter kernel; pass False for silent runs.
    desc : str, default "fit"
        Label of the progress bar.

    Returns
    -------
    History
        Per-step losses and gradient norms (before clipping), skipped steps, metric values and
        whether training stopped early.

    Raises
    ------
    ValueError
        For a non-positive ``steps``, ``eval_every``, ``clip_norm`` or ``clip_value``, an unknown
        ``on_nonfinite``, a loss that is not a scalar tensor, or an iterable that runs out of batches.
    TypeError
        When ``steps`` or ``eval_every`` is not an int, ``metric`` or ``callback`` is not callable, or
        when ``loss_fn`` fails on a tuple that the model returned where a tensor was expected (a bare
        ``torch.nn.LSTM`` returns ``(output, (h_n, c_n))``): the message says so and points to
        :class:`~companion.train.readout.Readout`.
    FloatingPointError
        With ``on_nonfinite="raise"``, at the first step whose loss or gradient norm is not finite.

    Notes
    -----
    One step: zero the gradients, :math:`L = \\text{loss\\_fn}(\\text{model}, \\text{batch})`,
    backpropagate, measure :math:`\\lVert g \\rVert`, clip, ``optimizer.step()``. The recorded norm
    is the one before clipping, so a history shows the explosions that clipping hides from the
    optimizer.

    Devices: ``fit`` moves nothing. The batches must already be on the model's device (e.g.
    ``to_tensors(x, y, device=device)`` in ``batches``); each step reads the loss and the gradient
    norm back to the host as Python floats (on a GPU, two synchronisations per step).

    Several processes (``torch.nn.parallel.DistributedDataParallel``): pass the wrapped model and
    each process's own batches. The gradients are averaged across processes during ``backward``, so
    the gradient norm, the clipping, the non-finite check and the update are the same in every
    process; ``History.loss`` holds each process's own loss. Stopping must agree across processes
    too, or the others wait forever in the next ``backward``: with ``target``, pass a ``metric``
    that returns the same value in every process (e.g. averaged with ``torch.distributed.all_reduce``).

    Examples
    --------
    >>> from companion.data.tasks import sum_task
    >>> from companion.train.readout import Readout
    >>> _ = torch.manual_seed(0)
    >>> model = Readout(torch.nn.RNN(1, 8, batch_first=True), 1)
    >>> rng = np.random.default_rng(0)
    >>> history = fit(model, lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[1]),
    ...               lambda step: to_tensors(*sum_task(32, 5, rng=rng)),
    ...               torch.optim.Adam(model.parameters(), lr=1e-2), steps=20, progress=False)
    >>> history.steps, len(history.grad_norm)
    (20, 20)
    """
    _check_fit_args(steps, clip_norm, clip_value, eval_every, on_nonfinite, metric, callback, target)
    source = None if callable(batches) else iter(batches)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    history = History()
    bar = _progress_bar(steps, desc, _want_progress(progress))
    model.train()
    try:
        for step in range(steps):
            optimizer.zero_grad(set_to_none=True)
            loss = _loss(loss_fn, model, _next_batch(batches, source, step))
            loss.backward()
            value, norm = float(loss.detach()), grad_norm(params)
            history.loss.append(value)
            history.grad_norm.append(norm)
            if not (math.isfinite(value) and math.isfinite(norm)):
                optimizer.zero_grad(set_to_none=True)
                if on_nonfinite == "raise":
                    raise FloatingPointError(
                        f"fit: non-finite loss ({value}) or gradient norm ({norm}) at step {step}; "
                        "no update was applied (on_nonfinite='skip' skips such steps instead)"
                    )
                history.skipped.append(step)
            else:
                if clip_value is not None:
                    clip_grad_value(params, clip_value)
                if clip_norm is not None:
                    clip_grad_norm(params, clip_norm)
                optimizer.step()
            if callback is not None:
                callback(step + 1, model)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{value:.4g}", refresh=False)
            if _reached(step, steps, history, metric, model, eval_every, target, higher_is_better):
                history.stopped_early = step + 1 < steps
                break
    finally:
        if bar is not None:
            bar.close()
    return history


def _reached(step, steps, history, metric, model, eval_every, target, higher_is_better) -> bool:
    if metric is not None:
        if (step + 1) % eval_every != 0 and step + 1 != steps:
            return False
        value = float(metric(model))
        model.train()
        history.metric.append((step + 1, value))
    else:
        value = history.loss[-1]
    if target is None or not math.isfinite(value):
        return False
    return value >= target if higher_is_better else value <= target


def _batch_size(batch) -> int:
    first = batch[0] if isinstance(batch, (tuple, list)) else batch
    return int(first.shape[0]) if hasattr(first, "shape") and len(first.shape) > 0 else 1


@torch.no_grad()
def evaluate(
    model: nn.Module,
    metric_fn: Callable[[nn.Module, Any], torch.Tensor | float],
    batches: Iterable[Any],
) -> float:
    """Average a per-batch metric over batches, in evaluation mode and without gradients.

    Parameters
    ----------
    model : torch.nn.Module
        Switched to ``eval()`` for the evaluation and back to its previous mode afterwards.
    metric_fn : callable ``(model, batch) -> scalar``
        The batch's mean metric (a loss, an accuracy ...), as a 0-d tensor or a float.
    batches : iterable of batches
        E.g. ``[to_tensors(x_test, y_test)]`` for one large held-out batch.

    Returns
    -------
    float
        :math:`\\sum_b n_b m_b / \\sum_b n_b`, the batch means weighted by the batch sizes
        :math:`n_b` (the length of a batch's first tensor, or of the batch itself if it is a tensor).

    Raises
    ------
    ValueError
        If ``batches`` is empty.

    Examples
    --------
    >>> model = torch.nn.Linear(2, 1)
    >>> batch = (torch.zeros(4, 2), torch.zeros(4, 1))
    >>> mse = evaluate(model, lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[1]), [batch])
    >>> mse == float(model.bias.detach() ** 2)
    True
    """
    was_training = model.training
    model.eval()
    try:
        total, count = 0.0, 0
        for batch in batches:
            n = _batch_size(batch)
            total += n * float(metric_fn(model, batch))
            count += n
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("evaluate: expected at least one batch, got none")
    return total / count


def to_tensors(
    *arrays: np.ndarray, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> tuple[torch.Tensor, ...]:
    """Convert numpy arrays (such as a task generator's ``x, y``) to torch tensors.

    Parameters
    ----------
    *arrays : ndarray
        Floating-point arrays become ``dtype``; integer arrays (class indices) become int64.
    dtype : torch.dtype, default torch.float32
    device : torch.device or str, optional
        Where the tensors are put (e.g. ``"cuda"``); the default keeps them on the CPU, sharing
        memory with the arrays where the dtype allows.

    Returns
    -------
    tuple of torch.Tensor
        In the order given, same shapes.

    Raises
    ------
    TypeError
        If an argument is not a numpy array of floating-point or integer dtype.

    Examples
    --------
    >>> from companion.data.tasks import copy_task
    >>> x, y = to_tensors(*copy_task(2, 3, 4, rng=0))
    >>> x.dtype, y.dtype
    (torch.float32, torch.int64)
    """
    out = []
    for i, a in enumerate(arrays):
        if not isinstance(a, np.ndarray):
            raise TypeError(
                f"to_tensors: expected argument {i} to be a numpy.ndarray, got {type(a).__name__}"
            )
        if np.issubdtype(a.dtype, np.floating):
            out.append(torch.from_numpy(a).to(device=device, dtype=dtype))
        elif np.issubdtype(a.dtype, np.integer):
            out.append(torch.from_numpy(a).to(device=device, dtype=torch.int64))
        else:
            raise TypeError(f"to_tensors: expected argument {i} to be float or int, got dtype {a.dtype}")
    return tuple(out)
