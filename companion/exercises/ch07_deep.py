"""Self-checks for the exercises of chapter 7, *Deep and bidirectional RNNs*: the parameter count of
a stacked, bidirectional layer, and a recurrence over a padded batch that padding cannot reach.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion.exercises._engine import _call, _Exercise, _fail, _label, _Mistake, _ref, _run
from companion.exercises.ch02_hidden_state import _rnn_params
from companion.exercises.report import CheckPassed

__all__ = ["check_num_parameters", "check_rnn_forward_lengths"]

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


_COUNT_CASES = [
    {
        "mode": "RNN",
        "input_size": 3,
        "hidden_size": 5,
        "num_layers": 1,
        "bidirectional": False,
        "proj_size": 0,
    },
    {
        "mode": "GRU",
        "input_size": 3,
        "hidden_size": 5,
        "num_layers": 2,
        "bidirectional": False,
        "proj_size": 0,
    },
    {
        "mode": "GRU",
        "input_size": 2,
        "hidden_size": 6,
        "num_layers": 3,
        "bidirectional": True,
        "proj_size": 0,
    },
    {
        "mode": "LSTM",
        "input_size": 7,
        "hidden_size": 4,
        "num_layers": 2,
        "bidirectional": True,
        "proj_size": 0,
    },
    {
        "mode": "LSTM",
        "input_size": 3,
        "hidden_size": 8,
        "num_layers": 3,
        "bidirectional": True,
        "proj_size": 5,
    },
]

_COUNT_MISTAKES = [
    _Mistake(
        "Every layer is counted with D inputs; layer l + 1 reads the outputs of layer l, so every layer "
        "after the first has dirs·H inputs (dirs·proj_size with a projection).",
        lambda c: _count(c, later_input="D"),
    ),
    _Mistake(
        "The layers after the first are counted with H inputs; in a bidirectional stack they read both "
        "directions of the layer below, concatenated: 2H inputs.",
        lambda c: _count(c, later_input="state"),
    ),
    _Mistake(
        "Only one direction is counted; a bidirectional layer has its own weights for the reverse "
        "direction (weight_ih_l0_reverse, ...), twice as many.",
        lambda c: _count(c, directions=False),
    ),
    _Mistake(
        "One bias vector per block is counted; torch.nn keeps two, bias_ih and bias_hh.",
        lambda c: _count(c, biases=1),
    ),
    _Mistake(
        "The number of blocks is off: a vanilla RNN has 1, a GRU 3 (r, z, n) and an LSTM 4 (i, f, g, o).",
        lambda c: _count(c, blocks={"RNN": 1, "GRU": 4, "LSTM": 3}),
    ),
    _Mistake(
        "The recurrent weights are counted as (G·H, H); with a projection they read the projected state: "
        "weight_hh is (4H, proj_size).",
        lambda c: _count(c, hh_reads="H"),
    ),
    _Mistake(
        "The projection weight_hr (proj_size, H), one per layer and direction, is missing.",
        lambda c: _count(c, projection=False),
    ),
    _Mistake(
        "With a projection, the layers after the first read the projected outputs of the layer below: "
        "dirs·proj_size inputs, not dirs·H.",
        lambda c: _count(c, later_input="dirs*H"),
    ),
]


_NUM_PARAMETERS = _Exercise(
    name="check_num_parameters",
    outputs=("P",),
    reference=lambda c: {"P": _count(c)},
    equation="Per layer and direction: G blocks, each with an input matrix (H, inputs), a recurrent matrix "
    "(H, H) and two biases (H,); inputs = D for layer 0 and dirs·H above it.",
    mistakes=_COUNT_MISTAKES,
)


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
    ex, args = (
        _NUM_PARAMETERS,
        ("mode", "input_size", "hidden_size", "num_layers", "bidirectional", "proj_size"),
    )
    if not callable(fn):
        raise TypeError(f"{ex.name}: expected your function, got {type(fn).__name__}")
    for c in _COUNT_CASES:
        case = {**c, "_label": _label(**{k: c[k] for k in args})}
        got = _call(ex, fn, case, args)
        if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, np.integer)):
            _fail(ex, case, f"your function returned a {type(got).__name__}; expected an int")
        want = _count(c)
        if got != want:
            known = [m.says for m in _COUNT_MISTAKES if m.outputs(c) != want and m.outputs(c) == got]
            reason = known[0] if known else ex.equation
            _fail(ex, case, f"your count is {got}; torch.nn has {want}. {reason}")
    return CheckPassed(ex.name, len(_COUNT_CASES))


# --------------------------------------------------------------------------------------------------
# Exercise 7.2: a vanilla RNN over a padded batch with true lengths.


def _lengths_cases() -> list[dict]:
    rng = np.random.default_rng(701)
    cases = []
    for N, T, D, H, lengths in [(3, 6, 2, 4, [6, 2, 4]), (4, 5, 3, 3, [1, 5, 3, 2]), (2, 4, 2, 5, [4, 4])]:
        x = rng.normal(size=(N, T, D))  # (N, T, D); padded steps hold values that must not be read
        c = {"x": x, "h0": rng.uniform(-1, 1, size=(N, H)), **_rnn_params(rng, D, H)}
        c.update(lengths=np.array(lengths), _label=_label(N=N, T=T, D=D, H=H, lengths=lengths))
        cases.append(c)
    return cases


def _reference_lengths(c: dict) -> dict:
    h, cache = _ref("rnn").rnn_forward(c["x"], c["h0"], c["Wx"], c["Wh"], c["b"], lengths=c["lengths"])
    return {"h": h, "h_n": cache.h_n}


def _unmasked(c: dict) -> np.ndarray:
    return _ref("rnn").rnn_forward(c["x"], c["h0"], c["Wx"], c["Wh"], c["b"])[0]  # (N, T, H)


def _padded_steps(c: dict) -> np.ndarray:
    return np.arange(c["x"].shape[1]) >= c["lengths"][:, None]  # (N, T)


def _frozen(c: dict) -> dict:
    ref = _reference_lengths(c)
    return {"h": np.where(_padded_steps(c)[..., None], ref["h_n"][:, None], ref["h"])}  # (N, T, H)


_LENGTHS = _Exercise(
    name="check_rnn_forward_lengths",
    outputs=("h", "h_n"),
    reference=_reference_lengths,
    shapes={"h": "(N, T, H)", "h_n": "(N, H)"},
    equation="For t < lengths[n]: h[n, t] = tanh(x[n, t] @ Wx + h[n, t-1] @ Wh + b) from h0[n]; "
    "h[n, t] = 0 for t >= lengths[n]; h_n[n] = h[n, lengths[n] - 1].",
    mistakes=[
        _Mistake(
            "The padded steps are run like real ones, so padding reaches the states: stop each "
            "sequence after its lengths[n] steps.",
            lambda c: {"h": _unmasked(c), "h_n": _unmasked(c)[:, -1]},
        ),
        _Mistake(
            "h_n is taken at the last column, h[:, -1]; each sequence's final state is at its own last "
            "step, h[n, lengths[n] - 1].",
            lambda c: {"h_n": _reference_lengths(c)["h"][:, -1]},
        ),
        _Mistake(
            "h_n includes the padded steps: it is the state after lengths[n] steps, not after T.",
            lambda c: {"h_n": _unmasked(c)[:, -1]},
        ),
        _Mistake(
            "The outputs at padded steps are not zero: a sequence that has ended has no output there "
            "(as torch's pad_packed_sequence gives).",
            lambda c: {"h": np.where(_padded_steps(c)[..., None], _unmasked(c), _reference_lengths(c)["h"])},
        ),
        _Mistake(
            "The outputs at padded steps repeat the frozen state; a sequence that has ended outputs zeros "
            "there (as torch's pad_packed_sequence gives).",
            _frozen,
        ),
    ],
)


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
    return _run(_LENGTHS, fn, _lengths_cases(), ("x", "h0", "Wx", "Wh", "b", "lengths"))
