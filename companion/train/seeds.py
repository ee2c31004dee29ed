"""Independent training runs side by side: K seeds of one small model (chapters 4–6).

A claim about training ("the LSTM learns the adding problem at T = 100, the vanilla RNN does not") holds
only if it holds for other seeds too. :class:`SeedBatch` holds K copies of a small task model — a
:mod:`companion.nn` recurrent layer and a linear read-out, as :class:`companion.train.readout.Readout` —
each initialised exactly as the single model built with its seed, with every parameter stacked along a
leading seed dimension of size K (``torch.func.stack_module_state``). Its forward pass gives the stacked
parameters to the layers' own fast path (:mod:`companion.nn.fused`, through the kind's entry in
:data:`companion.nn.kinds.KINDS`), which runs the K recurrences side by side, one batched matrix
product (``torch.bmm``) and one element-wise operation per gate for all of them at every step, with
the backpropagation through time of chapters 3, 5 and 6; this module adds no recurrence of its own. On
a CPU small recurrent models pay a fixed overhead for each of the many small operations of a step,
which the K models then share: at the sizes of chapters 5 and 6 (N = 50, T = 100, H of 32 to 64, one
thread) five seeds cost three to four times one, not five.

:func:`fit_seeds` trains them with one optimizer step per step: element-wise optimizers (SGD, Adam)
treat each seed's entries separately, gradient clipping is applied per seed, and every seed reads its
own batches. Seed k of the run is therefore the run of the single model with the same initial weights
and data, up to float rounding (the tests check it: a batched product sums in another order than a
single model's), and :meth:`SeedBatch.single` returns it as an ordinary
:class:`~companion.train.readout.Readout` around a ``torch.nn`` layer for analysis.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import stack_module_state

from companion._validate import positive_int
from companion.nn import layers
from companion.nn.kinds import KINDS, Kind
from companion.train.readout import Readout

__all__ = ["SeedBatch", "SeedHistory", "fit_seeds", "per_seed_mse", "stack_seeds", "summarise"]

#: The stacked parameters' names, each with the name of the parameter of one Readout it stacks.
_NAMES = {
    "weight_ih": "rnn.weight_ih_l0",
    "weight_hh": "rnn.weight_hh_l0",
    "bias_ih": "rnn.bias_ih_l0",
    "bias_hh": "rnn.bias_hh_l0",
    "head_weight": "head.weight",
    "head_bias": "head.bias",
}


def _kind(mode, nonlinearity) -> Kind:
    """The recurrence kind of ``SeedBatch(mode, nonlinearity=...)``."""
    if mode not in ("RNN", "LSTM", "GRU"):
        raise ValueError(f"SeedBatch: expected mode 'RNN', 'LSTM' or 'GRU', got {mode!r}")
    if nonlinearity not in ("tanh", "relu") or (nonlinearity == "relu" and mode != "RNN"):
        raise ValueError(
            f"SeedBatch: expected nonlinearity 'tanh' (or 'relu' for an RNN), got {nonlinearity!r}"
        )
    return KINDS[f"RNN_{nonlinearity.upper()}" if mode == "RNN" else mode]


def _seeds(seeds) -> list[int]:
    seeds = list(seeds)
    if not seeds:
        raise ValueError("SeedBatch: expected at least one seed, got none")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TypeError(
                f"SeedBatch: expected every seed to be an int, got {type(seed).__name__} {seed!r}"
            )
    return [int(seed) for seed in seeds]


class SeedBatch(nn.Module):
    """K independently initialised task models — recurrent layer and linear read-out — trained as one.

    Parameters
    ----------
    mode : {"RNN", "LSTM", "GRU"}
        The recurrent layer (tanh for "RNN"; gate orders as ``torch.nn``: i, f, g, o and r, z, n).
    input_size, hidden_size, output_size : int
        D, H and O of each model.
    seeds : sequence of int
        One seed per model, K in all. Model k's parameters are those of
        ``Readout(companion.nn.<mode>(D, H, batch_first=True), O)`` built after
        ``torch.manual_seed(seeds[k])``.
    every_step : bool, default False
        Predict from the last output (many-to-one) or at every step.
    forget_bias : float, default 0.0
        LSTM only: added to the forget-gate block of ``bias_ih``, as in :class:`companion.nn.layers.LSTM`.
    nonlinearity : {"tanh", "relu"}, default "tanh"
        RNN only: the activation of the vanilla recurrence.

    Attributes
    ----------
    weight_ih : Parameter of shape (K, G·H, D)
    weight_hh : Parameter of shape (K, G·H, H)
    bias_ih, bias_hh : Parameter of shape (K, G·H)
    head_weight : Parameter of shape (K, O, H)
    head_bias : Parameter of shape (K, O)
        G = ``kind.gates`` gate blocks (1 for RNN, 3 for GRU, 4 for LSTM). Each slice ``[k]`` is model
        k's parameter, in the order of ``Readout.parameters()``.
    kind : companion.nn.kinds.Kind
        The layer's entry in :data:`companion.nn.kinds.KINDS` (``"RNN_TANH"``, ``"RNN_RELU"``, ``"LSTM"``
        or ``"GRU"``).

    Raises
    ------
    ValueError
        For an unknown ``mode`` or ``nonlinearity``, a ``forget_bias`` on a layer other than the LSTM, no
        seeds, or a size below 1.
    TypeError
        For a size or a seed that is not an int.

    Examples
    --------
    >>> models = SeedBatch("GRU", 2, 8, 1, seeds=range(3))
    >>> models(torch.zeros(3, 4, 10, 2)).shape  # (K, N, T, D) -> (K, N, O)
    torch.Size([3, 4, 1])
    """

    def __init__(
        self,
        mode,
        input_size,
        hidden_size,
        output_size,
        seeds,
        *,
        every_step=False,
        forget_bias=0.0,
        nonlinearity="tanh",
    ):
        super().__init__()
        self.kind = _kind(mode, nonlinearity)
        self.seeds = _seeds(seeds)
        sizes = {"input_size": input_size, "hidden_size": hidden_size, "output_size": output_size}
        D, H, O = (positive_int("SeedBatch", name, value) for name, value in sizes.items())
        if forget_bias and mode != "LSTM":
            raise ValueError(f"SeedBatch: forget_bias applies to an LSTM only, got mode {mode!r}")
        options = {"forget_bias": forget_bias} if mode == "LSTM" else {}
        options.update({"nonlinearity": nonlinearity} if mode == "RNN" else {})
        singles = []
        for seed in self.seeds:
            torch.manual_seed(seed)
            layer = getattr(layers, mode)(D, H, batch_first=True, **options)
            singles.append(Readout(layer, O, every_step=every_step))
        stacked, _ = stack_module_state(singles)  # {"rnn.weight_ih_l0": (K, G·H, D), ...}
        for name, single_name in _NAMES.items():
            self.register_parameter(name, nn.Parameter(stacked[single_name].detach()))
        self.mode, self.every_step, self.nonlinearity = mode, every_step, nonlinearity
        self.input_size, self.hidden_size, self.output_size = D, H, O

    @property
    def num_seeds(self) -> int:
        """K, the number of models."""
        return len(self.seeds)

    def _per_seed(self) -> list[dict[str, Tensor]]:
        """Seed k's parameters, as views of the stacked ones, keyed by the Readout's own names."""
        slices = zip(*(p.unbind(0) for p in self.parameters()), strict=True)  # K x 6 views
        return [dict(zip(_NAMES.values(), values, strict=True)) for values in slices]

    def forward(self, x: Tensor, *, states: bool = False) -> Tensor:
        """Predict with every model from its own batch.

        Parameters
        ----------
        x : Tensor of shape (K, N, T, D)
            Batch k goes to model k.
        states : bool, default False
            Return the hidden states (K, N, T, H) instead of the predictions.

        Returns
        -------
        Tensor of shape (K, N, O), or (K, N, T, O) with ``every_step=True``

        Raises
        ------
        TypeError
            If ``x`` is not a tensor.
        ValueError
            If ``x`` is not of shape (K, N, T, D).
        """
        K, D = self.num_seeds, self.input_size
        if not isinstance(x, Tensor):
            raise TypeError(f"SeedBatch: expected input to be a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 4 or x.shape[0] != K or x.shape[3] != D:
            raise ValueError(f"SeedBatch: expected input of shape ({K}, N, T, {D}), got {tuple(x.shape)}")
        h0 = x.new_zeros(K, x.shape[1], self.hidden_size)  # (K, N, H)
        params = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        xt = x.permute(2, 0, 1, 3)  # (T, K, N, D), time first
        out, _ = self.kind.fused(xt, (h0,) * self.kind.states, params, mask=None, reverse=False)
        if states:
            return out.permute(1, 2, 0, 3)  # (T, K, N, H) -> (K, N, T, H)
        w_o, b_o = self.head_weight.mT, self.head_bias[:, None]  # (K, H, O), (K, 1, O)
        if not self.every_step:
            return torch.baddbmm(b_o, out[-1], w_o)  # (K, N, O)
        return (torch.matmul(out, w_o) + b_o).permute(1, 2, 0, 3)  # (T, K, N, O) -> (K, N, T, O)

    def single(self, k: int) -> nn.Module:
        """Model k with its current weights, as a model of its own.

        Parameters
        ----------
        k : int
            The model's position in ``seeds``, 0 <= k < K.

        Returns
        -------
        Readout
            A :class:`~companion.train.readout.Readout` around a ``torch.nn`` layer, with copies of the
            weights.
        """
        if isinstance(k, bool) or not isinstance(k, numbers.Integral):
            raise TypeError(f"SeedBatch.single: expected k to be an int, got {type(k).__name__} {k!r}")
        if not 0 <= k < self.num_seeds:
            raise ValueError(f"SeedBatch.single: expected 0 <= k < {self.num_seeds}, got {k}")
        options = {"nonlinearity": self.nonlinearity} if self.mode == "RNN" else {}
        layer = getattr(torch.nn, self.mode)(self.input_size, self.hidden_size, batch_first=True, **options)
        model = Readout(layer, self.output_size, every_step=self.every_step)
        model.load_state_dict({name: p.detach() for name, p in self._per_seed()[int(k)].items()})
        return model


@dataclass
class SeedHistory:
    """What :func:`fit_seeds` records.

    Attributes
    ----------
    loss, grad_norm : list of ndarray of shape (K,)
        Each step's training loss and gradient norm (before clipping), per seed.
    eval_steps : list of int
        Steps after which the metric was evaluated.
    metric : list of ndarray of shape (K,)
        The metric at each of ``eval_steps``.
    reached : ndarray of shape (K,)
        The first evaluated step at which each seed met the target; NaN where it never did.
    skipped : list of (step, seed)
        Updates withheld because a seed's loss or gradient was not finite.
    """

    loss: list = field(default_factory=list)
    grad_norm: list = field(default_factory=list)
    eval_steps: list = field(default_factory=list)
    metric: list = field(default_factory=list)
    reached: np.ndarray | None = None
    skipped: list = field(default_factory=list)

    @property
    def steps(self) -> int:
        """Number of steps run."""
        return len(self.loss)


def _check_fit(model, steps, eval_every, clip_norm) -> tuple[int, int]:
    if not isinstance(model, SeedBatch):
        raise TypeError(f"fit_seeds: expected model to be a SeedBatch, got {type(model).__name__}")
    if clip_norm is not None:
        if isinstance(clip_norm, bool) or not isinstance(clip_norm, numbers.Real):
            raise TypeError(f"fit_seeds: expected clip_norm to be a number, got {type(clip_norm).__name__}")
        if not clip_norm > 0:
            raise ValueError(f"fit_seeds: expected clip_norm > 0, got {clip_norm}")
    return positive_int("fit_seeds", "steps", steps), positive_int("fit_seeds", "eval_every", eval_every)


def _seed_norms(params: list[Tensor], K: int) -> Tensor:
    """Each seed's gradient norm over all its parameters, in float64: (K,)."""
    return torch.sqrt(sum(p.grad.reshape(K, -1).double().pow(2).sum(1) for p in params))


def fit_seeds(
    model: SeedBatch,
    loss_fn: Callable[[Tensor, object], Tensor],
    batches: Callable[[int], tuple],
    optimizer: torch.optim.Optimizer,
    steps: int,
    *,
    clip_norm: float | None = None,
    metric: Callable[[SeedBatch], np.ndarray] | None = None,
    eval_every: int = 100,
    target: float | None = None,
    higher_is_better: bool = False,
    callback: Callable[[int, SeedBatch], None] | None = None,
) -> SeedHistory:
    """Train the K models of a :class:`SeedBatch` side by side, each as
    :func:`~companion.train.loop.fit` would.

    Parameters
    ----------
    model : SeedBatch
    loss_fn : callable ``(prediction, target) -> Tensor of shape (K,)``
        Each model's loss on its own batch; their sum is backpropagated, so model k receives the
        gradient of its own loss only.
    batches : callable ``step -> (x, y)``
        ``x`` of shape (K, N, T, D), ``y`` with a leading K: batch k for model k.
    optimizer : torch.optim.Optimizer
        An element-wise optimizer (SGD without weight coupling, Adam, ...) over ``model.parameters()``.
    steps : int
        At most this many steps; fewer when every seed has met ``target``.
    clip_norm : float, optional
        Clip each model's gradient to this norm, separately.
    metric : callable ``model -> array of shape (K,)``, optional
        Evaluated every ``eval_every`` steps and after the last.
    eval_every : int, default 100
    target : float, optional
        Stop once every seed's metric has met it (``<=``, or ``>=`` with ``higher_is_better``).
    higher_is_better : bool, default False
    callback : callable ``(steps_done, model) -> None``, optional
        Called after every step.

    Returns
    -------
    SeedHistory

    Raises
    ------
    TypeError
        If ``model`` is not a SeedBatch, ``steps`` or ``eval_every`` not an int or ``clip_norm`` not a
        number.
    ValueError
        For ``steps`` or ``eval_every`` below 1, a ``clip_norm`` that is not positive, or a loss of the
        wrong shape.

    Notes
    -----
    A seed whose loss or gradient norm is not finite gets no update at that step (its gradient is
    zeroed; with plain SGD or Adam at that step its weights then move only by Adam's momentum) and the
    step is listed in ``skipped``.
    """
    steps, eval_every = _check_fit(model, steps, eval_every, clip_norm)
    K = model.num_seeds
    params = list(model.parameters())
    history = SeedHistory(reached=np.full(K, np.nan))
    for step in range(steps):
        optimizer.zero_grad(set_to_none=True)
        x, y = batches(step)
        losses = loss_fn(model(x), y)
        if losses.shape != (K,):
            raise ValueError(f"fit_seeds: expected loss_fn to return shape ({K},), got {tuple(losses.shape)}")
        losses.sum().backward()
        norms, values = _seed_norms(params, K), losses.detach().double()  # (K,) each
        bad = ~(torch.isfinite(values) & torch.isfinite(norms))
        scale = torch.where(bad, 0.0, 1.0)
        if clip_norm is not None:
            scale = torch.where(norms > clip_norm, scale * clip_norm / norms, scale)
        for p in params:
            p.grad.mul_(scale.to(p.dtype).reshape(K, *[1] * (p.dim() - 1)).nan_to_num_(0.0))
            p.grad.nan_to_num_(0.0, 0.0, 0.0)
        optimizer.step()
        history.loss.append(values.numpy())
        history.grad_norm.append(norms.numpy())
        history.skipped += [(step, int(k)) for k in torch.nonzero(bad).flatten()]
        if callback is not None:
            callback(step + 1, model)
        if metric is not None and ((step + 1) % eval_every == 0 or step + 1 == steps):
            with torch.no_grad():
                value = np.asarray(metric(model), dtype=np.float64)
            history.eval_steps.append(step + 1)
            history.metric.append(value)
            if target is not None:
                met = value >= target if higher_is_better else value <= target
                history.reached[met & np.isnan(history.reached)] = step + 1
                if not np.isnan(history.reached).any():
                    break
    return history


def summarise(reached: np.ndarray, budget: int) -> dict:
    """Success rate and steps to target over seeds, as a chapter's table reports them.

    Parameters
    ----------
    reached : ndarray of shape (K,)
        Steps to target per seed, NaN where not reached (``SeedHistory.reached``).
    budget : int
        The step budget.

    Returns
    -------
    dict
        ``successes`` (int), ``seeds`` (K), and over the seeds that succeeded ``median``, ``low``
        and ``high`` steps (NaN when none did).
    """
    reached = np.asarray(reached, dtype=np.float64)
    ok = reached[~np.isnan(reached)]
    if ok.size:
        median, low, high = float(np.median(ok)), float(ok.min()), float(ok.max())
    else:
        median = low = high = math.nan
    return {
        "successes": int(ok.size),
        "seeds": int(reached.size),
        "median": median,
        "low": low,
        "high": high,
        "budget": budget,
    }


def stack_seeds(pairs) -> tuple[Tensor, Tensor]:
    """One batch per seed, ``[(x_0, y_0), ..., (x_{K-1}, y_{K-1})]``, as tensors with a leading seed axis.

    Parameters
    ----------
    pairs : sequence of (Tensor, Tensor)
        Seed k's inputs (N, T, D) and targets; every seed's of the same shapes.

    Returns
    -------
    x : Tensor of shape (K, N, T, D)
    y : Tensor of shape (K, ...)
    """
    pairs = list(pairs)
    if not pairs:
        raise ValueError("stack_seeds: expected one (x, y) pair per seed, got none")
    return torch.stack([x for x, _ in pairs]), torch.stack([y for _, y in pairs])


def per_seed_mse(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean squared error of each seed's model on its own batch.

    Parameters
    ----------
    prediction, target : Tensor of shape (K, ...)
        The same shape, seed first.

    Returns
    -------
    Tensor of shape (K,)
    """
    if prediction.shape != target.shape:
        raise ValueError(
            f"per_seed_mse: expected target of the prediction's shape {tuple(prediction.shape)}, "
            f"got {tuple(target.shape)}"
        )
    return ((prediction - target) ** 2).flatten(1).mean(dim=1)
