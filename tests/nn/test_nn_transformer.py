"""companion.nn.mha and companion.nn.transformer: self-attention and the encoder layer equal torch.nn
with copied weights; causal masks never let position t see t + 1; padded keys are inert; the decoder's
cache is exact."""

import math

import pytest
import torch

from companion.nn import transformer
from companion.nn.errors import DTypeError, ShapeError
from companion.nn.mha import MultiheadAttention, causal_mask
from companion.nn.transformer import (
    DecoderBlock,
    PositionalEncoding,
    TransformerEncoderLayer,
    sinusoidal_encoding,
)

torch.set_num_threads(1)
TOL = {torch.float64: dict(rtol=1e-12, atol=1e-12), torch.float32: dict(rtol=1e-5, atol=1e-5)}
PAD = torch.tensor([[False] * 6, [False] * 4 + [True] * 2, [False] * 5 + [True]])  # torch: True = padding


def inputs(dtype, N=3, T=6, E=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(N, T, E, generator=gen, dtype=dtype, requires_grad=True)


def grads(module, x, out):
    w = torch.randn(out.shape, generator=torch.Generator().manual_seed(9), dtype=out.dtype)
    return torch.autograd.grad((w * out).sum(), [x, *module.parameters()])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(
    "masks",
    [{}, {"key_padding_mask": PAD}, {"attn_mask": ~causal_mask(6), "is_causal": True}],
    ids=["none", "padding", "causal"],
)
def test_multihead_attention_equals_torch(dtype, masks):
    torch.manual_seed(0)
    ours = MultiheadAttention(8, 2, dtype=dtype)
    theirs = torch.nn.MultiheadAttention(8, 2, batch_first=True, dtype=dtype)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict(ours.state_dict())
    x, kv = inputs(dtype), inputs(dtype, seed=1)
    results = []
    for module in (ours, theirs):
        y, w = module(x, kv, kv, **masks)
        results.append((y, w, grads(module, x, y)))
    torch.testing.assert_close(results[0][0], results[1][0], **TOL[dtype])
    torch.testing.assert_close(results[0][1], results[1][1], **TOL[dtype])
    for a, b in zip(results[0][2], results[1][2], strict=True):
        torch.testing.assert_close(a, b, **TOL[dtype])


def test_unaveraged_weights_and_float_mask_equal_torch():
    torch.manual_seed(1)
    ours = MultiheadAttention(8, 4, dtype=torch.float64)
    theirs = torch.nn.MultiheadAttention(8, 4, batch_first=True, dtype=torch.float64)
    theirs.load_state_dict(ours.state_dict())
    x = inputs(torch.float64)
    bias = torch.randn(6, 6, dtype=torch.float64).masked_fill(~causal_mask(6), -math.inf)
    a = ours(x, x, x, attn_mask=bias, average_attn_weights=False)
    b = theirs(x, x, x, attn_mask=bias, average_attn_weights=False)
    assert a[1].shape == (3, 4, 6, 6)
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_equals_torch(dtype, norm_first, activation):
    torch.manual_seed(2)
    kwargs = dict(dim_feedforward=16, dropout=0.0, activation=activation, norm_first=norm_first, dtype=dtype)
    ours = TransformerEncoderLayer(8, 2, **kwargs)
    theirs = torch.nn.TransformerEncoderLayer(8, 2, batch_first=True, **kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict(ours.state_dict())
    x = inputs(dtype)
    out = [m(x, src_key_padding_mask=PAD) for m in (ours, theirs)]
    torch.testing.assert_close(out[0], out[1], **TOL[dtype])
    for a, b in zip(grads(ours, x, out[0]), grads(theirs, x, out[1]), strict=True):
        torch.testing.assert_close(a, b, **TOL[dtype])


def test_decoder_block_is_torch_encoder_layer_with_causal_mask():
    torch.manual_seed(3)
    ours = DecoderBlock(8, 2, 16, dropout=0.0, dtype=torch.float64)
    theirs = torch.nn.TransformerEncoderLayer(
        8, 2, 16, dropout=0.0, norm_first=True, batch_first=True, dtype=torch.float64
    )
    theirs.load_state_dict(ours.state_dict())
    x = inputs(torch.float64)
    torch.testing.assert_close(ours(x), theirs(x, src_mask=~causal_mask(6), is_causal=True))


@pytest.mark.parametrize("t", [0, 2, 4])
def test_causal_output_at_t_never_depends_on_later_positions(t):
    torch.manual_seed(4)
    block = DecoderBlock(8, 2, 16, dropout=0.0, dtype=torch.float64)
    x = inputs(torch.float64).detach()
    y = block(x)
    changed = x.clone()
    changed[:, t + 1 :] += 100.0 * torch.randn_like(changed[:, t + 1 :])
    y2 = block(changed)
    assert torch.equal(y[:, : t + 1], y2[:, : t + 1])
    assert (y[:, t + 1 :] - y2[:, t + 1 :]).abs().min() > 0  # later positions do see the change
    x_req = x.clone().requires_grad_()
    (g,) = torch.autograd.grad(block(x_req)[:, t].sum(), x_req)
    assert torch.all(g[:, t + 1 :] == 0) and torch.all(g[:, : t + 1].abs().sum(-1) > 0)


def test_padded_keys_are_inert_and_a_fully_masked_row_is_zero():
    torch.manual_seed(5)
    attention = MultiheadAttention(8, 2, dtype=torch.float64)
    x = inputs(torch.float64).detach()
    garbage = x.clone()
    garbage[PAD] = torch.nan  # padded keys and values are never read
    y, w = attention(x, x, x, key_padding_mask=PAD)
    y2, w2 = attention(x, garbage, garbage, key_padding_mask=PAD)
    assert torch.equal(y, y2) and torch.equal(w, w2)
    assert torch.all(w[PAD.unsqueeze(1).expand_as(w)] == 0)
    y3, _ = attention(x, x, x, lengths=[6, 4, 5])
    assert torch.equal(y, y3)
    x_req = x.clone().requires_grad_()
    (g,) = torch.autograd.grad(attention(x, x_req, x_req, key_padding_mask=PAD)[0].sum(), x_req)
    assert torch.all(g[PAD] == 0)
    _, w0 = attention(x, x, x, lengths=[6, 0, 5])
    assert torch.all(w0[1] == 0) and torch.isfinite(w0).all()


def test_step_with_cache_equals_the_full_causal_pass():
    torch.manual_seed(6)
    block = DecoderBlock(8, 4, 16, dropout=0.0, dtype=torch.float64)
    x = inputs(torch.float64).detach()
    cache, steps = None, []
    for x_t in x.unbind(1):
        y_t, cache = block.step(x_t, cache)
        steps.append(y_t)
    torch.testing.assert_close(torch.stack(steps, 1), block(x), rtol=1e-12, atol=1e-12)
    assert cache.keys.shape == cache.values.shape == (3, 4, 6, 2)


def test_sinusoidal_encoding_closed_form_and_relative_shift():
    P = sinusoidal_encoding(50, 6, dtype=torch.float64)
    t, i = 7, 1
    assert P[t, 2 * i] == pytest.approx(math.sin(t / 10000 ** (2 * i / 6)), abs=1e-15)
    assert P[t, 2 * i + 1] == pytest.approx(math.cos(t / 10000 ** (2 * i / 6)), abs=1e-15)
    assert sinusoidal_encoding(3, 5).shape == (3, 5)
    # a shift by k is one rotation per frequency, the same at every position
    k, w = 5, 1 / 10000 ** (2 * i / 6)
    rot = torch.tensor(
        [[math.cos(k * w), math.sin(k * w)], [-math.sin(k * w), math.cos(k * w)]], dtype=torch.float64
    )
    pairs = P[:, 2 * i : 2 * i + 2]  # (T, 2): (sin, cos)
    torch.testing.assert_close(pairs[k:], pairs[:-k] @ rot.T, rtol=0, atol=1e-12)


def test_positional_encoding_offset_and_learned():
    pe = PositionalEncoding(4, 10, dtype=torch.float64)
    x = torch.zeros(2, 3, 4, dtype=torch.float64)
    torch.testing.assert_close(pe(x, offset=2)[0], sinusoidal_encoding(10, 4, dtype=torch.float64)[2:5])
    learned = PositionalEncoding(4, 10, learned=True)
    assert [n for n, _ in learned.named_parameters()] == ["weight"]
    with pytest.raises(ShapeError, match=r"offset \+ T <= max_len = 10"):
        pe(x, offset=8)
    with pytest.raises(ValueError, match=r"PositionalEncoding: expected offset >= 0, got -1"):
        pe(x, offset=-1)


def test_without_positions_self_attention_is_permutation_equivariant():
    torch.manual_seed(7)
    layer = TransformerEncoderLayer(8, 2, 16, dropout=0.0, dtype=torch.float64)
    x = inputs(torch.float64).detach()
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    torch.testing.assert_close(layer(x)[:, perm], layer(x[:, perm]), rtol=1e-12, atol=1e-12)


def test_errors():
    attention = MultiheadAttention(8, 2)
    with pytest.raises(ValueError, match=r"expected embed_dim divisible by num_heads, got 8 and 3"):
        MultiheadAttention(8, 3)
    with pytest.raises(ValueError, match=r"TransformerEncoderLayer: expected d_model divisible by nhead"):
        TransformerEncoderLayer(8, 3)
    with pytest.raises(ValueError, match=r"only batch_first=True"):
        MultiheadAttention(8, 2, batch_first=False)
    with pytest.raises(ShapeError, match=r"expected query of shape \(N, T, 8\), got \(3, 5\)"):
        attention(torch.zeros(3, 5), torch.zeros(3, 5, 8), torch.zeros(3, 5, 8))
    with pytest.raises(DTypeError, match=r"expected query of dtype torch.float32"):
        attention(*[torch.zeros(1, 2, 8, dtype=torch.float64)] * 3)
    with pytest.raises(ShapeError, match=r"expected key_padding_mask of shape \(N, Tk\) = \(1, 2\)"):
        attention(*[torch.zeros(1, 2, 8)] * 3, key_padding_mask=torch.zeros(1, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"expected key_padding_mask or lengths, not both"):
        attention(
            *[torch.zeros(1, 2, 8)] * 3, key_padding_mask=torch.zeros(1, 2, dtype=torch.bool), lengths=[2]
        )
    with pytest.raises(ShapeError, match=r"expected every length <= T = 2, got max length 3"):
        attention(*[torch.zeros(1, 2, 8)] * 3, lengths=[3])
    with pytest.raises(ShapeError, match=r"TransformerEncoderLayer: expected src of shape \(N, T, 8\)"):
        TransformerEncoderLayer(8, 2)(torch.zeros(3, 8))
    with pytest.raises(ShapeError, match=r"DecoderBlock: expected src of shape \(N, T, 8\)"):
        DecoderBlock(8, 2)(torch.zeros(3, 8))
    with pytest.raises(ShapeError, match=r"is_causal needs as many queries as keys, got 2 and 3"):
        attention(torch.zeros(1, 2, 8), torch.zeros(1, 3, 8), torch.zeros(1, 3, 8), is_causal=True)
    with pytest.raises(ValueError, match=r"expected activation 'relu', 'gelu' or a callable, got 'tanh'"):
        TransformerEncoderLayer(8, 2, activation="tanh")


@pytest.mark.parametrize("is_causal", [False, True])
def test_fused_path_without_weights_equals_the_explicit_softmax(is_causal):
    torch.manual_seed(8)
    attention = MultiheadAttention(8, 2, dtype=torch.float64)
    x = inputs(torch.float64)
    explicit, weights = attention(x, x, x, is_causal=is_causal)
    fused, none = attention(x, x, x, is_causal=is_causal, need_weights=False)
    assert weights is not None and none is None
    torch.testing.assert_close(fused, explicit, rtol=1e-12, atol=1e-12)
    g_explicit = torch.autograd.grad(explicit.square().sum(), [x, *attention.parameters()])
    g_fused = torch.autograd.grad(fused.square().sum(), [x, *attention.parameters()])
    for a, b in zip(g_fused, g_explicit, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_transformer_still_exports_self_attention():
    assert transformer.MultiheadAttention is MultiheadAttention and transformer.causal_mask is causal_mask
