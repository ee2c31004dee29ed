"""Forecasting: baselines, error measures and a recurrent forecaster (chapter 11).

The baselines read only what a forecaster may know, the past before each origin
(:attr:`companion.data.series.Windows.past`): :func:`naive` repeats the last value,
:func:`seasonal_naive` the value one season earlier, and :class:`LinearAR` is a linear
autoregressive model fitted by least squares. :func:`mae`, :func:`rmse` and :func:`mase` measure
errors; :class:`Forecaster` is a GRU or LSTM from :mod:`companion.nn` with a linear read-out of its
last state (many-to-one), trained by :func:`train_forecaster` through :func:`companion.train.loop.fit`.

Multi-step forecasts come in two kinds. **Recursive**: a one-step model is applied ``h`` times,
each prediction appended to the window as if it had been observed (:func:`recursive`). **Direct**:
one model outputs all ``h`` steps at once from the same window (:class:`LinearAR` or
:class:`Forecaster` with ``horizon=h``), so its errors are not fed back into its inputs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

import companion.nn as cnn
from companion._validate import positive_int
from companion.train import fit

__all__ = [
    "naive",
    "seasonal_naive",
    "LinearAR",
    "recursive",
    "mae",
    "rmse",
    "mase",
    "Forecaster",
    "train_forecaster",
    "predict",
]


def _matrix(where: str, name: str, value) -> np.ndarray:
    """``value`` as float64 of shape (N, L); a trailing feature axis of size 1 is dropped."""
    a = np.asarray(value, dtype=np.float64)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]  # (N, L, 1) -> (N, L)
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{where}: expected {name} of shape (N, L) or (N, L, 1), got {a.shape}")
    return a


def naive(past, horizon: int) -> np.ndarray:
    """The last known value, repeated: :math:`\\hat y_{t+k} = y_{t-1}`.

    Parameters
    ----------
    past : array_like of shape (N, P)
        The values before each origin, oldest first (``Windows.past``).
    horizon : int
        Number h of steps to forecast.

    Returns
    -------
    ndarray of shape (N, h)

    Examples
    --------
    >>> naive([[1.0, 2.0, 3.0]], 2).tolist()
    [[3.0, 3.0]]
    """
    p = _matrix("naive", "past", past)
    h = positive_int("naive", "horizon", horizon)
    return np.repeat(p[:, -1:], h, axis=1)  # (N, h)


def seasonal_naive(past, horizon: int, period: int) -> np.ndarray:
    """The value one season before, :math:`\\hat y_{t+k} = y_{t+k-m\\lceil (k+1)/m \\rceil}`.

    For steps within one period ahead (:math:`k < m`) this is :math:`y_{t+k-m}`, the same month a
    year earlier; beyond, the last observed season repeats.

    Parameters
    ----------
    past : array_like of shape (N, P)
        The values before each origin, oldest first; P >= m.
    horizon : int
        Number h of steps to forecast (k = 0, ..., h - 1).
    period : int
        Season length m (12 for monthly data with a yearly cycle); ``period=1`` is :func:`naive`.

    Returns
    -------
    ndarray of shape (N, h)

    Raises
    ------
    ValueError
        If ``past`` holds fewer than ``period`` values.

    Examples
    --------
    >>> seasonal_naive([[1.0, 2.0, 3.0, 4.0]], 5, period=3).tolist()
    [[2.0, 3.0, 4.0, 2.0, 3.0]]
    """
    p = _matrix("seasonal_naive", "past", past)
    h = positive_int("seasonal_naive", "horizon", horizon)
    m = positive_int("seasonal_naive", "period", period)
    if p.shape[1] < m:
        raise ValueError(f"seasonal_naive: expected past of at least period={m} values, got {p.shape[1]}")
    k = np.arange(h)
    return p[:, k % m - m]  # (N, h): index -m + (k mod m) of the past


class LinearAR:
    """A linear autoregressive model of order p fitted by least squares.

    :math:`\\hat u_{t+k} = c_k + \\sum_{j=1}^{p} a_{kj}\\, u_{t-j}` for k = 0, ..., h - 1: one set of
    coefficients per step ahead (direct multi-step forecasts when h > 1).

    Parameters
    ----------
    order : int
        Number p of past values read (the last p of each window).

    Attributes
    ----------
    coef : ndarray of shape (p, h)
        After :meth:`fit`: row ``j`` multiplies input ``-p + j`` (oldest first, as in the window).
    intercept : ndarray of shape (h,)

    Examples
    --------
    >>> x = np.arange(10.0)
    >>> ar = LinearAR(2).fit(np.stack([x[:-2], x[1:-1]], axis=1), x[2:, None])
    >>> np.round(ar.predict([[10.0, 11.0]]), 6).tolist()
    [[12.0]]
    """

    def __init__(self, order: int) -> None:
        self.order = positive_int("LinearAR", "order", order)
        self.coef: np.ndarray | None = None
        self.intercept: np.ndarray | None = None

    def _design(self, inputs) -> np.ndarray:
        x = _matrix("LinearAR", "inputs", inputs)
        if x.shape[1] < self.order:
            raise ValueError(
                f"LinearAR: expected windows of at least order={self.order} inputs, got {x.shape[1]}"
            )
        return np.hstack([x[:, -self.order :], np.ones((len(x), 1))])  # (N, p + 1)

    def fit(self, inputs, targets) -> LinearAR:
        """Least squares :math:`\\min \\lVert X \\beta - Y \\rVert^2` over the windows.

        Parameters
        ----------
        inputs : array_like of shape (N, L) or (N, L, 1), L >= p
        targets : array_like of shape (N,) or (N, h)

        Returns
        -------
        LinearAR
            ``self``, fitted.

        Raises
        ------
        ValueError
            For shapes that do not match, or fewer windows than coefficients (N < p + 1).
        """
        X = self._design(inputs)
        Y = np.asarray(targets, dtype=np.float64)
        Y = Y[:, None] if Y.ndim == 1 else Y  # (N, h)
        if Y.ndim != 2 or len(Y) != len(X):
            raise ValueError(
                f"LinearAR.fit: expected targets of shape ({len(X)}, h), got {np.shape(targets)}"
            )
        if len(X) < X.shape[1]:
            raise ValueError(f"LinearAR.fit: expected at least p + 1 = {X.shape[1]} windows, got {len(X)}")
        beta, *_ = np.linalg.lstsq(X, Y, rcond=None)  # (p + 1, h)
        self.coef, self.intercept = beta[:-1], beta[-1]
        return self

    def predict(self, inputs) -> np.ndarray:
        """Forecasts of shape (N, h) for windows of shape (N, L) or (N, L, 1)."""
        if self.coef is None:
            raise RuntimeError("LinearAR.predict: call fit first")
        return self._design(inputs) @ np.vstack([self.coef, self.intercept])  # (N, h)


def recursive(step: Callable[[np.ndarray], np.ndarray], inputs, horizon: int) -> np.ndarray:
    """Multi-step forecasts from a one-step model, each prediction fed back as the newest input.

    Parameters
    ----------
    step : callable
        ``step(window)`` with ``window`` of shape (N, L) returns the next value, shape (N,) or (N, 1),
        e.g. ``LinearAR(p).fit(x, y).predict`` or ``lambda w: predict(model, w)``.
    inputs : array_like of shape (N, L) or (N, L, 1)
    horizon : int

    Returns
    -------
    ndarray of shape (N, h)
        :math:`\\hat u_{t+k} = f(u_{t+k-L}, \\dots, u_{t-1}, \\hat u_t, \\dots, \\hat u_{t+k-1})`.

    Examples
    --------
    >>> recursive(lambda w: w[:, -1] + 1, [[0.0, 1.0]], 3).tolist()
    [[2.0, 3.0, 4.0]]
    """
    window = _matrix("recursive", "inputs", inputs)
    h = positive_int("recursive", "horizon", horizon)
    out = np.empty((len(window), h))
    for k in range(h):
        nxt = np.asarray(step(window), dtype=np.float64).reshape(len(window), -1)  # (N, 1)
        if nxt.shape[1] != 1:
            raise ValueError(f"recursive: expected step to return shape (N,) or (N, 1), got {nxt.shape}")
        out[:, k] = nxt[:, 0]
        window = np.concatenate([window[:, 1:], nxt], axis=1)  # (N, L): oldest dropped, forecast added
    return out


def _pair(where: str, y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if a.shape != b.shape or a.size == 0:
        raise ValueError(
            f"{where}: expected y_true and y_pred of the same non-empty shape, got {a.shape} and {b.shape}"
        )
    return a, b


def mae(y_true, y_pred) -> float:
    """Mean absolute error :math:`\\frac{1}{n} \\sum |y - \\hat y|` over all entries."""
    a, b = _pair("mae", y_true, y_pred)
    return float(np.mean(np.abs(a - b)))


def rmse(y_true, y_pred) -> float:
    """Root mean squared error :math:`\\sqrt{\\frac{1}{n} \\sum (y - \\hat y)^2}` over all entries."""
    a, b = _pair("rmse", y_true, y_pred)
    return float(np.sqrt(np.mean((a - b) ** 2)))


def mase(y_true, y_pred, y_train, period: int = 1) -> float:
    """Mean absolute scaled error (Hyndman and Koehler, 2006).

    Parameters
    ----------
    y_true, y_pred : array_like, same shape
        Held-out values and their forecasts (any horizon).
    y_train : array_like of shape (n,)
        The training part of the series, in time order; n > m.
    period : int, default 1
        m: 1 scales by the naive forecast, m > 1 by the seasonal-naive one.

    Returns
    -------
    float
        :math:`\\text{MAE}(y, \\hat y) \\,/\\, \\frac{1}{n-m} \\sum_{t=m}^{n-1} |y_t - y_{t-m}|`: the
        error relative to the in-sample one-step error of the (seasonal-)naive forecast on the
        training part. Below 1: better than that baseline did in training.

    Raises
    ------
    ValueError
        If ``y_train`` is not 1-D with more than m values, or its scale is 0.

    Examples
    --------
    >>> mase([3.0, 5.0], [4.0, 4.0], [0.0, 2.0, 4.0])
    0.5
    """
    a, b = _pair("mase", y_true, y_pred)
    m = positive_int("mase", "period", period)
    train = np.asarray(y_train, dtype=np.float64)
    if train.ndim != 1 or len(train) <= m:
        raise ValueError(f"mase: expected y_train of shape (n,) with n > period={m}, got {train.shape}")
    scale = np.mean(np.abs(train[m:] - train[:-m]))
    if not scale > 0:
        raise ValueError(f"mase: the training part's {m}-step changes are all 0; the scale is undefined")
    return float(np.mean(np.abs(a - b)) / scale)


class Forecaster(nn.Module):
    """A recurrent layer read out from its last state: windows (N, L, D) to forecasts (N, h).

    Parameters
    ----------
    hidden_size : int
        Number of hidden units H.
    horizon : int, default 1
        Number h of steps predicted at once (1: one-step; more: direct multi-step).
    cell : {"gru", "lstm"}, default "gru"
        :class:`companion.nn.layers.GRU` or :class:`companion.nn.layers.LSTM`, batch first.
    input_size : int, default 1
        Number D of features per step.
    num_layers : int, default 1

    Notes
    -----
    :math:`h_L = \\text{RNN}(x_1, \\dots, x_L)`, :math:`\\hat y = W h_L + b \\in \\mathbb{R}^h`.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> Forecaster(8, horizon=3)(torch.zeros(5, 24, 1)).shape
    torch.Size([5, 3])
    """

    def __init__(
        self,
        hidden_size: int,
        horizon: int = 1,
        *,
        cell: str = "gru",
        input_size: int = 1,
        num_layers: int = 1,
    ) -> None:
        super().__init__()
        layers = {"gru": cnn.GRU, "lstm": cnn.LSTM}
        if cell not in layers:
            raise ValueError(f"Forecaster: expected cell in {tuple(layers)}, got {cell!r}")
        self.horizon = positive_int("Forecaster", "horizon", horizon)
        self.input_size = positive_int("Forecaster", "input_size", input_size)
        self.rnn = layers[cell](input_size, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, self.horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Forecast from windows.

        Parameters
        ----------
        x : Tensor of shape (N, L, D)
            N windows of L steps, D = ``input_size`` features per step.

        Returns
        -------
        Tensor of shape (N, h)
            The next h values of each window, in the units of the targets it was trained on.

        Raises
        ------
        ValueError
            If ``x`` is not (N, L, D) with D = ``input_size``.
        """
        if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[2] != self.input_size:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"Forecaster: expected input of shape (N, L, {self.input_size}), got {got}")
        output, _ = self.rnn(x)  # (N, L, H)
        return self.head(output[:, -1])  # (N, h)


def train_forecaster(
    model: nn.Module,
    inputs,
    targets,
    *,
    steps: int,
    lr: float = 1e-2,
    batch_size: int = 64,
    generator: int | torch.Generator = 0,
    progress: bool = False,
):
    """Fit ``model`` to windows by mean squared error with Adam, through :func:`companion.train.loop.fit`.

    Parameters
    ----------
    model : torch.nn.Module
        Maps (N, L, D) to (N, h), e.g. :class:`Forecaster`.
    inputs : ndarray of shape (N, L, D)
    targets : ndarray of shape (N, h)
    steps : int
        Optimizer steps; each draws ``batch_size`` windows at random (all of them when N is smaller).
    lr : float, default 1e-2
        Peak learning rate of a one-cycle schedule.
    batch_size : int, default 64
    generator : int or torch.Generator, default 0
        Seed of the batch draws (the model's initialisation is seeded by the caller).
    progress : bool, default False
        Show a progress bar.

    Returns
    -------
    companion.train.loop.History

    Raises
    ------
    ValueError
        If ``inputs`` and ``targets`` do not hold the same number of windows.
    """
    x = torch.as_tensor(np.asarray(inputs), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(targets), dtype=torch.float32)
    if x.dim() != 3 or y.dim() != 2 or len(x) != len(y):
        raise ValueError(
            "train_forecaster: expected inputs (N, L, D) and targets (N, h), "
            f"got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    if not isinstance(generator, torch.Generator):
        generator = torch.Generator().manual_seed(int(generator))
    n = min(positive_int("train_forecaster", "batch_size", batch_size), len(x))

    def batch(_step: int):
        rows = torch.randperm(len(x), generator=generator)[:n]
        return x[rows], y[rows]

    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.2)
    return fit(
        model,
        lambda m, b: nn.functional.mse_loss(m(b[0]), b[1]),
        batch,
        optimizer,
        steps,
        clip_norm=1.0,
        callback=lambda _step, _m: schedule.step(),
        progress=progress,
        desc="forecaster",
    )


@torch.no_grad()
def predict(model: nn.Module, inputs) -> np.ndarray:
    """The model's forecasts for windows, in evaluation mode, as float64.

    Parameters
    ----------
    model : torch.nn.Module
    inputs : array_like of shape (N, L) or (N, L, 1)

    Returns
    -------
    ndarray of shape (N, h)
    """
    x = torch.as_tensor(np.asarray(inputs), dtype=torch.float32)
    if x.dim() == 2:
        x = x[:, :, None]  # (N, L) -> (N, L, 1)
    was_training = model.training
    model.eval()
    try:
        return model(x).double().numpy()
    finally:
        model.train(was_training)
