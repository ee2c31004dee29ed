"""numpy reference implementations, written by hand so that every line matches a derivation.

Modules: :mod:`companion.ref.rnn` (chapters 2 and 3). The code here never imports torch; the tests
compare it with ``torch.nn`` and with torch autograd in float64.
"""
