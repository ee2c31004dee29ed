"""Chapters 9 and 10's n-gram baselines: absolute discounting against Kneser-Ney, chosen on validation.

The chapters compare their recurrent models with interpolated absolute discounting
(``NGramLM(n, V, discount=0.75)``), whose lower orders count how often a token occurs. Kneser-Ney
smoothing counts instead how many distinct tokens precede it (continuation counts); modified
Kneser-Ney uses three discounts per order. On each chapter's own split, every smoothing gets its
order (1-10) and its discount chosen on the validation block by :meth:`companion.lm.ngram.NGramLM.select`
(the loss per token of the validation block), then is scored on validation and test:

- absolute discounting: D in 0.05, 0.10, ..., 1.0;
- Kneser-Ney: the same D and D estimated per order, n1 / (n1 + 2 n2) ("estimated");
- modified Kneser-Ney: (D1, D2, D3+) on a grid of 8 x 7 x 11 and Chen & Goodman's estimates per order.

Chapter 9 is Genesis, characters, split (0.9, 0.05, 0.05) along the text (``text_corpus(genesis())``);
chapter 10 the chorale melodies transposed to C major / A minor (``melody_corpus()``, whole melodies
split (0.8, 0.1, 0.1)), as a stream of all tokens (scored per token and per pitch) and as the
pitch stream of the chapter (pitches, rests and melody ends; scored per pitch). The first row of
each table is the chapter's own baseline, chosen as the chapter chooses it.

Run from the repository root (about half a minute on one core)::

    .venv/bin/python benchmarks/kneser_ney.py            # prints Markdown and writes kneser_ney.md
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np

from companion.data.music import END, is_pitch, melody_corpus
from companion.data.text import genesis, text_corpus
from companion.lm import NGramLM, bits

OUTPUT = Path(__file__).resolve().parent / "kneser_ney.md"
ORDERS = range(1, 11)
GRID = tuple(round(0.05 * i, 2) for i in range(1, 21))
TRIPLES = (None, *itertools.product(np.arange(3, 11) / 10, np.arange(2, 9) / 4, np.arange(2, 13) / 4))
SMOOTHINGS = {
    "absolute discounting": ("interpolated", GRID),
    "Kneser-Ney": ("kneser_ney", (None, *GRID)),
    "modified Kneser-Ney": ("modified_kneser_ney", TRIPLES),
}


def describe(discount) -> str:
    if discount is None:
        return "estimated"
    if np.ndim(discount):
        return "(" + ", ".join(f"{d:g}" for d in discount) + ")"
    return f"{discount:g}"


def chosen(train, valid, V):
    """(name, model, order, discount) per smoothing, and the validation loss by order (nats per token)."""
    rows, by_order = [], {}
    orders = [n for n in ORDERS if float(V) ** n < 2.0**62]
    for name, (smoothing, discounts) in SMOOTHINGS.items():
        choice = NGramLM.select(train, valid, V, orders=orders, discounts=discounts, smoothing=smoothing)
        rows.append((name, choice.model, choice.order, choice.discount))
        by_order[name] = (choice.orders, choice.nll.min(axis=1))
        if None in discounts and len(discounts) > 1:  # the estimated discounts alone
            column = choice.nll[:, discounts.index(None)]
            order = choice.orders[int(np.argmin(column))]
            model = NGramLM(order, V, smoothing=smoothing).fit(train)
            rows.append((f"{name}, D estimated", model, order, None))
            by_order[f"{name}, D estimated"] = (choice.orders, column)
    return rows, by_order


def seen(train: np.ndarray, test: np.ndarray) -> str:
    """The share of the test block's n-grams that occur in the training block, n = 6 and 10."""
    shares = []
    for n in (6, 10):
        known = {w.tobytes() for w in np.lib.stride_tricks.sliding_window_view(train, n)}
        windows = np.lib.stride_tricks.sliding_window_view(test, n)
        shares.append(f"{100 * np.mean([w.tobytes() in known for w in windows]):.0f} % of its {n}-grams")
    return f"The test block shares {' and '.join(shares)} with the training block."


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def order_table(by_order: dict) -> list[str]:
    names = list(by_order)
    orders = by_order[names[0]][0]
    best = {name: min(loss) for name, (_, loss) in by_order.items()}
    rows = [
        [str(n)]
        + [
            f"**{bits(by_order[name][1][i]):.3f}**"
            if by_order[name][1][i] == best[name]
            else f"{bits(by_order[name][1][i]):.3f}"
            for name in names
        ]
        for i, n in enumerate(orders)
    ]
    return table(["order", *names], rows)


def chapter9() -> list[str]:
    corpus = text_corpus(genesis())
    V = len(corpus.vocab)
    rows, by_order = chosen(corpus.train, corpus.valid, V)
    rows.insert(
        0,
        (
            "the chapter's 5-gram (absolute discounting)",
            NGramLM(5, V, discount=0.75).fit(corpus.train),
            5,
            0.75,
        ),
    )
    body = [
        [
            name,
            str(order),
            describe(d),
            *(f"{bits(model.token_nll(b)):.3f}" for b in (corpus.valid, corpus.test)),
        ]
        for name, model, order, d in rows
    ]
    return [
        "## Chapter 9: Genesis, characters",
        "",
        f"V = {V}; train {len(corpus.train):,}, validation {len(corpus.valid):,}, "
        f"test {len(corpus.test):,} characters. {seen(corpus.train, corpus.test)}",
        "",
        *table(["model", "order", "discount", "validation bpc", "test bpc"], body),
        "",
        "Validation bits per character by order, each at its best discount (bold: the chosen order).",
        "",
        *order_table(by_order),
    ]


def chapter10() -> list[str]:
    corpus = melody_corpus()
    V, vocab = len(corpus.vocab), corpus.vocab
    pitch_mask = is_pitch(vocab)  # (V,)
    end_id = vocab.encode([END])[0]

    def pitch_stream(ids):
        return ids[pitch_mask[ids] | (ids == end_id)]

    def pitch_bits(nll, ids):
        return bits(nll[pitch_mask[ids[1:]]])  # nll[t] scores ids[t + 1]

    lines = ["## Chapter 10: chorale melodies", ""]
    blocks = {"token stream": lambda ids: ids, "pitch stream": pitch_stream}
    chapter_orders = {"token stream": range(2, 7), "pitch stream": range(1, 5)}
    for stream, cut in blocks.items():
        train, valid, test = (cut(b) for b in (corpus.train, corpus.valid, corpus.test))

        def score(model, ids):
            nll = model.token_nll(ids)
            return pitch_bits(nll, ids), bits(nll)

        criterion = 1 if stream == "token stream" else 0  # as the chapter: bits per token, bits per pitch
        fits = {n: NGramLM(n, V).fit(train) for n in chapter_orders[stream]}
        order = min(fits, key=lambda n: score(fits[n], valid)[criterion])
        rows, by_order = chosen(train, valid, V)
        rows.insert(0, (f"the chapter's {order}-gram (absolute discounting)", fits[order], order, 0.75))
        body = [
            [name, str(n), describe(d), *(f"{v:.3f}" for ids in (valid, test) for v in score(model, ids))]
            for name, model, n, d in rows
        ]
        header = [
            "model",
            "order",
            "discount",
            "validation bits/pitch",
            "bits/token",
            "test bits/pitch",
            "bits/token",
        ]
        lines += [
            f"### The {stream}",
            "",
            f"V = {V}; train {len(train):,}, validation {len(valid):,}, test {len(test):,} tokens. "
            f"{seen(train, test)}",
            "",
            *table(header, body),
            "",
            "Validation bits per token by order, each at its best discount (bold: the chosen order).",
            "",
            *order_table(by_order),
            "",
        ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args()
    started = time.perf_counter()
    body = chapter9() + [""] + chapter10()
    lines = [
        "# Kneser-Ney against absolute discounting (chapters 9 and 10)",
        "",
        "Written by `.venv/bin/python benchmarks/kneser_ney.py` (the script's docstring says what it does).",
        "Every smoothing has its order (1-10) and discount chosen on the validation block by",
        "`NGramLM.select` (loss per token); test is scored once, with that choice.",
        "",
        *body,
        f"Ran in {time.perf_counter() - started:.0f} s.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
