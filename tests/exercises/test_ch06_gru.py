"""Chapter 6's exercises: one GRU step forward and backward, its Jacobian, and when Cho's GRU is
PyTorch's.
"""

import numpy as np
import pytest
from exercise_suite import chapter_tests

from companion import exercises as ex
from companion.diagnostics.gradcheck import numerical_gradient
from companion.exercises import ch06_gru
from companion.ref import gru as ref_gru
from companion.ref.lstm import sigmoid


def my_gru_step_forward(x, h_prev, Wx, Wh, bx, bh):
    x_r, x_z, x_n = np.split(x @ Wx + bx, 3, axis=1)  # 3 x (N, H)
    h_r, h_z, h_n = np.split(h_prev @ Wh + bh, 3, axis=1)
    r, z = 1 / (1 + np.exp(-(x_r + h_r))), 1 / (1 + np.exp(-(x_z + h_z)))
    n = np.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h_prev


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
    return bool(diagonal and np.all(b_hn == 0))


def gru_chung_interpolation(x, h_prev, Wx, Wh, bx, bh):
    xr, xz, xn = np.split(x @ Wx + bx, 3, axis=1)
    hr, hz, hn = np.split(h_prev @ Wh + bh, 3, axis=1)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    n = np.tanh(xn + r * hn)
    return z * n + (1 - z) * h_prev


def gru_cho_reset(x, h_prev, Wx, Wh, bx, bh):
    H = h_prev.shape[1]
    xr, xz, xn = np.split(x @ Wx + bx, 3, axis=1)
    hr, hz, _ = np.split(h_prev @ Wh + bh, 3, axis=1)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    n = np.tanh(xn + (r * h_prev) @ Wh[:, 2 * H :] + bh[2 * H :])
    return (1 - z) * n + z * h_prev


def gru_zrn(x, h_prev, Wx, Wh, bx, bh):
    xz, xr, xn = np.split(x @ Wx + bx, 3, axis=1)
    hz, hr, hn = np.split(h_prev @ Wh + bh, 3, axis=1)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    n = np.tanh(xn + r * hn)
    return (1 - z) * n + z * h_prev


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


SOLUTIONS = [
    (ex.check_gru_step_forward, my_gru_step_forward),
    (ex.check_gru_step_backward, my_gru_step_backward),
    (ex.check_gru_jacobian, my_gru_jacobian),
    (ex.check_gru_variants_agree, my_gru_variants_agree),
]


WRONG = [
    (ex.check_gru_step_forward, gru_chung_interpolation, r"interpolation is reversed"),
    (ex.check_gru_step_forward, gru_cho_reset, r"reset gate is applied before the matrix product"),
    (ex.check_gru_step_forward, gru_zrn, r"The gates are read in the order z, r, n"),
    (ex.check_gru_step_backward, gru_backward_no_direct_path, r"dh_prev differs .*direct path is missing"),
    (ex.check_gru_step_backward, gru_backward_hidden_without_r, r"not multiplied by r"),
    (ex.check_gru_step_backward, gru_backward_z_sign, r"update gate's gradient has the wrong sign"),
    (ex.check_gru_jacobian, gru_jacobian_direct_only, r"Only the direct path diag\(z\)"),
    (ex.check_gru_jacobian, gru_jacobian_without_reset_path, r"path through the reset gate is missing"),
    (ex.check_gru_jacobian, gru_jacobian_transposed, r"Your matrix is transposed"),
    (ex.check_gru_variants_agree, variants_bias_only, r"A zero bias is not enough"),
    (ex.check_gru_variants_agree, variants_diagonal_only, r"A diagonal W_hn is not enough"),
]


EXERCISES = [
    (ex.check_gru_step_forward, ch06_gru._GRU_STEP),
]


REFERENCES = [
    (ex.check_gru_step_forward, ref_gru.gru_step_forward),
    (ex.check_gru_step_backward, ref_gru.gru_step_backward),
]


globals().update(chapter_tests(SOLUTIONS, WRONG, exercises=EXERCISES, references=REFERENCES))


def test_gru_jacobian_reference_is_central_differences():
    for c in ch06_gru._gru_jacobian_cases():
        H = c["h_prev"].shape[0]

        def step(h_prev, c=c):  # (1, H) -> (1, H)
            return ref_gru.gru_step_forward(c["x"][None], h_prev, c["Wx"], c["Wh"], c["bx"], c["bh"])[0]

        rows = [
            numerical_gradient(step, [c["h_prev"][None]], wrt=0, upstream=np.eye(H)[i : i + 1])
            for i in range(H)
        ]
        np.testing.assert_allclose(ch06_gru._gru_jacobian(c)["J"], np.concatenate(rows), rtol=1e-6, atol=1e-9)


def test_gru_variant_answer_is_what_the_two_forms_compute():
    """The reference's verdict (diagonal W_hn and zero b_hn) matches a numerical comparison of the two forms."""
    rng = np.random.default_rng(0)
    for c in ch06_gru._variant_cases():
        h, r = rng.normal(size=(50, 3)), rng.uniform(0.05, 0.95, size=(50, 3))
        torch_form = r * (h @ c["W_hn"] + c["b_hn"])
        cho_form = (r * h) @ c["W_hn"]
        assert np.allclose(torch_form, cho_form) == bool(ch06_gru._agree(c)["agree"]), c["_label"]


def test_a_non_function_is_refused():
    with pytest.raises(TypeError, match="check_gru_variants_agree: expected your function, got int"):
        ex.check_gru_variants_agree(3)


def test_a_non_function_is_refused_with_the_checks_name():
    with pytest.raises(TypeError, match="check_gru_step_forward: expected your function, got ndarray"):
        ex.check_gru_step_forward(np.zeros(3))
