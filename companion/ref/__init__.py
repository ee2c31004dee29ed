"""numpy reference implementations, written by hand so that every line matches a derivation.

Modules: :mod:`~companion.ref.linear` and :mod:`~companion.ref.window` (chapter 1);
:mod:`~companion.ref.rnn` (chapters 2 and 3); :mod:`~companion.ref.layers`, :mod:`~companion.ref.losses`,
:mod:`~companion.ref.tbptt`, :mod:`~companion.ref.optim`, :mod:`~companion.ref.charrnn` (chapter 3);
:mod:`~companion.ref.lstm`, :mod:`~companion.ref.gru` (chapters 5 and 6);
:mod:`~companion.ref.attention` (chapter 8).
The code here never imports torch; the tests compare it with ``torch.nn`` and with torch autograd in float64.
"""

# Every module is imported here, so after ``import companion.ref`` each is an attribute of the
# package: ``help(companion.ref.lstm)``, ``companion.ref.rnn.rnn_forward``. All are numpy only.
from companion.ref import attention as attention
from companion.ref import charrnn as charrnn
from companion.ref import gru as gru
from companion.ref import layers as layers
from companion.ref import linear as linear
from companion.ref import losses as losses
from companion.ref import lstm as lstm
from companion.ref import optim as optim
from companion.ref import rnn as rnn
from companion.ref import tbptt as tbptt
from companion.ref import window as window
