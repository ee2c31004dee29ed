"""Input validation shared by the package: shapes checked against named dimensions, and arguments.

Every public function validates its arrays with :class:`Dims`, so a wrong shape raises a
``ValueError`` that names the function, the argument, the expected shape (with the sizes already
known from the other arguments) and the shape that arrived. Arguments are checked by the functions
below, ``TypeError`` for a wrong type and ``ValueError`` for a wrong value, each message naming the
function the user called; a class declares its arguments once as a table of them, read by
:func:`validate`. The torch modules pass their own exception classes (``type_error``,
``value_error``, ``shape_error``), subclasses of these that ``torch.nn``'s callers also catch.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable

import numpy as np

_ENTRY = re.compile(r"^(\d*)([A-Za-z]\w*)$")


class Dims:
    """Binds named dimensions (``N``, ``T``, ``D``, ``H`` ...) across several arrays.

    Parameters
    ----------
    where : str
        Name of the calling function, used as the prefix of error messages.
    **known : int
        Sizes that are fixed before any array is seen.

    Examples
    --------
    >>> d = Dims("rnn_forward")
    >>> d.check("x", np.zeros((2, 5, 3)), "N T D")
    >>> d["D"]
    3
    >>> d.check("Wx", np.zeros((4, 8)), "D H")
    Traceback (most recent call last):
    ...
    ValueError: rnn_forward: expected Wx of shape (D, H) = (3, H), got (4, 8)
    """

    def __init__(self, where: str, **known: int) -> None:
        self.where = where
        self.sizes: dict[str, int] = dict(known)

    def __getitem__(self, letter: str) -> int:
        return self.sizes[letter]

    def _render(self, entries: list[tuple[int, str]]) -> str:
        parts = []
        for mult, letter in entries:
            if letter in self.sizes:
                parts.append(str(mult * self.sizes[letter]))
            else:
                parts.append(f"{mult}{letter}" if mult != 1 else letter)
        return "(" + ", ".join(parts) + (",)" if len(parts) == 1 else ")")

    def check(self, name: str, array, spec: str) -> None:
        """Check that ``array`` is an ndarray of shape ``spec`` and bind its unknown dimensions.

        Parameters
        ----------
        name : str
            Argument name used in the error message.
        array : ndarray
            The array to check.
        spec : str
            Space-separated dimension names, each optionally prefixed by an integer
            multiplier, e.g. ``"N T D"`` or ``"D 4H"``.

        Raises
        ------
        TypeError
            If ``array`` is not a floating-point numpy array.
        ValueError
            If its shape does not match ``spec``.
        """
        if not isinstance(array, np.ndarray):
            raise TypeError(
                f"{self.where}: expected {name} to be a numpy.ndarray, got {type(array).__name__}"
            )
        if not np.issubdtype(array.dtype, np.floating):
            raise TypeError(
                f"{self.where}: expected {name} to have a floating-point dtype, got {array.dtype}"
            )
        entries = []
        for token in spec.split():
            match = _ENTRY.match(token)
            if match is None:  # pragma: no cover - programming error in the package
                raise RuntimeError(f"bad shape spec {spec!r}")
            entries.append((int(match.group(1) or 1), match.group(2)))
        expected = "(" + ", ".join(spec.split()) + (",)" if len(entries) == 1 else ")")
        shape = array.shape
        ok = len(shape) == len(entries)
        pending: dict[str, int] = {}
        if ok:
            for size, (mult, letter) in zip(shape, entries, strict=True):
                bound = self.sizes.get(letter, pending.get(letter))
                if bound is not None:
                    ok = size == mult * bound
                else:
                    ok = size % mult == 0 and size > 0
                    pending[letter] = size // mult
                if not ok:
                    break
        if not ok:
            known = self._render(entries)
            sizes = f" = {known}" if known != expected else ""
            raise ValueError(f"{self.where}: expected {name} of shape {expected}{sizes}, got {shape}")
        self.sizes.update(pending)


def as_rng(rng) -> np.random.Generator:
    """Return a ``numpy.random.Generator`` from a seed or a generator.

    Parameters
    ----------
    rng : int or numpy.random.Generator
        A seed (the same seed gives the same numbers) or a generator to draw from.

    Raises
    ------
    TypeError
        If ``rng`` is neither (``None`` is refused: randomness in this package is always explicit).
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"expected rng to be an int seed or a numpy.random.Generator, got {rng!r}")


def as_numpy(value) -> np.ndarray:
    """A copy of ``value`` as a numpy array; torch tensors are detached and moved to the CPU first.

    Lets the numpy reference code read a ``torch`` ``state_dict`` without importing torch.
    """
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.array(value, copy=True)


def positive_int(where: str, name: str, value) -> int:
    """``value`` as an ``int`` >= 1: ``TypeError`` for a non-integer (``bool`` too), ``ValueError`` below 1.

    Examples
    --------
    >>> positive_int("windows", "horizon", 3)
    3
    >>> positive_int("windows", "horizon", 0)
    Traceback (most recent call last):
    ...
    ValueError: windows: expected horizon >= 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{where}: expected {name} to be an int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{where}: expected {name} >= 1, got {value}")
    return int(value)


def check_lengths(
    where: str,
    lengths,
    N: int | None,
    T: int | None,
    *,
    low: int = 1,
    shape_error=ValueError,
    type_error=TypeError,
) -> np.ndarray:
    """The true lengths of N sequences padded to T steps, as an int64 array of shape (N,).

    The one check of ``lengths`` in the package: the numpy references, the torch layers and their
    helpers, and the figures all call it (the torch code passes its own exception classes).

    Parameters
    ----------
    where : str
        Name of the function the user called, the prefix of the message.
    lengths : array_like of int, shape (N,)
        A list, a numpy array or a torch tensor (read on the CPU).
    N, T : int or None
        The batch size and the padded number of steps; None where any is accepted (for T: the
        largest length).
    low : int, default 1
        The least length accepted (0 where a sequence may be empty, as the keys of attention).
    shape_error, type_error : exception classes
        Raised for a wrong shape or value, and for values that are not integers.

    Examples
    --------
    >>> check_lengths("f", [3, 1], 2, 3)
    array([3, 1])
    >>> check_lengths("f", [3, 4], 2, 3)
    Traceback (most recent call last):
    ...
    ValueError: f: expected every length <= T = 3, got max length 4
    """
    if hasattr(lengths, "detach"):  # a torch tensor
        lengths = lengths.detach().cpu().numpy()
    try:
        arr = np.asarray(lengths)
    except (TypeError, ValueError) as error:
        raise type_error(f"{where}: expected lengths to be a sequence of ints, got {lengths!r}") from error
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
        raise type_error(f"{where}: expected lengths to hold integers, got dtype {arr.dtype}")
    if arr.ndim != 1 or (N is not None and arr.shape != (N,)):
        expected = "(N,)" if N is None else f"(N,) = ({N},)"
        raise shape_error(
            f"{where}: expected lengths of shape {expected} (one per sequence), got {arr.shape}"
        )
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < low:
        raise shape_error(f"{where}: expected every length >= {low}, got {arr.tolist()}")
    if arr.size and T is not None and arr.max() > T:
        raise shape_error(f"{where}: expected every length <= T = {T}, got max length {arr.max()}")
    return arr


def check_size(
    where: str,
    name: str,
    value,
    *,
    zero: bool = False,
    integral: bool = True,
    type_error=TypeError,
    value_error=ValueError,
) -> int:
    """A size: an integer > 0 (>= 0 with ``zero``); with ``integral=False`` only a Python ``int``.

    Examples
    --------
    >>> check_size("f", "hidden_size", 0)
    Traceback (most recent call last):
    ...
    ValueError: f: expected hidden_size > 0, got 0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral if integral else int):
        raise type_error(f"{where}: expected {name} to be an int, got {type(value).__name__}")
    if value < 0 or (value == 0 and not zero):
        raise value_error(f"{where}: expected {name} {'>= 0' if zero else '> 0'}, got {value}")
    return int(value)


def check_flag(
    where: str, name: str, value, *, allow_int: bool = False, type_error=TypeError, value_error=ValueError
) -> bool:
    """A ``bool``; with ``allow_int`` also the integers 0 and 1 (``numpy.bool_`` too), as ``bias`` of
    torch's cells. ``value_error`` is unused: a flag is only ever of the wrong type."""
    if isinstance(value, bool):
        return value
    if allow_int and isinstance(value, (numbers.Integral, np.bool_)) and value in (0, 1):
        return bool(value)
    expected = "a bool (or 0/1)" if allow_int else "a bool"
    raise type_error(f"{where}: expected {name} to be {expected}, got {type(value).__name__} {value!r}")


def check_probability(where: str, name: str, value, *, type_error=TypeError, value_error=ValueError) -> float:
    """A real number in [0, 1] (``bool`` is refused), as a ``float``."""
    message = f"{where}: expected {name} to be a number in [0, 1], got {value!r}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise type_error(message)
    if not 0 <= value <= 1:
        raise value_error(message)
    return float(value)


def check_real(where: str, name: str, value, *, type_error=TypeError, value_error=ValueError) -> float:
    """A real number (``bool`` is refused), as a ``float``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise type_error(f"{where}: expected {name} to be a float, got {type(value).__name__}")
    return float(value)


def one_of(*choices) -> Callable:
    """A check that accepts only ``choices``: ``one_of("tanh", "relu")`` for ``nonlinearity``."""

    def check_choice(where: str, name: str, value, *, type_error=TypeError, value_error=ValueError):
        if isinstance(value, str) and value in choices:
            return value
        expected = " or ".join(repr(choice) for choice in choices)
        raise value_error(f"{where}: expected {name} {expected}, got {value!r}")

    return check_choice


def validate(where: str, constraints: dict[str, Callable], values: dict, **errors) -> dict:
    """Check every argument named in ``constraints`` by its check; return the checked values.

    The declarative form of the checks above: a class declares the table of its arguments once,
    ``{"hidden_size": check_size, "bias": check_flag, ...}`` (a check with options as a
    ``functools.partial``), and its constructor calls ``validate`` on its arguments, in the table's
    order. ``errors`` (``type_error=``, ``value_error=``) go to every check.

    Examples
    --------
    >>> validate("f", {"size": check_size, "bias": check_flag}, {"size": 3, "bias": True})
    {'size': 3, 'bias': True}
    """
    return {name: check(where, name, values[name], **errors) for name, check in constraints.items()}
