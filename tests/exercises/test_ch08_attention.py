"""Chapter 8's exercises: a softmax over the unmasked keys (the reference is the torch module's), and
one step of beam search (the reference is a step of the package's search).
"""

import numpy as np
import pytest
from exercise_suite import chapter_tests

from companion import exercises as ex
from companion.exercises import ch08_attention


def my_masked_softmax(scores, mask):
    keep = mask.any(axis=1, keepdims=True)  # (N, 1): rows with at least one key
    s = np.where(mask, scores, -np.inf)  # exp(-inf) = 0: masked keys get no weight
    top = np.where(keep, s.max(axis=1, keepdims=True), 0.0)  # (N, 1): the largest unmasked score
    e = np.exp(s - top)
    return e / np.where(keep, e.sum(axis=1, keepdims=True), 1.0)


def my_beam_step(log_prob, log_probs, beam_size):
    k, V = log_probs.shape
    candidates = (log_prob[:, None] + log_probs).ravel()  # (k·V,): every extension, hypothesis-major
    flat = np.argsort(-candidates, kind="stable")[:beam_size]  # the best beam_size, best first
    return candidates[flat], flat // V, flat % V


def masked_softmax_large_fill(scores, mask):
    s = np.where(mask, scores, -1e9)
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def masked_softmax_unguarded(scores, mask):
    s = np.where(mask, scores, -np.inf)
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def masked_softmax_unshifted(scores, mask):
    e = np.where(mask, np.exp(np.minimum(scores, 1e3)), 0.0)
    total = e.sum(axis=1, keepdims=True)
    return e / np.where(total == 0, 1.0, total)


def masked_softmax_mask_after(scores, mask):
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True) * mask


def beam_step_own_best(log_prob, log_probs, beam_size):
    best = log_prob + log_probs.max(axis=1)
    order = np.argsort(-best)[:beam_size]
    return best[order], order, log_probs.argmax(axis=1)[order]


def beam_step_split_wrong(log_prob, log_probs, beam_size):
    k, V = log_probs.shape
    candidates = (log_prob[:, None] + log_probs).ravel()
    flat = np.argsort(-candidates)[:beam_size]
    return candidates[flat], flat % k, flat // k


SOLUTIONS = [
    (ex.check_masked_softmax, my_masked_softmax),
    (ex.check_beam_step, my_beam_step),
]


WRONG = [
    (ex.check_masked_softmax, masked_softmax_large_fill, r"gets equal weights 1/T .*-1e9"),
    (ex.check_masked_softmax, masked_softmax_unguarded, r"p contains NaN .*all masked gives NaN"),
    (ex.check_masked_softmax, masked_softmax_unshifted, r"p contains NaN .*exp overflows for large scores"),
    (ex.check_masked_softmax, masked_softmax_mask_after, r"mask is applied after the softmax"),
    (
        ex.check_beam_step,
        beam_step_own_best,
        r"log_prob and beams differ .*; tokens is correct\. Each hypothesis is extended by its own best token only",
    ),
    (
        ex.check_beam_step,
        beam_step_split_wrong,
        r"beams and tokens differ .*; log_prob is correct\. The flat index .* is split the wrong way",
    ),
]


EXERCISES = [
    (ex.check_masked_softmax, ch08_attention._MASKED_SOFTMAX),
    (ex.check_beam_step, ch08_attention._BEAM_STEP),
]


globals().update(chapter_tests(SOLUTIONS, WRONG, exercises=EXERCISES))


def test_masked_softmax_reference_is_the_torch_modules():
    torch = pytest.importorskip("torch")
    from companion.nn.attention import masked_softmax

    for case in ch08_attention._MASKED_SOFTMAX.cases():
        want = masked_softmax(torch.tensor(case["scores"]), torch.tensor(case["mask"])).numpy()
        np.testing.assert_allclose(ch08_attention._reference_softmax(case)["p"], want, rtol=1e-12, atol=0)


def test_beam_step_reference_is_the_second_step_of_the_package_beam_search():
    """Two steps of companion.nn.search.beam_search on a hand-set table: after the first, the k kept
    hypotheses are live; the second step must be what the reference computes from them."""
    torch = pytest.importorskip("torch")
    from companion.nn.search import beam_search

    rng = np.random.default_rng(0)
    V, k = 6, 3
    first = np.log(rng.dirichlet(np.ones(V)))  # (V,): log p(y_1)
    second = np.log(rng.dirichlet(np.ones(V), size=V))  # (V, V): log p(y_2 | y_1)

    def step(tokens, state):  # state (B,): the number of tokens read so far
        table = torch.tensor(second)[tokens] if int(state[0]) else torch.tensor(first).expand(len(tokens), V)
        return table, state + 1, None

    beam = beam_search(step, torch.zeros(1, dtype=torch.int64), 1, beam_size=k, sos=0, eos=V, max_len=2)
    y1 = np.argsort(-first)[:k]  # the first step keeps the k best first tokens
    case = {"log_prob": first[y1], "log_probs": second[y1], "beam_size": k}
    want = ch08_attention._reference_beam(case)
    np.testing.assert_allclose(beam.log_probs[0].numpy(), want["log_prob"], rtol=1e-12)
    assert beam.tokens[0, :, 0].tolist() == y1[want["beams"]].tolist()
    assert beam.tokens[0, :, 1].tolist() == want["tokens"].tolist()
