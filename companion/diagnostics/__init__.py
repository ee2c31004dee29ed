"""Diagnostics: checking gradients and watching them travel through time (chapters 3 and 4).

:mod:`companion.diagnostics.gradcheck` compares a hand-written backward pass with finite differences
and with torch autograd; :mod:`companion.diagnostics.analysis` measures Jacobian and gradient norms
across time, Pascanu's bound, and builds recurrent weights of a chosen norm or spectral radius.
"""

from companion.diagnostics.gradcheck import (
    autograd_gradients,
    compare_gradients,
    numerical_gradient,
    numerical_gradients,
    relative_error,
)

__all__ = [
    "relative_error",
    "numerical_gradient",
    "numerical_gradients",
    "autograd_gradients",
    "compare_gradients",
]
