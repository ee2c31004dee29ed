"""Companion package to the course *Recurrent Neural Networks: from the hidden state to attention*.

Its folders follow the book (import one, and its modules are its attributes: ``import companion.ref``
then ``help(companion.ref.lstm)``):

``companion.ref``
    numpy reference implementations written by hand, forward and backward passes (chapters 1–8).
``companion.nn``
    torch modules written from the equations and drop-in compatible with ``torch.nn``: cells, deep
    and bidirectional layers and their one fast path, attention, encoder–decoder models and their
    searches (chapters 5–8), self-attention, the Transformer layer and linear recurrences by scan
    (chapter 13).
``companion.train``
    ``fit()``, a training loop with clipping, history, early stopping and a progress bar, and several
    seeds of one small model trained side by side (chapters 4–6).
``companion.diagnostics``
    finite-difference and autograd gradient checks (chapter 3); Jacobian and gradient norms across
    time, Pascanu's bound, recurrent initialisers (chapter 4).
``companion.lm``
    the character-level language model, its evaluation (perplexity, bits), sampling, save and load,
    and the count-based n-gram baselines (chapters 9, 10).
``companion.data``
    data sets that are generated from a seed or ship with the package (text, melodies, time series,
    speech features, rated sentences, video); nothing is downloaded.
``companion.plots``
    the figures of the book, one module per family.
``companion.exercises``
    self-checks for the exercises at the end of each chapter.

Modules:

``companion.forecasting``
    forecasting baselines (naive, seasonal-naive, least-squares autoregression), MASE and a recurrent
    forecaster (chapter 11).
``companion.classify``
    sequence classifiers over padded batches of different lengths, and a frame encoder with a
    recurrent layer for video (chapter 12).

Importing :mod:`companion` is cheap: it imports neither numpy nor torch; import the subpackage or
module you need (``from companion.ref import rnn``).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
