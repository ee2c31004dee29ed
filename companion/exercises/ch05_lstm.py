"""Self-checks for the exercises of chapter 5, *Long short-term memory*: one LSTM step forward and
backward.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion.exercises.engine import Exercise, variants
from companion.exercises.inputs import gate_order_mistakes, gated_cases, named, ref
from companion.exercises.report import CheckPassed

__all__ = ["check_lstm_step_forward", "check_lstm_step_backward"]


def check_lstm_step_forward(fn: Callable) -> CheckPassed:
    """Check the reader's LSTM step (chapter 5 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(x, h_prev, c_prev, Wx, Wh, b)`` with ``x`` (N, D), ``h_prev`` and ``c_prev`` (N, H),
        ``Wx`` (D, 4H), ``Wh`` (H, 4H) and ``b`` (4H,), gate blocks in the order i, f, g, o;
        returns ``(h, c)``, each of shape (N, H) (a cache after them is allowed).

    Returns
    -------
    CheckPassed
        When every case agrees with :func:`companion.ref.lstm.lstm_step_forward`.

    Raises
    ------
    ExerciseError
        Naming the fault: a wrong shape, the gates read in another order (which one), ``h`` and
        ``c`` swapped, ``tanh(c)`` or the input gate missing, the wrong nonlinearity on a block.

    Notes
    -----
    The order is found by recomputing the reference with the gate blocks permuted in each of the
    23 other ways and comparing.

    Examples
    --------
    >>> from companion.ref.lstm import lstm_step_forward
    >>> check_lstm_step_forward(lstm_step_forward)
    ✓ check_lstm_step_forward: all checks passed (3 cases)
    """
    return _LSTM_STEP.check(fn)


def check_lstm_step_backward(fn: Callable) -> CheckPassed:
    """Check the reader's backward pass of one LSTM step (chapter 5 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(dh, dc, cache)`` with ``dh``, ``dc`` (N, H) the gradients of the step's ``h`` and ``c``
        and ``cache`` the :class:`companion.ref.lstm.LSTMStepCache` of
        :func:`companion.ref.lstm.lstm_step_forward` (fields ``x, h_prev, c_prev, gates, tanh_c, Wx,
        Wh``; ``gates`` holds the activated i, f, g, o); returns ``(dx, dh_prev, dc_prev, dWx, dWh, db)``.

    Returns
    -------
    CheckPassed
        When every case agrees with :func:`companion.ref.lstm.lstm_step_backward`.

    Raises
    ------
    ExerciseError
        Naming which gradients are wrong and the fault: the carried ``dc`` or the path through
        ``h`` left out, ``dc_prev`` not multiplied by ``f``, the forget gradient taken at the new
        cell, the tanh derivative on the cell missing.

    Examples
    --------
    >>> from companion.ref.lstm import lstm_step_backward
    >>> check_lstm_step_backward(lstm_step_backward)
    ✓ check_lstm_step_backward: all checks passed (3 cases)
    """
    return _LSTM_BACKWARD.check(fn)


def _lstm(c: dict, *, acts="ssts", cell="ifg", out="tanh_c", returns="h, c") -> dict:
    """One LSTM step (keywords at their defaults) and the known mistakes: another nonlinearity on a
    block, the input gate left out of the cell, another output, the two results returned as
    ``"h, h"`` or ``"c, h"``."""
    a = c["x"] @ c["Wx"] + c["h_prev"] @ c["Wh"] + c["b"]  # (N, 4H)
    fns = {"s": ref("lstm").sigmoid, "t": np.tanh}
    i, f, g, o = (fns[k](block) for k, block in zip(acts, np.split(a, 4, axis=1), strict=True))
    c_new = f * c["c_prev"] + (i * g if cell == "ifg" else g)  # (N, H)
    h = o * {"tanh_c": np.tanh(c_new), "c": c_new, "tanh_c_prev": np.tanh(c["c_prev"])}[out]  # (N, H)
    results = {"h": h, "c": c_new}
    return dict(zip(("h", "c"), (results[name] for name in returns.split(", ")), strict=True))


def _lstm_reference(c: dict) -> dict:
    h, c_new, _ = ref("lstm").lstm_step_forward(c["x"], c["h_prev"], c["c_prev"], c["Wx"], c["Wh"], c["b"])
    return {"h": h, "c": c_new}


_LSTM_STEP = Exercise(
    "check_lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b) -> h (N, H), c (N, H), ...",
    cases=lambda: gated_cases(501, 4, False),
    reference=_lstm_reference,
    equation="[i, f, g, o] = [sigmoid, sigmoid, tanh, sigmoid](x @ Wx + h_prev @ Wh + b), H columns "
    "each in that order; c = f * c_prev + i * g; h = o * tanh(c).",
    mistakes=[
        *gate_order_mistakes(
            "ifgo",
            ("Wx", "Wh", "b"),
            "the package and torch.nn.LSTM stack the H-column blocks of Wx, Wh and b as i, f, g, o "
            "(input gate, forget gate, candidate, output gate).",
            _lstm,
        ),
        *variants(
            _lstm,
            {
                "h is returned twice; the second value is the new cell state c = f * c_prev + i * g.": {
                    "returns": "h, h"
                },
                "h and c are returned in the wrong order; return h first, then c.": {"returns": "c, h"},
                "The output is o * c; it is h = o * tanh(c).": {"out": "c"},
                "The output reads the old cell state; it is h = o * tanh(c) with the new c.": {
                    "out": "tanh_c_prev"
                },
                "The input gate is missing from the cell update: c = f * c_prev + i * g.": {"cell": "g"},
                "The candidate g goes through a sigmoid; it uses tanh (values in (-1, 1)), the gates i, f "
                "and o use the sigmoid.": {"acts": "ssss"},
                "Every block goes through tanh; the gates i, f and o use the sigmoid (values in (0, 1)).": {
                    "acts": "tttt"
                },
            },
        ),
    ],
)


# --------------------------------------------------------------------------------------------------
# The backward pass of one LSTM step.

_LSTM_GRADS = ("dx", "dh_prev", "dc_prev", "dWx", "dWh", "db")


def _lstm_backward_cases() -> list[dict]:
    rng = np.random.default_rng(502)
    cases = []
    for c in gated_cases(503, 4, False):
        _, _, cache = ref("lstm").lstm_step_forward(
            c["x"], c["h_prev"], c["c_prev"], c["Wx"], c["Wh"], c["b"]
        )
        N, H = c["h_prev"].shape
        cases.append(
            {
                "dh": rng.normal(size=(N, H)),
                "dc": rng.normal(size=(N, H)),
                "cache": cache,
                "_label": c["_label"],
            }
        )
    return cases


def _lstm_grads(c: dict, *, carried=True, cell_path="tanh", dc_prev="times f", forget_reads="c_prev") -> dict:
    """:func:`companion.ref.lstm.lstm_step_backward` (keywords at their defaults) and the known mistakes:
    the carried ``dc`` left out, the path from the cell through ``h`` missing (``"none"``) or without
    the tanh derivative (``"no slope"``), ``dc_prev`` not multiplied by ``f``, the forget gate's
    gradient read at the new cell."""
    k = c["cache"]
    dc = c["dc"] if carried else np.zeros_like(c["dc"])
    if cell_path != "tanh":  # the reference adds the path with its slope: take it out, add the reader's
        dc = dc - _through_h(c) + (_through_h(c, slope=False) if cell_path == "no slope" else 0.0)
    cache = k._replace(c_prev=_new_cell(c)) if forget_reads == "c" else k
    grads = named(_LSTM_GRADS, ref("lstm").lstm_step_backward(c["dh"], dc, cache))
    if dc_prev == "not times f":
        grads["dc_prev"] = grads["dc_prev"] / np.split(k.gates, 4, axis=1)[1]
    return grads


def _through_h(c: dict, slope: bool = True) -> np.ndarray:
    """What the path c -> h = o * tanh(c) adds to the cell's gradient: dh * o * (1 - tanh(c)**2)."""
    k = c["cache"]
    o = np.split(k.gates, 4, axis=1)[3]  # (N, H)
    return c["dh"] * o * ((1.0 - k.tanh_c**2) if slope else 1.0)


def _new_cell(c: dict) -> np.ndarray:
    i, f, g, _ = np.split(c["cache"].gates, 4, axis=1)  # 4 x (N, H)
    return f * c["cache"].c_prev + i * g  # (N, H)


_LSTM_BACKWARD = Exercise(
    "check_lstm_step_backward(dh, dc, cache) -> dx (N, D), dh_prev (N, H), dc_prev (N, H), "
    "dWx (D, 4H), dWh (H, 4H), db (4H,)",
    cases=_lstm_backward_cases,
    reference=_lstm_grads,
    equation="dc_total = dc + dh * o * (1 - tanh(c)**2); da = [dc_total * g * i(1-i) | dc_total * c_prev * "
    "f(1-f) | dc_total * i * (1-g**2) | dh * tanh(c) * o(1-o)]; dx = da @ Wx.T, dh_prev = da @ Wh.T, "
    "dc_prev = dc_total * f, dWx = x.T @ da, dWh = h_prev.T @ da, db = da.sum(axis=0).",
    keyword_mistakes={
        "The gradient dc arriving from step t+1 is not added: the cell's total gradient is "
        "dc + dh * o * (1 - tanh(c)**2).": {"carried": False},
        "The path from c through h = o * tanh(c) is missing: add dh * o * (1 - tanh(c)**2) to dc.": {
            "cell_path": "none"
        },
        "dc_prev is not multiplied by the forget gate: c = f * c_prev + i * g, so dc_prev = dc_total * f.": {
            "dc_prev": "not times f"
        },
        "The forget gate's gradient uses the new cell state; f multiplies c_prev, so "
        "da_f = dc_total * c_prev * f * (1 - f).": {"forget_reads": "c"},
        "The tanh derivative on the cell is missing: h = o * tanh(c) gives "
        "dc += dh * o * (1 - tanh(c)**2).": {"cell_path": "no slope"},
    },
)
