"""Input validation shared by the package: shapes checked against named dimensions.

Every public function validates its arrays with :class:`Dims`, so a wrong shape raises a
``ValueError`` that names the function, the argument, the expected shape (with the sizes already
known from the other arguments) and the shape that arrived.
"""

from __future__ import annotations

import re

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
    where: str, lengths, N: int | None, T: int | None, *, shape_error=ValueError, type_error=TypeError
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
    if arr.size and arr.min() < 1:
        raise shape_error(f"{where}: expected every length >= 1, got {arr.tolist()}")
    if arr.size and T is not None and arr.max() > T:
        raise shape_error(f"{where}: expected every length <= T = {T}, got max length {arr.max()}")
    return arr
