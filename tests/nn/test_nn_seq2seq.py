"""companion.nn.seq2seq and companion.nn.search: shapes, teacher forcing == step by step, training, and
greedy and beam decoding checked against exhaustive search and a hand-set probability table."""

import doctest
import itertools

import pytest
import torch
import torch.nn.functional as F

from companion.nn import search, seq2seq
from companion.nn.attention import AdditiveAttention, DotProductAttention
from companion.nn.errors import DTypeError, ShapeError
from companion.nn.search import beam_search, greedy_search
from companion.nn.seq2seq import Decoder, Encoder, Memory, Seq2Seq

PAD, SOS, EOS = 0, 1, 2


def make_model(attention="additive", *, cell="gru", bidirectional=True, num_layers=1, query="previous",
               V_src=9, V_tgt=7, E=5, H=6, seed=0, dtype=torch.float64, eos_bias=0.0):  # fmt: skip
    torch.manual_seed(seed)
    enc = Encoder(V_src, E, H, num_layers, cell=cell, bidirectional=bidirectional)
    C = enc.output_size
    att = {"additive": lambda: AdditiveAttention(H, C, 4), "dot": lambda: DotProductAttention(H, C)}
    dec = Decoder(V_tgt, E, H, C, num_layers, cell=cell, attention=att[attention]() if attention else None,
                  query=query)  # fmt: skip
    with torch.no_grad():
        dec.out.bias[EOS] += eos_bias  # end tokens likely enough that hypotheses end at different steps
    return Seq2Seq(enc, dec, sos=SOS, eos=EOS).to(dtype).eval()


def source(N=4, Ts=6, V=9, seed=1):
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, Ts + 1, (N,), generator=gen)
    lengths[0] = Ts
    src = torch.randint(3, V, (N, Ts), generator=gen)
    src[torch.arange(Ts) >= lengths[:, None]] = PAD  # (N, Ts)
    return src, lengths


VARIANTS = [
    dict(attention=None),
    dict(attention="additive"),
    dict(attention="additive", query="current"),
    dict(attention="dot", cell="lstm", num_layers=2),
    dict(attention="additive", cell="lstm", bidirectional=False),
    dict(attention=None, num_layers=2, bidirectional=False),
]


@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_shapes_and_attention_weights(variant):
    model = make_model(**variant)
    src, lengths = source()
    tgt_in = torch.randint(3, 7, (4, 5))
    logits, weights = model(src, lengths, tgt_in)
    assert logits.shape == (4, 5, 7)
    if variant["attention"] is None:
        assert weights is None
        return
    assert weights.shape == (4, 5, 6)
    valid = torch.arange(6) < lengths[:, None]  # (N, Ts)
    torch.testing.assert_close(weights.sum(-1), torch.ones(4, 5, dtype=weights.dtype))
    assert (weights.masked_select(~valid[:, None, :]) == 0).all()


@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_teacher_forcing_equals_step_by_step(variant):
    model = make_model(**variant)
    src, lengths = source()
    tgt_in = torch.randint(3, 7, (4, 5))
    logits, weights = model(src, lengths, tgt_in)
    memory, state = model.encode(src, lengths)
    for t in range(5):
        step_logits, state, step_weights = model.decoder.step(tgt_in[:, t], state, memory)
        torch.testing.assert_close(step_logits, logits[:, t])
        if weights is not None:
            torch.testing.assert_close(step_weights, weights[:, t])


def test_encoder_padding_never_matters():
    model = make_model(bidirectional=True)
    src, lengths = source()
    longer = torch.cat([src, torch.full((4, 3), 5)], dim=1)  # (N, Ts + 3), junk after each sequence
    tgt_in = torch.randint(3, 7, (4, 5))
    a, wa = model(src, lengths, tgt_in)
    b, wb = model(longer, lengths, tgt_in)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(wa, wb[..., :6])
    for n in range(4):  # each example alone, unpadded
        L = int(lengths[n])
        alone, _ = model(src[n : n + 1, :L], lengths[n : n + 1], tgt_in[n : n + 1])
        torch.testing.assert_close(alone[0], a[n])


def test_memory_summary_is_the_final_states():
    model = make_model(bidirectional=True)
    src, lengths = source()
    memory, _ = model.encode(src, lengths)
    H = 6
    last = memory.outputs[torch.arange(4), lengths - 1, :H]  # forward direction ends at the last valid step
    first = memory.outputs[:, 0, H:]  # backward direction ends after reading the first step
    torch.testing.assert_close(memory.summary, torch.cat([last, first], dim=1))
    assert memory.mask.tolist() == (torch.arange(6) < lengths[:, None]).tolist()


def reverse_batch(gen, N=32):
    lengths = torch.randint(2, 6, (N,), generator=gen)
    src = torch.randint(3, 8, (N, 5), generator=gen)
    src[torch.arange(5) >= lengths[:, None]] = PAD
    tgt = torch.full((N, 7), PAD)
    tgt[:, 0] = SOS
    for n, L in enumerate(lengths.tolist()):
        tgt[n, 1 : L + 1] = src[n, :L].flip(0)
        tgt[n, L + 1] = EOS
    return src, lengths, tgt


@pytest.fixture
def one_thread():
    """Step-by-step loops run fastest on one thread, above all on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_teacher_forcing_loss_falls_on_reversal(one_thread):
    torch.manual_seed(0)
    enc = Encoder(8, 8, 24)
    model = Seq2Seq(enc, Decoder(8, 8, 24, enc.output_size, attention=AdditiveAttention(24, 48, 16),
                                 query="current"), sos=SOS, eos=EOS)  # fmt: skip
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(150):
        src, lengths, tgt = reverse_batch(gen)
        logits, _ = model(src, lengths, tgt[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, 8), tgt[:, 1:].reshape(-1), ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 1.8  # about log 8 (chance over the vocabulary) at the start
    assert sum(losses[-10:]) / 10 < 0.2, losses[-10:]
    src, lengths, tgt = reverse_batch(torch.Generator().manual_seed(1), N=64)
    out = model.eval().greedy_decode(src, lengths, max_len=6)
    correct = [
        out.tokens[n, : out.lengths[n]].tolist() == tgt[n, 1 : lengths[n] + 2].tolist() for n in range(64)
    ]
    assert sum(correct) >= 56, sum(correct)


def rescore(model, src, lengths, tokens, hyp_lengths):
    """Sum of log p of each hypothesis's tokens, by teacher forcing (an independent computation)."""
    tgt_in = torch.cat([torch.full((len(tokens), 1), SOS), tokens[:, :-1]], dim=1)  # (B, T)
    logits, weights = model(src, lengths, tgt_in)
    log_probs = F.log_softmax(logits, -1).gather(2, tokens.unsqueeze(2)).squeeze(2)  # (B, T)
    valid = torch.arange(tokens.shape[1]) < hyp_lengths[:, None]
    return (log_probs * valid).sum(1), weights


@pytest.mark.parametrize("alpha", [0.0, 0.7])
@pytest.mark.parametrize("variant", VARIANTS[:4], ids=str)
def test_beam_width_one_is_greedy_exactly(variant, alpha):
    model = make_model(**variant, eos_bias=1.5, dtype=torch.float32)
    src, lengths = source(N=6)
    greedy = model.greedy_decode(src, lengths, max_len=8, alpha=alpha)
    beam = model.beam_decode(src, lengths, beam_size=1, max_len=8, alpha=alpha)
    assert torch.equal(beam.tokens[:, 0], greedy.tokens)
    assert torch.equal(beam.lengths[:, 0], greedy.lengths)
    assert torch.equal(beam.scores[:, 0], greedy.scores)
    assert torch.equal(beam.log_probs[:, 0], greedy.log_probs)
    if greedy.weights is not None:
        assert torch.equal(beam.weights[:, 0], greedy.weights)


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_hypotheses_are_scored_and_ordered(alpha):
    model = make_model("additive", eos_bias=1.5)
    src, lengths = source(N=5)
    out = model.beam_decode(src, lengths, beam_size=4, max_len=7, alpha=alpha)
    assert out.tokens.shape[:2] == (5, 4) and out.weights.shape[:2] == (5, 4)
    assert (out.scores[:, :-1] >= out.scores[:, 1:]).all()
    torch.testing.assert_close(out.scores, out.log_probs / out.lengths.double() ** alpha)
    for n in range(5):
        seqs = [tuple(out.tokens[n, j, : out.lengths[n, j]].tolist()) for j in range(4)]
        assert len(set(seqs)) == 4  # four different hypotheses
        log_p, weights = rescore(model, src[[n] * 4], lengths[[n] * 4], out.tokens[n], out.lengths[n])
        torch.testing.assert_close(out.log_probs[n], log_p)
        valid = torch.arange(out.tokens.shape[2]) < out.lengths[n][:, None]  # (k, T)
        torch.testing.assert_close(out.weights[n] * valid[..., None], weights * valid[..., None])


def test_stopping_at_the_end_token():
    model = make_model("additive", eos_bias=2.5)
    src, lengths = source(N=6)
    calls = []
    step, state = model.step_function(src, lengths)
    counted = lambda tokens, s: (calls.append(1), step(tokens, s))[1]  # noqa: E731
    searches = [
        lambda: greedy_search(counted, state, 6, sos=SOS, eos=EOS, max_len=30),
        lambda: beam_search(counted, state, 6, beam_size=3, sos=SOS, eos=EOS, max_len=30),
    ]
    for run in searches:
        out = run()
        tokens, lengths_ = out.tokens.reshape(-1, out.tokens.shape[-1]), out.lengths.reshape(-1)
        assert tokens.shape[-1] == len(calls) < 30  # stopped when every hypothesis had ended
        for row, L in zip(tokens.tolist(), lengths_.tolist(), strict=True):
            assert row[L - 1] == EOS and EOS not in row[: L - 1] and set(row[L:]) <= {PAD}
        weights = out.weights.reshape(-1, *out.weights.shape[-2:])
        after = torch.arange(tokens.shape[-1]) >= lengths_[:, None]
        assert (weights[after] == 0).all()
        calls.clear()
    cut = model.greedy_decode(src, lengths, max_len=1)  # no end token within max_len: length max_len
    assert cut.tokens.shape == (6, 1) and cut.lengths.tolist() == [1] * 6


def test_batched_beam_equals_beam_per_example():
    model = make_model("additive", cell="lstm", eos_bias=1.0)
    src, lengths = source(N=5)
    batched = model.beam_decode(src, lengths, beam_size=3, max_len=6, alpha=0.6)
    for n in range(5):
        L = int(lengths[n])
        alone = model.beam_decode(src[n : n + 1, :L], lengths[n : n + 1], beam_size=3, max_len=6, alpha=0.6)
        T = alone.tokens.shape[-1]
        assert torch.equal(alone.tokens[0], batched.tokens[n, :, :T])
        assert (batched.tokens[n, :, T:] == PAD).all()
        torch.testing.assert_close(alone.scores[0], batched.scores[n])
        torch.testing.assert_close(alone.weights[0], batched.weights[n, :, :T, :L])


def all_hypotheses(V, max_len):
    """Every output: a sequence ended by EOS within max_len, or max_len tokens without one."""
    for T in range(1, max_len + 1):
        for body in itertools.product([t for t in range(V) if t != EOS], repeat=T - 1):
            yield (*body, EOS)
    yield from itertools.product([t for t in range(V) if t != EOS], repeat=max_len)


@pytest.mark.parametrize("alpha", [0.0, 0.8])
def test_a_beam_that_never_prunes_is_exact_search(alpha):
    """V = 4 and 3 steps: 1 + 3 + 9 hypotheses ended by EOS and 27 unfinished, 40 per example."""
    model = make_model("additive", V_tgt=4, eos_bias=0.5)
    src, lengths = source(N=2)
    hyps = list(all_hypotheses(4, 3))
    assert len(hyps) == 40
    beam = model.beam_decode(src, lengths, beam_size=48, max_len=3, alpha=alpha)
    greedy = model.greedy_decode(src, lengths, max_len=3, alpha=alpha)
    for n in range(2):
        tokens = torch.tensor([list(h) + [PAD] * (3 - len(h)) for h in hyps])  # (40, 3)
        hyp_lengths = torch.tensor([len(h) for h in hyps])
        log_p, weights = rescore(model, src[[n] * 40], lengths[[n] * 40], tokens, hyp_lengths)
        exact = log_p / hyp_lengths.double() ** alpha
        order = exact.argsort(descending=True)
        assert torch.isinf(beam.scores[n, 40:]).all() and torch.isfinite(beam.scores[n, :40]).all()
        torch.testing.assert_close(beam.scores[n, :40], exact[order])
        found = [tuple(beam.tokens[n, j, : beam.lengths[n, j]].tolist()) for j in range(40)]
        assert found == [hyps[i] for i in order.tolist()]
        valid = (torch.arange(3) < hyp_lengths[order, None])[..., None]  # (40, 3, 1)
        torch.testing.assert_close(beam.weights[n, :40], weights[order] * valid)
        assert beam.scores[n, 0] >= greedy.scores[n]  # exact search is never worse than greedy


class TableModel:
    """A hand-set model: the probability of the next token depends on the tokens so far.

    ``table`` maps a prefix (tuple of tokens) to {token: probability}; a prefix not in it ends
    (EOS with probability 1). The step function's state is the index of the current prefix.
    """

    def __init__(self, table, V):
        self.prefixes = [None, *table, "end"]  # 0: before the start token
        self.logp = torch.full((len(self.prefixes), V), float("-inf"), dtype=torch.float64)
        for i, probs in enumerate(table.values(), start=1):
            for token, p in probs.items():
                self.logp[i, token] = torch.tensor(p, dtype=torch.float64).log()
        self.logp[-1, EOS] = 0.0
        self.index = {p: i for i, p in enumerate(self.prefixes)}

    def step(self, tokens, state):
        nxt = []
        for node, token in zip(state.tolist(), tokens.tolist(), strict=True):
            prefix = self.prefixes[node]
            prefix = () if prefix is None else (prefix + (token,) if isinstance(prefix, tuple) else prefix)
            nxt.append(self.index.get(prefix, len(self.prefixes) - 1))
        nxt = torch.tensor(nxt)
        return self.logp[nxt], nxt, None


A, B, C = 3, 4, 5
# greedy takes A (0.5), then nothing after A is likely: best 0.5 · 0.4 = 0.20 for "A A".
# B is less likely (0.4) but is followed by C with 0.9: "B C" has probability 0.36.
WORKED = {(): {A: 0.5, B: 0.4, EOS: 0.1}, (A,): {A: 0.4, B: 0.3, C: 0.3}, (B,): {C: 0.9, EOS: 0.1}}


def test_worked_example_greedy_is_wrong_and_beam_is_right():
    model = TableModel(WORKED, V=6)
    start = torch.zeros(1, dtype=torch.int64)
    greedy = greedy_search(model.step, start, 1, sos=SOS, eos=EOS, max_len=5)
    assert greedy.tokens[0].tolist() == [A, A, EOS]
    torch.testing.assert_close(greedy.log_probs, torch.tensor([0.5 * 0.4]).double().log())
    beam = beam_search(model.step, start, 1, beam_size=2, sos=SOS, eos=EOS, max_len=5)
    assert beam.tokens[0, 0].tolist() == [B, C, EOS]
    assert beam.tokens[0, 1].tolist() == [A, A, EOS]
    torch.testing.assert_close(beam.log_probs[0], torch.tensor([0.36, 0.20]).double().log())
    one = beam_search(model.step, start, 1, beam_size=1, sos=SOS, eos=EOS, max_len=5)
    assert torch.equal(one.tokens[0, 0], greedy.tokens[0]) and torch.equal(one.scores[0], greedy.scores)


def test_length_normalisation_changes_the_winner():
    # Ending at once has probability 0.45; "A A A EOS" only 0.55 · 0.8 · 0.8 · 0.9 = 0.317 in total, but
    # its four tokens have the better mean log-probability (log 0.317 / 4 = -0.29 against log 0.45 = -0.80).
    table = {
        (): {EOS: 0.45, A: 0.55},
        (A,): {A: 0.8, EOS: 0.2},
        (A, A): {A: 0.8, EOS: 0.2},
        (A, A, A): {EOS: 0.9},
    }
    model = TableModel(table, V=6)
    start = torch.zeros(1, dtype=torch.int64)
    long_p = 0.55 * 0.8 * 0.8 * 0.9
    plain = beam_search(model.step, start, 1, beam_size=4, sos=SOS, eos=EOS, max_len=6, alpha=0.0)
    assert plain.tokens[0, 0, :1].tolist() == [EOS]
    per_token = beam_search(model.step, start, 1, beam_size=4, sos=SOS, eos=EOS, max_len=6, alpha=1.0)
    assert per_token.tokens[0, 0].tolist() == [A, A, A, EOS]
    torch.testing.assert_close(per_token.scores[0, 0], torch.tensor(long_p).double().log() / 4)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda s, st: beam_search(s, st, 2, beam_size=0, sos=1, eos=2, max_len=3),
            ValueError,
            "beam_search: expected beam_size > 0, got 0",
        ),
        (
            lambda s, st: greedy_search(s, st, 2, sos=1, eos=2, max_len=0),
            ValueError,
            "greedy_search: expected max_len > 0, got 0",
        ),
        (
            lambda s, st: greedy_search(s, st, 2, sos=1, eos=2, max_len=3, alpha=-1),
            ValueError,
            "expected alpha >= 0, got -1",
        ),
        (
            lambda s, st: greedy_search(s, st, 2, sos=1, eos=2, max_len=3, alpha="1"),
            DTypeError,
            "expected alpha to be a number, got str",
        ),
        (
            lambda s, st: beam_search(s, st, 2.0, beam_size=2, sos=1, eos=2, max_len=3),
            DTypeError,
            "batch_size to be an int",
        ),
        (
            lambda s, st: greedy_search(
                lambda t, x: (torch.zeros(2, 6), x, None), st, 3, sos=1, eos=2, max_len=3
            ),
            ShapeError,
            r"log_probs of shape \(B, V\) = \(3, V\), got \(2, 6\)",
        ),
    ],
)
def test_search_errors(call, error, match):
    model = TableModel(WORKED, V=6)
    with pytest.raises(error, match=match):
        call(model.step, torch.zeros(2, dtype=torch.int64))


def test_model_errors():
    enc = Encoder(9, 4, 5)
    with pytest.raises(ShapeError, match="context_size = encoder.output_size = 10, got 5"):
        Seq2Seq(enc, Decoder(7, 4, 5, 5), sos=SOS, eos=EOS)
    with pytest.raises(ShapeError, match="num_layers = 1"):
        Seq2Seq(enc, Decoder(7, 4, 5, 10, 2), sos=SOS, eos=EOS)
    with pytest.raises(ValueError, match="cell to be 'gru' or 'lstm', got 'rnn'"):
        Encoder(9, 4, 5, cell="rnn")
    with pytest.raises(ValueError, match="query to be 'previous' or 'current'"):
        Decoder(7, 4, 5, 10, query="next")
    model = Seq2Seq(enc, Decoder(7, 4, 5, 10), sos=SOS, eos=EOS)
    src, lengths = source()
    with pytest.raises(DTypeError, match="src to be an int64 Tensor"):
        model(src.float(), lengths, src)
    with pytest.raises(ShapeError, match=r"tgt_in of shape \(N, T\) = \(4, T\), got \(3, 2\)"):
        model(src, lengths, torch.ones(3, 2, dtype=torch.int64))
    with pytest.raises(ShapeError, match=r"Seq2Seq: expected every length <= T = 6, got max length 7"):
        model.encode(src, lengths + 1)
    with pytest.raises(ValueError, match="Seq2Seq: expected max_len > 0, got 0"):
        model.greedy_decode(src, lengths, max_len=0)
    with pytest.raises(ValueError, match="Seq2Seq: expected beam_size > 0, got 0"):
        model.beam_decode(src, lengths, beam_size=0, max_len=3)
    assert isinstance(model.encode(src, lengths)[0], Memory)


@pytest.mark.parametrize("module", [seq2seq, search])
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted == {seq2seq: 9, search: 5}[module]
