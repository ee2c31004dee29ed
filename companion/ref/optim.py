"""Optimisers for the numpy reference models: Adam and gradient-norm clipping (chapter 3).

Both work on a dict of named numpy arrays, like the parameters of :mod:`companion.ref.charrnn`, and
follow torch's formulas exactly, so a numpy model and a torch model trained from the same start take
the same steps.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Adam", "clip_gradients"]


class Adam:
    """The Adam optimiser on a dict of numpy arrays, updated in place.

    Parameters
    ----------
    params : dict of str to ndarray
        Arrays to optimise; :meth:`step` modifies them in place.
    lr : float, default 1e-2
        Step size.
    betas : (float, float), default (0.9, 0.999)
        Decay rates of the first and second moment estimates.
    eps : float, default 1e-8
        Added to the denominator.

    Raises
    ------
    ValueError
        If a hyper-parameter is out of range.

    Notes
    -----
    With :math:`g` the gradient at step :math:`s = 1, 2, \\dots`:
    :math:`m \\leftarrow \\beta_1 m + (1-\\beta_1) g`, :math:`v \\leftarrow \\beta_2 v + (1-\\beta_2) g^2`,
    :math:`\\theta \\leftarrow \\theta - \\frac{\\eta}{1-\\beta_1^s} \\, m \\,/\\,
    \\big(\\sqrt{v / (1-\\beta_2^s)} + \\epsilon\\big)`, as torch computes it.

    See Also
    --------
    torch.optim.Adam : the same update (without weight decay or amsgrad).

    Examples
    --------
    >>> params = {"w": np.array([1.0])}
    >>> opt = Adam(params, lr=0.1)
    >>> opt.step({"w": np.array([2.0])})
    >>> np.round(params["w"], 6)
    array([0.9])
    """

    def __init__(self, params, lr: float = 1e-2, betas=(0.9, 0.999), eps: float = 1e-8) -> None:
        if not lr > 0 or not all(0.0 <= beta < 1.0 for beta in betas) or not eps >= 0:
            raise ValueError(f"Adam: expected lr > 0, 0 <= betas < 1, eps >= 0, got {lr}, {betas}, {eps}")
        self.params, self.lr, self.betas, self.eps = params, lr, tuple(betas), eps
        self.m = {name: np.zeros_like(p) for name, p in params.items()}
        self.v = {name: np.zeros_like(p) for name, p in params.items()}
        self.steps = 0

    def step(self, grads) -> None:
        """Apply one update from ``grads`` (a dict with the keys and shapes of ``params``)."""
        if set(grads) != set(self.params):
            raise ValueError(f"Adam.step: expected gradients for {sorted(self.params)}, got {sorted(grads)}")
        beta1, beta2 = self.betas
        self.steps += 1
        correction1, correction2 = 1.0 - beta1**self.steps, 1.0 - beta2**self.steps
        for name, p in self.params.items():
            g = grads[name]
            if g.shape != p.shape:
                raise ValueError(f"Adam.step: expected {name} gradient of shape {p.shape}, got {g.shape}")
            self.m[name] = beta1 * self.m[name] + (1.0 - beta1) * g
            self.v[name] = beta2 * self.v[name] + (1.0 - beta2) * g * g
            denom = np.sqrt(self.v[name]) / np.sqrt(correction2) + self.eps
            p -= (self.lr / correction1) * self.m[name] / denom


def clip_gradients(grads, max_norm: float):
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    Parameters
    ----------
    grads : dict of str to ndarray
        Gradients of every parameter.
    max_norm : float
        Largest allowed norm of all gradients taken as one vector (> 0).

    Returns
    -------
    clipped : dict of str to ndarray
        New arrays (``grads`` is not modified): unchanged if the norm is small enough, otherwise
        all multiplied by the same factor, so the direction is kept.
    norm : float
        The joint norm before clipping.

    Raises
    ------
    ValueError
        If ``max_norm`` is not positive.

    Notes
    -----
    With :math:`\\|g\\| = (\\sum_i \\|g_i\\|_F^2)^{1/2}`, every gradient is multiplied by
    :math:`\\min(1, m / (\\|g\\| + 10^{-6}))`, exactly as torch does. Chapter 4 explains why recurrent
    networks need this: their gradients occasionally explode.

    See Also
    --------
    torch.nn.utils.clip_grad_norm_ : the same rule, applied in place to ``.grad``.

    Examples
    --------
    >>> clipped, norm = clip_gradients({"w": np.array([3.0, 4.0])}, max_norm=1.0)
    >>> norm, np.round(clipped["w"], 4)
    (5.0, array([0.6, 0.8]))
    """
    if not max_norm > 0:
        raise ValueError(f"clip_gradients: expected max_norm > 0, got {max_norm!r}")
    norm = float(np.sqrt(sum(float(np.sum(g * g)) for g in grads.values())))
    scale = max_norm / (norm + 1e-6)
    return {name: g * scale if scale < 1.0 else g.copy() for name, g in grads.items()}, norm
