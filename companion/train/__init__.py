"""Training torch models (chapter 4 onwards): one small, explicit loop, and many seeds at once.

:mod:`companion.train.loop` has :func:`~companion.train.loop.fit` (clipping, history, early stopping,
a progress bar) and :func:`~companion.train.loop.evaluate`; :mod:`companion.train.clipping` the gradient
norm and its clipping; :mod:`companion.train.readout` the small task model ``Readout`` (a recurrent
layer and a linear read-out); :mod:`companion.train.seeds` trains several seeds of one small model side
by side. The names of the first three are re-exported here: ``from companion.train import fit``.
"""

from companion.train.clipping import clip_grad_norm, clip_grad_value, grad_norm
from companion.train.loop import History, evaluate, fit, to_tensors
from companion.train.readout import Readout

__all__ = [
    "History",
    "fit",
    "evaluate",
    "grad_norm",
    "clip_grad_norm",
    "clip_grad_value",
    "Readout",
    "to_tensors",
]
