"""torch modules written from the equations, drop-in compatible with ``torch.nn`` (chapters 5 and 6).

:mod:`companion.nn.cells` holds one step of each recurrence (``RNNCell``, ``LSTMCell``, ``GRUCell``)
and :mod:`companion.nn.layers` the sequence layers (``RNN``, ``LSTM``, ``GRU``). They have
``torch.nn``'s constructor arguments, parameter names, inputs and outputs, so a ``state_dict`` moves
between them and ``torch.nn`` in both directions; the tests check that outputs and gradients agree.
"""

from companion.nn.cells import GRUCell, LSTMCell, RNNCell
from companion.nn.layers import GRU, LSTM, RNN

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU"]
