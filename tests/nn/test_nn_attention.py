"""companion.nn.attention: masked softmax and the attention modules against loops, numpy and gradcheck."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.func import functional_call

from companion.nn import DTypeError, ShapeError
from companion.nn.attention import AdditiveAttention, DotProductAttention, masked_softmax
from companion.ref import attention as ref

N, TQ, TK, DQ, DK, DV, H = 3, 2, 5, 4, 3, 2, 6
LENGTHS = [5, 2, 3]
MASK = torch.tensor([[1, 0, 1, 1, 0], [0, 1, 0, 0, 0], [1, 1, 1, 0, 1]], dtype=torch.bool)
F64 = torch.float64


def inputs(seed, n=N, tq=TQ, tk=TK, dq=DQ, dk=DK, dv=DV, grad=False):
    gen = torch.Generator().manual_seed(seed)
    shapes = [(n, tq, dq), (n, tk, dk), (n, tk, dv)]
    return [torch.randn(*s, generator=gen, dtype=F64, requires_grad=grad) for s in shapes]


def module(kind, seed=0):
    torch.manual_seed(seed)
    if kind == "additive":
        return AdditiveAttention(DQ, DK, H, dtype=F64)
    if kind == "general":
        return DotProductAttention(DQ, DK, dtype=F64)
    return DotProductAttention(scale=kind == "scaled")


def score_fn(kind, attention):
    """s(q_i, k_j) of one pair, written from the module's docstring equations."""
    if kind == "additive":
        Wq, Wk = attention.query_proj.weight, attention.key_proj.weight
        v = attention.score_proj.weight[0]
        return lambda q, k: v @ torch.tanh(Wq @ q + Wk @ k)
    if kind == "general":
        return lambda q, k: q @ attention.weight @ k / math.sqrt(DK)
    c = 1 / math.sqrt(DK) if kind == "scaled" else 1.0
    return lambda q, k: c * (q @ k)


def loop_attention(score, q, k, v, valid):
    context, weights = (
        torch.zeros(q.shape[0], q.shape[1], v.shape[2], dtype=F64),
        torch.zeros(valid.shape[0], q.shape[1], k.shape[1], dtype=F64),
    )
    for n in range(q.shape[0]):
        keys = [j for j in range(k.shape[1]) if valid[n, j]]
        for i in range(q.shape[1]):
            e = {j: math.exp(float(score(q[n, i], k[n, j]))) for j in keys}
            for j in keys:
                weights[n, i, j] = e[j] / sum(e.values())
                context[n, i] += weights[n, i, j] * v[n, j]
    return context, weights


def dims_for(kind):
    return {} if kind in ("additive", "general") else {"dq": DK}


KINDS = ["dot", "scaled", "general", "additive"]


def test_masked_softmax_sums_to_one_and_is_exactly_zero_where_masked():
    gen = torch.Generator().manual_seed(0)
    scores = 50.0 * torch.randn(3, 4, 5, generator=gen, dtype=F64)  # large: no overflow either
    scores[MASK[:, None, :].expand(3, 4, 5).logical_not()] = float("nan")  # masked scores are never read
    p = masked_softmax(scores, MASK[:, None, :])
    assert torch.all(p[~MASK[:, None, :].expand_as(p)] == 0.0) and torch.all(
        p[MASK[:, None, :].expand_as(p)] > 0
    )
    torch.testing.assert_close(p.sum(-1), torch.ones(3, 4, dtype=F64), rtol=1e-14, atol=0)
    by_lengths = masked_softmax(scores.nan_to_num(), lengths=torch.tensor([5, 2, 3]))
    expected = torch.softmax(scores.nan_to_num()[0], -1)
    torch.testing.assert_close(by_lengths[0], expected, rtol=1e-15, atol=0)
    assert torch.all(by_lengths[1, :, 2:] == 0.0)
    torch.testing.assert_close(masked_softmax(scores.nan_to_num()), torch.softmax(scores.nan_to_num(), -1))


def test_masked_softmax_along_another_dim_with_lengths_and_a_fully_masked_row():
    gen = torch.Generator().manual_seed(1)
    scores = torch.randn(2, 4, 3, generator=gen, dtype=F64, requires_grad=True)  # normalise over dim 1
    p = masked_softmax(scores, lengths=[0, 3], dim=1)
    assert torch.all(p[0] == 0.0) and torch.all(p[1, 3] == 0.0)
    torch.testing.assert_close(p[1, :3], torch.softmax(scores[1, :3], 0), rtol=1e-15, atol=0)
    (grad,) = torch.autograd.grad((p * torch.randn(2, 4, 3, generator=gen, dtype=F64)).sum(), scores)
    assert torch.all(torch.isfinite(grad)) and torch.all(grad[0] == 0.0) and torch.all(grad[1, 3] == 0.0)
    assert torch.autograd.gradcheck(lambda s: masked_softmax(s, lengths=[0, 3], dim=1), (scores,))


@pytest.mark.parametrize("masking", ["mask", "lengths", "none"])
@pytest.mark.parametrize("kind", KINDS)
def test_attention_equals_a_loop_over_the_equations(kind, masking):
    attention = module(kind)
    q, k, v = inputs(1, **dims_for(kind))
    kwargs = {"mask": {"mask": MASK}, "lengths": {"lengths": LENGTHS}, "none": {}}[masking]
    valid = {
        "mask": MASK,
        "lengths": torch.arange(TK) < torch.tensor(LENGTHS)[:, None],
        "none": torch.ones(N, TK, dtype=torch.bool),
    }[masking]
    context, weights = attention(q, k, v, **kwargs)
    with torch.no_grad():
        expected = loop_attention(score_fn(kind, attention), q, k, v, valid)
    assert context.shape == (N, TQ, DV) and weights.shape == (N, TQ, TK)
    torch.testing.assert_close((context, weights), expected, rtol=1e-12, atol=1e-14)
    assert torch.all(weights[~valid[:, None, :].expand_as(weights)] == 0.0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(N, TQ, dtype=F64), rtol=1e-14, atol=0)


@pytest.mark.parametrize("kind", KINDS)
def test_with_one_key_the_context_is_its_value_and_2d_queries_drop_the_query_axis(kind):
    attention = module(kind)
    q, k, v = inputs(2, tk=1, **dims_for(kind))
    context, weights = attention(q, k, v)
    assert torch.equal(weights, torch.ones(N, TQ, 1, dtype=F64))
    assert torch.equal(context, v.expand(N, TQ, DV))
    q, k, v = inputs(3, **dims_for(kind))
    context, weights = attention(q[:, 0], k, v, mask=MASK)  # one query per sequence: (N, Dq)
    full = attention(q, k, v, mask=MASK)
    assert context.shape == (N, DV) and weights.shape == (N, TK)
    torch.testing.assert_close((context, weights), (full[0][:, 0], full[1][:, 0]), rtol=1e-14, atol=0)


@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck_in_double_with_masks_and_a_fully_masked_row(kind):
    attention = module(kind)
    q, k, v = inputs(4, tk=3, **dims_for(kind), grad=True)
    mask = torch.tensor([[1, 0, 1], [0, 0, 0], [1, 1, 0]], dtype=torch.bool)  # sequence 1: no valid key
    names = [name for name, _ in attention.named_parameters()]
    params = [p.detach().clone().requires_grad_(True) for p in attention.parameters()]

    def f(q, k, v, *weights):
        return functional_call(attention, dict(zip(names, weights, strict=True)), (q, k, v), {"mask": mask})

    assert torch.autograd.gradcheck(f, (q, k, v, *params))


@pytest.mark.filterwarnings("ignore:Anomaly Detection has been enabled:UserWarning")
@pytest.mark.parametrize("kind", KINDS)
def test_a_fully_masked_row_gives_zero_weights_and_context_and_no_nan_gradient(kind):
    attention = module(kind)
    q, k, v = inputs(5, **dims_for(kind), grad=True)
    with torch.no_grad():
        k[1], v[1] = float("nan"), float("inf")  # never read: sequence 1 has no valid key
    with torch.autograd.detect_anomaly(check_nan=True):  # raises if any backward step produces NaN
        context, weights = attention(q, k, v, lengths=torch.tensor([5, 0, 3]))
        grads = torch.autograd.grad(context.sum() + weights.sum(), [q, k, v, *attention.parameters()])
    assert torch.all(weights[1] == 0.0) and torch.all(context[1] == 0.0)
    assert torch.all(torch.isfinite(context)) and torch.all(torch.isfinite(weights))
    assert all(torch.all(torch.isfinite(g)) for g in grads)
    assert torch.all(grads[0][1] == 0.0) and torch.all(grads[1][1] == 0.0) and torch.all(grads[2][1] == 0.0)


@settings(max_examples=25, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 4), min_size=1, max_size=3),
    fill=st.sampled_from([0.0, 1e6, -1e6, math.nan, math.inf]),
    seed=st.integers(0, 2**16),
    kind=st.sampled_from(KINDS),
)
def test_keys_past_the_valid_length_never_change_the_context_or_its_gradients(lengths, fill, seed, kind):
    attention = module(kind, seed=seed)
    n = len(lengths)
    q, k, v = inputs(seed, n=n, tk=4, **dims_for(kind), grad=True)
    padded = ~(torch.arange(4) < torch.tensor(lengths)[:, None])  # (n, 4)
    gen = torch.Generator().manual_seed(seed + 1)
    junk = torch.where(
        torch.rand(n, 4, generator=gen) < 0.5, fill, 100.0 * torch.randn(n, 4, generator=gen, dtype=F64)
    )
    k2 = torch.where(padded[..., None], junk[..., None], k.detach()).requires_grad_(True)
    v2 = torch.where(padded[..., None], -junk[..., None], v.detach()).requires_grad_(True)
    upstream = torch.randn(n, TQ, DV, generator=gen, dtype=F64)
    results = []
    for keys, values in ((k, v), (k2, v2)):
        context, weights = attention(q, keys, values, lengths=lengths)
        grads = torch.autograd.grad((context * upstream).sum(), [q, keys, values, *attention.parameters()])
        results.append((context, weights, grads))
    torch.testing.assert_close(results[1], results[0], rtol=0, atol=0)
    for i, length in enumerate(lengths):  # each sequence alone, cut to its valid keys
        if length:
            alone = attention(q[i : i + 1], k[i : i + 1, :length], v[i : i + 1, :length])[0]
            torch.testing.assert_close(alone[0], results[0][0][i], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", KINDS)
def test_module_equals_the_numpy_reference_with_copied_weights(kind):
    attention = module(kind, seed=6)
    q, k, v = inputs(6, **dims_for(kind), grad=True)
    context, weights = attention(q, k, v, mask=MASK)
    gen = torch.Generator().manual_seed(7)
    dcontext, dweights = (
        torch.randn(N, TQ, DV, generator=gen, dtype=F64),
        torch.randn(N, TQ, TK, generator=gen, dtype=F64),
    )
    params = list(attention.parameters())
    grads = torch.autograd.grad((context * dcontext).sum() + (weights * dweights).sum(), [q, k, v, *params])
    qn, kn, vn = (t.detach().numpy() for t in (q, k, v))
    up = (dcontext.numpy(), dweights.numpy())
    if kind == "additive":
        Wq, Wk = attention.query_proj.weight.detach().numpy().T, attention.key_proj.weight.detach().numpy().T
        wa = attention.score_proj.weight.detach().numpy()[0]
        c, w, cache = ref.additive_attention_forward(qn, kn, vn, Wq, Wk, wa, mask=MASK.numpy())
        dq, dk, dv, dWq, dWk, dwa = ref.additive_attention_backward(*up[:1], cache, up[1])
        expected_grads = [dq, dk, dv, dWq.T, dWk.T, dwa[None]]
    else:
        W = attention.weight.detach().numpy() if kind == "general" else np.eye(DK)
        c, w, cache = ref.dot_product_attention_forward(
            qn @ W, kn, vn, mask=MASK.numpy(), scale=kind != "dot"
        )
        dqW, dk, dv = ref.dot_product_attention_backward(up[0], cache, up[1])
        expected_grads = [dqW @ W.T, dk, dv] + (
            [qn.reshape(-1, DQ).T @ dqW.reshape(-1, DK)] if params else []
        )
    torch.testing.assert_close(
        (context, weights), (torch.from_numpy(c), torch.from_numpy(w)), rtol=1e-12, atol=1e-14
    )
    torch.testing.assert_close(
        list(grads), [torch.from_numpy(g) for g in expected_grads], rtol=1e-10, atol=1e-13
    )


def test_scaling_divides_the_scores_by_the_square_root_of_the_key_size():
    q, k, v = inputs(8, dq=DK)
    scaled = DotProductAttention(scale=True)(q, k, v)
    torch.testing.assert_close(
        scaled, DotProductAttention(scale=False)(q / math.sqrt(DK), k, v), rtol=1e-14, atol=1e-15
    )


def test_parameters_construction_and_repr():
    additive = AdditiveAttention(4, 3, 8)
    shapes = {name: tuple(p.shape) for name, p in additive.named_parameters()}
    assert shapes == {"query_proj.weight": (8, 4), "key_proj.weight": (8, 3), "score_proj.weight": (1, 8)}
    general = DotProductAttention(4, 3, scale=False, dtype=F64)
    assert general.general and general.weight.shape == (4, 3) and general.weight.dtype == F64
    assert general.weight.abs().max() <= 0.5  # U(-1/sqrt(4), 1/sqrt(4))
    assert DotProductAttention(5).weight.shape == (5, 5)
    plain = DotProductAttention()
    assert not plain.general and list(plain.parameters()) == [] and plain.weight is None
    assert repr(general) == "DotProductAttention(query_size=4, key_size=3, scale=False)"
    assert repr(plain) == "DotProductAttention(scale=True)"
    torch.manual_seed(0)
    fresh = AdditiveAttention(4, 3, 8)
    torch.manual_seed(0)
    additive.reset_parameters()  # the same draws as at construction
    torch.testing.assert_close(list(additive.parameters()), list(fresh.parameters()), rtol=0, atol=0)


def _additive():
    return AdditiveAttention(DQ, DK, H, dtype=F64)


Q, K, V = (x.detach() for x in inputs(9))
ERRORS = [  # (call, exception, message): each message names the module, the expected and the actual value
    (
        lambda: _additive()(Q, torch.zeros(N, TK, 4, dtype=F64), V),
        ShapeError,
        r"AdditiveAttention: expected keys of shape \(N, Tk, Dk\) = \(3, Tk, 3\), got \(3, 5, 4\)",
    ),
    (
        lambda: _additive()(Q, K, V[:2]),
        ShapeError,
        r"expected values of shape \(N, Tk, Dv\) = \(3, 5, Dv\), got \(2, 5, 2\)",
    ),
    (
        lambda: _additive()(Q[0, 0], K, V),
        ShapeError,
        r"expected queries of shape \(N, Tq, Dq\) or \(N, Dq\), got \(4,\)",
    ),
    (
        lambda: _additive()(Q, K, V, mask=MASK[:, :4]),
        ShapeError,
        r"expected mask of shape \(N, Tk\) = \(3, 5\), got \(3, 4\)",
    ),
    (lambda: _additive()(Q, K, V, mask=MASK.int()), DTypeError, "expected mask to be a bool tensor"),
    (
        lambda: _additive()(Q, K, V, lengths=[6, 1, 1]),
        ShapeError,
        r"expected every length <= T = 5, got max length 6",
    ),
    (lambda: _additive()(Q, K, V, lengths=[-1, 1, 1]), ShapeError, r"expected every length >= 0"),
    (
        lambda: _additive()(Q, K, V, lengths=[1, 1]),
        ShapeError,
        r"expected lengths of shape \(N,\) = \(3,\) \(one per sequence\), got \(2,\)",
    ),
    (
        lambda: _additive()(Q, K, V, lengths=torch.tensor([1.0, 2.0, 3.0])),
        DTypeError,
        "expected lengths to hold integers",
    ),
    (
        lambda: _additive()(Q, K, V, mask=MASK, lengths=LENGTHS),
        ValueError,
        "expected mask or lengths, not both",
    ),
    (
        lambda: _additive()(Q, K.float(), V),
        DTypeError,
        r"expected keys of dtype torch.float64 \(the parameters'\), got torch.float32",
    ),
    (
        lambda: DotProductAttention()(Q[..., :DK], K, V.float()),
        DTypeError,
        r"expected values of dtype torch.float64 \(the queries'\), got torch.float32",
    ),
    (
        lambda: DotProductAttention()(Q, K, V),
        ShapeError,
        r"DotProductAttention: expected keys of shape \(N, Tk, D\) = \(3, Tk, 4\), got \(3, 5, 3\)",
    ),
    (lambda: DotProductAttention(key_size=3), ValueError, "key_size=3 needs query_size"),
    (lambda: DotProductAttention(scale=1.0), DTypeError, "expected scale to be a bool"),
    (lambda: AdditiveAttention(2, 2, 0), ValueError, "expected hidden_size > 0, got 0"),
    (
        lambda: masked_softmax(torch.zeros(2, 3), torch.tensor([True, False])),
        ShapeError,
        r"expected mask broadcastable to scores of shape \(2, 3\), got \(2,\)",
    ),
    (lambda: masked_softmax(torch.zeros(2, 3), lengths=[1, 1, 1], dim=0), ValueError, "expected dim > 0"),
    (lambda: masked_softmax(torch.zeros(2, 3), dim=2), ValueError, r"expected dim in \[-2, 1\]"),
    (lambda: masked_softmax(torch.zeros(2, 3), dim=1.0), DTypeError, "expected dim to be an int"),
    (
        lambda: masked_softmax(torch.zeros(2, 3, dtype=torch.long)),
        DTypeError,
        "expected scores to be a floating-point tensor",
    ),
]


@pytest.mark.parametrize("call, error, match", ERRORS, ids=[match[:40] for _, _, match in ERRORS])
def test_errors_name_the_expected_and_the_actual_value(call, error, match):
    with pytest.raises(error, match=match):
        call()
