"""Time the companion's recurrent layers against ``torch.nn``, forward and backward, side by side.

Two tables, each timing one forward and one backward pass over a batch of sequences on the CPU:

1. ``companion.nn.RNN`` / ``LSTM`` / ``GRU`` (a Python loop over time steps, autograd for the
   backward pass) against ``torch.nn.RNN`` / ``LSTM`` / ``GRU`` (one fused C++ kernel), with the
   torch layer's ``state_dict`` loaded into the companion layer, in ``--dtype`` (float32 by default);
2. the numpy reference code of ``companion.ref.rnn`` / ``lstm`` / ``gru`` (forward pass and
   backpropagation through time by hand) against the same ``torch.nn`` layers, in float64.

Both sides of a row get the same input, the same weights and the same upstream gradient of the
output; the script checks that their outputs and gradients agree before it times anything. The two
sides alternate, call by call, so that a load that comes and goes on the machine reaches both; only
numpy and torch with more than one thread run in blocks, one after the other (see ``bench_numpy``).

Run from the repository root::

    .venv/bin/python benchmarks/bench_layers.py
    .venv/bin/python benchmarks/bench_layers.py --threads 2 --repeats 30 -H 128
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

# numpy's BLAS (OpenBLAS) sizes its thread pool once, when numpy is first imported: --threads reaches
# it through the environment, before the imports below; torch gets torch.set_num_threads in main().
_early = argparse.ArgumentParser(add_help=False)
_early.add_argument("--threads", type=int, default=1)
os.environ["OPENBLAS_NUM_THREADS"] = str(max(1, _early.parse_known_args()[0].threads))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import Tensor, nn  # noqa: E402

import companion.nn  # noqa: E402
from companion.ref import gru as ref_gru  # noqa: E402
from companion.ref import lstm as ref_lstm  # noqa: E402
from companion.ref import rnn as ref_rnn  # noqa: E402

LAYERS = ("RNN", "LSTM", "GRU")
DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class Timing:
    """Wall-clock times of one function over several repeats, in milliseconds."""

    median: float
    min: float


@dataclass(frozen=True)
class Row:
    """One line of a table: the two timings and the largest relative disagreement of the two sides."""

    layer: str
    torch: Timing
    other: Timing
    max_diff: float


def time_pair(
    first: Callable[[], object], second: Callable[[], object], warmup: int, repeats: int, alternate: bool
) -> tuple[Timing, Timing]:
    """Time ``first`` and ``second``: ``warmup`` untimed calls each, then ``repeats`` timed ones.

    With ``alternate`` the two take turns call by call, so that a load that comes and goes on the
    machine reaches both; without, each runs in one block (warm-up included) after the other.
    """
    times: tuple[list[float], list[float]] = ([], [])
    blocks = [(first, second)] if alternate else [(first,), (second,)]
    slots = [(0, 1)] if alternate else [(0,), (1,)]
    for fns, idx in zip(blocks, slots, strict=True):
        for _ in range(warmup):
            for fn in fns:
                fn()
        for _ in range(repeats):
            for fn, i in zip(fns, idx, strict=True):
                start = time.perf_counter()
                fn()
                times[i].append(1e3 * (time.perf_counter() - start))
    a, b = times
    return Timing(statistics.median(a), min(a)), Timing(statistics.median(b), min(b))


def torch_layer(name: str, D: int, H: int, dtype: torch.dtype, seed: int) -> nn.Module:
    """A single-layer, batch-first ``torch.nn`` layer, its weights drawn from ``seed``."""
    torch.manual_seed(seed)
    return getattr(nn, name)(D, H, batch_first=True, dtype=dtype)


def torch_fwd_bwd(layer: nn.Module, x: Tensor, dout: Tensor) -> Callable[[], tuple[Tensor, Tensor, Tensor]]:
    """One forward and one backward pass through ``layer``; returns output, input grad and ``W_hh`` grad."""

    def run() -> tuple[Tensor, Tensor, Tensor]:
        layer.zero_grad(set_to_none=True)
        x.grad = None
        out, _ = layer(x)
        out.backward(dout)
        assert x.grad is not None and layer.weight_hh_l0.grad is not None
        return out, x.grad, layer.weight_hh_l0.grad

    return run


def numpy_fwd_bwd(
    name: str, layer: nn.Module, x: np.ndarray, dout: np.ndarray
) -> Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The reference forward pass and BPTT with ``layer``'s weights; returns output, ``dx`` and ``W_hh`` grad.

    The numpy code stores weights as "inputs @ weights", the transpose of torch's layout, so the
    ``W_hh`` gradient it returns is compared with the transpose of torch's.
    """
    N, H = x.shape[0], layer.hidden_size
    h0 = np.zeros((N, H), dtype=x.dtype)
    params = layer.state_dict()
    if name == "RNN":
        Wx, Wh, b = ref_rnn.from_torch(params)

        def run_rnn() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            h, cache = ref_rnn.rnn_forward(x, h0, Wx, Wh, b)
            dx, _, _, dWh, _ = ref_rnn.rnn_backward(dout, cache)
            return h, dx, dWh.T

        return run_rnn
    if name == "LSTM":
        Wx, Wh, b = ref_lstm.from_torch(params)

        def run_lstm() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            h, cache = ref_lstm.lstm_forward(x, h0, h0, Wx, Wh, b)
            dx, _, _, _, dWh, _ = ref_lstm.lstm_backward(dout, cache)
            return h, dx, dWh.T

        return run_lstm
    Wx, Wh, bx, bh = ref_gru.from_torch(params)

    def run_gru() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        h, cache = ref_gru.gru_forward(x, h0, Wx, Wh, bx, bh)
        dx, _, _, dWh, _, _ = ref_gru.gru_backward(dout, cache)
        return h, dx, dWh.T

    return run_gru


def max_rel_diff(a: tuple[Tensor, ...], b: tuple[Tensor | np.ndarray, ...]) -> float:
    """Largest difference between corresponding arrays, each relative to the largest entry of ``a``'s."""
    diffs = []
    for x, y in zip(a, b, strict=True):
        u, v = x.detach(), torch.as_tensor(y).detach()
        diffs.append(float((u - v).abs().max() / u.abs().max().clamp_min(torch.finfo(u.dtype).tiny)))
    return max(diffs)


def check(layer: str, diff: float, dtype: torch.dtype) -> None:
    """Refuse to time two computations that do not agree."""
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    if not diff <= tol:
        raise RuntimeError(
            f"{layer}: outputs or gradients differ by {diff:.1e} relative (> {tol:.0e}); not timing it"
        )


def bench_companion(args: argparse.Namespace, dtype: torch.dtype) -> list[Row]:
    """Table 1: ``companion.nn`` layers against ``torch.nn``, with the same weights."""
    rows = []
    for i, name in enumerate(LAYERS):
        reference = torch_layer(name, args.D, args.H, dtype, seed=i)
        ours = getattr(companion.nn, name)(args.D, args.H, batch_first=True, dtype=dtype)
        ours.load_state_dict(reference.state_dict())
        gen = torch.Generator().manual_seed(100 + i)
        x = torch.randn(args.N, args.T, args.D, generator=gen, dtype=dtype, requires_grad=True)
        dout = torch.randn(args.N, args.T, args.H, generator=gen, dtype=dtype)
        run_torch, run_ours = torch_fwd_bwd(reference, x, dout), torch_fwd_bwd(ours, x, dout)
        diff = max_rel_diff(run_torch(), run_ours())
        check(name, diff, dtype)
        t_torch, t_ours = time_pair(run_torch, run_ours, args.warmup, args.repeats, alternate=True)
        rows.append(Row(name, t_torch, t_ours, diff))
    return rows


def bench_numpy(args: argparse.Namespace) -> list[Row]:
    """Table 2: the numpy reference (forward + hand-written BPTT) against ``torch.nn``, in float64."""
    rows = []
    for i, name in enumerate(LAYERS):
        reference = torch_layer(name, args.D, args.H, torch.float64, seed=i)
        rng = np.random.default_rng(200 + i)
        x_np = rng.standard_normal((args.N, args.T, args.D))
        dout_np = rng.standard_normal((args.N, args.T, args.H))
        x = torch.from_numpy(x_np.copy()).requires_grad_(True)
        run_torch = torch_fwd_bwd(reference, x, torch.from_numpy(dout_np))
        run_numpy = numpy_fwd_bwd(name, reference, x_np, dout_np)
        diff = max_rel_diff(run_torch(), run_numpy())
        check(name, diff, torch.float64)
        # With more than one thread, OpenBLAS's and torch's worker threads keep spinning for a while
        # after each call and take the cores from the other library's next call: time them in blocks.
        alternate = args.threads == 1
        t_torch, t_numpy = time_pair(run_torch, run_numpy, args.warmup, args.repeats, alternate)
        rows.append(Row(name, t_torch, t_numpy, diff))
    return rows


def _ms(value: float) -> str:
    """A time in ms, 8 characters wide, with two decimals below 10 ms and one above."""
    return f"{value:8.2f}" if value < 10 else f"{value:8.1f}"


def print_table(title: str, other: str, rows: list[Row]) -> None:
    """Print ``rows`` with times in ms and the ratio other/torch of medians and of minima."""
    print(f"\n{title}")
    head = (
        f"{'layer':<6} {'torch.nn ms':>17} {other + ' ms':>17} "
        f"{'ratio ' + other + '/torch':>22} {'rel. diff':>11}"
    )
    sub = f"{'':<6} {'median':>8} {'min':>8} {'median':>8} {'min':>8} {'median':>11} {'min':>10} {'':>11}"
    print(head)
    print(sub)
    print("-" * len(sub))
    for r in rows:
        print(
            f"{r.layer:<6} {_ms(r.torch.median)} {_ms(r.torch.min)} {_ms(r.other.median)} {_ms(r.other.min)} "
            f"{r.other.median / r.torch.median:11.2f} {r.other.min / r.torch.min:10.2f} {r.max_diff:11.1e}"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; the defaults run in well under two minutes on two cores."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-N", type=int, default=32, help="batch size (default 32)")
    p.add_argument("-T", type=int, default=100, help="sequence length (default 100)")
    p.add_argument("-D", type=int, default=64, help="input features (default 64)")
    p.add_argument("-H", type=int, default=256, help="hidden units (default 256)")
    p.add_argument(
        "--threads", type=int, default=1, help="torch and OpenBLAS threads (default 1: see README.md)"
    )
    p.add_argument("--repeats", type=int, default=15, help="timed repeats per side (default 15)")
    p.add_argument("--warmup", type=int, default=3, help="untimed calls per side first (default 3)")
    p.add_argument(
        "--dtype", choices=sorted(DTYPES), default="float32", help="dtype of table 1 (default float32)"
    )
    p.add_argument("--skip-numpy", action="store_true", help="leave out table 2 (numpy reference)")
    args = p.parse_args(argv)
    for name in ("N", "T", "D", "H", "threads", "repeats"):
        if getattr(args, name) < 1:
            p.error(f"{'-' if len(name) == 1 else '--'}{name} must be at least 1")
    if args.warmup < 0:
        p.error("--warmup must be at least 0")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    flushed = torch.set_flush_denormal(True)  # subnormal floats in a vanishing backward pass are slow
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"torch {torch.__version__}, numpy {np.__version__}, Python {platform.python_version()}")
    print(
        f"threads: torch {torch.get_num_threads()}, OpenBLAS {os.environ['OPENBLAS_NUM_THREADS']}; "
        f"CPUs: {os.cpu_count()} ({affinity} usable); flush denormals: {'on' if flushed else 'unsupported'}"
    )
    print(
        f"N={args.N}, T={args.T}, D={args.D}, H={args.H}; forward + backward, batch first; "
        f"{args.warmup} warm-up + {args.repeats} timed calls per side, "
        f"{'alternating' if args.threads == 1 else 'alternating in table 1, in blocks in table 2'}"
    )
    dtype = DTYPES[args.dtype]
    start = time.perf_counter()
    rows = bench_companion(args, dtype)
    print_table(f"companion.nn vs torch.nn ({args.dtype})", "companion", rows)
    if not args.skip_numpy:
        rows = bench_numpy(args)
        print_table("companion.ref (numpy, BPTT by hand) vs torch.nn (float64)", "numpy", rows)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
