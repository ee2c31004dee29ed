"""The exercises of chapters 4-6: each solution passes, and real wrong implementations (written out as a
reader would write them, not imitated outputs) are rejected with a message that names the mistake.

The solutions below are the ones hidden in the chapters (the last test compares them).
"""

import ast
import inspect
import json
from pathlib import Path

import numpy as np
import pytest

from companion.diagnostics.gradcheck import numerical_gradient
from companion.exercises.ch04_gradients import check_clip_by_norm, check_jacobian_bound
from companion.exercises.ch05_lstm import check_lstm_step_backward
from companion.exercises.ch06_gru import (
    _gru_jacobian,
    _gru_jacobian_cases,
    check_gru_jacobian,
    check_gru_step_backward,
    check_gru_variants_agree,
)
from companion.ref import gru as ref_gru
from companion.ref import lstm as ref_lstm

# --------------------------------------------------------------------------------------------------
# The solutions, as in the book.


def my_jacobian_bound(activation, sigma_max, k):
    gamma = {"tanh": 1.0, "sigmoid": 0.25}[activation]  # the largest slope: tanh'(0), sigma'(0)
    return (gamma * sigma_max) ** k


def my_lstm_step_backward(dh, dc, cache):
    i, f, g, o = np.split(cache.gates, 4, axis=1)
    dc = dc + dh * o * (1 - cache.tanh_c**2)  # c reaches the loss directly and through h
    da = np.concatenate(
        [
            dc * g * i * (1 - i),
            dc * cache.c_prev * f * (1 - f),
            dc * i * (1 - g**2),
            dh * cache.tanh_c * o * (1 - o),
        ],
        axis=1,
    )
    return da @ cache.Wx.T, da @ cache.Wh.T, dc * f, cache.x.T @ da, cache.h_prev.T @ da, da.sum(axis=0)


def my_gru_step_backward(dh, cache):
    r, z, n = np.split(cache.gates, 3, axis=1)
    da_n = dh * (1 - z) * (1 - n**2)
    da_z = dh * (cache.h_prev - n) * z * (1 - z)
    da_r = da_n * cache.hn * r * (1 - r)
    dax = np.concatenate([da_r, da_z, da_n], axis=1)
    dah = np.concatenate([da_r, da_z, da_n * r], axis=1)
    dh_prev = dh * z + dah @ cache.Wh.T
    return dax @ cache.Wx.T, dh_prev, cache.x.T @ dax, cache.h_prev.T @ dah, dax.sum(axis=0), dah.sum(axis=0)


def my_gru_jacobian(x, h_prev, Wx, Wh, bx, bh):
    H = h_prev.shape[0]
    ax, ah = x @ Wx + bx, h_prev @ Wh + bh
    r, z = 1 / (1 + np.exp(-(ax[: 2 * H] + ah[: 2 * H]))).reshape(2, H)
    n = np.tanh(ax[2 * H :] + r * ah[2 * H :])
    W_r, W_z, W_n = Wh[:, :H].T, Wh[:, H : 2 * H].T, Wh[:, 2 * H :].T  # column convention
    dn = (1 - n**2)[:, None] * (r[:, None] * W_n + (ah[2 * H :] * r * (1 - r))[:, None] * W_r)
    dz = (z * (1 - z))[:, None] * W_z
    return np.diag(z) + (1 - z)[:, None] * dn + (h_prev - n)[:, None] * dz


def my_gru_variants_agree(W_hn, b_hn):
    diagonal = np.all(W_hn == np.diag(np.diag(W_hn)))  # r * (h W) = (r * h) W for every r
    return bool(diagonal and np.all(b_hn == 0))  # and no r * b_hn term


SOLUTIONS = [
    (check_jacobian_bound, my_jacobian_bound),
    (check_lstm_step_backward, my_lstm_step_backward),
    (check_gru_step_backward, my_gru_step_backward),
    (check_gru_jacobian, my_gru_jacobian),
    (check_gru_variants_agree, my_gru_variants_agree),
]
# (the solutions pass their checks in tests/exercises/test_exercises.py, with every chapter's)


@pytest.mark.parametrize(
    "check, reference",
    [
        (check_lstm_step_backward, ref_lstm.lstm_step_backward),
        (check_gru_step_backward, ref_gru.gru_step_backward),
    ],
    ids=lambda f: f.__name__,
)
def test_the_package_reference_passes(check, reference):
    assert check(reference).cases == 3


def test_gru_jacobian_reference_is_central_differences():
    for c in _gru_jacobian_cases():
        H = c["h_prev"].shape[0]

        def step(h_prev, c=c):  # (1, H) -> (1, H)
            return ref_gru.gru_step_forward(c["x"][None], h_prev, c["Wx"], c["Wh"], c["bx"], c["bh"])[0]

        rows = [
            numerical_gradient(step, [c["h_prev"][None]], wrt=0, upstream=np.eye(H)[i : i + 1])
            for i in range(H)
        ]
        np.testing.assert_allclose(_gru_jacobian(c)["J"], np.concatenate(rows), rtol=1e-6, atol=1e-9)


def test_gru_variant_answer_is_what_the_two_forms_compute():
    """The reference's verdict (diagonal W_hn and zero b_hn) matches a numerical comparison of the two forms."""
    from companion.exercises.ch06_gru import _agree, _variant_cases

    rng = np.random.default_rng(0)
    for c in _variant_cases():
        h, r = rng.normal(size=(50, 3)), rng.uniform(0.05, 0.95, size=(50, 3))
        torch_form = r * (h @ c["W_hn"] + c["b_hn"])
        cho_form = (r * h) @ c["W_hn"]
        assert np.allclose(torch_form, cho_form) == bool(_agree(c)["agree"]), c["_label"]


# --------------------------------------------------------------------------------------------------
# Real wrong implementations.


def bound_sigmoid_half(activation, sigma_max, k):
    return ({"tanh": 1.0, "sigmoid": 0.5}[activation] * sigma_max) ** k


def bound_gamma_once(activation, sigma_max, k):
    return {"tanh": 1.0, "sigmoid": 0.25}[activation] * sigma_max**k


def bound_k_minus_one(activation, sigma_max, k):
    gamma = {"tanh": 1.0, "sigmoid": 0.25}[activation]
    return (gamma * sigma_max) ** (k - 1)


def clip_condition_inverted(grads, max_norm):
    norm = np.sqrt(sum(np.sum(g**2) for g in grads))
    scale = max_norm / norm if norm < max_norm else 1.0
    return [g * scale for g in grads]


def clip_each_separately(grads, max_norm):
    return [g * min(1.0, max_norm / np.linalg.norm(g)) for g in grads]


def lstm_backward_no_carry(dh, dc, cache):
    return my_lstm_step_backward(dh, np.zeros_like(dc), cache)


def lstm_backward_dc_prev_without_f(dh, dc, cache):
    dx, dh_prev, dc_prev, dWx, dWh, db = my_lstm_step_backward(dh, dc, cache)
    f = np.split(cache.gates, 4, axis=1)[1]
    return dx, dh_prev, dc_prev / f, dWx, dWh, db


def lstm_backward_f_at_new_cell(dh, dc, cache):
    i, f, g, o = np.split(cache.gates, 4, axis=1)
    c = f * cache.c_prev + i * g
    dc = dc + dh * o * (1 - cache.tanh_c**2)
    da = np.concatenate(
        [dc * g * i * (1 - i), dc * c * f * (1 - f), dc * i * (1 - g**2), dh * cache.tanh_c * o * (1 - o)],
        axis=1,
    )
    return da @ cache.Wx.T, da @ cache.Wh.T, dc * f, cache.x.T @ da, cache.h_prev.T @ da, da.sum(axis=0)


def lstm_backward_no_path_through_h(dh, dc, cache):
    i, f, g, o = np.split(cache.gates, 4, axis=1)
    da = np.concatenate(
        [
            dc * g * i * (1 - i),
            dc * cache.c_prev * f * (1 - f),
            dc * i * (1 - g**2),
            dh * cache.tanh_c * o * (1 - o),
        ],
        axis=1,
    )
    return da @ cache.Wx.T, da @ cache.Wh.T, dc * f, cache.x.T @ da, cache.h_prev.T @ da, da.sum(axis=0)


def gru_backward_no_direct_path(dh, cache):
    dx, dh_prev, *rest = my_gru_step_backward(dh, cache)
    z = np.split(cache.gates, 3, axis=1)[1]
    return (dx, dh_prev - dh * z, *rest)


def gru_backward_hidden_without_r(dh, cache):
    r, z, n = np.split(cache.gates, 3, axis=1)
    da_n = dh * (1 - z) * (1 - n**2)
    da_z = dh * (cache.h_prev - n) * z * (1 - z)
    da_r = da_n * cache.hn * r * (1 - r)
    dax = dah = np.concatenate([da_r, da_z, da_n], axis=1)
    return (
        dax @ cache.Wx.T,
        dh * z + dah @ cache.Wh.T,
        cache.x.T @ dax,
        cache.h_prev.T @ dah,
        dax.sum(0),
        dah.sum(0),
    )


def gru_backward_z_sign(dh, cache):
    r, z, n = np.split(cache.gates, 3, axis=1)
    da_n = dh * (1 - z) * (1 - n**2)
    da_z = dh * (n - cache.h_prev) * z * (1 - z)
    da_r = da_n * cache.hn * r * (1 - r)
    dax = np.concatenate([da_r, da_z, da_n], axis=1)
    dah = np.concatenate([da_r, da_z, da_n * r], axis=1)
    return (
        dax @ cache.Wx.T,
        dh * z + dah @ cache.Wh.T,
        cache.x.T @ dax,
        cache.h_prev.T @ dah,
        dax.sum(0),
        dah.sum(0),
    )


def gru_jacobian_direct_only(x, h_prev, Wx, Wh, bx, bh):
    H = h_prev.shape[0]
    z = 1 / (1 + np.exp(-(x @ Wx + bx + h_prev @ Wh + bh)[H : 2 * H]))
    return np.diag(z)


def gru_jacobian_without_reset_path(x, h_prev, Wx, Wh, bx, bh):
    H = h_prev.shape[0]
    ax, ah = x @ Wx + bx, h_prev @ Wh + bh
    r, z = 1 / (1 + np.exp(-(ax[: 2 * H] + ah[: 2 * H]))).reshape(2, H)
    n = np.tanh(ax[2 * H :] + r * ah[2 * H :])
    dn = (1 - n**2)[:, None] * r[:, None] * Wh[:, 2 * H :].T  # r treated as a constant
    dz = (z * (1 - z))[:, None] * Wh[:, H : 2 * H].T
    return np.diag(z) + (1 - z)[:, None] * dn + (h_prev - n)[:, None] * dz


def gru_jacobian_transposed(x, h_prev, Wx, Wh, bx, bh):
    return my_gru_jacobian(x, h_prev, Wx, Wh, bx, bh).T


def variants_bias_only(W_hn, b_hn):
    return bool(np.all(b_hn == 0))


def variants_diagonal_only(W_hn, b_hn):
    return bool(np.all(W_hn == np.diag(np.diag(W_hn))))


WRONG = [
    (check_jacobian_bound, bound_sigmoid_half, r"used γ = 1/2, the value σ\(0\)"),
    (check_jacobian_bound, bound_gamma_once, r"γ enters once"),
    (check_jacobian_bound, bound_k_minus_one, r"exponent is off by one"),
    (check_clip_by_norm, clip_condition_inverted, r"The condition is inverted"),
    (check_clip_by_norm, clip_each_separately, r"Each array is clipped by its own norm"),
    (check_lstm_step_backward, lstm_backward_no_carry, r"dc arriving from step t\+1 is not added"),
    (
        check_lstm_step_backward,
        lstm_backward_dc_prev_without_f,
        r"dc_prev differs .*not multiplied by the forget",
    ),
    (
        check_lstm_step_backward,
        lstm_backward_f_at_new_cell,
        r"forget gate's gradient uses the new cell state",
    ),
    (
        check_lstm_step_backward,
        lstm_backward_no_path_through_h,
        r"path from c through h = o \* tanh\(c\) is missing",
    ),
    (check_gru_step_backward, gru_backward_no_direct_path, r"dh_prev differs .*direct path is missing"),
    (check_gru_step_backward, gru_backward_hidden_without_r, r"not multiplied by r"),
    (check_gru_step_backward, gru_backward_z_sign, r"update gate's gradient has the wrong sign"),
    (check_gru_jacobian, gru_jacobian_direct_only, r"Only the direct path diag\(z\)"),
    (check_gru_jacobian, gru_jacobian_without_reset_path, r"path through the reset gate is missing"),
    (check_gru_jacobian, gru_jacobian_transposed, r"Your matrix is transposed"),
    (check_gru_variants_agree, variants_bias_only, r"A zero bias is not enough"),
    (check_gru_variants_agree, variants_diagonal_only, r"A diagonal W_hn is not enough"),
]


# (each wrong implementation is rejected, its mistake named, in tests/exercises/test_exercises.py)


def test_each_checker_rejects_at_least_two_wrong_implementations():
    counts = {}
    for check, _, _ in WRONG:
        counts[check] = counts.get(check, 0) + 1
    assert {check for check, _ in SOLUTIONS} <= set(counts) and min(counts.values()) >= 2


@pytest.mark.parametrize("check", [check_jacobian_bound, check_gru_variants_agree], ids=lambda f: f.__name__)
def test_a_non_function_is_refused(check):
    with pytest.raises(TypeError, match=f"{check.__name__}: expected your function, got int"):
        check(3)


def test_notebook_solutions_are_the_tested_ones():
    tested = {
        name: ast.unparse(ast.parse(inspect.getsource(fn))) for _, fn in SOLUTIONS for name in [fn.__name__]
    }
    found = set()
    for name in ("04-gradients", "05-lstm", "06-gru"):
        path = Path(__file__).resolve().parents[2] / "book" / f"{name}.ipynb"
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            lines = cell["source"] if isinstance(cell["source"], list) else cell["source"].splitlines(True)
            code = "".join(  # an IPython magic line (%pip, !cmd) parses as a `pass` at its indentation
                line[: len(line) - len(line.lstrip())] + "pass\n"
                if line.lstrip().startswith(("%", "!"))
                else line
                for line in lines
            )
            for node in ast.parse(code).body:
                if isinstance(node, ast.FunctionDef) and node.name in tested:
                    assert ast.unparse(node) == tested[node.name], f"{path.name}: {node.name} differs"
                    found.add(node.name)
    assert found == set(tested), f"solutions missing from the notebooks: {set(tested) - found}"
