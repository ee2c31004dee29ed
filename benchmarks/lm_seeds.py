"""Chapter 9's character models at the chapter's full training budget, over five seeds.

The notebook ``book/09-language-models.ipynb`` trains one GRU (seed 0) with these settings and compares
the three cells over five seeds at a smaller budget, which is all a notebook can afford. This script
runs the comparison at the full budget: a tanh RNN, an LSTM and a GRU of about 146,000 parameters
each (embedding 32, one layer), 400 steps of 32 streams x 64 characters, Adam with a one-cycle
schedule up to 0.01, gradients clipped to norm 1, seeds 0-4; every model is scored by one stateful
pass over each held-out block from the zero state (:func:`companion.lm.charlm.token_nll`).

The test block happens to begin with an apostrophe (it is cut from "Joseph's sons"); the column
"test from its 2nd character" scores the same block from its second character on, also from the
zero state. The script also probes where each model goes from the zero state: for every character
``c`` it reads ``c`` and then the validation text (from its second character), and counts the
characters after which the last 700 characters cost more than 4 bits each. A model that does well
after most first characters and fails after some is stuck in a second stable regime of its state,
which training never visited.

Beside the recurrent models the script scores the chapter's n-gram baselines, fitted on the training
block: its 5-gram with interpolated absolute discounting (D = 0.75), and interpolated Kneser-Ney and
modified Kneser-Ney with the order (1-10) chosen on the validation block by
:meth:`companion.lm.ngram.NGramLM.select` with the chapter's candidates: Kneser-Ney's discount also
chosen there (0.05, 0.10, ..., 1.0 or estimated), modified Kneser-Ney's three discounts estimated per
order. The best Kneser-Ney model is the one of the two with the lower validation score; every seed is
compared with it.

Run from the repository root (one thread, about 3 minutes on a quiet core)::

    .venv/bin/python benchmarks/lm_seeds.py            # prints Markdown and writes lm_seeds.md
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
import torch

from companion.data.text import StreamBatches, genesis, text_corpus
from companion.lm import CharLM, NGramLM, TBPTTLoss, bits, token_nll
from companion.train import fit

OUTPUT = Path(__file__).resolve().parent / "lm_seeds.md"
CELLS = {"rnn": 330, "lstm": 166, "gru": 192}  # hidden sizes for about 146,000 parameters each
STEPS, BATCH, BPTT, LR, E = 400, 32, 64, 0.01, 32
KN_ORDERS = range(1, 11)
KNESER_NEY = {"Kneser–Ney": "kneser_ney", "modified Kneser–Ney": "modified_kneser_ney"}


def train(corpus, cell: str, seed: int) -> CharLM:
    """The chapter's recipe for one cell and one seed."""
    torch.manual_seed(seed)
    model = CharLM(len(corpus.vocab), CELLS[cell], embedding_dim=E, cell=cell)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=LR, total_steps=STEPS, pct_start=0.1)
    fit(model, TBPTTLoss(), StreamBatches(corpus.train, BATCH, BPTT), optimizer, STEPS, clip_norm=1.0,
        callback=lambda step, m: schedule.step(), progress=False)  # fmt: skip
    return model


@torch.no_grad()
def stuck_after(model: CharLM, corpus, length: int = 800, threshold: float = 4.0) -> str:
    """The characters which, read first from the zero state, leave the model above ``threshold`` bits
    per character on the rest of a validation passage."""
    vocab = corpus.vocab
    first = torch.arange(2, len(vocab))  # every character but <pad> and <unk>
    rest = torch.as_tensor(corpus.valid[1:length])
    ids = torch.cat([first[:, None], rest[None].expand(len(first), -1)], dim=1)  # (V-2, length)
    logits, _ = model.eval()(ids)  # (V-2, length, V)
    nll = -torch.log_softmax(logits[:, :-1].double(), -1).gather(2, ids[:, 1:, None])[..., 0]
    late = nll[:, 100:].mean(dim=1) / np.log(2)  # (V-2,) bits per character after the first 100
    return "".join(vocab.tokens[int(c)] for c in first[late > threshold])


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}–{max(values):.3f})"


def describe(discount) -> str:
    if discount is None:
        return "estimated per order"
    if isinstance(discount, tuple):
        return "(" + ", ".join(f"{d:g}" for d in discount) + ")"
    return f"{discount:g}"


def away(gap: float) -> str:
    return f"{abs(gap):.3f} bpc {'above' if gap > 0 else 'below'}"


def baselines(corpus) -> list[tuple[str, int, object, float, float]]:
    """(name, order, discount, validation bpc, test bpc) of the chapter's n-gram baselines."""
    V = len(corpus.vocab)
    chosen = [("5-gram, absolute discounting", NGramLM(5, V, discount=0.75).fit(corpus.train), 5, 0.75)]
    for name, smoothing in KNESER_NEY.items():
        choice = NGramLM.select(corpus.train, corpus.valid, V, orders=KN_ORDERS, smoothing=smoothing)
        chosen.append((f"{name} {choice.order}-gram", choice.model, choice.order, choice.discount))
    return [
        (name, order, d, *(bits(model.token_nll(b)) for b in (corpus.valid, corpus.test)))
        for name, model, order, d in chosen
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    corpus = text_corpus(genesis())
    ngrams = baselines(corpus)
    five = ngrams[0][3:]
    kn_name, *_, kn_valid, kn_test = min(ngrams[1:], key=lambda row: row[3])
    lines = [
        f"# Chapter 9 at the full budget ({STEPS} steps, {args.seeds} seeds)",
        "",
        "The n-gram baselines, fitted on the training block. The Kneser–Ney models have their order (1–10) "
        "chosen on the validation block; Kneser–Ney its discount too, modified Kneser–Ney estimates its "
        "three discounts per order.",
        "",
        "| n-gram | order | discount | validation bpc | test bpc |",
        "|---|---|---|---|---|",
        *(f"| {name} | {order} | {describe(d)} | {v:.3f} | {t:.3f} |" for name, order, d, v, t in ngrams),
        "",
        f"The best Kneser–Ney model on validation is the {kn_name}. The last column of the next table is "
        "each seed's distance above it, in bpc (negative: below it).",
        "",
        "| cell | H | parameters | seed | validation bpc | test bpc | test from its 2nd character "
        "| first characters that stick | above the best Kneser–Ney (validation, test) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    summary, gaps = [], []
    for cell, hidden in CELLS.items():
        valid, test = [], []
        for seed in range(args.seeds):
            model = train(corpus, cell, seed)
            valid.append(bits(token_nll(model, corpus.valid)))
            test.append(bits(token_nll(model, corpus.test)))
            later = bits(token_nll(model, corpus.test[1:]))
            stuck = stuck_after(model, corpus)
            params = sum(p.numel() for p in model.parameters())
            gaps.append((valid[-1] - kn_valid, test[-1] - kn_test, cell, seed))
            lines.append(
                f"| {cell} | {hidden} | {params:,} | {seed} | {valid[-1]:.3f} | {test[-1]:.3f} | {later:.3f} "
                f"| {len(stuck)}: `{stuck}` | {gaps[-1][0]:+.3f}, {gaps[-1][1]:+.3f} |"
            )
            print(lines[-1], flush=True)
        below = [sum(x < ref for x in xs) for xs, ref in ((valid, five[0]), (test, five[1]))]
        below += [sum(x < ref for x in xs) for xs, ref in ((valid, kn_valid), (test, kn_test))]
        summary.append(
            f"| {cell} | {spread(valid)} | {spread(test)} | "
            + " | ".join(f"{b} of {args.seeds}" for b in below)
            + " |"
        )
    closest = min(gaps)
    runs = len(gaps)
    lines += [
        "",
        f"Median (range) over the seeds, and how many seeds score below the 5-gram and below the {kn_name}.",
        "",
        "| cell | validation bpc | test bpc | below the 5-gram (validation) | (test) "
        "| below the best Kneser–Ney (validation) | (test) |",
        "|---|---|---|---|---|---|---|",
        *summary,
        "",
        f"Models below the {kn_name}: {sum(g[0] < 0 for g in gaps)} of {runs} on validation, "
        f"{sum(g[1] < 0 for g in gaps)} of {runs} on test. The closest on validation, {closest[2]} seed "
        f"{closest[3]}, is {away(closest[0])} it on validation and {away(closest[1])} on test.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
