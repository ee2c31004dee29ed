"""Tests for companion.lm.ngram: count-based n-gram baselines."""

import math

import numpy as np
import pytest

from companion.lm import NGramLM

IDS = np.random.default_rng(0).integers(0, 6, size=400)


@pytest.mark.parametrize("order", [0, 1, 2, 3, 5])
@pytest.mark.parametrize("smoothing", ["interpolated", "add_k"])
def test_probabilities_sum_to_one(order, smoothing):
    lm = NGramLM(order, 7, smoothing=smoothing, k=0.3).fit(IDS)
    for context in ([], [2], [5, 5], [6, 6, 6, 6], IDS[:20]):  # 6 never occurs: an unseen context
        p = lm.probs(context)
        assert p.shape == (7,) and np.all(p > 0)
        assert p.sum() == pytest.approx(1.0, abs=1e-12)


def test_uniform_model_has_perplexity_V():
    nll = NGramLM(0, 9).fit(IDS).token_nll(IDS)
    assert math.exp(nll.mean()) == pytest.approx(9)


def test_bigram_counts_by_hand():
    ids = np.array([0, 1, 0, 1, 0, 2])
    add1 = NGramLM(2, 3, smoothing="add_k", k=1.0).fit(ids)
    # after 0: 1 twice, 2 once -> (c + 1) / (3 + 3)
    np.testing.assert_allclose(add1.probs([0]), [1 / 6, 3 / 6, 2 / 6])
    interp = NGramLM(2, 3, discount=0.5).fit(ids)
    unigram = (np.maximum(np.array([3, 2, 1]) - 0.5, 0) + 0.5 * 3 / 3) / 6  # lower order, then uniform
    expected = (np.maximum(np.array([0, 2, 1]) - 0.5, 0) + 0.5 * 2 * unigram) / 3
    np.testing.assert_allclose(interp.probs([0]), expected)


@pytest.mark.parametrize("order", [1, 2, 4])
@pytest.mark.parametrize("smoothing", ["interpolated", "add_k"])
def test_token_nll_equals_probs_of_each_prefix(order, smoothing):
    lm = NGramLM(order, 6, smoothing=smoothing).fit(IDS[:300])
    held = IDS[300:]
    expected = [-np.log(lm.probs(held[:t])[held[t]]) for t in range(1, len(held))]
    np.testing.assert_allclose(lm.token_nll(held), expected, rtol=1e-12)


def test_higher_order_helps_on_a_deterministic_sequence():
    ids = np.tile([0, 1, 2, 1], 50)
    bigram, trigram = (NGramLM(n, 3).fit(ids).token_nll(ids).mean() for n in (2, 3))
    assert trigram < 0.5 * bigram


def test_errors_name_expected_and_actual():
    with pytest.raises(ValueError, match=r"expected ids in \[0, 4\), got 0..5"):
        NGramLM(2, 4).fit([0, 5])
    with pytest.raises(ValueError, match="expected order to be an int >= 0, got -1"):
        NGramLM(-1, 4)
    with pytest.raises(ValueError, match="expected smoothing 'interpolated' or 'add_k', got 'kn'"):
        NGramLM(2, 4, smoothing="kn")
    with pytest.raises(RuntimeError, match="call fit"):
        NGramLM(2, 4).probs([1])
