"""Tests for companion.lm.ngram: count-based n-gram baselines."""

import math
from collections import Counter

import numpy as np
import pytest

from companion.lm import NGramLM

IDS = np.random.default_rng(0).integers(0, 6, size=400)
SMOOTHINGS = ["interpolated", "kneser_ney", "modified_kneser_ney", "add_k"]
HAND = [0, 1, 0, 1, 0, 1, 0, 2, 1, 2]  # 10 tokens over V = 3


def grams(ids, k):
    """Counter of the k-grams of ids, as tuples."""
    return Counter(tuple(ids[s : s + k]) for s in range(len(ids) - k + 1))


def kneser_ney(ids, n, V, discount, history):
    """Interpolated Kneser-Ney by its definition: p(. | history) as a list of V floats.

    ``discount(c)`` is the discount of a count c (a constant for Kneser-Ney, D1/D2/D3+ for the
    modified form). The highest order reads raw counts, every lower order N1+(. h w): the number of
    distinct (k+1)-grams ending in the k-gram h w; the recursion ends at the uniform distribution.
    """

    def p(h, top):
        k = len(h) + 1
        counts = grams(ids, k) if top else Counter(g[1:] for g in grams(ids, k + 1))
        here = {g[-1]: c for g, c in counts.items() if g[:-1] == h}
        lower = p(h[1:], False) if h else [1 / V] * V
        total = sum(here.values())
        if total == 0:
            return lower
        gamma = sum(discount(c) for c in here.values()) / total
        return [
            max(here.get(w, 0) - discount(here.get(w, 0)), 0) / total + gamma * lower[w] for w in range(V)
        ]

    return p(tuple(history[len(history) - min(len(history), n - 1) :]), True)


@pytest.mark.parametrize("order", [0, 1, 2, 3, 5])
@pytest.mark.parametrize("smoothing", SMOOTHINGS)
def test_probabilities_sum_to_one(order, smoothing):
    for discount in [None, (0.3, 1.2, 2.9)] if smoothing == "modified_kneser_ney" else [None]:
        lm = NGramLM(order, 7, smoothing=smoothing, k=0.3, discount=discount).fit(IDS)
        for context in ([], [2], [5, 5], [6, 6, 6, 6], [6, 1, 2, 3], IDS[:20]):  # 6 never occurs
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


def test_kneser_ney_by_hand():
    # HAND = 0 1 0 1 0 1 0 2 1 2, D = 0.5. Bigrams 01 x3, 10 x3, 02, 21, 12: five distinct, so
    # N1+(. w) = 1, 2, 2 (0 follows only 1) and p1 = max(N - D, 0) / 5 + D * 3 / 5 / 3 = .2, .4, .4.
    # Bigram model, raw counts on top: after 0, 01 x3 and 02 -> (2.5, .5) / 4 + .25 p1.
    # Trigrams 010 x3, 101 x2, 102, 021, 212 -> N1+(. v w) = 1 for 10, 01, 02, 21, 12, so
    # p2(. | 0) = (0, .5, .5) / 2 + .5 p1 = .1, .45, .45; p2(. | 1) = .35, .2, .45; p2(. | 2) = .1, .7, .2.
    # Trigram top: after 0 1, 010 x3 -> (2.5, 0, 0) / 3 + (1 / 6) p2(. | 1); after 1 0, 101 x2, 102
    # -> (0, 1.5, .5) / 3 + (1 / 3) p2(. | 0); 2 0 never seen: p2(. | 0); after 0 2, 021 -> .5 + .5 p2(. | 2).
    bigram = NGramLM(2, 3, smoothing="kneser_ney", discount=0.5).fit(HAND)
    trigram = NGramLM(3, 3, smoothing="kneser_ney", discount=0.5).fit(HAND)
    cases = [
        (bigram, [0], [0.05, 0.725, 0.225]),
        (bigram, [2], [0.1, 0.7, 0.2]),
        (bigram, [1], [0.675, 0.1, 0.225]),
        (trigram, [0, 1], [2.5 / 3 + 0.35 / 6, 0.2 / 6, 0.45 / 6]),
        (trigram, [1, 0], [0.1 / 3, 0.65, 0.5 / 3 + 0.15]),
        (trigram, [2, 0], [0.1, 0.45, 0.45]),
        (trigram, [0, 2], [0.05, 0.85, 0.1]),
        (trigram, [1], [0.675, 0.1, 0.225]),  # a shorter context reads the bigram model
    ]
    for lm, context, expected in cases:
        np.testing.assert_allclose(lm.probs(context), expected, rtol=0, atol=1e-12)
        reference = kneser_ney(HAND, lm.order, 3, lambda c: 0.5 * (c > 0), context)
        np.testing.assert_allclose(lm.probs(context), reference, rtol=0, atol=1e-12)


def test_modified_kneser_ney_by_hand():
    # D1, D2, D3+ = .4, .8, 1.2. Continuation unigram N = 1, 2, 2 of 5: gamma = (.4 + 2 * .8) / 5 = .4,
    # p1 = (.6, 1.2, 1.2) / 5 + .4 / 3. After 0: 01 x3, 02 -> (3 - 1.2, 1 - .4) / 4, gamma = 1.6 / 4.
    lm = NGramLM(2, 3, smoothing="modified_kneser_ney", discount=(0.4, 0.8, 1.2)).fit(HAND)
    p1 = np.array([0.6, 1.2, 1.2]) / 5 + 0.4 / 3
    np.testing.assert_allclose(lm.probs([0]), np.array([0, 1.8, 0.6]) / 4 + 0.4 * p1, rtol=0, atol=1e-12)
    for order in (1, 2, 3, 4):
        lm = NGramLM(order, 7, smoothing="modified_kneser_ney", discount=(0.4, 0.8, 1.2)).fit(IDS[:60])
        for context in ([], [3], [3, 1, 2], [6, 1]):
            reference = kneser_ney(list(IDS[:60]), order, 7, lambda c: [0, 0.4, 0.8, 1.2][min(c, 3)], context)
            np.testing.assert_allclose(lm.probs(context), reference, rtol=0, atol=1e-12)


def test_modified_with_three_equal_discounts_is_kneser_ney():
    for order in (1, 2, 3, 5):
        kn = NGramLM(order, 7, smoothing="kneser_ney", discount=0.6).fit(IDS)
        modified = NGramLM(order, 7, smoothing="modified_kneser_ney", discount=(0.6, 0.6, 0.6)).fit(IDS)
        np.testing.assert_allclose(modified.token_nll(IDS), kn.token_nll(IDS), rtol=1e-12)


def test_lower_orders_use_continuation_counts():
    # "San Francisco": 1 is frequent but follows 0 only; 2 is rarer and follows many tokens.
    ids = [0, 1, 2, 0, 1, 3, 0, 1, 2, 2, 0, 1, 3, 3, 0, 1, 3, 2, 0, 1]
    raw = Counter(ids)
    continuation = Counter(w for (_, w) in grams(ids, 2))
    assert raw[1] > raw[2] and continuation[1] < continuation[2]
    kn = NGramLM(2, 5, smoothing="kneser_ney", discount=0.5).fit(ids)
    interp = NGramLM(2, 5, discount=0.5).fit(ids)
    unseen = [4]  # never seen: the bigram model falls back to its unigram entirely
    assert kn.probs(unseen)[1] < kn.probs(unseen)[2] and interp.probs(unseen)[1] > interp.probs(unseen)[2]
    N = np.array([continuation[w] for w in range(5)])
    expected = np.maximum(N - 0.5, 0) / N.sum() + 0.5 * np.count_nonzero(N) / N.sum() / 5
    np.testing.assert_allclose(kn.probs(unseen), expected, rtol=0, atol=1e-12)


def chen_goodman(counts):
    """Y and (D1, D2, D3+) from the count-of-counts of a Counter; k/2 where undefined or outside (0, k]."""
    n = [sum(c == k for c in counts.values()) for k in (1, 2, 3, 4)]

    def checked(k, value):
        try:
            d = value()
        except ZeroDivisionError:
            return k / 2
        return d if 0 < d <= k else k / 2

    if not n[0]:
        return 0.5, [0.5, 1.0, 1.5]
    Y = n[0] / (n[0] + 2 * n[1])
    return Y, [checked(k, lambda k=k: k - (k + 1) * Y * n[k] / n[k - 1]) for k in (1, 2, 3)]


@pytest.mark.parametrize("order", [1, 2, 4])
def test_estimated_discounts(order):
    ids = list(IDS)
    tables = [Counter(g[1:] for g in grams(ids, j + 2)) for j in range(order - 1)] + [grams(ids, order)]
    kn = NGramLM(order, 6, smoothing="kneser_ney").fit(IDS).discounts_
    modified = NGramLM(order, 6, smoothing="modified_kneser_ney").fit(IDS).discounts_
    assert kn.shape == modified.shape == (order, 3)
    for j, table in enumerate(tables):
        Y, D = chen_goodman(table)
        np.testing.assert_allclose(kn[j], [Y] * 3, rtol=1e-12)
        np.testing.assert_allclose(modified[j], D, rtol=1e-12)
    if order == 4:  # sparse 4-grams: three distinct estimates, none a fallback
        assert np.ptp(modified[-1]) > 0.1 and not np.allclose(modified[-1], [0.5, 1.0, 1.5])


def test_estimated_discounts_fall_back_where_undefined():
    # 0 1 2 0 1 2 0 1: bigrams 01 x3, 12 x2, 20 x2 -> n1 = 0: no estimate, D = 1/2, 1, 3/2
    lm = NGramLM(2, 3, smoothing="modified_kneser_ney").fit([0, 1, 2, 0, 1, 2, 0, 1])
    np.testing.assert_allclose(lm.discounts_[1], [0.5, 1.0, 1.5])
    assert NGramLM(2, 3, smoothing="kneser_ney").fit([0, 1, 2, 0, 1, 2, 0, 1]).discounts_[1, 0] == 0.5


@pytest.mark.parametrize("order", [1, 2, 4])
@pytest.mark.parametrize("smoothing", SMOOTHINGS)
def test_token_nll_equals_probs_of_each_prefix(order, smoothing):
    lm = NGramLM(order, 6, smoothing=smoothing).fit(IDS[:300])
    held = IDS[300:]
    expected = [-np.log(lm.probs(held[:t])[held[t]]) for t in range(1, len(held))]
    np.testing.assert_allclose(lm.token_nll(held), expected, rtol=1e-12)


def test_higher_order_helps_on_a_deterministic_sequence():
    ids = np.tile([0, 1, 2, 1], 50)
    for smoothing in ("interpolated", "kneser_ney", "modified_kneser_ney"):
        lms = (NGramLM(n, 3, smoothing=smoothing).fit(ids) for n in (2, 3))
        bigram, trigram = (lm.token_nll(ids).mean() for lm in lms)
        assert trigram < 0.5 * bigram


@pytest.mark.parametrize("smoothing", ["interpolated", "kneser_ney", "modified_kneser_ney"])
def test_select_scores_every_candidate_and_keeps_the_best(smoothing):
    train, valid = IDS[:300], IDS[300:]
    discounts = [None, (0.3, 0.9, 1.5)] if smoothing == "modified_kneser_ney" else [0.2, 0.6, 1.0]
    chosen = NGramLM.select(train, valid, 6, orders=(1, 2, 3), discounts=discounts, smoothing=smoothing)
    assert chosen.nll.shape == (3, len(discounts))
    for i, n in enumerate(chosen.orders):
        for j, d in enumerate(chosen.discounts):
            alone = NGramLM(n, 6, smoothing=smoothing, discount=d).fit(train).token_nll(valid).mean()
            assert chosen.nll[i, j] == pytest.approx(alone, rel=1e-12)
    i, j = np.unravel_index(np.argmin(chosen.nll), chosen.nll.shape)
    assert (chosen.order, chosen.discount) == (chosen.orders[i], chosen.discounts[j])
    assert chosen.model.order == chosen.order and chosen.model.smoothing == smoothing
    assert chosen.model.token_nll(valid).mean() == pytest.approx(chosen.nll.min(), rel=1e-12)


def test_select_finds_the_order_of_the_source():
    rng = np.random.default_rng(1)
    ids = np.tile([0, 1, 2, 1, 3, 2], 100)
    ids[rng.random(len(ids)) < 0.05] = 4  # noise
    chosen = NGramLM.select(ids[:500], ids[500:], 5, orders=range(1, 7))
    assert chosen.order >= 3 and chosen.nll[0].min() > chosen.nll.min() + 0.5
    assert len(chosen.discounts) == 21 and chosen.discounts[0] is None  # default: estimated, 0.05 .. 1


def test_errors_name_expected_and_actual():
    with pytest.raises(ValueError, match=r"expected ids in \[0, 4\), got 0..5"):
        NGramLM(2, 4).fit([0, 5])
    with pytest.raises(ValueError, match="expected order to be an int >= 0, got -1"):
        NGramLM(-1, 4)
    with pytest.raises(ValueError, match="NGramLM: expected smoothing one of 'interpolated', .*, got 'kn'"):
        NGramLM(2, 4, smoothing="kn")
    with pytest.raises(RuntimeError, match="call fit"):
        NGramLM(2, 4).probs([1])
    with pytest.raises(RuntimeError, match="call fit"):
        NGramLM(2, 4, smoothing="kneser_ney").discounts_  # noqa: B018


@pytest.mark.parametrize(
    "smoothing, discount, error, message",
    [
        ("kneser_ney", 0, ValueError, r"NGramLM: expected discount in \(0, 1\], got 0"),
        ("kneser_ney", 1.5, ValueError, r"NGramLM: expected discount in \(0, 1\], got 1.5"),
        ("interpolated", -0.1, ValueError, r"expected discount in \(0, 1\], got -0.1"),
        ("kneser_ney", (0.5, 0.5, 0.5), TypeError, "NGramLM: expected discount to be a number"),
        ("modified_kneser_ney", 0.5, TypeError, r"NGramLM: expected discount None or three numbers"),
        ("modified_kneser_ney", (0.5, 1.0), TypeError, r"three numbers \(D1, D2, D3\+\)"),
        ("modified_kneser_ney", (0.5, 2.5, 1.0), ValueError, r"0 < D2 <= 2, .*got \(0.5, 2.5, 1.0\)"),
        ("modified_kneser_ney", (0, 1, 1), ValueError, "NGramLM: expected 0 < D1 <= 1"),
    ],
)
def test_discount_errors(smoothing, discount, error, message):
    with pytest.raises(error, match=message):
        NGramLM(3, 4, smoothing=smoothing, discount=discount)


def test_select_errors():
    with pytest.raises(ValueError, match="NGramLM.select: expected a discounted smoothing, got 'add_k'"):
        NGramLM.select(IDS, IDS, 6, smoothing="add_k")
    with pytest.raises(ValueError, match=r"NGramLM.select: expected orders and discounts, got \(\)"):
        NGramLM.select(IDS, IDS, 6, orders=())
    with pytest.raises(ValueError, match=r"NGramLM.select: expected ids of shape \(L,\), L >= 2"):
        NGramLM.select(IDS, IDS[:1], 6)
    with pytest.raises(ValueError, match=r"NGramLM: expected discount in \(0, 1\], got 2"):
        NGramLM.select(IDS, IDS, 6, discounts=[0.5, 2])
