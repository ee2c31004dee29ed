"""Linear recurrences with hand-set weights: the idea of a hidden state before any learning (chapter 1).

A linear recurrence carries a state ``h_t = h_{t-1} A + x_t B`` and reads an output ``y_t = h_t C``.
With the right matrices it solves each of the three problem shapes of chapter 1 exactly, with a
number of weights that does not depend on the sequence length.
"""

from __future__ import annotations

import numpy as np

from companion._validate import Dims

__all__ = ["linear_recurrence", "accumulator", "shift_register", "rotation"]


def linear_recurrence(x, h0, A, B, C):
    """Run ``h_t = h_{t-1} A + x_t B`` and return ``y_t = h_t C`` for every step.

    Parameters
    ----------
    x : ndarray of shape (N, T, D)
        Inputs (zeros for a one-to-many problem driven only by ``h0``).
    h0 : ndarray of shape (N, H)
        Initial state.
    A : ndarray of shape (H, H)
        State transition.
    B : ndarray of shape (D, H)
        Input map.
    C : ndarray of shape (H, K)
        Read-out.

    Returns
    -------
    y : ndarray of shape (N, T, K)
    h : ndarray of shape (N, T, H)
    """
    dims = Dims("linear_recurrence")
    dims.check("x", x, "N T D")
    dims.check("h0", h0, "N H")
    dims.check("A", A, "H H")
    dims.check("B", B, "D H")
    dims.check("C", C, "H K")
    N, T, _ = x.shape
    h = np.empty((N, T, dims["H"]), dtype=np.result_type(x, h0, A, B))  # (N, T, H)
    state = h0
    for t in range(T):
        state = state @ A + x[:, t] @ B  # (N, H)
        h[:, t] = state
    return h @ C, h  # (N, T, K), (N, T, H)


def accumulator():
    """Weights ``(A, B, C)`` that keep a running sum: H = 1, ``h_t = h_{t-1} + x_t``."""
    return np.ones((1, 1)), np.ones((1, 1)), np.ones((1, 1))


def shift_register(delay: int):
    """Weights ``(A, B, C)`` that output the input seen ``delay`` steps earlier: ``y_t = x_{t-delay}``.

    The state has H = ``delay + 1`` slots; slot ``i`` holds ``x_{t-i}``. ``A`` moves every slot one
    place along, ``B`` writes the new input into slot 0 and ``C`` reads the last slot.
    """
    if not isinstance(delay, (int, np.integer)) or delay < 0:
        raise ValueError(f"shift_register: expected delay to be an int >= 0, got {delay!r}")
    H = delay + 1
    A = np.eye(H, k=1)  # (H, H): slot i moves to slot i+1
    B = np.zeros((1, H))
    B[0, 0] = 1.0
    C = np.zeros((H, 1))
    C[-1, 0] = 1.0
    return A, B, C


def rotation(omega: float):
    """Weights ``(A, B, C)`` that rotate a 2-d state by ``omega`` radians per step.

    The state is the row vector ``(sin theta, cos theta)`` and each step adds ``omega`` to theta.
    Started from ``h0 = (sin(phi - omega), cos(phi - omega))`` with zero inputs, the read-out at
    step ``t = 0, 1, ...`` is ``sin(omega * t + phi)``: a whole sine wave from one initial state.
    """
    c, s = np.cos(omega), np.sin(omega)
    A = np.array([[c, -s], [s, c]])  # (2, 2): [sin, cos] -> [sin(.+w), cos(.+w)] as a row vector
    return A, np.zeros((1, 2)), np.array([[1.0], [0.0]])
