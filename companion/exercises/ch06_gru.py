"""Self-checks for the exercise of chapter 6, *Gated recurrent units*: one GRU step."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from companion.exercises._engine import _Exercise, _Mistake, _ref, _run, _sigmoid
from companion.exercises.ch05_lstm import _blocks, _gated_cases
from companion.exercises.report import CheckPassed

__all__ = ["check_gru_step_forward"]


def _gru(c: dict, order: str = "rzn", reset: str = "after", mix: str = "torch", act_n=np.tanh) -> dict:
    Wx, Wh = _blocks(c["Wx"], order, "rzn"), _blocks(c["Wh"], order, "rzn")
    bx, bh = _blocks(c["bx"], order, "rzn"), _blocks(c["bh"], order, "rzn")
    xr, xz, xn = np.split(c["x"] @ Wx + bx, 3, axis=1)  # 3 x (N, H)
    hr, hz, hn = np.split(c["h_prev"] @ Wh + bh, 3, axis=1)  # 3 x (N, H)
    r, z = _sigmoid(xr + hr), _sigmoid(xz + hz)  # (N, H)
    H = hn.shape[1]
    candidate = {
        "after": r * hn,
        "before": (r * c["h_prev"]) @ Wh[:, 2 * H :] + bh[2 * H :],
        "no bias": r * (hn - bh[2 * H :]) + bh[2 * H :],
        "none": hn,
    }[reset]
    n = act_n(xn + candidate)  # (N, H)
    h = (1.0 - z) * n + z * c["h_prev"] if mix == "torch" else z * n + (1.0 - z) * c["h_prev"]
    return {"h": h}


def _gru_orders() -> list[_Mistake]:
    mistakes = []
    for order in itertools.permutations("rzn"):
        order = "".join(order)
        if order != "rzn":
            mistakes.append(
                _Mistake(
                    f"The gates are read in the order {', '.join(order)}; the package and torch.nn.GRU "
                    "stack the H-column blocks of Wx, Wh, bx and bh as r, z, n (reset gate, update gate, "
                    "candidate).",
                    lambda c, order=order: _gru(c, order=order),
                )
            )
    return mistakes


_GRU_STEP = _Exercise(
    name="check_gru_step_forward",
    outputs=("h",),
    extra_ok=True,
    reference=lambda c: {
        "h": _ref("gru").gru_step_forward(c["x"], c["h_prev"], c["Wx"], c["Wh"], c["bx"], c["bh"])[0]
    },
    shapes={"h": "(N, H)"},
    equation="r, z = sigmoid of the r and z blocks of x @ Wx + bx + h_prev @ Wh + bh; "
    "n = tanh(x @ Wx_n + bx_n + r * (h_prev @ Wh_n + bh_n)); h = (1 - z) * n + z * h_prev.",
    mistakes=[
        *_gru_orders(),
        _Mistake(
            "The interpolation is reversed: torch.nn.GRU keeps z * h_prev and adds (1 - z) * n; you "
            "computed z * n + (1 - z) * h_prev (the form of Chung et al., 2014).",
            lambda c: _gru(c, mix="chung"),
        ),
        _Mistake(
            "The reset gate is applied before the matrix product, (r * h_prev) @ Wh_n (Cho et al., "
            "2014); torch.nn.GRU applies it after, r * (h_prev @ Wh_n + bh_n).",
            lambda c: _gru(c, reset="before"),
        ),
        _Mistake(
            "The reset gate does not multiply the hidden bias: it is r * (h_prev @ Wh_n + bh_n), bias "
            "included.",
            lambda c: _gru(c, reset="no bias"),
        ),
        _Mistake(
            "The reset gate is missing from the candidate: "
            "n = tanh(x @ Wx_n + bx_n + r * (h_prev @ Wh_n + bh_n)).",
            lambda c: _gru(c, reset="none"),
        ),
        _Mistake("The candidate n goes through a sigmoid; it uses tanh.", lambda c: _gru(c, act_n=_sigmoid)),
    ],
)


def check_gru_step_forward(fn: Callable) -> CheckPassed:
    """Check the reader's GRU step (chapter 6 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(x, h_prev, Wx, Wh, bx, bh)`` with ``x`` (N, D), ``h_prev`` (N, H), ``Wx`` (D, 3H),
        ``Wh`` (H, 3H) and the input and hidden biases ``bx``, ``bh`` (3H,), gate blocks in the
        order r, z, n; returns the new state ``h`` of shape (N, H) (or a tuple that starts with it).

    Returns
    -------
    CheckPassed
        When every case agrees with :func:`companion.ref.gru.gru_step_forward`.

    Raises
    ------
    ExerciseError
        Naming the fault: a wrong shape, the gates read in another order (which one), the
        interpolation reversed, the reset gate applied before the product, outside the hidden
        bias or not at all, or a sigmoid on the candidate.

    Examples
    --------
    >>> from companion.ref.gru import gru_step_forward
    >>> check_gru_step_forward(gru_step_forward)
    ✓ check_gru_step_forward: all checks passed (3 cases)
    """
    return _run(_GRU_STEP, fn, _gated_cases(601, 3, True), ("x", "h_prev", "Wx", "Wh", "bx", "bh"))
