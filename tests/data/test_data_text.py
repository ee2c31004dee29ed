"""Tests for companion.data.text: vocabulary, contiguous splits and truncated-BPTT stream batches."""

import pathlib

import numpy as np
import pytest
import torch

from companion.data.text import PAD, UNK, StreamBatches, Vocab, genesis, split_blocks, text_corpus


def test_vocab_round_trip_and_unknown():
    vocab = Vocab.from_text("hello world")
    assert vocab.tokens[:2] == [PAD, UNK] and len(vocab) == 2 + len(set("hello world"))
    ids = vocab.encode("hello world")
    assert ids.dtype == np.int64 and vocab.decode(ids) == "hello world"
    assert vocab.encode("hz").tolist() == [vocab.tokens.index("h"), vocab.unk_id]
    assert vocab.decode(torch.as_tensor(ids)) == "hello world"


def test_vocab_of_word_tokens_and_min_count():
    vocab = Vocab.from_text(["a", "b", "a", "c", "a", "b"], min_count=2)
    assert vocab.tokens == [PAD, UNK, "a", "b"]
    assert vocab.decode(vocab.encode(["b", "a", "c"]), sep=" ") == f"b a {UNK}"


def test_vocab_save_load(tmp_path):
    vocab = Vocab.from_text("Ünïcode text")
    vocab.save(tmp_path / "v.json")
    assert Vocab.load(tmp_path / "v.json") == vocab
    (tmp_path / "bad.json").write_text('{"tokens": ["a"]}')
    with pytest.raises(ValueError, match="expected a file written by Vocab.save"):
        Vocab.load(tmp_path / "bad.json")


@pytest.mark.parametrize(
    "tokens, match", [(["a", "a"], "distinct"), (["a", UNK], "reserved"), (["a", ""], "empty")]
)
def test_vocab_refuses_bad_tokens(tokens, match):
    with pytest.raises(ValueError, match=match):
        Vocab(tokens)


def test_decode_refuses_out_of_range_ids():
    with pytest.raises(ValueError, match=r"expected ids in \[0, V\) = \[0, 4\), got values 0..4"):
        Vocab(["a", "b"]).decode([0, 4])


def test_split_blocks_are_contiguous_disjoint_and_cover():
    ids = np.arange(1001)
    train, valid, test = split_blocks(ids, (0.9, 0.05, 0.05))
    assert (len(train), len(valid), len(test)) == (900, 50, 51)
    assert np.array_equal(np.concatenate([train, valid, test]), ids)
    assert train.max() < valid.min() and valid.max() < test.min()


@pytest.mark.parametrize("fractions", [(0.5, 0.6), (1.0, 0.0), (0.9, -0.1, 0.2)])
def test_split_blocks_refuses_bad_fractions(fractions):
    with pytest.raises(ValueError, match="expected positive fractions summing to 1"):
        split_blocks(np.arange(100), fractions)


def test_split_blocks_refuses_tiny_blocks():
    with pytest.raises(ValueError, match=r"expected every block to hold >= 2 tokens, got sizes \[9, 0, 1\]"):
        split_blocks(np.arange(10), (0.98, 0.01, 0.01))


def test_text_corpus_from_path_equals_from_string(tmp_path):
    text = "In the beginning was a short text, repeated. " * 20
    path = tmp_path / "mine.txt"
    path.write_text(text, encoding="utf-8")
    a, b = text_corpus(text), text_corpus(pathlib.Path(path))
    assert a.vocab == b.vocab
    for x, y in zip(a[1:], b[1:], strict=True):
        assert np.array_equal(x, y)
    assert a.vocab.decode(np.concatenate([a.train, a.valid, a.test])) == text


def test_text_corpus_vocab_comes_from_training_block():
    corpus = text_corpus("ab" * 50 + "xyz" * 4, (0.8, 0.1, 0.1))
    assert "x" not in corpus.vocab and set(corpus.test.tolist()) == {corpus.vocab.unk_id}


def test_genesis_ships_with_the_package():
    text = genesis()
    assert text.startswith("Genesis 1\n") and text.rstrip().endswith("put in a coffin in Egypt.")
    assert 200_000 < len(text) < 250_000 and len(set(text)) == 70


def test_stream_batches_equal_direct_slicing():
    ids = np.random.default_rng(0).integers(0, 50, size=1003)
    N, k = 4, 7
    batches = StreamBatches(ids, N, k)
    S = len(ids) // N
    streams = ids[: N * S].reshape(N, S)
    assert len(batches) == -(-(S - 1) // k)
    for i, batch in enumerate(batches):
        start, stop = i * k, min(i * k + k, S - 1)
        assert np.array_equal(batch.inputs.numpy(), streams[:, start:stop])
        assert np.array_equal(batch.targets.numpy(), streams[:, start + 1 : stop + 1])
        assert batch.start == (i == 0)
    # every target of every stream is predicted once per pass, in order
    targets = torch.cat([b.targets for b in batches], dim=1)
    assert np.array_equal(targets.numpy(), streams[:, 1:])
    # calling with a step number cycles through passes
    assert torch.equal(batches(len(batches) + 2).inputs, batches(2).inputs) and batches(len(batches)).start


def test_stream_batches_errors():
    with pytest.raises(ValueError, match=r"expected at least 2 \* batch_size = 20 ids, got 15"):
        StreamBatches(np.arange(15), 10, 3)
    with pytest.raises(ValueError, match="expected seq_len to be a positive int, got 0"):
        StreamBatches(np.arange(15), 2, 0)
    with pytest.raises(ValueError, match=r"expected int ids of shape \(L,\), got \(3, 5\)"):
        StreamBatches(np.zeros((3, 5), dtype=int), 2, 2)
