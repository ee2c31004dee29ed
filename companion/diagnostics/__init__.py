"""Diagnostics: checking gradients and watching them travel through time (chapters 3 and 4).

:mod:`companion.diagnostics.gradcheck` compares a hand-written backward pass with finite differences
and with torch autograd; :mod:`companion.diagnostics.analysis` measures Jacobian and gradient norms
across time, Pascanu's bound, and builds recurrent weights of a chosen norm or spectral radius.
"""

from companion.diagnostics import gradcheck
from companion.diagnostics.gradcheck import *  # noqa: F403 (the names in gradcheck.__all__)

__all__ = list(gradcheck.__all__)
