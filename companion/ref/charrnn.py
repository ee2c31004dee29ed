"""A character-level RNN trained by hand in numpy with truncated BPTT (chapter 3).

The whole model is the three pieces of chapters 2 and 3 put together:

.. math::

    h_t = \\tanh(x_t W_x + h_{t-1} W_h + b), \\qquad z_t = h_t W_y + c, \\qquad
    L = -\\frac{1}{NT} \\sum_{n,t} \\log \\operatorname{softmax}(z_{n,t})_{y_{n,t}},

with :math:`x_t` the one-hot code of the character at step t and :math:`y_t` the next character.
Parameters live in a dict with keys ``Wx`` (V, H), ``Wh`` (H, H), ``b`` (H,), ``Wy`` (H, V) and
``c`` (V,), so that an optimiser can walk over them by name.
"""

from __future__ import annotations

import numpy as np

from companion._validate import Dims, as_rng
from companion.ref.layers import temporal_affine_backward, temporal_affine_forward
from companion.ref.losses import softmax_cross_entropy
from companion.ref.optim import Adam, clip_gradients
from companion.ref.rnn import rnn_backward, rnn_forward, rnn_step_forward
from companion.ref.tbptt import chunk_bounds

__all__ = [
    "PARAM_NAMES",
    "encode",
    "decode",
    "init_params",
    "loss_and_gradients",
    "tbptt_gradients",
    "train",
    "generate",
]

#: Names of the model's parameters, in the order the tests and the optimiser walk them.
PARAM_NAMES = ("Wx", "Wh", "b", "Wy", "c")
_SPECS = {"Wx": "V H", "Wh": "H H", "b": "H", "Wy": "H V", "c": "V"}


def encode(text: str):
    """Turn a string into integer ids over its own sorted alphabet.

    Parameters
    ----------
    text : str
        At least one character.

    Returns
    -------
    ids : ndarray of int64 of shape (L,)
        ``vocab.index(ch)`` for every character of ``text``.
    vocab : str
        The distinct characters of ``text``, sorted; V = ``len(vocab)``.

    Raises
    ------
    TypeError
        If ``text`` is not a str.
    ValueError
        If ``text`` is empty.

    Examples
    --------
    >>> ids, vocab = encode("abba")
    >>> ids.tolist(), vocab
    ([0, 1, 1, 0], 'ab')
    """
    if not isinstance(text, str):
        raise TypeError(f"encode: expected text to be a str, got {type(text).__name__}")
    if not text:
        raise ValueError("encode: expected a non-empty text, got ''")
    vocab = "".join(sorted(set(text)))
    index = {ch: i for i, ch in enumerate(vocab)}
    return np.array([index[ch] for ch in text], dtype=np.int64), vocab


def decode(ids, vocab: str) -> str:
    """Inverse of :func:`encode`: ``"".join(vocab[i] for i in ids)``.

    Parameters
    ----------
    ids : array_like of int of shape (L,)
    vocab : str

    Returns
    -------
    str

    Examples
    --------
    >>> decode([0, 1, 1, 0], "ab")
    'abba'
    """
    return "".join(vocab[int(i)] for i in np.asarray(ids).ravel())


def _check_params(where: str, params) -> Dims:
    if not isinstance(params, dict) or set(params) != set(PARAM_NAMES):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"{where}: expected params to be a dict with keys {list(PARAM_NAMES)}, got {got}")
    dims = Dims(where)
    for name in PARAM_NAMES:
        dims.check(name, params[name], _SPECS[name])
    return dims


def _check_ids(where: str, name: str, ids, V: int, ndim: int) -> None:
    if not isinstance(ids, np.ndarray) or not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"{where}: expected {name} to be an integer numpy.ndarray, got {type(ids).__name__}")
    if ids.ndim != ndim or 0 in ids.shape:
        letters = "(N, T)" if ndim == 2 else "(L,)"
        raise ValueError(f"{where}: expected {name} of shape {letters}, got {ids.shape}")
    if ids.min() < 0 or ids.max() >= V:
        got = f"{ids.min()}..{ids.max()}"
        raise ValueError(f"{where}: expected {name} in [0, V) = [0, {V}), got values {got}")


def init_params(vocab_size: int, hidden_size: int, *, rng):
    """Random parameters drawn as ``torch.nn.RNN`` and ``torch.nn.Linear`` draw theirs.

    Parameters
    ----------
    vocab_size : int
        V, the number of distinct characters (input and output size).
    hidden_size : int
        H.
    rng : int or numpy.random.Generator
        Seed or generator (no global state is used).

    Returns
    -------
    dict of str to ndarray
        ``Wx`` (V, H), ``Wh`` (H, H), ``b`` (H,), ``Wy`` (H, V), ``c`` (V,), float64, every entry
        uniform in :math:`[-1/\\sqrt{H}, 1/\\sqrt{H}]`.

    Raises
    ------
    ValueError
        If a size is not a positive int.
    TypeError
        If ``rng`` is neither an int seed nor a ``numpy.random.Generator``.

    Examples
    --------
    >>> p = init_params(5, 8, rng=0)
    >>> p["Wx"].shape, p["Wy"].shape
    ((5, 8), (8, 5))
    """
    for name, value in (("vocab_size", vocab_size), ("hidden_size", hidden_size)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"init_params: expected {name} to be a positive int, got {value!r}")
    rng = as_rng(rng)
    bound = 1.0 / np.sqrt(hidden_size)
    shapes = {"Wx": (vocab_size, hidden_size), "Wh": (hidden_size, hidden_size), "b": (hidden_size,)}
    shapes |= {"Wy": (hidden_size, vocab_size), "c": (vocab_size,)}
    return {name: rng.uniform(-bound, bound, size=shapes[name]) for name in PARAM_NAMES}


def loss_and_gradients(params, inputs, targets, h0):
    """Mean next-character loss of one batch of sequences and its gradient, by full BPTT.

    Parameters
    ----------
    params : dict of str to ndarray
        As returned by :func:`init_params`.
    inputs : ndarray of int of shape (N, T)
        Character ids fed to the network.
    targets : ndarray of int of shape (N, T)
        The character id that should be predicted at every step (usually ``inputs`` shifted by one).
    h0 : ndarray of shape (N, H)
        Initial hidden state, treated as a constant: no gradient flows into it, which is how
        truncated BPTT stops the gradient at the start of a chunk.

    Returns
    -------
    loss : float
        Mean cross-entropy over the N·T positions (nats per character).
    grads : dict of str to ndarray
        Gradient of ``loss`` for every parameter, shapes as in ``params``.
    h_last : ndarray of shape (N, H)
        Final hidden state, to carry into the next chunk.

    Raises
    ------
    TypeError, ValueError
        If ``params``, the ids or ``h0`` have the wrong type, shape or range.

    Notes
    -----
    Forward: :func:`~companion.ref.rnn.rnn_forward`, :func:`~companion.ref.layers.temporal_affine_forward`,
    :func:`~companion.ref.losses.softmax_cross_entropy`; backward: the same in reverse order.

    See Also
    --------
    torch.nn.RNN, torch.nn.Linear, torch.nn.functional.cross_entropy : the same model in torch.

    Examples
    --------
    >>> p = init_params(3, 4, rng=0)
    >>> ids = np.array([[0, 1, 2, 1]])
    >>> loss, grads, h = loss_and_gradients(p, ids[:, :-1], ids[:, 1:], np.zeros((1, 4)))
    >>> sorted(grads), h.shape
    (['Wh', 'Wx', 'Wy', 'b', 'c'], (1, 4))
    """
    where = "loss_and_gradients"
    dims = _check_params(where, params)
    V = dims["V"]
    _check_ids(where, "inputs", inputs, V, ndim=2)
    _check_ids(where, "targets", targets, V, ndim=2)
    if targets.shape != inputs.shape:
        raise ValueError(f"{where}: expected targets of shape (N, T) = {inputs.shape}, got {targets.shape}")
    Dims(where, N=inputs.shape[0], H=dims["H"]).check("h0", h0, "N H")
    x = np.eye(V, dtype=params["Wx"].dtype)[inputs]  # (N, T, V) one-hot codes, in the parameters' dtype
    h, rnn_cache = rnn_forward(x, h0, params["Wx"], params["Wh"], params["b"])  # (N, T, H)
    logits, out_cache = temporal_affine_forward(h, params["Wy"], params["c"])  # (N, T, V)
    loss, dlogits = softmax_cross_entropy(logits, targets)
    dh, dWy, dc = temporal_affine_backward(dlogits, out_cache)  # (N, T, H)
    _, _, dWx, dWh, db = rnn_backward(dh, rnn_cache)
    grads = {"Wx": dWx, "Wh": dWh, "b": db, "Wy": dWy, "c": dc}
    return loss, grads, h[:, -1].copy()


def tbptt_gradients(params, inputs, targets, h0, k: int):
    """Truncated-BPTT gradient of the mean loss over a long sequence, one chunk of k steps at a time.

    Parameters
    ----------
    params : dict of str to ndarray
    inputs, targets : ndarray of int of shape (N, T)
    h0 : ndarray of shape (N, H)
    k : int
        Truncation length; ``k >= T`` is full BPTT.

    Returns
    -------
    loss : float
        Mean loss over all N·T positions (the same value full BPTT reports).
    grads : dict of str to ndarray
        Its gradient with the state detached every k steps.
    h_last : ndarray of shape (N, H)

    Raises
    ------
    TypeError, ValueError
        As :func:`loss_and_gradients`, or if k is not a positive int.

    Notes
    -----
    Each chunk :math:`[s, e)` runs :func:`loss_and_gradients` from the state carried out of the
    previous chunk and is weighted by :math:`(e - s)/T`, so the losses add up to the mean over the
    whole sequence. Only one chunk's cache is alive at a time: memory is :math:`O(N k H)` instead
    of :math:`O(N T H)`. The result equals
    :func:`companion.ref.tbptt.truncated_rnn_backward` applied to the full model, and for
    ``k >= T`` it is bit-for-bit :func:`loss_and_gradients`.

    See Also
    --------
    torch.Tensor.detach : detaching the hidden state every k steps gives the same gradients.

    Examples
    --------
    >>> p = init_params(3, 4, rng=0)
    >>> ids = np.array([[0, 1, 2, 1, 0, 2, 1]])
    >>> loss, grads, h = tbptt_gradients(p, ids[:, :-1], ids[:, 1:], np.zeros((1, 4)), k=2)
    >>> grads["Wh"].shape
    (4, 4)
    """
    for name, ids in (("inputs", inputs), ("targets", targets)):
        if not isinstance(ids, np.ndarray) or ids.ndim != 2 or ids.shape != np.shape(inputs):
            raise ValueError(f"tbptt_gradients: expected {name} of shape (N, T), got {np.shape(ids)}")
    T = inputs.shape[1]
    total, grads, h = 0.0, {name: np.zeros_like(params[name]) for name in PARAM_NAMES}, h0
    for start, stop in chunk_bounds(T, k):
        loss, chunk_grads, h = loss_and_gradients(params, inputs[:, start:stop], targets[:, start:stop], h)
        weight = (stop - start) / T
        total += weight * loss
        for name in PARAM_NAMES:
            grads[name] += weight * chunk_grads[name]
    return total, grads, h


def train(
    params, ids, *, batch_size: int, k: int, steps: int, lr: float = 1e-2, max_norm: float | None = None
):
    """Train on one long text with truncated BPTT and Adam; the parameters are updated in place.

    Parameters
    ----------
    params : dict of str to ndarray
        From :func:`init_params`; modified in place.
    ids : ndarray of int of shape (L,)
        The text as character ids (:func:`encode`).
    batch_size : int
        N: the text is cut into N equal streams read side by side.
    k : int
        Truncation length: each update sees k steps of every stream.
    steps : int
        Number of updates. After the last chunk of the streams, reading restarts at their
        beginning with a zero state.
    lr : float, default 1e-2
        Adam's step size.
    max_norm : float, optional
        If given, the gradients are clipped to this joint norm (:func:`~companion.ref.optim.clip_gradients`)
        before every update.

    Returns
    -------
    losses : ndarray of shape (steps,)
        The loss of every chunk before its update (nats per character).
    grad_norms : ndarray of shape (steps,)
        The joint norm of every update's gradient, before clipping.

    Raises
    ------
    TypeError, ValueError
        If ``ids`` is not an integer array in range, or the text is too short for N streams.

    Notes
    -----
    The state leaving one chunk enters the next (the forward pass sees the whole stream), but each
    update's gradient reaches back at most k steps: truncated BPTT with an update after every chunk,
    as in Williams and Peng (1990).

    Examples
    --------
    >>> ids, vocab = encode("hello world " * 4)
    >>> p = init_params(len(vocab), 16, rng=0)
    >>> losses, grad_norms = train(p, ids, batch_size=2, k=8, steps=30, lr=0.05)
    >>> bool(losses[-5:].mean() < losses[:5].mean())
    True
    """
    dims = _check_params("train", params)
    _check_ids("train", "ids", ids, dims["V"], ndim=1)
    for name, value in (("batch_size", batch_size), ("k", k), ("steps", steps)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"train: expected {name} to be a positive int, got {value!r}")
    length = (len(ids) - 1) // batch_size
    if length < 1:
        raise ValueError(f"train: expected ids longer than batch_size = {batch_size}, got {len(ids)}")
    inputs = ids[: batch_size * length].reshape(batch_size, length)  # (N, L)
    targets = ids[1 : batch_size * length + 1].reshape(batch_size, length)  # (N, L), shifted by one
    bounds = chunk_bounds(length, k)
    optimizer = Adam(params, lr=lr)
    losses, grad_norms = np.empty(steps), np.empty(steps)
    h = np.zeros((batch_size, dims["H"]))
    for step in range(steps):
        start, stop = bounds[step % len(bounds)]
        if start == 0:
            h = np.zeros_like(h)  # back to the beginning of every stream
        losses[step], grads, h = loss_and_gradients(params, inputs[:, start:stop], targets[:, start:stop], h)
        clipped, grad_norms[step] = clip_gradients(grads, max_norm if max_norm is not None else np.inf)
        optimizer.step(clipped)
    return losses, grad_norms


def generate(params, prefix, length: int):
    """Greedy continuation: read ``prefix``, then repeatedly feed back the most likely next character.

    Parameters
    ----------
    params : dict of str to ndarray
    prefix : ndarray of int of shape (P,)
        Character ids to start from (P >= 1).
    length : int
        Number of characters to generate.

    Returns
    -------
    ndarray of int64 of shape (length,)
        The generated ids (without the prefix).

    Raises
    ------
    TypeError, ValueError
        If ``prefix`` is not an integer array of ids in range, or ``length`` is negative.

    Examples
    --------
    >>> p = init_params(3, 4, rng=0)
    >>> generate(p, np.array([0, 1]), 5).shape
    (5,)
    """
    dims = _check_params("generate", params)
    V = dims["V"]
    _check_ids("generate", "prefix", prefix, V, ndim=1)
    if not isinstance(length, (int, np.integer)) or isinstance(length, bool) or length < 0:
        raise ValueError(f"generate: expected length to be an int >= 0, got {length!r}")
    eye, h = np.eye(V), np.zeros((1, dims["H"]))
    out = np.empty(length, dtype=np.int64)
    current = prefix
    for i in range(length):
        for ch in current:
            h, _ = rnn_step_forward(eye[ch][None], h, params["Wx"], params["Wh"], params["b"])  # (1, H)
        out[i] = int(np.argmax(h[0] @ params["Wy"] + params["c"]))
        current = out[i : i + 1]
    return out
