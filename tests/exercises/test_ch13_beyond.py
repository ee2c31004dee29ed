"""Chapter 13's exercises: causal multi-head self-attention and a linear recurrence computed without a
loop over time (the references are the torch modules').
"""

import numpy as np
import pytest
from exercise_suite import chapter_tests

from companion import exercises as ex
from companion.diagnostics.gradcheck import relative_error
from companion.exercises import ch13_beyond


def my_causal_self_attention(x, Wq, Wk, Wv, num_heads):
    N, T, E = x.shape
    d = E // num_heads
    q, k, v = (
        (x @ W).reshape(N, T, num_heads, d).transpose(0, 2, 1, 3) for W in (Wq, Wk, Wv)
    )  # (N, h, T, d)
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d)  # (N, h, T, T)
    scores = np.where(np.tril(np.ones((T, T), dtype=bool)), scores, -np.inf)  # key s <= query t
    p = np.exp(scores - scores.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    return (p @ v).transpose(0, 2, 1, 3).reshape(N, T, E)


def my_linear_scan(log_a, b, h0):
    alpha = np.cumsum(log_a, axis=1)  # (N, T, H): log a_1 + ... + log a_t
    alpha = np.concatenate([np.zeros_like(h0)[:, None], alpha], axis=1)  # (N, T + 1, H), alpha_0 = 0
    terms = np.concatenate([h0[:, None], b], axis=1)  # (N, T + 1, H): h0, b_1, ..., b_T
    h = 0.0
    for sign in (1.0, -1.0):  # the positive and the negative parts, each summed in log space
        with np.errstate(divide="ignore"):
            log_part = np.log(np.maximum(sign * terms, 0.0))  # -inf where the part is 0
        h = h + sign * np.exp(alpha + np.logaddexp.accumulate(log_part - alpha, axis=1))
    return h[:, 1:]


def attention_scaled_by_E(x, Wq, Wk, Wv, num_heads):
    return (
        my_causal_self_attention(x, Wq, Wk, Wv, 1) if num_heads == 1 else _rescaled(x, Wq, Wk, Wv, num_heads)
    )


def _rescaled(x, Wq, Wk, Wv, num_heads):
    E = x.shape[2]
    factor = np.sqrt(np.sqrt(E // num_heads) / np.sqrt(E))  # q k^T / sqrt(E) = (c q)(c k)^T / sqrt(d)
    return my_causal_self_attention(x, Wq * factor, Wk * factor, Wv, num_heads)


def attention_mask_flipped(x, Wq, Wk, Wv, num_heads):
    return my_causal_self_attention(x[:, ::-1], Wq, Wk, Wv, num_heads)[:, ::-1]


def attention_one_head(x, Wq, Wk, Wv, num_heads):
    E = x.shape[2]
    factor = np.sqrt(np.sqrt(E) / np.sqrt(E // num_heads))  # keep the per-head scale sqrt(d)
    return my_causal_self_attention(x, Wq * factor, Wk * factor, Wv, 1)


def scan_closed_form(log_a, b, h0):
    A = np.exp(np.cumsum(log_a, axis=1))  # underflows to 0 on a long sequence
    return A * (h0[:, None] + np.cumsum(b / A, axis=1))


def scan_log_of_b(log_a, b, h0):
    alpha = np.cumsum(log_a, axis=1)
    return np.exp(alpha + np.logaddexp.accumulate(np.log(b) - alpha, axis=1)) + np.exp(alpha) * h0[:, None]


def scan_without_h0(log_a, b, h0):
    return my_linear_scan(log_a, b, np.zeros_like(h0))


def scan_exclusive(log_a, b, h0):
    h = my_linear_scan(log_a, b, h0)
    return np.concatenate([h0[:, None], h[:, :-1]], axis=1)


SOLUTIONS = [
    (ex.check_causal_self_attention, my_causal_self_attention),
    (ex.check_linear_scan, my_linear_scan),
]


WRONG = [
    (ex.check_causal_self_attention, attention_scaled_by_E, r"scaled by 1/sqrt\(E\)"),
    (ex.check_causal_self_attention, attention_mask_flipped, r"mask is the wrong way round"),
    (ex.check_causal_self_attention, attention_one_head, r"One head over all E features"),
    (ex.check_linear_scan, scan_closed_form, r"NaN or infinite .*product of the gates underflows"),
    (ex.check_linear_scan, scan_log_of_b, r"NaN or infinite .*log\(b\) of a negative b"),
    (ex.check_linear_scan, scan_without_h0, r"h0 is left out"),
    (ex.check_linear_scan, scan_exclusive, r"shifted by one step"),
]


globals().update(chapter_tests(SOLUTIONS, WRONG))


@pytest.mark.parametrize("exercise", [ch13_beyond._ATTENTION, ch13_beyond._SCAN], ids=lambda e: e.name)
def test_every_mistake_differs_from_the_reference(exercise):
    for mistake in exercise.mistakes:
        differs = [
            relative_error(out["y" if "y" in out else "h"], exercise.reference(c)[next(iter(out))]) > 1e-3
            for c in exercise.cases()
            for out in [mistake.outputs(c)]
            if out
        ]
        assert differs and all(differs), mistake.says


def test_references_are_the_torch_modules():
    torch = pytest.importorskip("torch")
    from companion.nn.scan import linear_scan_loop
    from companion.nn.transformer import MultiheadAttention

    for case in ch13_beyond._attention_cases():
        N, T, E = case["x"].shape
        attention = MultiheadAttention(E, case["num_heads"], bias=False, dtype=torch.float64)
        with torch.no_grad():
            attention.in_proj_weight.copy_(
                torch.tensor(np.concatenate([case[w].T for w in ("Wq", "Wk", "Wv")]))
            )
            attention.out_proj.weight.copy_(torch.eye(E, dtype=torch.float64))
        x = torch.tensor(case["x"])
        y, _ = attention(x, x, x, is_causal=True, need_weights=False)
        y = y.detach()
        np.testing.assert_allclose(
            ch13_beyond._reference_attention(case)["y"], y.numpy(), rtol=1e-10, atol=1e-12
        )
    for case in ch13_beyond._scan_cases():
        a, b, h0 = (torch.tensor(v) for v in (np.exp(case["log_a"]), case["b"], case["h0"]))
        np.testing.assert_allclose(
            ch13_beyond._reference_scan(case)["h"], linear_scan_loop(a, b, h0).numpy(), rtol=1e-12
        )
