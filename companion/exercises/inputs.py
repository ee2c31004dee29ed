"""The inputs that the exercises of several chapters share: cases drawn from a seeded generator, the
weights of a tanh RNN, the inputs of one gated step, and the known mistakes of a reader who stacks the
gate blocks in another order (chapters 2-7)."""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Callable, Sequence

import numpy as np

from companion.exercises.engine import Mistake

__all__ = [
    "make_cases",
    "label",
    "named",
    "ref",
    "sigmoid",
    "softmax",
    "rnn_weights",
    "gated_cases",
    "gate_blocks",
    "gate_order_mistakes",
]


def label(**sizes) -> str:
    """A case's label, ``"N=2, T=5"``, as messages quote it."""
    return ", ".join(f"{k}={v}" for k, v in sizes.items())


def make_cases(seed: int, names: str, rows: Sequence[tuple], build: Callable[..., dict]) -> list[dict]:
    """Cases drawn from one seeded generator, one per row of sizes.

    Parameters
    ----------
    seed : int
        Seed of the ``numpy.random.Generator`` shared by all rows, in order.
    names : str
        The names of a row's entries, separated by spaces, e.g. ``"N T D"``.
    rows : sequence of tuple
        The sizes (or other settings) of each case.
    build : callable
        ``build(rng, **row) -> dict``: the case's inputs; its ``"_label"``, if any, replaces the
        default label of the row's entries.

    Returns
    -------
    list of dict
    """
    rng = np.random.default_rng(seed)
    cases = []
    for row in rows:
        sizes = dict(zip(names.split(), row, strict=True))
        cases.append({"_label": label(**sizes), **build(rng, **sizes)})
    return cases


def named(names: Sequence[str], values) -> dict:
    """The outputs ``values`` of a function that returns a tuple, by name."""
    return dict(zip(names, values, strict=True))


def ref(module: str):
    """The reference module ``companion.ref.<module>``, imported when a check first needs it."""
    return importlib.import_module(f"companion.ref.{module}")


def sigmoid(a):
    """:func:`companion.ref.lstm.sigmoid`, imported when first needed."""
    return ref("lstm").sigmoid(a)


def softmax(s: np.ndarray) -> np.ndarray:
    """Plain softmax over the last axis, shifted by the row maximum."""
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def rnn_weights(rng: np.random.Generator, D: int, H: int) -> dict:
    """``Wx`` (D, H), ``Wh`` (H, H) and ``b`` (H,) of a tanh RNN, drawn from ``rng``."""
    return {
        "Wx": rng.normal(scale=0.6, size=(D, H)),
        "Wh": rng.normal(scale=0.6, size=(H, H)),
        "b": rng.normal(scale=0.5, size=H),
    }


def gated_cases(seed: int, gates: int, separate_biases: bool) -> list[dict]:
    """The inputs of one gated step (``gates`` blocks of H columns) for three batch shapes.

    Parameters
    ----------
    seed : int
    gates : int
        4 for the LSTM, 3 for the GRU.
    separate_biases : bool
        ``bx`` and ``bh`` of shape (gates·H,) (the GRU), or ``b`` and a cell state ``c_prev`` (N, H)
        (the LSTM).

    Returns
    -------
    list of dict
        ``x`` (N, D), ``h_prev`` (N, H), ``Wx`` (D, gates·H), ``Wh`` (H, gates·H) and the biases.
    """

    def build(rng, N, D, H):
        c = {
            "x": rng.normal(size=(N, D)),
            "h_prev": rng.uniform(-1, 1, size=(N, H)),
            "Wx": rng.normal(scale=0.7, size=(D, gates * H)),
            "Wh": rng.normal(scale=0.7, size=(H, gates * H)),
        }
        if separate_biases:
            c["bx"], c["bh"] = rng.normal(scale=0.5, size=(2, gates * H))
        else:
            c["c_prev"] = rng.normal(size=(N, H))
            c["b"] = rng.normal(scale=0.5, size=gates * H)
        return c

    return make_cases(seed, "N D H", [(3, 4, 5), (2, 3, 2), (1, 2, 3)], build)


def gate_blocks(W: np.ndarray, reader_order: str, torch_order: str) -> np.ndarray:
    """W with its gate blocks reordered, so that the reference computes what a reader of
    ``reader_order`` does (e.g. ``"ifog"`` against torch's ``"ifgo"``)."""
    blocks = np.split(W, len(torch_order), axis=-1)
    return np.concatenate([blocks[reader_order.index(gate)] for gate in torch_order], axis=-1)


def gate_order_mistakes(
    torch_order: str, weights: Sequence[str], says: str, compute: Callable
) -> list[Mistake]:
    """One mistake for every other order of the gate blocks.

    Parameters
    ----------
    torch_order : str
        The package's order, one letter a gate, e.g. ``"rzn"``.
    weights : sequence of str
        The case entries whose last axis holds the gate blocks, e.g. ``("Wx", "Wh", "bx", "bh")``.
    says : str
        What to add after "The gates are read in the order ...; ".
    compute : callable
        ``compute(case) -> dict``: the correct outputs, here computed on the case with the blocks of
        ``weights`` reordered by :func:`gate_blocks`, which gives what a reader of another order returns.

    Returns
    -------
    list of Mistake
    """

    def reader_of(order: str) -> Callable[[dict], dict]:
        return lambda c: compute({**c, **{w: gate_blocks(c[w], order, torch_order) for w in weights}})

    orders = (order for order in map("".join, itertools.permutations(torch_order)) if order != torch_order)
    return [Mistake(f"The gates are read in the order {', '.join(o)}; {says}", reader_of(o)) for o in orders]
