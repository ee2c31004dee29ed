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
