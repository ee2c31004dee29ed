"""companion.nn.scan: every scan equals the sequential loop (values and gradients, float64, T up to a
few thousand); the log-space and blocked scans stay finite where the naive product underflows; the
minimal RNNs follow their equations and run the same in every mode."""

import pytest
import torch

from companion.nn.errors import DTypeError, ShapeError
from companion.nn.scan import (
    MinGRU,
    MinLSTM,
    linear_scan,
    linear_scan_blocked,
    linear_scan_cumprod,
    linear_scan_loop,
)

torch.set_num_threads(1)


def problem(N, T, H, seed, low=0.5, high=0.999):
    """Gates a in [low, high], inputs of both signs, h0, and upstream weights w for a scalar loss."""
    gen = torch.Generator().manual_seed(seed)

    def draw(*shape, uniform=False):
        t = torch.rand(*shape, generator=gen, dtype=torch.float64) if uniform else None
        return t if uniform else torch.randn(*shape, generator=gen, dtype=torch.float64)

    a = low + (high - low) * draw(N, T, H, uniform=True)
    return (
        a.log().requires_grad_(),
        draw(N, T, H).requires_grad_(),
        draw(N, H).requires_grad_(),
        draw(N, T, H),
    )


def value_and_grads(fn, log_a, b, h0, w):
    h = fn(log_a, b, h0)
    return h, torch.autograd.grad((w * h).sum(), [log_a, b, h0])


SCANS = {
    "log": linear_scan,
    "blocked": lambda log_a, b, h0: linear_scan_blocked(log_a.exp(), b, h0),
    "blocked-7": lambda log_a, b, h0: linear_scan_blocked(log_a.exp(), b, h0, block=7),
}


def loop(log_a, b, h0):
    return linear_scan_loop(log_a.exp(), b, h0)


@pytest.mark.parametrize("name", list(SCANS))
@pytest.mark.parametrize("N, T, H", [(2, 1, 3), (3, 17, 2), (2, 500, 3), (1, 3000, 2)])
def test_scan_equals_loop_values_and_gradients(name, N, T, H):
    args = problem(N, T, H, seed=T)
    want, want_grads = value_and_grads(loop, *args)
    got, got_grads = value_and_grads(SCANS[name], *args)
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-11)
    for g, r in zip(got_grads, want_grads, strict=True):
        torch.testing.assert_close(g, r, rtol=1e-9, atol=1e-11)


def test_loop_follows_the_recurrence_by_hand():
    a = torch.tensor([[[0.5], [0.25], [2.0]]])  # (1, 3, 1)
    b = torch.tensor([[[1.0], [-1.0], [3.0]]])
    h = linear_scan_loop(a, b, torch.tensor([[4.0]]))
    assert h.flatten().tolist() == [3.0, -0.25, 2.5]  # 0.5·4+1, 0.25·3−1, 2·(−0.25)+3


def test_naive_product_underflows_where_the_stable_scans_do_not():
    args = problem(2, 3000, 3, seed=1, low=0.5, high=0.8)  # prod a ~ 0.65^3000 = 1e-561: below float64
    log_a, b, h0, _ = (t.detach() for t in args)
    a = log_a.exp()
    assert (torch.cumprod(a, 1)[:, -1] < torch.finfo(torch.float64).tiny).all()  # subnormal or 0
    naive = linear_scan_cumprod(a, b, h0)
    assert not torch.isfinite(naive).all()  # 0 · inf once the product underflows
    want = linear_scan_loop(a, b, h0)
    for h in (linear_scan(log_a, b, h0), linear_scan_blocked(a, b, h0)):
        assert torch.isfinite(h).all()
        torch.testing.assert_close(h, want, rtol=1e-9, atol=1e-11)
    short = problem(2, 20, 3, seed=2)  # while the product is a normal float the closed form is right
    torch.testing.assert_close(linear_scan_cumprod(short[0].exp(), short[1], short[2]), loop(*short[:3]))


def test_log_scan_gradients_stay_finite_when_inputs_have_one_sign():
    log_a, b, h0, w = problem(2, 300, 3, seed=3)
    b_pos = b.detach().abs().requires_grad_()
    _, grads = value_and_grads(linear_scan, log_a, b_pos, h0.detach().abs().requires_grad_(), w)
    assert all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("cls", [MinGRU, MinLSTM])
def test_min_rnn_modes_agree_values_and_gradients(cls):
    torch.manual_seed(0)
    layer = cls(3, 4, dtype=torch.float64)
    x = torch.randn(2, 40, 3, dtype=torch.float64, requires_grad=True)
    hx = torch.randn(1, 2, 4, dtype=torch.float64, requires_grad=True)
    results = []
    for mode in ("loop", "scan", "log"):
        layer.mode = mode
        out, h_n = layer(x, hx)
        results.append((out, h_n, torch.autograd.grad(out.sum(), [x, hx, *layer.parameters()])))
    for other in results[1:]:
        torch.testing.assert_close(other[0], results[0][0], rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(other[1], results[0][1], rtol=1e-10, atol=1e-12)
        for g, r in zip(other[2], results[0][2], strict=True):
            torch.testing.assert_close(g, r, rtol=1e-10, atol=1e-12)


def test_min_gru_and_min_lstm_follow_their_equations():
    torch.manual_seed(1)
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    gru = MinGRU(3, 4, dtype=torch.float64)
    W, c = gru.linear.weight, gru.linear.bias
    h, states = torch.zeros(2, 4, dtype=torch.float64), []
    for x_t in x.unbind(1):
        z = torch.sigmoid(x_t @ W[:4].T + c[:4])
        h = (1 - z) * h + z * (x_t @ W[4:].T + c[4:])
        states.append(h)
    torch.testing.assert_close(gru(x)[0], torch.stack(states, 1))
    lstm = MinLSTM(3, 4, dtype=torch.float64)
    W, c = lstm.linear.weight, lstm.linear.bias
    h, states = torch.zeros(2, 4, dtype=torch.float64), []
    for x_t in x.unbind(1):
        f, i = (torch.sigmoid(x_t @ W[k * 4 : k * 4 + 4].T + c[k * 4 : k * 4 + 4]) for k in (0, 1))
        h = f / (f + i) * h + i / (f + i) * (x_t @ W[8:].T + c[8:])
        states.append(h)
    torch.testing.assert_close(lstm(x)[0], torch.stack(states, 1))


def test_step_generates_the_same_states_with_a_constant_size_state():
    torch.manual_seed(2)
    layer = MinGRU(3, 4, dtype=torch.float64)
    x = torch.randn(2, 9, 3, dtype=torch.float64)
    h, states = None, []
    for x_t in x.unbind(1):
        h = layer.step(x_t, h)
        assert h.shape == (2, 4)
        states.append(h)
    torch.testing.assert_close(torch.stack(states, 1), layer(x)[0])


def test_errors():
    with pytest.raises(ShapeError, match=r"expected a and b of the same shape \(N, T, H\), got \(2, 3, 1\)"):
        linear_scan_loop(torch.zeros(2, 3, 1), torch.zeros(2, 4, 1))
    with pytest.raises(ShapeError, match=r"expected h0 of shape \(N, H\) = \(2, 1\), got \(1, 2, 1\)"):
        linear_scan(torch.zeros(2, 3, 1), torch.zeros(2, 3, 1), torch.zeros(1, 2, 1))
    with pytest.raises(DTypeError, match=r"expected log_a and b of one dtype"):
        linear_scan(torch.zeros(2, 3, 1), torch.zeros(2, 3, 1, dtype=torch.float64))
    with pytest.raises(ShapeError, match=r"MinGRU: expected input of shape \(N, T, 3\), got \(2, 5\)"):
        MinGRU(3, 4)(torch.zeros(2, 5))
    with pytest.raises(ValueError, match=r"expected mode 'scan', 'log' or 'loop', got 'fast'"):
        MinLSTM(3, 4, mode="fast")
