"""Chapter 9's exercises: bits per character and perplexity, and the distribution that sampling draws from."""

import numpy as np
import pytest
from exercise_suite import chapter_tests

from companion import exercises as ex
from companion.exercises import ch09_lm


def my_bits_and_perplexity(probs, targets):
    nll = -np.log2(probs[np.arange(len(targets)), targets])  # (T,): bits for each target
    return nll.mean(), 2.0 ** nll.mean()


def my_sampling_distribution(logits, temperature, top_k):
    z = logits / temperature  # (N, V)
    if top_k is not None:
        kth = np.sort(z, axis=1)[:, -top_k][:, None]  # (N, 1): each row's k-th largest
        z = np.where(z >= kth, z, -np.inf)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def bits_as_nats(probs, targets):
    nll = -np.log(probs[np.arange(len(targets)), targets])
    return nll.mean(), np.exp(nll.mean())


def perplexity_arithmetic(probs, targets):
    p = probs[np.arange(len(targets)), targets]
    return -np.log2(p).mean(), (1.0 / p).mean()


def bits_summed(probs, targets):
    nll = -np.log2(probs[np.arange(len(targets)), targets])
    return nll.sum(), 2.0 ** nll.sum()


def sampling_times_temperature(logits, temperature, top_k):
    return my_sampling_distribution(logits * temperature**2, temperature, top_k)


def sampling_not_renormalised(logits, temperature, top_k):
    p = my_sampling_distribution(logits, temperature, None)
    return np.where(my_sampling_distribution(logits, 1.0, top_k) > 0, p, 0.0)


def sampling_top_k_ignored(logits, temperature, top_k):
    return my_sampling_distribution(logits, temperature, None)


SOLUTIONS = [
    (ex.check_bits_and_perplexity, my_bits_and_perplexity),
    (ex.check_sampling_distribution, my_sampling_distribution),
]


WRONG = [
    (ex.check_bits_and_perplexity, bits_as_nats, r"bits differs .*perplexity is correct\. .*in nats"),
    (ex.check_bits_and_perplexity, perplexity_arithmetic, r"bits is correct\. .*an arithmetic mean"),
    (ex.check_bits_and_perplexity, bits_summed, r"summed over the tokens, not averaged"),
    (ex.check_sampling_distribution, sampling_times_temperature, r"multiplied by the temperature"),
    (ex.check_sampling_distribution, sampling_not_renormalised, r"are not renormalised"),
    (ex.check_sampling_distribution, sampling_top_k_ignored, r"top_k is ignored"),
]


EXERCISES = [
    (ex.check_bits_and_perplexity, ch09_lm._BITS),
    (ex.check_sampling_distribution, ch09_lm._SAMPLING),
]


globals().update(chapter_tests(SOLUTIONS, WRONG, exercises=EXERCISES))


def test_bits_reference_is_the_packages_bits_and_perplexity():
    pytest.importorskip("torch")
    from companion.lm import bits, perplexity

    for case in ch09_lm._bits_cases():
        nll = -np.log(case["probs"][np.arange(len(case["targets"])), case["targets"]])  # nats
        want = ch09_lm._reference_bits(case)
        assert np.isclose(want["bits"], bits(nll), rtol=1e-12)
        assert np.isclose(want["perplexity"], perplexity(nll), rtol=1e-12)
        assert np.isclose(want["perplexity"], 2.0 ** want["bits"], rtol=1e-12)


def test_sampling_reference_is_what_the_package_draws_from():
    """companion.lm.charlm.sample, given fixed logits, draws each token at the reference's rate, and
    never one the reference gives probability 0."""
    torch = pytest.importorskip("torch")
    from companion.lm import sample

    class FixedLogits(torch.nn.Module):
        def __init__(self, z):
            super().__init__()
            self.z = torch.nn.Parameter(torch.tensor(z))

        def forward(self, input, state=None):
            return self.z.expand(1, input.shape[1], -1), state  # (1, T, V): the same at every step

    n = 4000
    for case in ch09_lm._sampling_cases()[1:3]:  # with a top-k cut, one sharpened and one flattened
        z = case["logits"][0]  # (V,)
        want = ch09_lm._reference_sampling({**case, "logits": z[None]})["p"][0]  # (V,)
        drawn = sample(
            FixedLogits(z), [0], n, temperature=case["temperature"], top_k=case["top_k"], generator=9
        )
        freq = np.bincount(drawn, minlength=len(z)) / n
        assert np.all(freq[want == 0] == 0)
        assert np.all(np.abs(freq - want) < 4.5 * np.sqrt(want * (1 - want) / n) + 1e-12), (freq, want)
