"""companion.data.vowels and companion.data.sentiment: the shipped data sets load offline with the
documented shapes and dtypes, and their splits are the published (or recorded) ones, disjoint."""

import numpy as np
import pytest

from companion.data.sentiment import encode_texts, movie_snippets, tokenize
from companion.data.vowels import NUM_COEFFICIENTS, NUM_SPEAKERS, japanese_vowels


@pytest.mark.parametrize("split, n", [("train", 270), ("test", 370)])
def test_vowels_shapes_and_dtypes(split, n):
    data = japanese_vowels(split)
    assert len(data.sequences) == n and data.speakers.shape == (n,) and data.lengths.shape == (n,)
    assert data.speakers.dtype == np.int64 and data.lengths.dtype == np.int64
    assert all(
        s.dtype == np.float32 and s.shape == (t, NUM_COEFFICIENTS)
        for s, t in zip(data.sequences, data.lengths, strict=True)
    )
    assert 7 <= data.lengths.min() and data.lengths.max() <= 29
    assert set(data.speakers.tolist()) == set(range(NUM_SPEAKERS))
    assert all(np.isfinite(s).all() for s in data.sequences)


def test_vowels_published_split():
    train, test = japanese_vowels("train"), japanese_vowels("test")
    assert np.bincount(train.speakers).tolist() == [30] * 9  # 30 utterances per speaker
    assert np.bincount(test.speakers).tolist() == [31, 35, 88, 44, 29, 24, 40, 50, 29]  # 24 to 88
    assert train.lengths.sum() == 4274 and test.lengths.sum() == 5687
    # the first training frame, as printed in the UCI file ae.train: 1.860936 -0.207383 0.261557 ...
    np.testing.assert_allclose(train.sequences[0][0, :3], [1.860936, -0.207383, 0.261557], rtol=1e-7)
    seen = {s.tobytes() for s in train.sequences}
    assert not any(s.tobytes() in seen for s in test.sequences)  # no utterance in both splits


def test_vowels_fresh_arrays_and_bad_split():
    a = japanese_vowels("train")
    a.sequences[0][:] = 0.0
    a.speakers[:] = 5
    b = japanese_vowels("train")
    assert b.sequences[0][0, 0] != 0.0 and b.speakers[0] == 0
    with pytest.raises(ValueError, match="expected split 'train' or 'test', got 'valid'"):
        japanese_vowels("valid")


def test_movie_snippets_split_and_labels():
    train, test = movie_snippets("train"), movie_snippets("test")
    assert (len(train.texts), len(test.texts)) == (7358, 1813)
    for s in (train, test):
        assert s.labels.dtype == np.int64 and s.ratings.dtype == np.float64
        assert s.labels.shape == s.ratings.shape == (len(s.texts),)
        assert np.all(np.abs(s.ratings) >= 1) and np.all(np.abs(s.ratings) <= 4)
        assert np.array_equal(s.labels, (s.ratings > 0).astype(int))
        assert 0.45 < s.labels.mean() < 0.55  # about balanced
    assert not set(train.texts) & set(test.texts)
    assert train.texts[0].startswith("The Rock is destined to be the 21st Century's new")
    with pytest.raises(ValueError, match="expected split"):
        movie_snippets("dev")


def test_tokenize_and_encode():
    assert tokenize("Not GOOD, isn't it?") == ["not", "good", ",", "isn't", "it", "?"]
    ids, vocab = encode_texts(["a b b", "b c"], min_count=2)
    assert vocab.tokens == ["<pad>", "<unk>", "b"]
    assert [i.tolist() for i in ids] == [[1, 2, 2], [2, 1]]
    test_ids, _ = encode_texts(["b z", ""], vocab)
    assert [i.tolist() for i in test_ids] == [[2, 1], [1]]  # unseen word and empty text -> <unk>
    short, _ = encode_texts(["b b b b"], vocab, max_len=2)
    assert short[0].tolist() == [2, 2]
    with pytest.raises(TypeError, match="expected a list of str, got one str"):
        encode_texts("b c")
    with pytest.raises(TypeError, match="tokenize: expected a str"):
        tokenize(3)
