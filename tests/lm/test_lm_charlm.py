"""Tests for companion.lm.charlm: the recurrent language model, its evaluation, sampling and saving."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from companion.data.text import StreamBatches, Vocab
from companion.lm import (
    CharLM,
    TBPTTLoss,
    bits,
    detach_state,
    load,
    perplexity,
    sample,
    sample_text,
    save,
    token_nll,
)
from companion.train import fit


def _model(cell="lstm", seed=0, **kwargs):
    torch.manual_seed(seed)
    kwargs = {"embedding_dim": 5, **kwargs}
    return CharLM(11, 8, cell=cell, **kwargs).double()


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_shapes_and_state(cell, num_layers):
    model = _model(cell, num_layers=num_layers)
    logits, state = model(torch.randint(0, 11, (3, 6)))
    assert logits.shape == (3, 6, 11)
    h = state[0] if cell == "lstm" else state
    assert h.shape == (num_layers, 3, 8)


def test_one_hot_input_equals_embedding_lookup():
    dense = _model("gru")
    onehot = CharLM(11, 8, embedding_dim=None, cell="gru").double()
    state = dict(dense.state_dict())
    state["rnn.weight_ih_l0"] = state["rnn.weight_ih_l0"] @ state.pop("embedding.weight").T  # (3H, V)
    onehot.load_state_dict(state)
    x = torch.randint(0, 11, (2, 9))
    torch.testing.assert_close(onehot(x)[0], dense(x)[0])


def test_carried_state_equals_one_long_run():
    model = _model("lstm")
    ids = torch.randint(0, 11, (60,))
    batches = StreamBatches(ids, batch_size=3, seq_len=4)
    whole, _ = model(batches.streams[:, :-1])  # (N, S - 1, V)
    loss, pieces = TBPTTLoss(), []
    for batch in batches:
        if batch.start:
            loss.state = None
        logits, state = model(batch.inputs, loss.state)
        loss.state = detach_state(state)
        pieces.append(logits)
    torch.testing.assert_close(torch.cat(pieces, dim=1), whole)


def test_tbptt_loss_carries_a_detached_state_and_resets_at_start():
    model = _model("gru")
    batches = StreamBatches(torch.randint(0, 11, (40,)), batch_size=2, seq_len=5)
    loss_fn = TBPTTLoss()
    first = loss_fn(model, batches(0))
    assert loss_fn.state.grad_fn is None and not loss_fn.state.requires_grad
    carried = loss_fn.state.clone()
    logits, _ = model(batches(1).inputs, carried)
    expected = F.cross_entropy(logits.reshape(-1, 11), batches(1).targets.reshape(-1))
    torch.testing.assert_close(loss_fn(model, batches(1)), expected)
    torch.testing.assert_close(loss_fn(model, batches(0)), first)  # start: zeros again
    first.backward()  # the graph of one batch only


def test_token_nll_matches_direct_log_softmax_for_any_chunking():
    model = _model("lstm")
    ids = torch.randint(0, 11, (50,))
    logits, _ = model(ids[None, :-1])
    expected = -F.log_softmax(logits[0], -1).gather(1, ids[1:, None])[:, 0]
    for seq_len in (1, 7, 100):
        np.testing.assert_allclose(
            token_nll(model, ids, seq_len=seq_len), expected.detach().numpy(), rtol=1e-10
        )


def test_uniform_model_has_perplexity_V_and_log2_V_bits():
    model = _model("gru")
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
    nll = token_nll(model, torch.randint(0, 11, (30,)))
    assert perplexity(nll) == pytest.approx(11, rel=1e-12)
    assert bits(nll) == pytest.approx(math.log2(11), rel=1e-12)


def test_sampling_is_reproducible_with_a_seed():
    model = _model("lstm")
    a = sample(model, [1, 2], 40, generator=123)
    assert a == sample(model, [1, 2], 40, generator=torch.Generator().manual_seed(123))
    assert a != sample(model, [1, 2], 40, generator=124)
    assert all(0 <= t < 11 for t in a) and len(a) == 40


def test_temperature_zero_is_greedy_decoding():
    model = _model("gru")
    ids, state = [3], None
    logits, state = model(torch.tensor([[3]]), None)
    greedy = []
    for _ in range(15):
        greedy.append(int(logits[0, -1].argmax()))
        logits, state = model(torch.tensor([[greedy[-1]]]), state)
    assert sample(model, ids, 15, temperature=0) == greedy
    assert sample(model, ids, 15, temperature=1e-6, generator=0) == greedy


def test_top_k_never_leaves_the_k_most_probable():
    model = _model("rnn")
    with torch.no_grad():  # a model whose prediction is the same at every step
        model.head.weight.zero_()
        model.head.bias.copy_(torch.linspace(-1, 1, 11))
    drawn = set(sample(model, [0], 300, top_k=3, temperature=2.0, generator=0))
    assert drawn == {8, 9, 10}


def test_sample_stops_after_the_stop_token_and_checks_arguments():
    model = _model("rnn")
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.arange(11.0) * 10)
    assert sample(model, [0], 20, temperature=0, stop=10) == [10]
    with pytest.raises(
        TypeError, match="expected generator to be an int seed or a torch.Generator, got None"
    ):
        sample(model, [0], 5)
    with pytest.raises(ValueError, match="expected temperature >= 0, got -1"):
        sample(model, [0], 5, temperature=-1, generator=0)
    with pytest.raises(ValueError, match="expected a prime of at least one id"):
        sample(model, [], 5, generator=0)


def test_sample_text_returns_characters():
    vocab = Vocab("abcdefghi")
    text = sample_text(CharLM(len(vocab), 4, embedding_dim=3), vocab, "abc", 12, generator=0)
    assert isinstance(text, str) and len(text) == 12 and set(text) <= set("abcdefghi")


def test_excluded_ids_are_never_drawn():
    model = _model("rnn")
    drawn = sample(model, [0], 300, temperature=5.0, generator=0, exclude=[0, 1, 2])
    assert min(drawn) == 3


def test_save_load_round_trip(tmp_path):
    model, vocab = _model("lstm", num_layers=2).float(), Vocab("abcdefghi")
    save(model, tmp_path / "lm.pt", vocab)
    loaded, loaded_vocab = load(tmp_path / "lm.pt")
    assert loaded_vocab == vocab and loaded.config == model.config and not loaded.training
    for (name, a), (name_b, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert name == name_b and torch.equal(a, b)
    x = torch.randint(0, 11, (2, 5))
    assert torch.equal(model.eval()(x)[0], loaded(x)[0])


def test_load_refuses_corrupt_and_mismatched_files(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="cannot read .*junk.pt as a saved CharLM"):
        load(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="expected a file written by companion.lm.save"):
        load(tmp_path / "other.pt")
    model = _model("gru").float()
    save(model, tmp_path / "lm.pt")
    data = torch.load(tmp_path / "lm.pt", weights_only=True)
    data["config"]["hidden_size"] = 9
    torch.save(data, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="do not fit the model they describe"):
        load(tmp_path / "bad.pt")


def test_constructor_errors():
    with pytest.raises(ValueError, match="expected cell in \\['gru', 'lstm', 'rnn'\\], got 'transformer'"):
        CharLM(5, 4, cell="transformer")
    with pytest.raises(ValueError, match=r"expected ids in \[0, V\) = \[0, 5\), got 0..7"):
        CharLM(5, 4)(torch.tensor([[0, 7]]))


def test_training_with_tbptt_learns_a_periodic_text():
    torch.manual_seed(0)
    vocab = Vocab("abcd")
    ids = vocab.encode("abcdcba" * 60)
    model = CharLM(len(vocab), 16, embedding_dim=4, cell="gru")
    fit(
        model,
        TBPTTLoss(),
        StreamBatches(ids, 4, 20),
        torch.optim.Adam(model.parameters(), 0.03),
        60,
        progress=False,
    )
    # after "abcdcba" the period forces every next character: far below log2(4) = 2 bits
    assert bits(token_nll(model, ids[:200])) < 0.3


def test_token_nll_scores_rows_of_a_batch_as_separate_sequences():
    model = _model("gru")
    ids = torch.randint(0, 11, (3, 40))
    together = token_nll(model, ids, seq_len=16)
    assert together.shape == (3, 39)
    for row, nll in zip(ids, together, strict=True):
        np.testing.assert_allclose(nll, token_nll(model, row, seq_len=16), rtol=1e-6, atol=1e-9)
    with pytest.raises(
        ValueError, match=r"expected ids of shape \(L,\) or \(N, L\) with L >= 2, got \(2, 1\)"
    ):
        token_nll(model, torch.zeros(2, 1, dtype=torch.long))
