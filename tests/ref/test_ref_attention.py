"""companion.ref.attention: forward equals a loop over the equations, hand backward equals FD and autograd."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.diagnostics.gradcheck import autograd_gradients, compare_gradients, numerical_gradients
from companion.ref import attention as att

N, TQ, TK, DQ, DK, DV, H = 3, 2, 5, 4, 3, 2, 6
LENGTHS = [5, 2, 3]
MASK = np.array([[1, 0, 1, 1, 0], [0, 1, 0, 0, 0], [1, 1, 1, 0, 1]], dtype=bool)
DOT_NAMES = ["dq", "dk", "dv"]
ADD_NAMES = ["dq", "dk", "dv", "dWq", "dWk", "dwa"]


def dot_problem(rng, n=N, tq=TQ, tk=TK, d=DK, dv=DV):
    return [rng.normal(size=(n, tq, d)), rng.normal(size=(n, tk, d)), rng.normal(size=(n, tk, dv))]


def additive_problem(rng, n=N, tq=TQ, tk=TK):
    return [
        rng.normal(size=(n, tq, DQ)),
        rng.normal(size=(n, tk, DK)),
        rng.normal(size=(n, tk, DV)),
        rng.normal(scale=0.7, size=(DQ, H)),
        rng.normal(scale=0.7, size=(DK, H)),
        rng.normal(size=H),
    ]


def loop_attention(score, q, k, v, valid):
    """The equations one query and one key at a time: s_ij, p_ij = e^{s_ij} / sum_l e^{s_il}, c_i."""
    n_, tq, tk = q.shape[0], q.shape[1], k.shape[1]
    weights, context = np.zeros((n_, tq, tk)), np.zeros((n_, tq, v.shape[2]))
    for n in range(n_):
        keys = [j for j in range(tk) if valid[n, j]]
        for i in range(tq):
            e = {j: math.exp(score(q[n, i], k[n, j])) for j in keys}
            for j in keys:
                weights[n, i, j] = e[j] / sum(e.values())
                context[n, i] += weights[n, i, j] * v[n, j]
    return context, weights


def lengths_mask(lengths, tk=TK):
    return np.array([[j < length for j in range(tk)] for length in lengths])


@pytest.mark.parametrize("masking", ["mask", "lengths", "none"])
@pytest.mark.parametrize("kind", ["dot", "scaled", "additive"])
def test_forward_equals_a_loop_over_the_equations(kind, masking):
    rng = np.random.default_rng(0)
    kwargs = {"mask": {"mask": MASK}, "lengths": {"lengths": LENGTHS}, "none": {}}[masking]
    valid = {"mask": MASK, "lengths": lengths_mask(LENGTHS), "none": np.ones((N, TK), bool)}[masking]
    if kind == "additive":
        q, k, v, Wq, Wk, wa = additive_problem(rng)
        context, weights, _ = att.additive_attention_forward(q, k, v, Wq, Wk, wa, **kwargs)
        expected = loop_attention(lambda qi, kj: float(wa @ np.tanh(qi @ Wq + kj @ Wk)), q, k, v, valid)
    else:
        q, k, v = dot_problem(rng)
        c = 1 / math.sqrt(DK) if kind == "scaled" else 1.0
        context, weights, _ = att.dot_product_attention_forward(q, k, v, scale=kind == "scaled", **kwargs)
        expected = loop_attention(lambda qi, kj: c * float(qi @ kj), q, k, v, valid)
    np.testing.assert_allclose(context, expected[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(weights, expected[1], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", ["dot", "additive"])
def test_weights_sum_to_one_over_unmasked_keys_and_are_exactly_zero_on_masked(kind):
    rng = np.random.default_rng(1)
    if kind == "dot":
        q, k, v = dot_problem(rng)
        q *= 30.0  # large scores: the softmax must not overflow
        _, weights, _ = att.dot_product_attention_forward(q, k, v, mask=MASK)
    else:
        _, weights, _ = att.additive_attention_forward(*additive_problem(rng), mask=MASK)
    assert np.all(weights[~np.broadcast_to(MASK[:, None, :], weights.shape)] == 0.0)
    assert np.all(weights[np.broadcast_to(MASK[:, None, :], weights.shape)] > 0.0)
    np.testing.assert_allclose(weights.sum(axis=2), 1.0, rtol=1e-14)


@pytest.mark.parametrize("kind", ["dot", "additive"])
def test_with_one_key_the_context_is_its_value(kind):
    rng = np.random.default_rng(2)
    if kind == "dot":
        args = dot_problem(rng, tk=1)
        context, weights, _ = att.dot_product_attention_forward(*args)
    else:
        args = additive_problem(rng, tk=1)
        context, weights, _ = att.additive_attention_forward(*args)
    np.testing.assert_array_equal(weights, np.ones((N, TQ, 1)))
    np.testing.assert_array_equal(context, np.broadcast_to(args[2], context.shape))


def forward(kind, args, **kwargs):
    if kind == "dot":
        return att.dot_product_attention_forward(*args, **kwargs)
    return att.additive_attention_forward(*args, **kwargs)


def backward(kind, dcontext, cache, dweights=None):
    if kind == "dot":
        return att.dot_product_attention_backward(dcontext, cache, dweights)
    return att.additive_attention_backward(dcontext, cache, dweights)


def torch_attention(kind, valid, *args):
    """The same attention in plain torch operations (a row with no valid key is left out)."""
    if kind == "dot":
        q, k, v = args
        scores = q @ k.transpose(1, 2) / math.sqrt(q.shape[2])
    else:
        q, k, v, Wq, Wk, wa = args
        scores = torch.tanh((q @ Wq)[:, :, None] + (k @ Wk)[:, None]) @ wa
    scores = scores.masked_fill(~torch.from_numpy(valid)[:, None, :], -math.inf)
    weights = torch.softmax(scores, dim=2)
    return torch.cat([(weights @ v).flatten(), weights.flatten()])


@pytest.mark.parametrize("masking", ["mask", "lengths", "none"])
@pytest.mark.parametrize("kind", ["dot", "additive"])
def test_backward_matches_finite_differences_and_torch_autograd(kind, masking):
    rng = np.random.default_rng(3)
    args = dot_problem(rng) if kind == "dot" else additive_problem(rng)
    kwargs = {"mask": {"mask": MASK}, "lengths": {"lengths": LENGTHS}, "none": {}}[masking]
    valid = {"mask": MASK, "lengths": lengths_mask(LENGTHS), "none": np.ones((N, TK), bool)}[masking]
    context, weights, cache = forward(kind, args, **kwargs)
    dcontext, dweights = rng.normal(size=context.shape), rng.normal(size=weights.shape)
    grads = backward(kind, dcontext, cache, dweights)
    names = DOT_NAMES if kind == "dot" else ADD_NAMES
    upstream = np.concatenate([dcontext.ravel(), dweights.ravel()])

    def both(*a):
        c, w, _ = forward(kind, a, **kwargs)
        return np.concatenate([c.ravel(), w.ravel()])

    numeric = numerical_gradients(both, args, upstream=upstream)
    errors = compare_gradients(grads, numeric, names)
    assert max(errors.values()) < 1e-8, errors
    reference = autograd_gradients(lambda *a: torch_attention(kind, valid, *a), args, upstream=upstream)
    errors = compare_gradients(grads, reference, names)
    assert max(errors.values()) < 1e-12, errors
    assert all(np.any(g != 0) for g in grads)
    padded = ~np.broadcast_to(valid[:, :, None], grads[1].shape)
    assert np.all(grads[1][padded] == 0.0) and np.all(grads[2][~valid] == 0.0)  # dk, dv at masked keys


def test_softmax_backward_is_the_jacobian_product():
    rng = np.random.default_rng(4)
    scores, dp = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 4))
    mask = np.array([True, False, True, True])
    p = att.masked_softmax(scores, mask)
    (numeric,) = numerical_gradients(lambda s: att.masked_softmax(s, mask), [scores], upstream=dp)
    assert compare_gradients([att.softmax_backward(dp, p)], [numeric], ["ds"])["ds"] < 1e-8
    jacobian = np.einsum("nij,jk->nijk", p, np.eye(4)) - p[..., :, None] * p[..., None, :]  # (2, 3, 4, 4)
    np.testing.assert_allclose(
        att.softmax_backward(dp, p), np.einsum("nij,nijk->nik", dp, jacobian), atol=1e-15
    )


@pytest.mark.parametrize("kind", ["dot", "additive"])
def test_a_fully_masked_row_gives_zero_weights_zero_context_and_zero_gradients(kind):
    rng = np.random.default_rng(5)
    args = dot_problem(rng) if kind == "dot" else additive_problem(rng)
    args[1][1] = np.nan  # the keys and values of sequence 1 are never read
    args[2][1] = np.inf
    with np.errstate(all="raise"):
        context, weights, cache = forward(kind, args, lengths=[5, 0, 3])
        grads = backward(kind, np.ones_like(context), cache, np.ones_like(weights))
    assert np.all(weights[1] == 0.0) and np.all(context[1] == 0.0)
    assert all(np.all(np.isfinite(g)) for g in grads)
    assert np.all(grads[0][1] == 0.0) and np.all(grads[1][1] == 0.0) and np.all(grads[2][1] == 0.0)
    np.testing.assert_allclose(weights[[0, 2]].sum(axis=2), 1.0, rtol=1e-14)


@settings(max_examples=30, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 4), min_size=1, max_size=3),
    fill=st.sampled_from([0.0, 1e6, -1e6, np.nan, np.inf]),
    seed=st.integers(0, 2**16),
    kind=st.sampled_from(["dot", "additive"]),
)
def test_keys_past_the_valid_length_never_change_the_context_or_its_gradients(lengths, fill, seed, kind):
    rng = np.random.default_rng(seed)
    n = len(lengths)
    args = dot_problem(rng, n=n, tk=4) if kind == "dot" else additive_problem(rng, n=n, tk=4)
    context, weights, cache = forward(kind, args, lengths=lengths)
    dcontext = rng.normal(size=context.shape)
    grads = backward(kind, dcontext, cache)
    other = [a.copy() for a in args]
    junk = np.where(rng.random(size=(n, 4)) < 0.5, fill, rng.normal(scale=100.0, size=(n, 4)))
    padded = ~lengths_mask(lengths, 4)
    other[1][padded] = junk[padded][:, None]
    other[2][padded] = -junk[padded][:, None]
    context2, weights2, cache2 = forward(kind, other, lengths=lengths)
    grads2 = backward(kind, dcontext, cache2)
    np.testing.assert_array_equal(context2, context)
    np.testing.assert_array_equal(weights2, weights)
    for g, g2 in zip(grads, grads2, strict=True):
        np.testing.assert_array_equal(g2, g)
    for i, length in enumerate(lengths):  # each sequence alone, cut to its valid keys
        alone = [args[0][i : i + 1], args[1][i : i + 1, :length], args[2][i : i + 1, :length], *args[3:]]
        if length:
            np.testing.assert_allclose(forward(kind, alone)[0][0], context[i], rtol=1e-12, atol=1e-14)


def test_general_score_is_the_dot_product_of_q_w_with_k():
    rng = np.random.default_rng(6)
    q, k, v = dot_problem(rng, d=DQ)
    k = rng.normal(size=(N, TK, DK))
    W = rng.normal(size=(DQ, DK))
    context, weights, cache = att.dot_product_attention_forward(q @ W, k, v, mask=MASK, scale=False)
    expected = loop_attention(lambda qi, kj: float(qi @ W @ kj), q, k, v, MASK)
    np.testing.assert_allclose(context, expected[0], rtol=1e-12, atol=1e-14)
    dcontext = rng.normal(size=context.shape)
    dqW, _, _ = att.dot_product_attention_backward(dcontext, cache)
    dW = q.reshape(-1, DQ).T @ dqW.reshape(-1, DK)  # (Dq, Dk)

    def general(W):
        return att.dot_product_attention_forward(q @ W, k, v, mask=MASK, scale=False)[0]

    (numeric,) = numerical_gradients(general, [W], upstream=dcontext)
    assert compare_gradients([dW], [numeric], ["dW"])["dW"] < 1e-8


def test_errors_name_the_expected_and_the_actual_value():
    rng = np.random.default_rng(7)
    q, k, v = dot_problem(rng)
    with pytest.raises(ValueError, match=r"expected k of shape \(N, Tk, D\) = \(3, Tk, 3\), got \(3, 5, 4\)"):
        att.dot_product_attention_forward(q, rng.normal(size=(N, TK, 4)), v)
    with pytest.raises(
        ValueError, match=r"expected v of shape \(N, Tk, Dv\) = \(3, 5, Dv\), got \(3, 4, 2\)"
    ):
        att.dot_product_attention_forward(q, k, v[:, :4])
    with pytest.raises(ValueError, match=r"expected mask of shape \(N, Tk\) = \(3, 5\), got \(3, 4\)"):
        att.dot_product_attention_forward(q, k, v, mask=MASK[:, :4])
    with pytest.raises(TypeError, match="expected mask to be a boolean ndarray"):
        att.dot_product_attention_forward(q, k, v, mask=MASK.astype(int))
    with pytest.raises(ValueError, match=r"expected every length <= T = 5, got max length 6"):
        att.dot_product_attention_forward(q, k, v, lengths=[6, 0, 1])
    with pytest.raises(TypeError, match="expected lengths to hold integers"):
        att.dot_product_attention_forward(q, k, v, lengths=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="expected mask or lengths, not both"):
        att.dot_product_attention_forward(q, k, v, mask=MASK, lengths=LENGTHS)
    with pytest.raises(TypeError, match="expected scale to be a bool"):
        att.dot_product_attention_forward(q, k, v, scale=2.0)
    args = additive_problem(rng)
    args[5] = rng.normal(size=H + 1)
    with pytest.raises(ValueError, match=r"expected wa of shape \(H,\) = \(6,\), got \(7,\)"):
        att.additive_attention_forward(*args)
    _, _, cache = att.dot_product_attention_forward(q, k, v)
    with pytest.raises(
        ValueError, match=r"expected dcontext of shape \(N, Tq, Dv\) = \(3, 2, 2\), got \(3, 2, 3\)"
    ):
        att.dot_product_attention_backward(np.zeros((N, TQ, 3)), cache)
    with pytest.raises(
        ValueError, match=r"expected mask broadcastable to scores of shape \(2, 3\), got \(2,\)"
    ):
        att.masked_softmax(np.zeros((2, 3)), np.array([True, False]))
    with pytest.raises(ValueError, match=r"expected dp of shape \(2, 3\)"):
        att.softmax_backward(np.zeros((3, 2)), np.zeros((2, 3)))
