"""Docstring sections shared by the numpy references of ``companion.ref``, written once.

A function's docstring names a section as ``%(name)s``; ``fill(**values)`` puts the text in its place.
A section may itself name a value given to :func:`fill`: ``%(torch)s``, the torch class (``"LSTM"``),
and ``%(G)s``, the width of the stacked gate blocks (``"4H"``).
"""

from __future__ import annotations

SECTIONS = {
    "sequences": """x : ndarray of shape (N, T, D)
        Input sequences, batch first.
    h0 : ndarray of shape (N, H)
        Initial hidden state.""",
    "lengths": """lengths : array_like of int of shape (N,), optional
        True lengths of padded sequences, each in ``[1, T]``: sequence n stops after ``lengths[n]``
        steps, and its outputs and cached values at later (padded) steps are zero.""",
    "sequence_raises": """Raises
    ------
    ValueError
        If a shape does not match the others (including T = 0), or ``lengths`` does not fit.
    TypeError
        If an argument is not a floating-point ndarray or ``lengths`` does not hold integers.""",
    "array_raises": """Raises
    ------
    ValueError
        If a shape does not match the others.
    TypeError
        If an argument is not a floating-point ndarray.""",
    "numpy_weights": """Wx : ndarray of shape (D, %(G)s)
    Wh : ndarray of shape (H, %(G)s)""",
    "suffix": """suffix : str, default ``"_l0"``
        Suffix of the parameter names: ``"_l0"`` for the first layer of ``nn.%(torch)s`` (``"_l1"``,
        ``"_l0_reverse"`` ... for the others), ``""`` for ``nn.%(torch)sCell``.""",
    "torch_state": """Returns
    -------
    dict of str to ndarray
        ``weight_ih{suffix}`` (%(G)s, D), ``weight_hh{suffix}`` (%(G)s, H), ``bias_ih{suffix}`` and
        ``bias_hh{suffix}`` (%(G)s,). Wrap the values with ``torch.from_numpy`` and pass them to
        ``load_state_dict``.

    Raises
    ------
    ValueError
        If the shapes do not fit together.

    See Also
    --------
    from_torch : the inverse.""",
    "state_dict": """Parameters
    ----------
    params : mapping of str to tensor or ndarray
        A ``state_dict``: ``weight_ih{suffix}`` (%(G)s, D) and ``weight_hh{suffix}`` (%(G)s, H); the
        biases ``bias_ih{suffix}`` and ``bias_hh{suffix}`` (%(G)s,) are optional (``bias=False``).
    %(suffix)s""",
    "state_dict_raises": """Raises
    ------
    KeyError
        If a weight is missing, naming the keys that were found.
    ValueError
        If the shapes are not those of ``nn.%(torch)s`` (a leading dimension that is not %(G)s).""",
    "queries": """q : ndarray of shape (N, Tq, %(Dq)s)
        Queries (e.g. decoder states).
    k : ndarray of shape (N, Tk, %(Dk)s)
        Keys (e.g. encoder outputs).
    v : ndarray of shape (N, Tk, Dv)
        Values, often the keys again.""",
    "valid_keys": """mask : ndarray of bool of shape (N, Tk), optional
        True for the keys each sequence may attend to.
    lengths : array_like of int of shape (N,), optional
        Instead of ``mask``: sequence n attends to its first ``lengths[n]`` keys, each in ``[0, Tk]``.""",
    "upstream_raises": """Raises
    ------
    ValueError
        If an upstream gradient does not have the shape of its forward output.""",
}


def fill(**values):
    """A decorator that puts the shared sections, and then ``values``, in a function's docstring.

    Parameters
    ----------
    **values : str
        What the fields ``%(name)s`` of the sections stand for in this function (``torch="GRU"``,
        ``G="3H"``); the docstring may name them too.

    Returns
    -------
    callable
        Takes the function, sets its ``__doc__`` and returns it.
    """

    fields = {**SECTIONS, **values}

    def decorate(obj):
        text = obj.__doc__
        while "%(" in text:  # a section may name another section or a value
            text = text % fields
        obj.__doc__ = text
        return obj

    return decorate
