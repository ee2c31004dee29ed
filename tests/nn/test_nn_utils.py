"""companion.nn.utils: masks, last valid outputs and masked means of padded batches."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from companion.nn import ArgumentError, DTypeError, ShapeError
from companion.nn.utils import last_valid, lengths_to_mask, masked_mean


def padded_batch(lengths, T=None, H=3, seed=0, batch_first=True):
    """Random outputs (N, T, H) (or (T, N, H)) with NaN at every padded step."""
    T = max(lengths) if T is None else T
    gen = torch.Generator().manual_seed(seed)
    out = torch.randn(len(lengths), T, H, generator=gen, dtype=torch.float64)
    for n, length in enumerate(lengths):
        out[n, length:] = float("nan")
    out = out if batch_first else out.transpose(0, 1).contiguous()
    return out.requires_grad_(True)


def test_lengths_to_mask_marks_a_prefix_of_each_row():
    mask = lengths_to_mask([3, 1, 4], max_len=5)
    expected = torch.tensor(
        [[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 0]],
        dtype=torch.bool,
    )
    assert mask.dtype == torch.bool and torch.equal(mask, expected)
    assert torch.equal(lengths_to_mask(torch.tensor([3, 1, 4]), batch_first=False), expected[:, :4].T)
    assert lengths_to_mask(np.array([2, 2], dtype=np.int32)).shape == (2, 2)


def test_last_valid_is_the_final_state_of_torch_lstm_on_a_packed_sequence():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(2, 4, num_layers=2, batch_first=True, dtype=torch.float64)
    lengths = torch.tensor([5, 2, 3, 1])
    x = torch.randn(4, 5, 2, dtype=torch.float64)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, (h_n, _) = lstm(packed)
    out, _ = pad_packed_sequence(out, batch_first=True)
    torch.testing.assert_close(last_valid(out, lengths), h_n[-1], rtol=0, atol=0)
    torch.testing.assert_close(
        last_valid(out.transpose(0, 1), lengths, batch_first=False), h_n[-1], rtol=0, atol=0
    )


@pytest.mark.parametrize("batch_first", [True, False])
def test_last_valid_and_masked_mean_send_gradient_only_to_valid_steps(batch_first):
    lengths = [4, 1, 3]
    out = padded_batch(lengths, T=5, batch_first=batch_first)
    picked, mean = (
        last_valid(out, lengths, batch_first=batch_first),
        masked_mean(out, lengths, batch_first=batch_first),
    )
    assert torch.isfinite(picked).all() and torch.isfinite(mean).all()
    (g_last,) = torch.autograd.grad(picked.sum(), out)
    (g_mean,) = torch.autograd.grad(mean.sum(), out)
    if not batch_first:
        g_last, g_mean = g_last.transpose(0, 1), g_mean.transpose(0, 1)  # (N, T, H)
    for n, length in enumerate(lengths):
        expected_last = torch.zeros(5, 3, dtype=torch.float64)
        expected_last[length - 1] = 1.0
        torch.testing.assert_close(g_last[n], expected_last, rtol=0, atol=0)
        assert torch.all(g_mean[n, length:] == 0.0)
        torch.testing.assert_close(
            g_mean[n, :length], torch.full((length, 3), 1.0 / length, dtype=torch.float64)
        )


def test_masked_mean_is_the_mean_of_each_unpadded_sequence():
    lengths = [2, 5, 1]
    out = padded_batch(lengths, seed=3)
    expected = torch.stack([out[n, :length].mean(dim=0) for n, length in enumerate(lengths)])
    torch.testing.assert_close(masked_mean(out, torch.tensor(lengths)), expected)
    assert masked_mean(out.float(), lengths).dtype == torch.float32


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 7), min_size=1, max_size=6),
    extra=st.integers(0, 3),
    batch_first=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_padding_never_changes_the_results(lengths, extra, batch_first, seed):
    """Any amount of padding with any values: each result equals the one from the unpadded sequence."""
    T = max(lengths) + extra
    out = padded_batch(lengths, T=T, seed=seed, batch_first=batch_first)
    mask = lengths_to_mask(lengths, max_len=T, batch_first=batch_first)
    assert mask.shape == ((len(lengths), T) if batch_first else (T, len(lengths)))
    assert mask.sum(dim=1 if batch_first else 0).tolist() == lengths
    picked = last_valid(out, lengths, batch_first=batch_first)
    mean = masked_mean(out, lengths, batch_first=batch_first)
    rows = out if batch_first else out.transpose(0, 1)  # (N, T, H)
    for n, length in enumerate(lengths):
        torch.testing.assert_close(picked[n], rows[n, length - 1], rtol=0, atol=0)
        torch.testing.assert_close(mean[n], rows[n, :length].mean(dim=0))


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: lengths_to_mask(torch.ones(3, 2, dtype=torch.long)),
            ShapeError,
            r"lengths_to_mask: expected lengths of shape \(N,\) \(one per sequence\), got \(3, 2\)",
        ),
        (lambda: lengths_to_mask([2, 0]), ShapeError, r"expected every length >= 1, got \[2, 0\]"),
        (lambda: lengths_to_mask([2, 5], max_len=4), ShapeError, "expected every length <= T = 4"),
        (
            lambda: lengths_to_mask([2.0, 1.0]),
            DTypeError,
            "expected lengths to hold integers, got dtype float64",
        ),
        (
            lambda: lengths_to_mask([2, 1], max_len=3.0),
            DTypeError,
            "expected max_len to be an int, got float",
        ),
        (lambda: lengths_to_mask([2, 1], max_len=-1), ArgumentError, "expected max_len >= 0, got -1"),
        (
            lambda: last_valid(torch.zeros(3, 4, 2), [4, 4]),
            ShapeError,
            r"last_valid: expected lengths of shape \(N,\) = \(3,\) for output \(N, T, H\) = \(3, 4, 2\), got \(2,\)",
        ),
        (lambda: last_valid(torch.zeros(3, 4, 2), [4, 5, 1]), ShapeError, "expected every length <= T = 4"),
        (
            lambda: last_valid(torch.zeros(4, 2), [4]),
            ShapeError,
            r"last_valid: expected output of shape \(N, T, H\), got \(4, 2\)",
        ),
        (
            lambda: last_valid(np.zeros((1, 4, 2)), [4]),
            DTypeError,
            "expected output to be a torch.Tensor, got ndarray",
        ),
        (
            lambda: masked_mean(torch.zeros(4, 3, 2), [4, 4], batch_first=False),
            ShapeError,
            r"masked_mean: expected lengths of shape \(N,\) = \(3,\) for output \(T, N, H\)",
        ),
        (
            lambda: masked_mean(torch.zeros(2, 3, 1, dtype=torch.long), [1, 2]),
            DTypeError,
            "expected a floating-point output, got dtype torch.int64",
        ),
    ],
)
def test_bad_input_is_refused_with_a_message(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_errors_are_the_conventional_exceptions():
    with pytest.raises(ValueError):
        lengths_to_mask([[1]])
    with pytest.raises(TypeError):
        masked_mean(torch.zeros(1, 1, 1), [True])
