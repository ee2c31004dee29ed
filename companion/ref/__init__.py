"""numpy reference implementations, written by hand so that every line matches a derivation.

Modules: :mod:`~companion.ref.linear` and :mod:`~companion.ref.window` (chapter 1);
:mod:`~companion.ref.rnn` (chapters 2 and 3); :mod:`~companion.ref.layers`, :mod:`~companion.ref.losses`,
:mod:`~companion.ref.tbptt`, :mod:`~companion.ref.optim`, :mod:`~companion.ref.charrnn` (chapter 3);
:mod:`~companion.ref.lstm`, :mod:`~companion.ref.gru` (chapters 5 and 6);
:mod:`~companion.ref.attention` (chapter 8).
The code here never imports torch; the tests compare it with ``torch.nn`` and with torch autograd in float64.
"""
