"""The exceptions raised by :mod:`companion.nn` for bad input.

``torch.nn`` reports most bad input with ``RuntimeError`` (and some with ``ValueError``); the course's
convention is ``ValueError`` for a wrong value or shape and ``TypeError`` for a wrong type. There is one
exception for each of the three, a wrong shape, a wrong value and a wrong type or dtype, and each is a
subclass of both, so code written for ``torch.nn`` that catches ``RuntimeError`` and code that follows
the course's convention both catch it; the message names the function called, what was expected and
what arrived.
"""

from __future__ import annotations

__all__ = ["ShapeError", "ArgumentError", "DTypeError"]


class ShapeError(ValueError, RuntimeError):
    """A tensor's shape (or a batch's lengths) does not match what the module expects.

    A subclass of ``ValueError`` and of ``RuntimeError`` (what ``torch.nn`` raises in the same place).

    Examples
    --------
    >>> issubclass(ShapeError, ValueError) and issubclass(ShapeError, RuntimeError)
    True
    """


class ArgumentError(ValueError, RuntimeError):
    """An argument has a value the module does not accept: a size below its least value, a dropout
    outside [0, 1], an unknown ``nonlinearity``.

    A subclass of ``ValueError`` (what ``torch.nn``'s layers raise) and of ``RuntimeError`` (what its
    cells raise for a negative size).

    Examples
    --------
    >>> issubclass(ArgumentError, ValueError) and issubclass(ArgumentError, RuntimeError)
    True
    """


class DTypeError(TypeError, ValueError, RuntimeError):
    """An argument has the wrong type or dtype.

    A subclass of ``TypeError`` (the course's convention), ``ValueError`` (what ``torch.nn``'s layers
    raise for a dtype mismatch) and ``RuntimeError`` (what its cells raise).

    Examples
    --------
    >>> issubclass(DTypeError, TypeError) and issubclass(DTypeError, RuntimeError)
    True
    """
