"""Self-checks for the exercises of chapter 7, *Deep and bidirectional RNNs*: the parameter count of
a stacked, bidirectional layer, and a recurrence over a padded batch that padding cannot reach.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion.exercises.engine import Exercise, call, fail, variants
from companion.exercises.inputs import label, make_cases, ref, rnn_weights
from companion.exercises.report import CheckPassed

__all__ = ["check_num_parameters", "check_rnn_forward_lengths"]


def check_num_parameters(fn: Callable) -> CheckPassed:
    """Check the reader's parameter count of a stacked, bidirectional layer (chapter 7 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(mode, input_size, hidden_size, num_layers, bidirectional, proj_size)`` with ``mode`` one of
        ``"RNN"``, ``"GRU"``, ``"LSTM"`` (``proj_size`` is 0 except for some LSTM cases), returning the
        number of parameters of ``torch.nn.<mode>`` built with these arguments, as an int.

    Returns
    -------
    CheckPassed
        When every case gives the count of ``torch.nn`` (``sum(p.numel() for p in layer.parameters())``).

    Raises
    ------
    ExerciseError
        Naming the fault: later layers counted with D or H inputs instead of dirs·H, the reverse
        direction left out, one bias instead of two, the wrong number of gate blocks, or one of the
        projection's three changes missed.

    Examples
    --------
    >>> def count(mode, input_size, hidden_size, num_layers, bidirectional, proj_size):
    ...     import torch
    ...     kw = {"proj_size": proj_size} if proj_size else {}
    ...     layer = getattr(torch.nn, mode)(input_size, hidden_size, num_layers,
    ...                                     bidirectional=bidirectional, **kw)
    ...     return sum(p.numel() for p in layer.parameters())
    >>> check_num_parameters(count)
    ✓ check_num_parameters: all checks passed (5 cases)
    """
    ex = _NUM_PARAMETERS
    if not callable(fn):
        raise TypeError(f"{ex.name}: expected your function, got {type(fn).__name__}")
    cases = ex.cases()
    for case in cases:  # counts are compared exactly, as ints
        got = call(ex, fn, case)
        if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, np.integer)):
            fail(ex, case, f"your function returned a {type(got).__name__}; expected an int")
        want = _count(case)
        if got != want:
            known = [m.says for m in ex.mistakes if m.outputs(case) != want and m.outputs(case) == got]
            fail(ex, case, f"your count is {got}; torch.nn has {want}. {known[0] if known else ex.equation}")
    return CheckPassed(ex.name, len(cases))


def check_rnn_forward_lengths(fn: Callable) -> CheckPassed:
    """Check the reader's vanilla RNN over a padded batch with true lengths (chapter 7 exercise).

    Parameters
    ----------
    fn : callable
        ``fn(x, h0, Wx, Wh, b, lengths)`` with ``x`` (N, T, D) padded (the values at padded steps are
        arbitrary), ``h0`` (N, H), ``Wx`` (D, H), ``Wh`` (H, H), ``b`` (H,) and ``lengths`` (N,)
        integers in 1..T, returning ``h`` of shape (N, T, H), zero at padded steps, and ``h_n`` of
        shape (N, H), each sequence's state at its last valid step.

    Returns
    -------
    CheckPassed
        When every case agrees with :func:`companion.ref.rnn.rnn_forward` with ``lengths``.

    Raises
    ------
    ExerciseError
        Naming the fault: padding run through the recurrence, the final state taken at the last
        column or after the padded steps, or outputs at padded steps that are not zero.

    Examples
    --------
    >>> from companion.ref.rnn import rnn_forward
    >>> def masked(x, h0, Wx, Wh, b, lengths):
    ...     h, cache = rnn_forward(x, h0, Wx, Wh, b, lengths=lengths)
    ...     return h, cache.h_n
    >>> check_rnn_forward_lengths(masked)
    ✓ check_rnn_forward_lengths: all checks passed (3 cases)
    """
    return _LENGTHS.check(fn)


_BLOCKS = {"RNN": 1, "GRU": 3, "LSTM": 4}

# --------------------------------------------------------------------------------------------------
# Exercise 7.1: the parameter count.


def _count(
    c: dict,
    *,
    blocks: dict | None = None,
    later_input: str = "dirs*state",
    biases: int = 2,
    directions: bool = True,
    hh_reads: str = "state",
    projection: bool = True,
) -> int:
    """The parameter count of ``torch.nn.<mode>`` for case ``c``, or what a known mistake gives."""
    G = (blocks or _BLOCKS)[c["mode"]]
    D, H, L, P = c["input_size"], c["hidden_size"], c["num_layers"], c["proj_size"]
    dirs = 2 if c["bidirectional"] else 1
    S = P or H  # the size of the state that is passed on: the projection's, if there is one
    total = 0
    for layer in range(L):
        inputs = (
            D if layer == 0 else {"dirs*state": dirs * S, "state": S, "D": D, "dirs*H": dirs * H}[later_input]
        )
        one = G * H * (inputs + (S if hh_reads == "state" else H)) + biases * G * H
        one += P * H if projection else 0  # weight_hr: (P, H)
        total += one * (dirs if directions else 1)
    return total


_COUNT_ARGS = ("mode", "input_size", "hidden_size", "num_layers", "bidirectional", "proj_size")
_COUNT_CASES = [
    dict(zip(_COUNT_ARGS, row, strict=True))
    for row in [
        ("RNN", 3, 5, 1, False, 0),
        ("GRU", 3, 5, 2, False, 0),
        ("GRU", 2, 6, 3, True, 0),
        ("LSTM", 7, 4, 2, True, 0),
        ("LSTM", 3, 8, 3, True, 5),
    ]
]

_COUNT_MISTAKES = variants(
    _count,
    {
        "Every layer is counted with D inputs; layer l + 1 reads the outputs of layer l, so every layer "
        "after the first has dirs·H inputs (dirs·proj_size with a projection).": {"later_input": "D"},
        "The layers after the first are counted with H inputs; in a bidirectional stack they read both "
        "directions of the layer below, concatenated: 2H inputs.": {"later_input": "state"},
        "Only one direction is counted; a bidirectional layer has its own weights for the reverse "
        "direction (weight_ih_l0_reverse, ...), twice as many.": {"directions": False},
        "One bias vector per block is counted; torch.nn keeps two, bias_ih and bias_hh.": {"biases": 1},
        "The number of blocks is off: a vanilla RNN has 1, a GRU 3 (r, z, n) and an LSTM 4 (i, f, g, o).": {
            "blocks": {"RNN": 1, "GRU": 4, "LSTM": 3}
        },
        "The recurrent weights are counted as (G·H, H); with a projection they read the projected state: "
        "weight_hh is (4H, proj_size).": {"hh_reads": "H"},
        "The projection weight_hr (proj_size, H), one per layer and direction, is missing.": {
            "projection": False
        },
        "With a projection, the layers after the first read the projected outputs of the layer below: "
        "dirs·proj_size inputs, not dirs·H.": {"later_input": "dirs*H"},
    },
)


_NUM_PARAMETERS = Exercise(
    "check_num_parameters(mode, input_size, hidden_size, num_layers, bidirectional, proj_size) -> P",
    cases=lambda: [{**c, "_label": label(**c)} for c in _COUNT_CASES],
    reference=lambda c: {"P": _count(c)},
    equation="Per layer and direction: G blocks, each with an input matrix (H, inputs), a recurrent matrix "
    "(H, H) and two biases (H,); inputs = D for layer 0 and dirs·H above it.",
    mistakes=_COUNT_MISTAKES,
)


# --------------------------------------------------------------------------------------------------
# Exercise 7.2: a vanilla RNN over a padded batch with true lengths.


def _lengths_case(rng, N, T, D, H, lengths) -> dict:
    x = rng.normal(size=(N, T, D))  # (N, T, D); padded steps hold values that must not be read
    return {
        "x": x,
        "h0": rng.uniform(-1, 1, size=(N, H)),
        **rnn_weights(rng, D, H),
        "lengths": np.array(lengths),
    }


def _lengths(c: dict, *, padded="zeros", h_n="last valid") -> dict:
    """:func:`companion.ref.rnn.rnn_forward` with ``lengths`` (keywords at their defaults) and the known
    mistakes: the padded steps run (``"run"``), their outputs left as computed (``"unmasked"``) or
    holding the frozen state (``"frozen"``); ``h_n`` read at the last column or after the padding."""
    rnn = ref("rnn")
    h, cache = rnn.rnn_forward(c["x"], c["h0"], c["Wx"], c["Wh"], c["b"], lengths=c["lengths"])
    unmasked = rnn.rnn_forward(c["x"], c["h0"], c["Wx"], c["Wh"], c["b"])[0]  # (N, T, H)
    pad = (np.arange(c["x"].shape[1]) >= c["lengths"][:, None])[..., None]  # (N, T, 1)
    states = {
        "zeros": h,
        "run": unmasked,
        "unmasked": np.where(pad, unmasked, h),
        "frozen": np.where(pad, cache.h_n[:, None], h),
    }[padded]
    final = {"last valid": cache.h_n, "last column": states[:, -1], "after padding": unmasked[:, -1]}[h_n]
    return {"h": states, "h_n": final}


_LENGTHS = Exercise(
    "check_rnn_forward_lengths(x, h0, Wx, Wh, b, lengths) -> h (N, T, H), h_n (N, H)",
    cases=lambda: make_cases(
        701,
        "N T D H lengths",
        [(3, 6, 2, 4, [6, 2, 4]), (4, 5, 3, 3, [1, 5, 3, 2]), (2, 4, 2, 5, [4, 4])],
        _lengths_case,
    ),
    reference=_lengths,
    equation="For t < lengths[n]: h[n, t] = tanh(x[n, t] @ Wx + h[n, t-1] @ Wh + b) from h0[n]; "
    "h[n, t] = 0 for t >= lengths[n]; h_n[n] = h[n, lengths[n] - 1].",
    keyword_mistakes={
        "The padded steps are run like real ones, so padding reaches the states: stop each "
        "sequence after its lengths[n] steps.": {"padded": "run", "h_n": "after padding"},
        "h_n is taken at the last column, h[:, -1]; each sequence's final state is at its own last "
        "step, h[n, lengths[n] - 1].": {"h_n": "last column"},
        "h_n includes the padded steps: it is the state after lengths[n] steps, not after T.": {
            "h_n": "after padding"
        },
        "The outputs at padded steps are not zero: a sequence that has ended has no output there "
        "(as torch's pad_packed_sequence gives).": {"padded": "unmasked"},
        "The outputs at padded steps repeat the frozen state; a sequence that has ended outputs zeros "
        "there (as torch's pad_packed_sequence gives).": {"padded": "frozen"},
    },
)
