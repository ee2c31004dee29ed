"""companion.diagnostics.analysis: Jacobian norms equal those of torch.autograd.functional.jacobian, obey
Pascanu's bound, and work for LSTM and GRU layers too."""

import numpy as np
import pytest
import torch

from companion.diagnostics import analysis as an
from companion.ref import rnn


def vanilla(N=3, T=9, D=2, H=5, sigma=1.3, seed=0):
    rng = np.random.default_rng(seed)
    Wx, b = rng.normal(size=(D, H)), rng.normal(scale=0.3, size=H)
    Wh = an.random_recurrent_weights(H, rng=rng, sigma_max=sigma)
    x = rng.normal(size=(N, T, D))
    module = torch.nn.RNN(D, H, batch_first=True, dtype=torch.float64)
    module.load_state_dict({k: torch.from_numpy(v) for k, v in rnn.to_torch(Wx, Wh, b).items()})
    h, _ = rnn.rnn_forward(x, np.zeros((N, H)), Wx, Wh, b)
    return module, x, h, Wh


def _per_sample(J, N):
    """(N, A, N, B...) Jacobian of a batch -> (N, A, B...) blocks; checks samples don't interact."""
    blocks = torch.stack([J[n, :, n] for n in range(N)])
    for n in range(N):
        for m in range(N):
            if m != n:
                assert torch.all(J[n, :, m] == 0)
    return blocks


def autograd_norms(module, x, ord):
    """||dh_T/ds_t|| with torch.autograd.functional.jacobian: restart the layer from the state s_t."""
    N, T, _ = x.shape
    with torch.no_grad():
        states = []
        state = None
        for t in range(T):
            _, state = module(x[:, t : t + 1]) if state is None else module(x[:, t : t + 1], state)
            states.append(state)
    norms = np.empty((N, T))
    for t in range(T):
        parts = states[t] if isinstance(states[t], tuple) else (states[t],)

        def last_output(*s, t=t):
            if t == T - 1:
                return s[0][-1]  # h_T is the top layer's part of s_T
            state = s if len(s) > 1 else s[0]
            return module(x[:, t + 1 :], state)[0][:, -1]  # (N, H)

        jac = torch.autograd.functional.jacobian(last_output, parts)  # per part: (N, H, L, N, H_p)
        blocks = [_per_sample(j.permute(0, 1, 3, 2, 4), N).reshape(N, j.shape[1], -1) for j in jac]
        norms[:, t] = torch.linalg.matrix_norm(torch.cat(blocks, dim=2), ord=ord).numpy()
    return norms


@pytest.mark.parametrize("ord", [2, "fro"])
def test_vanilla_jacobian_norms_equal_autograd_functional_jacobian(ord):
    module, x, h, Wh = vanilla()
    expected = autograd_norms(module, torch.from_numpy(x), ord)
    np.testing.assert_allclose(an.rnn_jacobian_norms(h, Wh, ord=ord), expected, rtol=1e-10, atol=1e-14)
    got = an.state_jacobian_norms(module, torch.from_numpy(x), ord=ord)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize(
    "make",
    [
        lambda: torch.nn.LSTM(2, 4, batch_first=True, dtype=torch.float64),
        lambda: torch.nn.LSTM(2, 4, num_layers=2, batch_first=True, dtype=torch.float64),
        lambda: torch.nn.GRU(2, 4, batch_first=True, dtype=torch.float64),
        lambda: torch.nn.GRU(2, 3, num_layers=2, batch_first=True, dtype=torch.float64),
        lambda: torch.nn.RNN(2, 3, num_layers=2, batch_first=True, dtype=torch.float64),
    ],
    ids=["lstm", "lstm-2", "gru", "gru-2", "rnn-2"],
)
def test_state_jacobian_norms_of_gated_and_stacked_layers_equal_autograd(make):
    torch.manual_seed(1)
    module = make()
    x = torch.randn(2, 6, 2, dtype=torch.float64)
    expected = autograd_norms(module, x, 2)
    np.testing.assert_allclose(an.state_jacobian_norms(module, x), expected, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(expected[:, -1], 1.0, rtol=1e-12)


def test_batch_first_false_and_initial_state_are_honoured():
    torch.manual_seed(2)
    a = torch.nn.GRU(2, 4, batch_first=True, dtype=torch.float64)
    b = torch.nn.GRU(2, 4, batch_first=False, dtype=torch.float64)
    b.load_state_dict(a.state_dict())
    x, h0 = torch.randn(3, 5, 2, dtype=torch.float64), torch.randn(1, 3, 4, dtype=torch.float64)
    np.testing.assert_allclose(
        an.state_jacobian_norms(a, x, h0), an.state_jacobian_norms(b, x, h0), rtol=1e-13
    )
    assert not np.allclose(an.state_jacobian_norms(a, x, h0), an.state_jacobian_norms(a, x))


def test_sigma_max_half_decays_at_least_as_fast_as_half_to_the_power_T_minus_t():
    _, x, h, Wh = vanilla(N=4, T=30, H=8, sigma=0.5, seed=3)
    assert an.largest_singular_value(Wh) == pytest.approx(0.5, rel=1e-12)
    norms = an.rnn_jacobian_norms(h, Wh)
    bound = 0.5 ** np.arange(29, -1, -1)  # (T,) 0.5^(T-t), t = 1..T
    np.testing.assert_allclose(an.pascanu_bound(Wh, 30), bound, rtol=1e-12)
    assert np.all(norms <= bound * (1 + 1e-12))
    assert np.all(norms[:, :-1] <= 0.5 * norms[:, 1:] * (1 + 1e-12)), "each step back shrinks by 0.5 or more"
    assert norms[:, 0].max() < 1e-8


def test_linear_regime_attains_the_bound():
    """With x = 0, b = 0 and h0 = 0 every h_t = 0, so the Jacobian is W_hh^(T-t): for s * orthogonal
    its norm is exactly s^(T-t), the bound."""
    for s in (0.9, 1.0, 1.1):
        Wh = an.random_recurrent_weights(6, rng=0, sigma_max=s, orthogonal=True)
        h = np.zeros((1, 15, 6))
        np.testing.assert_allclose(an.rnn_jacobian_norms(h, Wh)[0], s ** np.arange(14, -1, -1), rtol=1e-10)
        np.testing.assert_allclose(an.pascanu_bound(Wh, 15), s ** np.arange(14, -1, -1), rtol=1e-12)


def test_pascanu_bound_values_and_errors():
    Wh = np.diag([0.5, -0.25])
    np.testing.assert_allclose(an.pascanu_bound(Wh, 4, gamma=0.25), 0.125 ** np.array([3, 2, 1, 0]))
    with pytest.raises(ValueError, match="pascanu_bound: expected length to be a positive int"):
        an.pascanu_bound(Wh, 0)
    with pytest.raises(ValueError, match="pascanu_bound: expected gamma > 0"):
        an.pascanu_bound(Wh, 3, gamma=0.0)


def state_gradients_by_restarting(module, x, loss_fn):
    """dL/ds_t by autograd on a leaf: the outputs before t are constants, the rest restart from s_t."""
    N, T, _ = x.shape
    with torch.no_grad():
        out, _ = module(x)
    norms = []
    for t in range(T):
        s = out[:, t].clone()[None].requires_grad_(True)  # (1, N, H) leaf: the state after step t
        later = module(x[:, t + 1 :], s)[0] if t < T - 1 else out[:, :0]
        outputs = torch.cat([out[:, :t], s[0][:, None], later], dim=1)  # (N, T, H)
        (g,) = torch.autograd.grad(loss_fn(outputs), s)
        norms.append(float(g.norm()))
    return np.array(norms)


def test_state_gradient_norms_equal_autograd_on_a_restarted_run():
    module, x, _, _ = vanilla(N=3, T=8, H=4, sigma=1.2, seed=4)
    x = torch.from_numpy(x)
    w = torch.randn(8, 4, dtype=torch.float64)
    losses = [
        lambda out: out[:, -1].pow(2).mean(),  # many-to-one
        lambda out: (out * w).sum(),  # a loss at every step: direct and carried gradient add up
    ]
    for loss_fn in losses:
        expected = state_gradients_by_restarting(module, x, loss_fn)
        np.testing.assert_allclose(an.state_gradient_norms(module, x, loss_fn), expected, rtol=1e-10)


def test_state_gradient_norms_leave_parameter_gradients_alone():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(2, 3, batch_first=True)
    norms = an.state_gradient_norms(lstm, torch.randn(2, 5, 2), lambda out: out.sum())
    assert norms.shape == (5,) and np.all(norms > 0)
    assert all(p.grad is None for p in lstm.parameters())


def test_vanishing_for_small_and_growing_for_large_recurrent_weights():
    """Gaussian W_hh with spectral radius 0.5 vs 3: the gradient from h_T dies out vs it does not."""
    rng = np.random.default_rng(5)
    x = torch.from_numpy(rng.normal(scale=0.1, size=(4, 40, 1)))
    medians = []
    for rho in (0.5, 3.0):
        module = torch.nn.RNN(1, 32, batch_first=True, dtype=torch.float64)
        W = an.random_recurrent_weights(32, rng=6, spectral_radius=rho)
        with torch.no_grad():
            module.weight_hh_l0.copy_(torch.from_numpy(W))
        medians.append(np.median(an.state_jacobian_norms(module, x)[:, 0]))
    assert medians[0] < 1e-10 < 1.0 < medians[1]


def test_torch_functions_reject_bad_input():
    lstm = torch.nn.LSTM(2, 3, batch_first=True)
    with pytest.raises(
        ValueError, match=r"state_jacobian_norms: expected x of shape \(N, T, D\), got \(4, 2\)"
    ):
        an.state_jacobian_norms(lstm, torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"got \(4, 0, 2\)"):
        an.state_jacobian_norms(lstm, torch.zeros(4, 0, 2))
    with pytest.raises(TypeError, match="expected x of dtype torch.float32"):
        an.state_jacobian_norms(lstm, torch.zeros(4, 3, 2, dtype=torch.float64))
    with pytest.raises(TypeError, match="expected x to be a torch.Tensor, got ndarray"):
        an.state_gradient_norms(lstm, np.zeros((4, 3, 2)), lambda out: out.sum())
    with pytest.raises(TypeError, match="expected module to be a torch.nn.Module"):
        an.state_jacobian_norms(lambda x: x, torch.zeros(4, 3, 2))
    with pytest.raises(ValueError, match="expected a unidirectional layer"):
        an.state_jacobian_norms(torch.nn.GRU(2, 3, bidirectional=True), torch.zeros(4, 3, 2))
    with pytest.raises(ValueError, match="expected ord in"):
        an.state_jacobian_norms(lstm, torch.zeros(4, 3, 2), ord=1)
    with pytest.raises(ValueError, match="state_gradient_norms: expected loss_fn to return a scalar tensor"):
        an.state_gradient_norms(lstm, torch.zeros(4, 3, 2), lambda out: out)


def test_numpy_functions_reject_bad_input():
    h, Wh = np.zeros((2, 5, 3)), np.eye(3)
    with pytest.raises(
        ValueError, match=r"rnn_jacobian_norms: expected Wh of shape \(H, H\) = \(3, 3\), got \(4, 4\)"
    ):
        an.rnn_jacobian_norms(h, np.eye(4))
    with pytest.raises(ValueError, match=r"expected h of shape \(N, T, H\), got \(5, 3\)"):
        an.rnn_jacobian_norms(h[0], Wh)
    with pytest.raises(TypeError, match="floating-point dtype"):
        an.rnn_jacobian_norms(h.astype(int), Wh)
    with pytest.raises(ValueError, match="expected ord in"):
        an.rnn_jacobian_norms(h, Wh, ord=np.inf)


def test_largest_singular_value_and_spectral_radius():
    rng = np.random.default_rng(7)
    W = rng.normal(size=(6, 6))
    assert an.largest_singular_value(W) == pytest.approx(
        float(torch.linalg.matrix_norm(torch.from_numpy(W), ord=2))
    )
    assert an.largest_singular_value(W.T) == pytest.approx(an.largest_singular_value(W), rel=1e-12)
    assert an.spectral_radius(W) <= an.largest_singular_value(W)
    nilpotent = np.array([[0.0, 5.0], [0.0, 0.0]])
    assert an.spectral_radius(nilpotent) == 0.0 and an.largest_singular_value(nilpotent) == 5.0
    with pytest.raises(ValueError, match=r"spectral_radius: expected W of shape \(H, H\)"):
        an.spectral_radius(np.zeros((2, 3)))


def test_rescale_hits_its_target_and_refuses_ambiguity():
    W = np.random.default_rng(8).normal(size=(5, 5))
    before = W.copy()
    assert an.largest_singular_value(an.rescale(W, sigma_max=0.7)) == pytest.approx(0.7, rel=1e-12)
    assert an.spectral_radius(an.rescale(W, spectral_radius=1.1)) == pytest.approx(1.1, rel=1e-12)
    np.testing.assert_array_equal(W, before)
    for kwargs in ({}, {"sigma_max": 1.0, "spectral_radius": 1.0}):
        with pytest.raises(ValueError, match="exactly one of sigma_max and spectral_radius"):
            an.rescale(W, **kwargs)
    with pytest.raises(ValueError, match="finite target >= 0"):
        an.rescale(W, sigma_max=-1.0)
    with pytest.raises(ValueError, match="no scale to adjust"):
        an.rescale(np.zeros((3, 3)), sigma_max=1.0)


def test_random_recurrent_weights():
    W = an.random_recurrent_weights(32, rng=0)
    np.testing.assert_array_equal(W, an.random_recurrent_weights(32, rng=np.random.default_rng(0)))
    assert not np.array_equal(W, an.random_recurrent_weights(32, rng=1))
    assert 0.6 < an.spectral_radius(W) < 1.4  # circular law: about 1 for variance 1/H
    Q = an.random_recurrent_weights(16, rng=0, sigma_max=1.5, orthogonal=True)
    np.testing.assert_allclose(Q.T @ Q, 2.25 * np.eye(16), atol=1e-12)
    R = an.random_recurrent_weights(16, rng=0, spectral_radius=0.9)
    assert an.spectral_radius(R) == pytest.approx(0.9, rel=1e-12)
    with pytest.raises(ValueError, match="expected hidden_size >= 1, got 0"):
        an.random_recurrent_weights(0, rng=0)
    with pytest.raises(ValueError, match="at most one of"):
        an.random_recurrent_weights(4, rng=0, sigma_max=1.0, spectral_radius=1.0)
    with pytest.raises(TypeError, match="int seed or a numpy.random.Generator"):
        an.random_recurrent_weights(4, rng=None)


def test_state_gradient_norms_start_from_the_given_state():
    """With L = ||h_T||^2 the last entry is ||2 h_T||, and h_T depends on the initial state."""
    module, x, _, _ = vanilla(N=2, T=5, H=4, seed=6)
    x = torch.from_numpy(x)
    h0 = torch.full((1, 2, 4), 0.8, dtype=torch.float64)
    loss_fn = lambda out: out[:, -1].pow(2).sum()  # noqa: E731
    with torch.no_grad():
        h_T = module(x, h0)[0][:, -1]
    norms = an.state_gradient_norms(module, x, loss_fn, state0=h0)
    assert norms[-1] == pytest.approx(float((2 * h_T).norm()), rel=1e-12)
    zeros = an.state_gradient_norms(module, x, loss_fn, state0=torch.zeros_like(h0))
    np.testing.assert_allclose(zeros, an.state_gradient_norms(module, x, loss_fn), rtol=1e-12)
    assert np.abs(norms - zeros).max() > 1e-3


def test_states_the_loss_never_reads_get_a_zero_norm():
    torch.manual_seed(0)
    gru = torch.nn.GRU(2, 3, batch_first=True)
    x = torch.randn(2, 4, 2)
    norms = an.state_gradient_norms(gru, x, lambda out: out[:, 0].sum())
    assert norms.shape == (4,) and norms[0] > 0 and np.all(norms[1:] == 0.0)
    penalty = torch.ones(3, requires_grad=True)  # a loss that does not read the outputs at all
    norms = an.state_gradient_norms(gru, x, lambda out: penalty.pow(2).sum())
    assert norms.shape == (4,) and np.all(norms == 0.0)


def test_orthogonal_draws_are_haar_distributed():
    """The QR factor alone is biased (its diagonal is mostly negative); with the signs of diag(R) fixed
    the diagonal entries of a Haar orthogonal matrix are symmetric about 0."""
    H, draws = 4, 500
    Q = np.stack([an.random_recurrent_weights(H, rng=seed, orthogonal=True) for seed in range(draws)])
    diagonal = np.diagonal(Q, axis1=1, axis2=2)  # (draws, H)
    assert abs(diagonal.mean()) < 0.06  # standard error 0.5 / sqrt(2000) = 0.011
    assert 0.45 < (diagonal > 0).mean() < 0.55
    W0 = np.random.default_rng(3).standard_normal((H, H)) / np.sqrt(H)  # the Gaussian draw of seed 3
    R = Q[3].T @ W0  # Q R = W0 with R upper triangular and a positive diagonal: the unique such QR
    np.testing.assert_allclose(np.tril(R, -1), 0.0, atol=1e-12)
    assert np.all(np.diag(R) > 0)


def test_random_recurrent_weights_are_gaussian_unless_orthogonal_is_asked_for():
    W = an.random_recurrent_weights(32, rng=0)
    singular = np.linalg.svd(W, compute_uv=False)
    assert singular.max() > 1.5 and singular.min() < 0.2  # quarter-circle law on [0, 2]
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(W, rng.standard_normal((32, 32)) / np.sqrt(32))


def test_square_matrices_only():
    for fn in (an.largest_singular_value, an.spectral_radius, lambda W: an.pascanu_bound(W, 3)):
        with pytest.raises(ValueError, match=r"expected (W|Wh) of shape \(H, H\), got \(2, 3\)"):
            fn(np.ones((2, 3)))
        with pytest.raises(ValueError, match=r"expected (W|Wh) of shape \(H, H\), got \(4,\)"):
            fn(np.ones(4))
        with pytest.raises(TypeError, match="floating-point dtype"):
            fn(np.eye(2, dtype=int))
    np.testing.assert_allclose(an.pascanu_bound(np.diag([0.5, 0.1]), 3, gamma=0.25), [0.125**2, 0.125, 1.0])
