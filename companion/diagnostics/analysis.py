"""How far gradients travel back in time: Jacobian products and gradient norms (chapter 4).

Two ways to measure the same thing:

* :func:`rnn_jacobian_norms` (numpy) multiplies the one-step Jacobians of a vanilla tanh RNN run by
  :func:`companion.ref.rnn.rnn_forward`, exactly as derived in the book:

  .. math::

      \\frac{\\partial h_T}{\\partial h_t} = \\prod_{k=t+1}^{T} \\operatorname{diag}(1 - h_k^2)\\, W_{hh},

  where :math:`W_{hh}` acts on column vectors, :math:`h_k = \\tanh(W_{hh} h_{k-1} + W_{xh} x_k + b)`.
  The package's numpy layout stores ``Wh`` :math:`= W_{hh}^\\top` (it computes ``h_prev @ Wh``).
* :func:`state_jacobian_norms` and :func:`state_gradient_norms` (torch) work on any recurrent layer
  with ``torch.nn``'s forward signature (``torch.nn.RNN``, ``LSTM``, ``GRU`` or the package's own),
  by running it one step at a time and differentiating with autograd with respect to the state
  after every step.

Helpers build recurrent matrices with a chosen largest singular value or spectral radius. All norms
are returned as float64 numpy arrays, batch first: entry ``[n, t-1]`` belongs to step ``t = 1..T``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from companion._validate import Dims, as_rng

__all__ = [
    "largest_singular_value",
    "spectral_radius",
    "rescale",
    "random_recurrent_weights",
    "rnn_jacobian_norms",
    "pascanu_bound",
    "state_jacobian_norms",
    "state_gradient_norms",
]

_ORDS = (2, "fro")


def largest_singular_value(W) -> float:
    """Largest singular value :math:`\\sigma_{\\max}(W) = \\lVert W \\rVert_2`.

    Parameters
    ----------
    W : ndarray of shape (H, H)

    Returns
    -------
    float
        The same for ``W`` and ``W.T``, so numpy layout and torch layout agree.

    Raises
    ------
    TypeError, ValueError
        If ``W`` is not a square floating-point array.

    See Also
    --------
    torch.linalg.matrix_norm : with ``ord=2``.

    Examples
    --------
    >>> largest_singular_value(np.diag([3.0, -4.0]))
    4.0
    """
    Dims("largest_singular_value").check("W", W, "H H")
    return float(np.linalg.norm(W, 2))


def spectral_radius(W) -> float:
    """Spectral radius :math:`\\rho(W) = \\max_i |\\lambda_i(W)|`, never larger than :math:`\\sigma_{\\max}`.

    Parameters
    ----------
    W : ndarray of shape (H, H)
        Real, with eigenvalues that may be complex: the radius is their largest modulus.

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        If ``W`` is not a square floating-point array.

    Notes
    -----
    :math:`\\lVert W^k \\rVert^{1/k} \\to \\rho(W)`: the spectral radius sets the long-run growth of
    powers of :math:`W`, the largest singular value bounds every single step.

    Examples
    --------
    >>> spectral_radius(np.array([[0.0, 2.0], [0.0, 0.5]]))
    0.5
    """
    Dims("spectral_radius").check("W", W, "H H")
    return float(np.max(np.abs(np.linalg.eigvals(W))))


def rescale(W, *, sigma_max: float | None = None, spectral_radius: float | None = None):
    """Multiply ``W`` by a scalar so that its largest singular value or its spectral radius is given.

    Parameters
    ----------
    W : ndarray of shape (H, H)
        Not modified.
    sigma_max : float, optional
        Target :math:`\\sigma_{\\max}`.
    spectral_radius : float, optional
        Target :math:`\\rho`. Give exactly one of the two.

    Returns
    -------
    ndarray of shape (H, H)
        :math:`c W` with :math:`c = \\text{target} / \\sigma_{\\max}(W)` (or :math:`/ \\rho(W)`).

    Raises
    ------
    ValueError
        If not exactly one target is given, a target is negative, or ``W`` has the value 0 for the
        chosen quantity.

    Examples
    --------
    >>> W = rescale(np.array([[0.0, 2.0], [1.0, 0.0]]), sigma_max=0.5)
    >>> largest_singular_value(W)
    0.5
    """
    Dims("rescale").check("W", W, "H H")
    if (sigma_max is None) == (spectral_radius is None):
        raise ValueError("rescale: expected exactly one of sigma_max and spectral_radius")
    target = sigma_max if sigma_max is not None else spectral_radius
    if not np.isfinite(target) or target < 0:
        raise ValueError(f"rescale: expected a finite target >= 0, got {target!r}")
    current = np.linalg.norm(W, 2) if sigma_max is not None else np.max(np.abs(np.linalg.eigvals(W)))
    if current == 0:
        raise ValueError("rescale: W has no scale to adjust (its norm or spectral radius is 0)")
    return W * (target / current)


def random_recurrent_weights(
    hidden_size: int,
    *,
    rng,
    sigma_max: float | None = None,
    spectral_radius: float | None = None,
    orthogonal: bool = False,
):
    """A random (H, H) recurrent matrix, optionally rescaled.

    Parameters
    ----------
    hidden_size : int
        H.
    rng : int or numpy.random.Generator
        Seed or generator.
    sigma_max, spectral_radius : float, optional
        At most one: rescale the matrix (:func:`rescale`). Without either, Gaussian entries have
        variance :math:`1/H`, so :math:`\\rho \\approx 1` and :math:`\\sigma_{\\max} \\approx 2`.
    orthogonal : bool, default False
        Draw a uniformly random orthogonal matrix (QR of a Gaussian matrix with the signs fixed) instead:
        every singular value is 1, so after ``sigma_max=s`` every singular value is ``s``.

    Returns
    -------
    ndarray of shape (H, H)
        float64. Singular values and spectral radius are those of its transpose too, so the matrix
        serves as ``Wh`` in :mod:`companion.ref.rnn` or, transposed, as torch's ``weight_hh_l0``.

    Raises
    ------
    ValueError
        If ``hidden_size`` is not a positive int, or both targets are given.

    See Also
    --------
    torch.nn.init.orthogonal_ : the orthogonal draw in place on a torch weight.

    Examples
    --------
    >>> W = random_recurrent_weights(16, rng=0, sigma_max=1.5)
    >>> round(largest_singular_value(W), 12)
    1.5
    """
    if not isinstance(hidden_size, (int, np.integer)) or isinstance(hidden_size, bool) or hidden_size < 1:
        raise ValueError(f"random_recurrent_weights: expected hidden_size >= 1, got {hidden_size!r}")
    if sigma_max is not None and spectral_radius is not None:
        raise ValueError("random_recurrent_weights: expected at most one of sigma_max and spectral_radius")
    gen = as_rng(rng)
    W = gen.standard_normal((hidden_size, hidden_size)) / np.sqrt(hidden_size)  # (H, H)
    if orthogonal:
        q, r = np.linalg.qr(W)
        W = q * np.where(np.diag(r) < 0, -1.0, 1.0)  # (H, H), columns' signs fixed: Haar-distributed
    if sigma_max is None and spectral_radius is None:
        return W
    return rescale(W, sigma_max=sigma_max, spectral_radius=spectral_radius)


def _check_ord(where: str, ord) -> None:
    if ord not in _ORDS:
        raise ValueError(f"{where}: expected ord in {_ORDS}, got {ord!r}")


def rnn_jacobian_norms(h, Wh, *, ord=2):
    """Norms of :math:`\\partial h_T / \\partial h_t` for every step of a vanilla tanh RNN (numpy).

    Parameters
    ----------
    h : ndarray of shape (N, T, H)
        Hidden states from :func:`companion.ref.rnn.rnn_forward`; ``h[:, t-1]`` is :math:`h_t`.
    Wh : ndarray of shape (H, H)
        Recurrent weights in the package's numpy layout (``h_prev @ Wh``), i.e. :math:`W_{hh}^\\top`.
    ord : {2, "fro"}, default 2
        Spectral norm (largest singular value) or Frobenius norm of each Jacobian.

    Returns
    -------
    ndarray of shape (N, T)
        ``[n, t-1]`` is :math:`\\lVert \\partial h_T / \\partial h_t \\rVert` for sequence ``n``; the last
        column is the norm of the identity (1 for ``ord=2``).

    Raises
    ------
    TypeError, ValueError
        For arrays of the wrong type or shape, or an unknown ``ord``.

    Notes
    -----
    With :math:`D_k = \\operatorname{diag}(1 - h_k^2)`, one step back multiplies by
    :math:`\\partial h_k / \\partial h_{k-1} = D_k W_{hh}`; the product is accumulated from
    :math:`t = T` down to 1 (one (H, H) product per step, no autograd):

    .. math::

        \\frac{\\partial h_T}{\\partial h_{t-1}} = \\frac{\\partial h_T}{\\partial h_t} D_t W_{hh},
        \\qquad \\Big\\lVert \\frac{\\partial h_T}{\\partial h_t} \\Big\\rVert_2
        \\le \\big(\\gamma\\, \\sigma_{\\max}(W_{hh})\\big)^{T-t}, \\quad \\gamma = \\max \\tanh' = 1.

    See Also
    --------
    state_jacobian_norms : the same numbers by autograd, for any torch recurrent layer.
    torch.autograd.functional.jacobian : one Jacobian at a time.

    Examples
    --------
    >>> from companion.ref.rnn import rnn_forward
    >>> rng = np.random.default_rng(0)
    >>> Wh = random_recurrent_weights(8, rng=rng, sigma_max=0.5)
    >>> h, _ = rnn_forward(rng.normal(size=(2, 6, 3)), np.zeros((2, 8)),
    ...                    rng.normal(size=(3, 8)), Wh, np.zeros(8))
    >>> norms = rnn_jacobian_norms(h, Wh)
    >>> norms.shape, bool(np.all(norms[:, 0] <= 0.5**5))
    ((2, 6), True)
    """
    dims = Dims("rnn_jacobian_norms")
    dims.check("h", h, "N T H")
    dims.check("Wh", Wh, "H H")
    _check_ord("rnn_jacobian_norms", ord)
    N, T, H = h.shape
    norms = np.empty((N, T))  # (N, T)
    J = np.broadcast_to(np.eye(H), (N, H, H)).copy()  # (N, H, H) dh_T/dh_T
    W_hh = Wh.T  # (H, H) column-vector convention
    for k in range(T - 1, -1, -1):  # k is the 0-based index of h_t, t = k + 1
        norms[:, k] = np.linalg.norm(J, ord, axis=(1, 2))
        if k > 0:
            step = (1.0 - h[:, k] ** 2)[:, :, None] * W_hh  # (N, H, H) D_t W_hh = dh_t/dh_{t-1}
            J = J @ step  # (N, H, H) dh_T/dh_{t-1}
    return norms


def pascanu_bound(Wh, length: int, *, gamma: float = 1.0):
    """The bound :math:`(\\gamma\\, \\sigma_{\\max})^{T-t}` on the Jacobian norms of a vanilla RNN.

    Parameters
    ----------
    Wh : ndarray of shape (H, H)
        Recurrent weights (either layout: transposing keeps :math:`\\sigma_{\\max}`).
    length : int
        T.
    gamma : float, default 1.0
        Bound on the derivative of the nonlinearity: 1 for tanh, 1/4 for the logistic sigmoid.

    Returns
    -------
    ndarray of shape (T,)
        Entry ``t-1`` is :math:`(\\gamma \\sigma_{\\max})^{T-t}`, aligned with the columns of
        :func:`rnn_jacobian_norms`.

    Raises
    ------
    ValueError
        If ``length`` is not a positive int or ``gamma`` is not positive.

    Notes
    -----
    Pascanu, Mikolov and Bengio (2013): each factor satisfies
    :math:`\\lVert D_k W_{hh} \\rVert \\le \\lVert D_k \\rVert \\lVert W_{hh} \\rVert
    \\le \\gamma\\,\\sigma_{\\max}`,
    and norms of products are at most products of norms. If :math:`\\gamma\\sigma_{\\max} < 1` the
    gradient from :math:`h_T` to :math:`h_t` vanishes at least exponentially fast in :math:`T - t`.

    Examples
    --------
    >>> pascanu_bound(np.diag([0.5, 0.1]), 3).tolist()
    [0.25, 0.5, 1.0]
    """
    Dims("pascanu_bound").check("Wh", Wh, "H H")
    if not isinstance(length, (int, np.integer)) or isinstance(length, bool) or length < 1:
        raise ValueError(f"pascanu_bound: expected length to be a positive int, got {length!r}")
    if not gamma > 0:
        raise ValueError(f"pascanu_bound: expected gamma > 0, got {gamma!r}")
    rate = gamma * float(np.linalg.norm(Wh, 2))
    return rate ** np.arange(length - 1, -1, -1, dtype=np.float64)  # (T,)


def _check_module_input(where: str, module, x, state0) -> None:
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"{where}: expected module to be a torch.nn.Module, got {type(module).__name__}")
    if getattr(module, "bidirectional", False):
        raise ValueError(f"{where}: expected a unidirectional layer (a bidirectional one cannot be stepped)")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{where}: expected x to be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 3 or 0 in x.shape:
        raise ValueError(f"{where}: expected x of shape (N, T, D), got {tuple(x.shape)}")
    dtype = next(module.parameters()).dtype
    if x.dtype != dtype:
        raise TypeError(f"{where}: expected x of dtype {dtype} (the module's), got {x.dtype}")
    if state0 is not None and not isinstance(state0, (torch.Tensor, tuple)):
        raise TypeError(
            f"{where}: expected state0 to be None, a tensor or a tuple, got {type(state0).__name__}"
        )


def _flatten(parts: tuple[torch.Tensor, ...]) -> torch.Tensor:
    return torch.cat([p.transpose(0, 1).reshape(p.shape[1], -1) for p in parts], dim=1)  # (N, S)


def _unflatten(s: torch.Tensor, shapes: list[torch.Size]) -> list[torch.Tensor]:
    pieces, start = [], 0
    for L, N, size in shapes:
        block = s[:, start : start + L * size].reshape(N, L, size)  # (N, L, H_p)
        pieces.append(block.transpose(0, 1).contiguous())  # (L, N, H_p)
        start += L * size
    return pieces


def _unroll(module, x, state0):
    """Run ``module`` one step at a time; every later step depends on step t only through ``s_t``."""
    batch_first = bool(getattr(module, "batch_first", False))
    state, outputs, states = state0, [], []
    for x_t in x.unbind(1):  # (N, D)
        step_input = x_t.unsqueeze(1 if batch_first else 0)  # (N, 1, D) or (1, N, D)
        _, state = module(step_input) if state is None else module(step_input, state)
        is_tuple = isinstance(state, tuple)
        parts = state if is_tuple else (state,)
        s = _flatten(parts)  # (N, S) the whole state after this step, one node of the graph
        states.append(s)
        pieces = _unflatten(s, [p.shape for p in parts])
        state = tuple(pieces) if is_tuple else pieces[0]
        outputs.append(pieces[0][-1])  # (N, H_out) the top layer's h_t, read from s
    return torch.stack(outputs, dim=1), states  # (N, T, H_out), T x (N, S)


def state_jacobian_norms(module: torch.nn.Module, x: torch.Tensor, state0=None, *, ord=2):
    """Norms of :math:`\\partial h_T / \\partial s_t` for every step, for any torch recurrent layer.

    Parameters
    ----------
    module : torch.nn.Module
        A unidirectional recurrent layer with ``torch.nn``'s forward signature,
        ``module(input, state) -> (output, state)`` where ``state`` is a tensor (L, N, H) (RNN, GRU)
        or a tuple of them (LSTM: ``(h, c)``); ``batch_first`` is read from the module.
    x : Tensor of shape (N, T, D)
        Inputs, batch first whatever the module's ``batch_first``; same dtype as the module.
    state0 : Tensor or tuple of Tensors, optional
        Initial state in the module's own format (zeros when None).
    ord : {2, "fro"}, default 2
        Spectral or Frobenius norm of each Jacobian.

    Returns
    -------
    ndarray of shape (N, T)
        ``[n, t-1]`` is :math:`\\lVert \\partial h_T / \\partial s_t \\rVert` for sequence ``n``, where
        :math:`h_T` is the last output (N, H_out) and :math:`s_t` the whole state after step ``t``,
        all layers flattened: :math:`h_t` for a one-layer RNN or GRU, :math:`(h_t, c_t)` for an
        LSTM. The last column is 1 for ``ord=2`` (:math:`h_T` is part of :math:`s_T`).

    Raises
    ------
    TypeError
        If ``module`` is not a module, ``x`` not a tensor of the module's dtype.
    ValueError
        For a bidirectional module, a badly shaped ``x`` or an unknown ``ord``.

    Notes
    -----
    The layer is stepped with inputs of length 1 and each state is routed through one tensor
    :math:`s_t`, so reverse-mode autograd from the H_out components of :math:`h_T` gives the rows of
    every :math:`\\partial h_T/\\partial s_t` at once (H_out backward passes). Sequences in a batch
    are assumed not to interact, as in every recurrent layer. For a one-layer tanh RNN this equals
    :func:`rnn_jacobian_norms`.

    See Also
    --------
    torch.autograd.functional.jacobian : one Jacobian at a time.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> lstm = torch.nn.LSTM(2, 8, batch_first=True)
    >>> norms = state_jacobian_norms(lstm, torch.randn(3, 20, 2))
    >>> norms.shape
    (3, 20)
    """
    _check_module_input("state_jacobian_norms", module, x, state0)
    _check_ord("state_jacobian_norms", ord)
    with torch.enable_grad():
        outputs, states = _unroll(module, x, state0)
        last = outputs[:, -1]  # (N, H_out)
        rows = []
        for i in range(last.shape[1]):
            grads = torch.autograd.grad(last[:, i].sum(), states, retain_graph=True)  # T x (N, S)
            rows.append(torch.stack(grads, dim=1))  # (N, T, S): row i of each Jacobian
        jacobians = torch.stack(rows, dim=2)  # (N, T, H_out, S)
    norms = torch.linalg.matrix_norm(jacobians.double(), ord=ord)  # (N, T)
    return norms.numpy()


def state_gradient_norms(
    module: torch.nn.Module,
    x: torch.Tensor,
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    state0=None,
):
    """Norm of the loss gradient reaching the state after every step, for any torch recurrent layer.

    Parameters
    ----------
    module : torch.nn.Module
        As in :func:`state_jacobian_norms`.
    x : Tensor of shape (N, T, D)
        Inputs, batch first.
    loss_fn : callable ``outputs -> scalar Tensor``
        Receives the layer's outputs (N, T, H_out), e.g.
        ``lambda out: mse_loss(model.head(out[:, -1]), y)`` for a :class:`companion.train.readout.Readout`.
    state0 : Tensor or tuple of Tensors, optional
        Initial state in the module's format.

    Returns
    -------
    ndarray of shape (T,)
        Entry ``t-1`` is the Euclidean norm, over the whole batch, of :math:`\\partial L/\\partial s_t`
        (``s_t``: the whole state after step ``t``, as in :func:`state_jacobian_norms`). Parameter
        gradients (``.grad``) are left untouched.

    Raises
    ------
    TypeError, ValueError
        As :func:`state_jacobian_norms`; ValueError if ``loss_fn`` does not return a scalar tensor.

    Notes
    -----
    By the chain rule, :math:`\\partial L/\\partial s_t` adds what :math:`s_t` contributes directly to
    the loss and what flows back from :math:`s_{t+1}`; the gradient of every weight is a sum over
    :math:`t` of terms proportional to it, so steps whose norm has vanished do not teach the weights
    anything about their inputs.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> rnn = torch.nn.RNN(2, 8, batch_first=True)
    >>> norms = state_gradient_norms(rnn, torch.randn(4, 30, 2), lambda out: out[:, -1].sum())
    >>> norms.shape
    (30,)
    """
    _check_module_input("state_gradient_norms", module, x, state0)
    with torch.enable_grad():
        outputs, states = _unroll(module, x, state0)
        loss = loss_fn(outputs)
        if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
            raise ValueError(
                f"state_gradient_norms: expected loss_fn to return a scalar tensor, got {loss!r:.80}"
            )
        grads = torch.autograd.grad(loss, states, allow_unused=True)  # T x (N, S)
    return np.array([0.0 if g is None else float(torch.linalg.vector_norm(g.double())) for g in grads])
