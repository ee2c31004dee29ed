"""Self-checks for the exercises of chapter 6, *Gated recurrent units*: one GRU step forward and backward."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion.exercises.engine import Exercise, Mistake, variants
from companion.exercises.inputs import gate_order_mistakes, gated_cases, named, ref, sigmoid
from companion.exercises.report import CheckPassed

__all__ = [
    "check_gru_step_forward",
    "check_gru_step_backward",
    "check_gru_jacobian",
    "check_gru_variants_agree",
]


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
    return _GRU_STEP.check(fn)


def check_gru_step_backward(fn: Callable) -> CheckPassed:
    """Check the reader's backward pass of one GRU step (chapter 6 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(dh, cache)`` with ``dh`` (N, H) the gradient of the step's output and ``cache`` the
        :class:`companion.ref.gru.GRUStepCache` of :func:`companion.ref.gru.gru_step_forward`
        (fields ``x, h_prev, gates, hn, Wx, Wh``; ``gates`` holds r, z, n and ``hn`` is
        ``h_prev @ Wh_n + bh_n``); returns ``(dx, dh_prev, dWx, dWh, dbx, dbh)``.

    Returns
    -------
    CheckPassed
        When every case agrees with :func:`companion.ref.gru.gru_step_backward`.

    Raises
    ------
    ExerciseError
        Naming which gradients are wrong and the fault: the direct path ``dh * z`` left out, the
        reset gate missing on the hidden side of the candidate, the update gate's sign flipped, the
        reset gradient taken with ``h_prev`` instead of ``hn``.

    Examples
    --------
    >>> from companion.ref.gru import gru_step_backward
    >>> check_gru_step_backward(gru_step_backward)
    ✓ check_gru_step_backward: all checks passed (3 cases)
    """
    return _GRU_BACKWARD.check(fn)


def check_gru_jacobian(fn: Callable) -> CheckPassed:
    """Check the reader's Jacobian of one GRU step (chapter 6, pen-and-paper exercise).

    Parameters
    ----------
    fn : callable
        ``fn(x, h_prev, Wx, Wh, bx, bh)`` for a single sequence: ``x`` (D,), ``h_prev`` (H,), ``Wx``
        (D, 3H), ``Wh`` (H, 3H), ``bx``, ``bh`` (3H,), gate blocks r, z, n as in
        :func:`companion.ref.gru.gru_step_forward`; returns ``J`` (H, H) with
        ``J[i, j] = dh[i] / dh_prev[j]``.

    Returns
    -------
    CheckPassed
        When every case agrees with the Jacobian derived from the equations, itself checked against
        central differences in the package's tests.

    Raises
    ------
    ExerciseError
        Naming the fault: only the direct path, the reset or update path missing, or the matrix transposed.

    Examples
    --------
    >>> names = ("x", "h_prev", "Wx", "Wh", "bx", "bh")
    >>> check_gru_jacobian(lambda *args: _gru_jacobian(dict(zip(names, args)))["J"])
    ✓ check_gru_jacobian: all checks passed (3 cases)
    """
    return _GRU_JACOBIAN.check(fn)


def check_gru_variants_agree(fn: Callable) -> CheckPassed:
    """Check the reader's answer to: when do Cho's GRU and torch's GRU compute the same thing?

    Parameters
    ----------
    fn : callable
        ``fn(W_hn, b_hn)`` with the candidate's recurrent weights ``W_hn`` (H, H) (row form,
        ``h_prev @ W_hn``) and hidden bias ``b_hn`` (H,); returns True when
        ``tanh(a + r * (h_prev @ W_hn + b_hn))`` (torch) equals ``tanh(a + (r * h_prev) @ W_hn)``
        (Cho et al., 2014) for every ``a``, ``r`` in (0, 1)^H and ``h_prev``, else False.

    Returns
    -------
    CheckPassed

    Raises
    ------
    ExerciseError
        Naming the condition the answer missed: the diagonal weights or the zero bias.

    Examples
    --------
    >>> check_gru_variants_agree(lambda W, b: bool(np.all(W == np.diag(np.diag(W))) and np.all(b == 0)))
    ✓ check_gru_variants_agree: all checks passed (5 cases)
    """
    return _VARIANTS.check(fn)


def _gru(c: dict, *, reset="after", mix="torch", act_n="tanh") -> dict:
    """One GRU step (keywords at their defaults) and the known mistakes: the reset gate applied
    elsewhere, the interpolation of Chung et al., a sigmoid candidate."""
    Wx, Wh, bx, bh = c["Wx"], c["Wh"], c["bx"], c["bh"]
    xr, xz, xn = np.split(c["x"] @ Wx + bx, 3, axis=1)  # 3 x (N, H)
    hr, hz, hn = np.split(c["h_prev"] @ Wh + bh, 3, axis=1)  # 3 x (N, H)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)  # (N, H)
    H = hn.shape[1]
    candidate = {
        "after": r * hn,
        "before": (r * c["h_prev"]) @ Wh[:, 2 * H :] + bh[2 * H :],
        "no bias": r * (hn - bh[2 * H :]) + bh[2 * H :],
        "none": hn,
    }[reset]
    n = {"tanh": np.tanh, "sigmoid": sigmoid}[act_n](xn + candidate)  # (N, H)
    h = (1.0 - z) * n + z * c["h_prev"] if mix == "torch" else z * n + (1.0 - z) * c["h_prev"]
    return {"h": h}


_GRU_STEP = Exercise(
    "check_gru_step_forward(x, h_prev, Wx, Wh, bx, bh) -> h (N, H), ...",
    cases=lambda: gated_cases(601, 3, True),
    reference=lambda c: {
        "h": ref("gru").gru_step_forward(c["x"], c["h_prev"], c["Wx"], c["Wh"], c["bx"], c["bh"])[0]
    },
    equation="r, z = sigmoid of the r and z blocks of x @ Wx + bx + h_prev @ Wh + bh; "
    "n = tanh(x @ Wx_n + bx_n + r * (h_prev @ Wh_n + bh_n)); h = (1 - z) * n + z * h_prev.",
    mistakes=[
        *gate_order_mistakes(
            "rzn",
            ("Wx", "Wh", "bx", "bh"),
            "the package and torch.nn.GRU stack the H-column blocks of Wx, Wh, bx and bh as r, z, n "
            "(reset gate, update gate, candidate).",
            _gru,
        ),
        *variants(
            _gru,
            {
                "The interpolation is reversed: torch.nn.GRU keeps z * h_prev and adds (1 - z) * n; you "
                "computed z * n + (1 - z) * h_prev (the form of Chung et al., 2014).": {"mix": "chung"},
                "The reset gate is applied before the matrix product, (r * h_prev) @ Wh_n (Cho et al., "
                "2014); torch.nn.GRU applies it after, r * (h_prev @ Wh_n + bh_n).": {"reset": "before"},
                "The reset gate does not multiply the hidden bias: it is r * (h_prev @ Wh_n + bh_n), bias "
                "included.": {"reset": "no bias"},
                "The reset gate is missing from the candidate: "
                "n = tanh(x @ Wx_n + bx_n + r * (h_prev @ Wh_n + bh_n)).": {"reset": "none"},
                "The candidate n goes through a sigmoid; it uses tanh.": {"act_n": "sigmoid"},
            },
        ),
    ],
)


# --------------------------------------------------------------------------------------------------
# The backward pass of one GRU step.

_GRU_GRADS = ("dx", "dh_prev", "dWx", "dWh", "dbx", "dbh")


def _gru_backward_cases() -> list[dict]:
    rng = np.random.default_rng(602)
    cases = []
    for c in gated_cases(603, 3, True):
        _, cache = ref("gru").gru_step_forward(c["x"], c["h_prev"], c["Wx"], c["Wh"], c["bx"], c["bh"])
        cases.append({"dh": rng.normal(size=c["h_prev"].shape), "cache": cache, "_label": c["_label"]})
    return cases


def _gru_grads(c: dict, **changed) -> dict:
    """:func:`companion.ref.gru.gru_step_backward` on the cache with some fields ``changed``."""
    return named(_GRU_GRADS, ref("gru").gru_step_backward(c["dh"], c["cache"]._replace(**changed)))


def _gru_grads_with(c: dict, *, r_in_hidden=True, z_sign=1.0) -> dict:
    """The gradients with the gate's factor on the hidden side of the candidate, or the update
    gate's sign, changed: these factors are not fields of the cache."""
    k, dh = c["cache"], c["dh"]
    r, z, n = np.split(k.gates, 3, axis=1)  # 3 x (N, H)
    dan = dh * (1 - z) * (1 - n**2)  # (N, H)
    dar = dan * k.hn * r * (1 - r)
    daz = z_sign * dh * (k.h_prev - n) * z * (1 - z)
    dax = np.concatenate([dar, daz, dan], axis=1)  # (N, 3H)
    dah = np.concatenate([dar, daz, dan * r if r_in_hidden else dan], axis=1)  # (N, 3H)
    return {
        "dx": dax @ k.Wx.T,
        "dh_prev": dh * z + dah @ k.Wh.T,
        "dWx": k.x.T @ dax,
        "dWh": k.h_prev.T @ dah,
        "dbx": dax.sum(axis=0),
        "dbh": dah.sum(axis=0),
    }


_GRU_BACKWARD = Exercise(
    "check_gru_step_backward(dh, cache) -> dx (N, D), dh_prev (N, H), dWx (D, 3H), dWh (H, 3H), "
    "dbx (3H,), dbh (3H,)",
    cases=_gru_backward_cases,
    reference=_gru_grads,
    equation="da_n = dh * (1 - z) * (1 - n**2); da_z = dh * (h_prev - n) * z(1-z); da_r = da_n * hn * r(1-r) "
    "with hn = h_prev @ Wh_n + bh_n; dax = [da_r | da_z | da_n], dah = [da_r | da_z | da_n * r]; "
    "dx = dax @ Wx.T, dh_prev = dh * z + dah @ Wh.T, dWx = x.T @ dax, dWh = h_prev.T @ dah, dbx, dbh = "
    "column sums of dax, dah.",
    mistakes=[
        Mistake(
            "The direct path is missing from dh_prev: h = (1 - z) * n + z * h_prev, so dh_prev has the "
            "term dh * z besides dah @ Wh.T.",
            lambda c: {
                "dh_prev": _gru_grads(c)["dh_prev"] - c["dh"] * np.split(c["cache"].gates, 3, axis=1)[1]
            },
        ),
        *variants(
            _gru_grads_with,
            {
                "The hidden side of the candidate is not multiplied by r: n = tanh(x Wx_n + bx_n + r * hn), "
                "so the gradient reaching hn = h_prev @ Wh_n + bh_n is da_n * r.": {"r_in_hidden": False},
                "The update gate's gradient has the wrong sign: dh/dz = h_prev - n, not n - h_prev.": {
                    "z_sign": -1.0
                },
            },
        ),
        Mistake(
            "The reset gate's gradient uses h_prev; r multiplies hn = h_prev @ Wh_n + bh_n (cache.hn), so "
            "da_r = da_n * hn * r * (1 - r).",
            lambda c: _gru_grads(c, hn=c["cache"].h_prev),
        ),
    ],
)


# --------------------------------------------------------------------------------------------------
# Pen and paper: the Jacobian of one GRU step, and when Cho's GRU and torch's agree.


def _gru_jacobian_cases() -> list[dict]:
    cases = []
    for c in gated_cases(605, 3, True):
        cases.append(
            {**{k: v[0] if k in ("x", "h_prev") else v for k, v in c.items()}, "_label": c["_label"]}
        )
    return cases


def _gru_jacobian(c: dict, *, paths="rzn", transpose=False) -> dict:
    Wx, Wh = c["Wx"], c["Wh"]
    H = c["h_prev"].shape[0]
    ax, ah = c["x"] @ Wx + c["bx"], c["h_prev"] @ Wh + c["bh"]  # (3H,) each
    r, z = sigmoid(ax[:H] + ah[:H]), sigmoid(ax[H : 2 * H] + ah[H : 2 * H])
    hn = ah[2 * H :]
    n = np.tanh(ax[2 * H :] + r * hn)
    W_r, W_z, W_n = (Wh[:, k * H : (k + 1) * H].T for k in range(3))  # (H, H) each, column convention
    J = np.diag(z)
    dn = (r[:, None] * W_n) + (("r" in paths) * (hn * r * (1 - r)))[:, None] * W_r  # dn_pre/dh_prev
    if "n" in paths:
        J = J + ((1 - z) * (1 - n**2))[:, None] * dn
    if "z" in paths:
        J = J + ((c["h_prev"] - n) * z * (1 - z))[:, None] * W_z
    return {"J": J.T if transpose else J}


_GRU_JACOBIAN = Exercise(
    "check_gru_jacobian(x, h_prev, Wx, Wh, bx, bh) -> J (H, H)",
    cases=_gru_jacobian_cases,
    reference=_gru_jacobian,
    equation="J = diag(z) + diag((1 - z)(1 - n**2)) (diag(r) W_n + diag(hn r(1 - r)) W_r) + "
    "diag((h_prev - n) z(1 - z)) W_z, with W_r, W_z, W_n the transposed H-column blocks of Wh and "
    "hn = h_prev @ Wh_n + bh_n.",
    keyword_mistakes={
        "Only the direct path diag(z) is there: n and z depend on h_prev too, each through a block of Wh.": {
            "paths": ""
        },
        "The path through the reset gate is missing: n depends on h_prev through r as well, the term "
        "diag((1 - z)(1 - n**2) hn r(1 - r)) W_r.": {"paths": "zn"},
        "The path through the update gate is missing: the term diag((h_prev - n) z(1 - z)) W_z.": {
            "paths": "rn"
        },
        "Your matrix is transposed: row i holds the derivatives of h[i], J[i, j] = dh[i] / dh_prev[j].": {
            "transpose": True
        },
    },
)


def _variant_cases() -> list[dict]:
    rng = np.random.default_rng(606)
    H = 3
    full, diag = rng.normal(size=(H, H)), np.diag(rng.normal(size=H))
    zero, bias = np.zeros(H), rng.normal(size=H)
    cases = []
    for name, W_hn, b_hn in [
        ("full W_hn, b_hn = 0", full, zero),
        ("diagonal W_hn, b_hn = 0", diag, zero),
        ("diagonal W_hn, b_hn != 0", diag, bias),
        ("full W_hn, b_hn != 0", full, bias),
        ("W_hn = 0, b_hn = 0", np.zeros((H, H)), zero),
    ]:
        cases.append({"W_hn": W_hn, "b_hn": b_hn, "_label": name})
    return cases


def _agree(c: dict, *, rule="both") -> dict:
    W, b = c["W_hn"], c["b_hn"]
    diagonal, no_bias = bool(np.all(W == np.diag(W.diagonal()))), bool(np.all(b == 0))
    return {
        "agree": np.asarray(float({"both": diagonal and no_bias, "bias": no_bias, "diag": diagonal}[rule]))
    }


_VARIANTS = Exercise(
    "check_gru_variants_agree(W_hn, b_hn) -> agree",
    cases=_variant_cases,
    returns=lambda answer: np.asarray(float(answer)),
    reference=_agree,
    equation="r * (h_prev @ W_hn + b_hn) equals (r * h_prev) @ W_hn for every r and h_prev exactly when "
    "b_hn = 0 and W_hn is diagonal (then the product acts unit by unit).",
    keyword_mistakes={
        "A zero bias is not enough: r * (h_prev @ W_hn) mixes the units before the gate, "
        "(r * h_prev) @ W_hn after it; the two agree for every r only when W_hn is diagonal.": {
            "rule": "bias"
        },
        "A diagonal W_hn is not enough: torch's form multiplies the hidden bias by r too, r * b_hn, "
        "which Cho's form does not contain; b_hn must be 0.": {"rule": "diag"},
    },
)
