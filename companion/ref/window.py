"""The feed-forward alternative to recurrence: a model that sees a fixed window of the past (chapter 1).

A window model predicts ``y[:, t]`` from ``x[:, t-w+1 : t+1]`` only. Whatever lies further back is
invisible to it, whatever its architecture; here it is linear and fitted by least squares, which is
the best any linear window model can do.
"""

from __future__ import annotations

import numpy as np

from companion._validate import Dims

__all__ = ["window_features", "fit_window_model"]


def window_features(x, width: int):
    """Stack the last ``width`` inputs at every time step (zeros before the sequence starts).

    Parameters
    ----------
    x : ndarray of shape (N, T, D)
    width : int
        Window length w >= 1.

    Returns
    -------
    ndarray of shape (N, T, w * D)
        Row ``[n, t]`` is ``x[n, t-w+1], ..., x[n, t]`` flattened, oldest first.
    """
    Dims("window_features").check("x", x, "N T D")
    N, T, D = x.shape
    if not isinstance(width, (int, np.integer)) or width < 1:
        raise ValueError(f"window_features: expected width to be a positive int, got {width!r}")
    padded = np.concatenate([np.zeros((N, width - 1, D), dtype=x.dtype), x], axis=1)  # (N, T+w-1, D)
    cols = [padded[:, k : k + T] for k in range(width)]  # w arrays of (N, T, D)
    return np.concatenate(cols, axis=2)  # (N, T, w*D)


def fit_window_model(x, y, width: int):
    """Least-squares linear model from a window of ``width`` inputs to the target at each step.

    Parameters
    ----------
    x : ndarray of shape (N, T, D)
    y : ndarray of shape (N, T, K)
    width : int

    Returns
    -------
    mse : float
        Mean squared error of the fitted model on ``(x, y)``.
    n_params : int
        Number of weights, ``(w * D + 1) * K``: it grows with the window.
    """
    dims = Dims("fit_window_model")
    dims.check("x", x, "N T D")
    dims.check("y", y, "N T K")
    feats = window_features(x, width).reshape(-1, width * dims["D"])  # (N*T, w*D)
    feats = np.concatenate([feats, np.ones((feats.shape[0], 1))], axis=1)  # (N*T, w*D+1)
    target = y.reshape(-1, dims["K"])  # (N*T, K)
    coef, *_ = np.linalg.lstsq(feats, target, rcond=None)  # (w*D+1, K)
    mse = float(np.mean((feats @ coef - target) ** 2))
    return mse, int(coef.size)
