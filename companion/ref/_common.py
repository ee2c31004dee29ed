"""Conversion between the numpy layout of :mod:`companion.ref` and ``torch.nn``'s parameter names.

The RNN, LSTM and GRU differ only in how many gate blocks G their weights stack (1, 4, 3) and in
whether the numpy code keeps the two biases apart (GRU) or summed (RNN, LSTM); the names and the
transposes are the same: numpy ``Wx`` (D, G·H) and ``Wh`` (H, G·H) are torch's ``weight_ih{suffix}``
(G·H, D) and ``weight_hh{suffix}`` (G·H, H).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from companion._validate import as_numpy


def torch_state(Wx, Wh, bias_ih, bias_hh, suffix: str) -> dict[str, np.ndarray]:
    """``{weight_ih, weight_hh, bias_ih, bias_hh}{suffix}`` in torch's layout, as new contiguous arrays."""
    return {
        f"weight_ih{suffix}": np.ascontiguousarray(Wx.T),  # (G·H, D)
        f"weight_hh{suffix}": np.ascontiguousarray(Wh.T),  # (G·H, H)
        f"bias_ih{suffix}": bias_ih.copy(),  # (G·H,)
        f"bias_hh{suffix}": bias_hh.copy(),  # (G·H,)
    }


def numpy_params(params: Mapping, suffix: str):
    """``(Wx, Wh, bias_ih, bias_hh)`` in numpy layout from a ``state_dict``; an absent bias is zeros.

    Raises ``KeyError`` naming the keys found if a weight is missing. The shapes are not checked here:
    the caller checks them against its own gate count.
    """
    try:
        W_ih = as_numpy(params[f"weight_ih{suffix}"])  # (G·H, D)
        W_hh = as_numpy(params[f"weight_hh{suffix}"])  # (G·H, H)
    except KeyError as err:
        raise KeyError(f"from_torch: expected key {err.args[0]!r}; found {sorted(params)}") from None
    biases = [
        as_numpy(params[name]) if name in params else np.zeros(W_hh.shape[0], dtype=W_hh.dtype)  # (G·H,)
        for name in (f"bias_ih{suffix}", f"bias_hh{suffix}")
    ]
    return (W_ih.T.copy(), W_hh.T.copy(), *biases)  # (D, G·H), (H, G·H), 2 x (G·H,)
