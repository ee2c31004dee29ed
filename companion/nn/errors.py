"""The exceptions raised by :mod:`companion.nn` for bad input.

``torch.nn`` reports most bad input with ``RuntimeError`` (and some with ``ValueError``); the course's
convention is ``ValueError`` for a wrong value or shape and ``TypeError`` for a wrong type. Each
exception here is a subclass of both, so code written for ``torch.nn`` that catches ``RuntimeError``
and code that follows the course's convention both catch it, and the message names what was expected
and what arrived.
"""

from __future__ import annotations

__all__ = ["ShapeError", "DTypeError"]


class ShapeError(ValueError, RuntimeError):
    """A shape, size or value does not match what the module expects.

    A subclass of ``ValueError`` and of ``RuntimeError`` (what ``torch.nn`` raises in the same place).

    Examples
    --------
    >>> issubclass(ShapeError, ValueError) and issubclass(ShapeError, RuntimeError)
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
