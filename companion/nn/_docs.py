"""Docstring sections shared by the modules and functions of ``companion.nn``, written once.

A class's or a function's docstring names a section as ``%(name)s``; :func:`fill` puts the text in
its place.
"""

from __future__ import annotations

SECTIONS = {
    "sizes": """input_size : int
        Number of input features D.
    hidden_size : int
        Number of hidden units H.""",
    "cell_bias": """bias : bool, default True
        If False, no ``bias_ih`` / ``bias_hh``.""",
    "factory": """device, dtype : optional
        Where and in which floating type the parameters are created.""",
    "cell_raises": """Raises
    ------
    ValueError
        (:class:`~companion.nn.errors.ArgumentError`, also a ``RuntimeError``) If a size is negative""",
    "cell_types": """TypeError
        (:class:`~companion.nn.errors.DTypeError`) If a size is not an int or ``bias`` not a bool.""",
    "num_layers": """num_layers : int, default 1
        Number of stacked layers L; layer l+1 reads the outputs of layer l.""",
    "layer_flags": """bias : bool, default True
        If False, no ``bias_ih_l{k}`` / ``bias_hh_l{k}``.
    batch_first : bool, default False
        If True, ``input`` and ``output`` are (N, T, ·); states are (L·dirs, N, ·) either way.
    dropout : float, default 0.0
        Dropout probability on the outputs of every layer but the last, in training mode only.
    bidirectional : bool, default False
        If True, every layer also reads the sequence backwards; outputs are the two directions
        concatenated, (·, 2H) (2P with a projection).""",
    "layer_raises": """Raises
    ------
    ValueError
        (:class:`~companion.nn.errors.ArgumentError`, also a ``RuntimeError``) If a size is not positive
        or ``dropout`` is outside [0, 1]""",
    "layer_types": """TypeError
        (:class:`~companion.nn.errors.DTypeError`, also a ``ValueError`` and ``RuntimeError``) If a size
        is not an int, a flag not a bool or ``dropout`` not a number.""",
    "lengths_layout": """lengths : sequence of int or Tensor of integers of shape (N,)
        True lengths, each in ``[1, T]``.
    batch_first : bool, default True
        Layout of ``output``.""",
}


def fill(obj):
    """Put the shared sections in ``obj.__doc__`` (a class or a function); returns ``obj``."""
    obj.__doc__ = obj.__doc__ % SECTIONS
    return obj
