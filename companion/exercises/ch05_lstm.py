"""Self-checks for the exercises of chapter 5, *Long short-term memory*: one LSTM step forward and backward.

The gated cases and the gate reordering here serve the GRU check of chapter 6 too.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from companion.exercises._engine import _Exercise, _label, _Mistake, _ref, _run, _sigmoid
from companion.exercises.report import CheckPassed

__all__ = ["check_lstm_step_forward", "check_lstm_step_backward"]


def _blocks(W: np.ndarray, reader_order: str, torch_order: str) -> np.ndarray:
    """Reorder the gate blocks of W so the reference computes what a reader of ``reader_order`` does."""
    blocks = np.split(W, len(torch_order), axis=-1)
    return np.concatenate([blocks[reader_order.index(gate)] for gate in torch_order], axis=-1)


def _gated_cases(seed: int, gates: int, separate_biases: bool) -> list[dict]:
    rng = np.random.default_rng(seed)
    cases = []
    for N, D, H in [(3, 4, 5), (2, 3, 2), (1, 2, 3)]:
        c = {
            "x": rng.normal(size=(N, D)),
            "h_prev": rng.uniform(-1, 1, size=(N, H)),
            "Wx": rng.normal(scale=0.7, size=(D, gates * H)),
            "Wh": rng.normal(scale=0.7, size=(H, gates * H)),
            "_label": _label(N=N, D=D, H=H),
        }
        if separate_biases:
            c["bx"], c["bh"] = rng.normal(scale=0.5, size=(2, gates * H))
        else:
            c["c_prev"] = rng.normal(size=(N, H))
            c["b"] = rng.normal(scale=0.5, size=gates * H)
        cases.append(c)
    return cases


def _lstm(c: dict, order: str = "ifgo", acts: str = "ssts", cell: str = "ifg", out: str = "tanh_c") -> dict:
    a = c["x"] @ _blocks(c["Wx"], order, "ifgo") + c["h_prev"] @ _blocks(c["Wh"], order, "ifgo")  # (N, 4H)
    a = a + _blocks(c["b"], order, "ifgo")
    fns = {"s": _sigmoid, "t": np.tanh}
    i, f, g, o = (fns[k](block) for k, block in zip(acts, np.split(a, 4, axis=1), strict=True))
    c_new = f * c["c_prev"] + (i * g if cell == "ifg" else g)  # (N, H)
    h = o * {"tanh_c": np.tanh(c_new), "c": c_new, "tanh_c_prev": np.tanh(c["c_prev"])}[out]  # (N, H)
    return {"h": h, "c": c_new}


def _lstm_orders() -> list[_Mistake]:
    mistakes = []
    for order in itertools.permutations("ifgo"):
        order = "".join(order)
        if order != "ifgo":
            mistakes.append(
                _Mistake(
                    f"The gates are read in the order {', '.join(order)}; the package and torch.nn.LSTM "
                    "stack the H-column blocks of Wx, Wh and b as i, f, g, o (input gate, forget gate, "
                    "candidate, output gate).",
                    lambda c, order=order: _lstm(c, order=order),
                )
            )
    return mistakes


def _lstm_reference(c: dict) -> dict:
    h, c_new, _ = _ref("lstm").lstm_step_forward(c["x"], c["h_prev"], c["c_prev"], c["Wx"], c["Wh"], c["b"])
    return {"h": h, "c": c_new}


_LSTM_STEP = _Exercise(
    name="check_lstm_step_forward",
    outputs=("h", "c"),
    extra_ok=True,
    reference=_lstm_reference,
    shapes={"h": "(N, H)", "c": "(N, H)"},
    equation="[i, f, g, o] = [sigmoid, sigmoid, tanh, sigmoid](x @ Wx + h_prev @ Wh + b), H columns "
    "each in that order; c = f * c_prev + i * g; h = o * tanh(c).",
    mistakes=[
        *_lstm_orders(),
        _Mistake(
            "h is returned twice; the second value is the new cell state c = f * c_prev + i * g.",
            lambda c: (lambda r: {"h": r["h"], "c": r["h"]})(_lstm(c)),
        ),
        _Mistake(
            "h and c are returned in the wrong order; return h first, then c.",
            lambda c: (lambda r: {"h": r["c"], "c": r["h"]})(_lstm(c)),
        ),
        _Mistake("The output is o * c; it is h = o * tanh(c).", lambda c: _lstm(c, out="c")),
        _Mistake(
            "The output reads the old cell state; it is h = o * tanh(c) with the new c.",
            lambda c: _lstm(c, out="tanh_c_prev"),
        ),
        _Mistake(
            "The input gate is missing from the cell update: c = f * c_prev + i * g.",
            lambda c: _lstm(c, cell="g"),
        ),
        _Mistake(
            "The candidate g goes through a sigmoid; it uses tanh (values in (-1, 1)), the gates i, f "
            "and o use the sigmoid.",
            lambda c: _lstm(c, acts="ssss"),
        ),
        _Mistake(
            "Every block goes through tanh; the gates i, f and o use the sigmoid (values in (0, 1)).",
            lambda c: _lstm(c, acts="tttt"),
        ),
    ],
)


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
    return _run(_LSTM_STEP, fn, _gated_cases(501, 4, False), ("x", "h_prev", "c_prev", "Wx", "Wh", "b"))


# --------------------------------------------------------------------------------------------------
# The backward pass of one LSTM step.

_LSTM_GRADS = ("dx", "dh_prev", "dc_prev", "dWx", "dWh", "db")


def _lstm_backward_cases() -> list[dict]:
    rng = np.random.default_rng(502)
    cases = []
    for c in _gated_cases(503, 4, False):
        N, H = c["h_prev"].shape
        _, _, cache = _ref("lstm").lstm_step_forward(
            c["x"], c["h_prev"], c["c_prev"], c["Wx"], c["Wh"], c["b"]
        )
        cases.append(
            {
                "dh": rng.normal(size=(N, H)),
                "dc": rng.normal(size=(N, H)),
                "cache": cache,
                "_label": c["_label"],
            }
        )
    return cases


def _lstm_grads(c: dict, *, carry_dc=True, through_h=True, keep_f=True, df_with="c_prev", dtanh=True) -> dict:
    k = c["cache"]
    i, f, g, o = np.split(k.gates, 4, axis=1)  # 4 x (N, H)
    c_new = f * k.c_prev + i * g  # (N, H)
    slope = 1.0 - k.tanh_c**2 if dtanh else 1.0
    dc = (c["dc"] if carry_dc else 0.0) + (c["dh"] * o * slope if through_h else 0.0)  # (N, H)
    da = np.concatenate(
        [
            dc * g * i * (1 - i),
            dc * (k.c_prev if df_with == "c_prev" else c_new) * f * (1 - f),
            dc * i * (1 - g**2),
            c["dh"] * k.tanh_c * o * (1 - o),
        ],
        axis=1,
    )  # (N, 4H)
    return {
        "dx": da @ k.Wx.T,
        "dh_prev": da @ k.Wh.T,
        "dc_prev": dc * f if keep_f else dc,
        "dWx": k.x.T @ da,
        "dWh": k.h_prev.T @ da,
        "db": da.sum(axis=0),
    }


_LSTM_BACKWARD = _Exercise(
    name="check_lstm_step_backward",
    outputs=_LSTM_GRADS,
    reference=lambda c: dict(
        zip(_LSTM_GRADS, _ref("lstm").lstm_step_backward(c["dh"], c["dc"], c["cache"]), strict=True)
    ),
    shapes={
        "dx": "(N, D)",
        "dh_prev": "(N, H)",
        "dc_prev": "(N, H)",
        "dWx": "(D, 4H)",
        "dWh": "(H, 4H)",
        "db": "(4H,)",
    },
    equation="dc_total = dc + dh * o * (1 - tanh(c)**2); da = [dc_total * g * i(1-i) | dc_total * c_prev * "
    "f(1-f) | dc_total * i * (1-g**2) | dh * tanh(c) * o(1-o)]; dx = da @ Wx.T, dh_prev = da @ Wh.T, "
    "dc_prev = dc_total * f, dWx = x.T @ da, dWh = h_prev.T @ da, db = da.sum(axis=0).",
    mistakes=[
        _Mistake(
            "The gradient dc arriving from step t+1 is not added: the cell's total gradient is "
            "dc + dh * o * (1 - tanh(c)**2).",
            lambda c: _lstm_grads(c, carry_dc=False),
        ),
        _Mistake(
            "The path from c through h = o * tanh(c) is missing: add dh * o * (1 - tanh(c)**2) to dc.",
            lambda c: _lstm_grads(c, through_h=False),
        ),
        _Mistake(
            "dc_prev is not multiplied by the forget gate: c = f * c_prev + i * g, so "
            "dc_prev = dc_total * f.",
            lambda c: _lstm_grads(c, keep_f=False),
        ),
        _Mistake(
            "The forget gate's gradient uses the new cell state; f multiplies c_prev, so "
            "da_f = dc_total * c_prev * f * (1 - f).",
            lambda c: _lstm_grads(c, df_with="c"),
        ),
        _Mistake(
            "The tanh derivative on the cell is missing: h = o * tanh(c) gives "
            "dc += dh * o * (1 - tanh(c)**2).",
            lambda c: _lstm_grads(c, dtanh=False),
        ),
    ],
)


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
    return _run(_LSTM_BACKWARD, fn, _lstm_backward_cases(), ("dh", "dc", "cache"))
