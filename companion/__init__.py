"""Companion package to the course *Recurrent Neural Networks: from the hidden state to attention*.

Subpackages mirror the chapters of the book:

``companion.ref``
    numpy reference implementations written by hand (forward and backward passes).
``companion.data``
    data sets that are generated from a seed or ship with the package.
``companion.plots``
    the figures of the book.

Importing :mod:`companion` is cheap: it imports neither numpy nor torch; import the submodule you
need (``from companion.ref import rnn``).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
