"""What the recurrent layers of :mod:`companion.ref` share: parameter checks, padded batches, torch layout.

The RNN, LSTM and GRU differ only in how many gate blocks G their weights stack (1, 4, 3) and in
whether the numpy code keeps the two biases apart (GRU) or summed (RNN, LSTM); the names and the
transposes are the same: numpy ``Wx`` (D, G·H) and ``Wh`` (H, G·H) are torch's ``weight_ih{suffix}``
(G·H, D) and ``weight_hh{suffix}`` (G·H, H).

A padded batch holds N sequences padded to T steps, with true lengths (N,): sequence n stops after
``lengths[n]`` steps, as in ``torch.nn.RNN`` fed a ``PackedSequence`` (chapter 7). Steps past the end
of a sequence come after all of its valid steps, so they never influence a valid output: the layers
run them on zero inputs and zero their outputs, their cached values and their upstream gradients.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from companion._validate import Dims, as_numpy, check_lengths


def check_weights(dims: Dims, gates: int, Wx, Wh, **biases) -> None:
    """Check ``Wx`` (D, G·H), ``Wh`` (H, G·H) and each named bias (G·H,) for a layer of G gate blocks."""
    GH = f"{gates}H" if gates > 1 else "H"
    dims.check("Wx", Wx, f"D {GH}")
    dims.check("Wh", Wh, f"H {GH}")
    for name, bias in biases.items():
        dims.check(name, bias, GH)


def padding(where: str, lengths, N: int, T: int) -> np.ndarray:
    """The ``lengths`` field of a forward pass's cache: the checked lengths (N,), or an empty array.

    The array is empty when no step is padded (or ``lengths`` is None), which adds nothing to the
    cache's size. Raises ``ValueError`` for a shape other than (N,) or a length outside [1, T],
    ``TypeError`` for values that are not integers (:func:`companion._validate.check_lengths`).
    """
    if lengths is not None:
        lengths = check_lengths(where, lengths, N, T)  # (N,)
        if lengths.min() < T:
            return lengths
    return np.empty(0, dtype=np.int64)


def zero_padded(array, lengths):
    """``array`` (N, T, K) with zeros at the steps ``t >= lengths[n]`` (a copy); itself if none is padded.

    ``lengths`` is a cache's field (:func:`padding`): None or empty when no step is padded.
    """
    if lengths is None or len(lengths) == 0:
        return array
    valid = np.arange(array.shape[1]) < lengths[:, None]  # (N, T)
    return np.where(valid[..., None], array, 0.0)  # (N, T, K)


def last_valid(h, lengths):
    """``h[n, lengths[n] - 1]`` (N, H) of ``h`` (N, T, H) for a cache's ``lengths``; ``h[:, -1]`` if none."""
    if lengths is None or len(lengths) == 0:
        return h[:, -1].copy()
    return h[np.arange(h.shape[0]), lengths - 1]  # (N, H)


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
