"""companion.classify: a padded batch classifies every sequence exactly as the sequence alone, bad input
is refused by name, and training works."""

import numpy as np
import pytest
import torch

from companion.classify import (
    FrameEncoder,
    SequenceClassifier,
    VideoClassifier,
    confusion_matrix,
    pad_sequences,
    predict,
    train_classifier,
)

torch.set_num_threads(1)


def ragged(seed, lengths, D=5):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(t, D)).astype(np.float32) for t in lengths]


def test_pad_sequences():
    seqs = [np.ones((2, 3)), 2 * np.ones((4, 3)), 3 * np.ones((1, 3))]
    padded, lengths = pad_sequences(seqs, padding_value=-1.0)
    assert padded.shape == (3, 4, 3) and padded.dtype == torch.float32 and lengths.tolist() == [2, 4, 1]
    assert torch.equal(padded[0, 2:], -torch.ones(2, 3)) and torch.equal(padded[2, :1], 3 * torch.ones(1, 3))
    ids, lengths = pad_sequences([np.array([4, 5, 6]), np.array([7])])
    assert ids.dtype == torch.int64 and ids.tolist() == [[4, 5, 6], [7, 0, 0]]
    frames, _ = pad_sequences([torch.zeros(2, 4, 4), torch.zeros(3, 4, 4)])
    assert frames.shape == (2, 3, 4, 4)


@pytest.mark.parametrize(
    "seqs, match",
    [
        ([], "expected a non-empty list"),
        (np.zeros((2, 3, 4)), "expected a non-empty list"),
        (
            [np.zeros((2, 3)), np.zeros((0, 3))],
            r"sequence 1 of shape \(T_i, ...\) with T_i >= 1, got \(0, 3\)",
        ),
        (
            [np.zeros((2, 3)), np.zeros((2, 4))],
            r"\(T_i, \*\(3,\)\) like sequence 0, got \(2, 4\) for sequence 1",
        ),
        ([np.float32(1.0)], r"got \(\)"),
    ],
)
def test_pad_sequences_refuses(seqs, match):
    with pytest.raises(ValueError, match=match):
        pad_sequences(seqs)


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn"])
@pytest.mark.parametrize("readout", ["mean", "last"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_padded_batch_equals_each_sequence_alone(cell, readout, bidirectional):
    torch.manual_seed(0)
    model = SequenceClassifier(5, 6, 3, cell=cell, readout=readout, bidirectional=bidirectional, num_layers=2)
    model.eval()
    seqs = ragged(1, [7, 2, 5, 1])
    x, lengths = pad_sequences(seqs, padding_value=9.0)  # padding that would change any result it reached
    batch = model(x, lengths)
    alone = torch.cat([model(torch.as_tensor(s)[None]) for s in seqs])  # (4, 3): unpadded, one at a time
    torch.testing.assert_close(batch, alone, rtol=1e-5, atol=1e-6)
    if readout == "mean" or bidirectional:  # a model that ignored lengths would read the padding
        assert not torch.allclose(SequenceClassifier.forward(model, x), alone, atol=1e-3)


def test_padded_token_batch_equals_alone():
    torch.manual_seed(1)
    model = SequenceClassifier(4, 5, 2, num_embeddings=10).eval()
    seqs = [np.array([3, 4, 5, 6]), np.array([7]), np.array([2, 2])]
    x, lengths = pad_sequences(seqs)
    alone = torch.cat([model(torch.as_tensor(s)[None]) for s in seqs])
    torch.testing.assert_close(model(x, lengths), alone, rtol=1e-5, atol=1e-6)


def test_video_padded_batch_equals_alone():
    torch.manual_seed(2)
    model = VideoClassifier(8, 4, hidden_size=6, features=5, channels=(2, 3)).eval()
    clips = [torch.randn(t, 8, 8) for t in (5, 2, 4)]
    x, lengths = pad_sequences(clips, padding_value=3.0)
    alone = torch.cat([model(c[None]) for c in clips])
    torch.testing.assert_close(model(x, lengths), alone, rtol=1e-5, atol=1e-6)
    assert model(x).shape == (3, 4)


def test_bad_input_is_refused_by_name():
    model = SequenceClassifier(5, 4, 3)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, T, 5\), got \(2, 3, 4\)"):
        model(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, T, D\), got \(3, 5\)"):
        model(torch.zeros(3, 5))
    with pytest.raises(ValueError, match=r"expected lengths of shape \(2,\), got \(3,\)"):
        model(torch.zeros(2, 3, 5), torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match=r"expected integer lengths in \[1, 3\], got \[4, 1\]"):
        model(torch.zeros(2, 3, 5), torch.tensor([4, 1]))
    with pytest.raises(TypeError, match="expected a floating-point input, got dtype torch.int64"):
        model(torch.zeros(2, 3, 5, dtype=torch.int64))
    with pytest.raises(TypeError, match="expected integer token ids"):
        SequenceClassifier(4, 4, 2, num_embeddings=9)(torch.zeros(2, 3))
    with pytest.raises(TypeError, match="expected a torch.Tensor, got ndarray"):
        model(np.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match="expected cell 'gru', 'lstm' or 'rnn', got 'tcn'"):
        SequenceClassifier(5, 4, 3, cell="tcn")
    with pytest.raises(ValueError, match="expected readout 'mean' or 'last', got 'max'"):
        SequenceClassifier(5, 4, 3, readout="max")
    with pytest.raises(ValueError, match=r"expected input of shape \(N, T, H, W\), got \(2, 8, 8\)"):
        VideoClassifier(8, 2)(torch.zeros(2, 8, 8))
    with pytest.raises(ValueError, match=r"expected video of shape \(N, T, 8, 8\), got \(2, 3, 12, 12\)"):
        VideoClassifier(8, 2)(torch.zeros(2, 3, 12, 12))
    with pytest.raises(
        ValueError, match=r"FrameEncoder: expected frames of shape \(M, 8, 8\), got \(6, 12\)"
    ):
        FrameEncoder(8)(torch.zeros(6, 12))
    with pytest.raises(ValueError, match="a positive multiple of 4, got 10"):
        FrameEncoder(10)


def test_confusion_matrix():
    m = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 4)
    assert m.tolist() == [[1, 1, 0, 0], [0, 1, 0, 0], [1, 0, 2, 0], [0, 0, 0, 0]]
    with pytest.raises(ValueError, match=r"expected y_pred in \[0, 3\), got values 0 to 3"):
        confusion_matrix([0, 1], [0, 3], 3)
    with pytest.raises(ValueError, match=r"one shape \(N,\), got \(2,\) and \(3,\)"):
        confusion_matrix([0, 1], [0, 1, 1], 3)


def test_training_learns_a_length_dependent_task():
    """Class = whether a sequence of ones is longer than 4: readable only through the lengths."""
    lengths = np.tile(np.arange(1, 9), 16)  # (128,)
    x, lens = pad_sequences([np.ones((t, 1), np.float32) for t in lengths])
    labels = (lengths > 4).astype(np.int64)
    torch.manual_seed(0)
    model = SequenceClassifier(1, 8, 2, readout="last", bidirectional=False)
    history = train_classifier(model, x, lens, labels, steps=150, batch_size=32, lr=2e-2, seed=0)
    assert np.mean(history.loss[-10:]) < 0.1 < np.mean(history.loss[:10])
    assert (predict(model, x, lens) == labels).all()
    with pytest.raises(ValueError, match=r"expected labels of shape \(128,\), got \(3,\)"):
        train_classifier(model, x, lens, [0, 1, 0], steps=1, seed=0)
