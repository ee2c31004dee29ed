"""Time the companion's recurrent layers and numpy references against ``torch.nn``, side by side.

Five tables, all on the CPU, all with the same weights and data on both sides of a row:

1. a full training step (forward, a ``Linear`` readout of the last output, MSE loss, backward,
   ``Adam.step``) at the book's small training sizes, ``companion.nn`` against ``torch.nn``;
2. one forward and one backward pass at a larger size, ``companion.nn`` against ``torch.nn``;
3. one time step at a time under ``torch.no_grad``, as in generation, ``companion.nn`` against
   ``torch.nn``;
4. the numpy references (``companion.ref``: forward pass and BPTT by hand) against ``torch.nn``,
   in float32 and in float64 (reported, not targeted: the references are written for reading);
5. the slowdown of a backward pass that runs on subnormal floats once gradients vanish, with
   flush-to-zero off and on.

Each row checks that its sides agree (outputs and gradients) before it times them. The sides
alternate call by call, so that a load that comes and goes on the machine reaches both; tables give
medians after warm-up calls. The script prints the results as Markdown and writes them to
``benchmarks/results.md`` (``--output``), which the book's Performance page includes.

Run from the repository root::

    .venv/bin/python benchmarks/bench_layers.py            # the full run (several minutes)
    .venv/bin/python benchmarks/bench_layers.py --quick    # a smoke run (fewer calls)
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchlib import set_thread_variables

# numpy's BLAS sizes its thread pool when numpy is first imported: set it before the imports below.
_early = argparse.ArgumentParser(add_help=False)
_early.add_argument("--threads", type=int, default=1)
set_thread_variables(max(1, _early.parse_known_args()[0].threads))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from benchlib import (  # noqa: E402
    gflops,
    keep_freed_memory,
    machine_rows,
    markdown_table,
    matmul_peak,
    ms,
    time_alternating,
)
from workloads import (  # noqa: E402
    Sizes,
    Stack,
    adam_step,
    fwd_bwd,
    generation_steps,
    layer_pair,
    matmul_flops,
    max_rel_diff,
    numpy_fwd_bwd,
    subnormal_share,
)

from companion.train import Readout  # noqa: E402

CELLS = ("RNN", "LSTM", "GRU")
DTYPES = {"float32": torch.float32, "float64": torch.float64}
TOLERANCE = {torch.float32: 2e-5, torch.float64: 1e-12}
RESULTS = Path(__file__).resolve().parent / "results.md"


def check(what: str, diff: float, dtype: torch.dtype) -> str:
    """Refuse to time two computations that disagree; return the difference formatted."""
    if not diff <= TOLERANCE[dtype]:
        raise RuntimeError(f"{what}: the two sides differ by {diff:.1e} relative (> {TOLERANCE[dtype]:.0e})")
    return f"{diff:.0e}"


def progress(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)


def section_training(args: argparse.Namespace, peak: float) -> str:
    """Table 1: full Adam training steps at the book's small sizes, companion.nn vs torch.nn."""
    sizes, rows = args.small, []
    for stack in args.stacks:
        for i, cell in enumerate(CELLS):
            for T in args.T:
                progress(f"training step: {cell} {stack} T={T}")
                reference, ours = layer_pair(cell, stack, sizes, torch.float32, seed=i)
                models = [Readout(reference, 1), Readout(ours, 1)]
                models[1].head.load_state_dict(models[0].head.state_dict())
                gen = torch.Generator().manual_seed(100 + i)
                x = torch.randn(sizes.N, T, sizes.D, generator=gen)
                y = torch.randn(sizes.N, 1, generator=gen)
                (step_t, grads_t), (step_o, grads_o) = (adam_step(m, x, y) for m in models)
                diff = check(f"{cell} {stack} T={T}", max_rel_diff(grads_t(), grads_o()), torch.float32)
                t_torch, t_ours = time_alternating(
                    [step_t, step_o], args.warmup, args.repeats, clock=args.clock, isolate=args.isolate
                )
                flops = matmul_flops(cell, stack, sizes, T)
                rows.append(_pair_row(cell, stack, T, t_torch.median, t_ours.median, flops, peak, diff))
    return (
        f"## Training steps at the book's sizes\n\n"
        f"One training step in float32: forward pass, `Linear` readout of the last output, MSE loss, "
        f"backward pass, `torch.optim.Adam` step; {sizes} (D input features, H hidden units).\n\n"
        + markdown_table(_PAIR_HEADER, rows, numeric_from=3)
    )


_PAIR_HEADER = (
    "cell",
    "layers",
    "T",
    "torch.nn ms",
    "companion ms",
    "companion / torch",
    "torch.nn GFLOP/s (% peak)",
    "companion GFLOP/s (% peak)",
    "max rel. diff",
)


def _pair_row(cell, stack, T, t_torch, t_ours, flops, peak, diff) -> list[str]:
    return [
        cell,
        str(stack),
        str(T),
        ms(t_torch),
        ms(t_ours),
        f"{t_ours / t_torch:.2f}",
        gflops(flops, t_torch, peak),
        gflops(flops, t_ours, peak),
        diff,
    ]


def section_fwd_bwd(args: argparse.Namespace, peak: float) -> str:
    """Table 2: forward and backward passes at a larger size, companion.nn vs torch.nn."""
    sizes, rows = args.large, []
    for stack in args.stacks:
        for i, cell in enumerate(CELLS):
            for T in args.T:
                progress(f"forward + backward: {cell} {stack} T={T}")
                layers = layer_pair(cell, stack, sizes, torch.float32, seed=i)
                gen = torch.Generator().manual_seed(200 + i)
                x = torch.randn(sizes.N, T, sizes.D, generator=gen, requires_grad=True)
                dirs = 2 if stack.bidirectional else 1
                dout = torch.randn(sizes.N, T, dirs * sizes.H, generator=gen)
                run_t, run_o = (fwd_bwd(layer, x, dout) for layer in layers)
                diff = check(f"{cell} {stack} T={T}", max_rel_diff(run_t(), run_o()), torch.float32)
                t_torch, t_ours = time_alternating(
                    [run_t, run_o], args.warmup, args.repeats, clock=args.clock, isolate=args.isolate
                )
                flops = matmul_flops(cell, stack, sizes, T)
                rows.append(_pair_row(cell, stack, T, t_torch.median, t_ours.median, flops, peak, diff))
    return (
        f"## Forward and backward passes\n\n"
        f"One forward and one backward pass in float32 (gradients of the input and of every weight), "
        f"with a random upstream gradient at every output; {sizes}.\n\n"
        + markdown_table(_PAIR_HEADER, rows, numeric_from=3)
    )


GENERATED = 100  # time steps per timed call of the generation table


def section_generation(args: argparse.Namespace) -> str:
    """Table 3: one time step at a time under no_grad (generation), companion.nn vs torch.nn."""
    sizes, rows = Sizes(1, args.large.D, args.large.H), []
    for layers in (1, 2):
        stack = Stack(layers, False)
        for i, cell in enumerate(CELLS):
            progress(f"generation: {cell} {stack}")
            pair = layer_pair(cell, stack, sizes, torch.float32, seed=i)
            x = torch.randn(1, 1, sizes.D, generator=torch.Generator().manual_seed(400 + i))
            run_t, run_o = (generation_steps(layer, x, GENERATED) for layer in pair)
            diff = check(f"generation {cell} {stack}", max_rel_diff((run_t(),), (run_o(),)), torch.float32)
            t_torch, t_ours = time_alternating(
                [run_t, run_o], args.warmup, args.repeats, clock=args.clock, isolate=args.isolate
            )
            per_step = [1000 * t.median / GENERATED for t in (t_torch, t_ours)]  # µs
            ratio = f"{per_step[1] / per_step[0]:.2f}"
            rows.append([cell, str(stack), *(f"{us:.0f}" for us in per_step), ratio, diff])
    header = ("cell", "layers", "torch.nn µs", "companion µs", "companion / torch", "max rel. diff")
    return (
        f"## One step at a time\n\n"
        f"Generating a sequence calls the layer on one time step, under `torch.no_grad`, with the state "
        f"of the previous call: the time per step, over {GENERATED} steps in float32; {sizes}, "
        f"unidirectional layers.\n\n" + markdown_table(header, rows, numeric_from=2)
    )


def section_numpy(args: argparse.Namespace, peaks: dict[torch.dtype, float]) -> str:
    """Table 4: the numpy references (BPTT by hand) against torch.nn, in float32 and float64."""
    sizes, T, rows = args.large, args.numpy_T, []
    alternate = args.threads == 1  # with more threads, one library's spinning workers slow the other
    for name, dtype in DTYPES.items():
        for i, cell in enumerate(CELLS):
            progress(f"numpy: {cell} {name} T={T}")
            reference, _ = layer_pair(cell, Stack(1, False), sizes, dtype, seed=i)
            rng = np.random.default_rng(300 + i)
            x_np = rng.standard_normal((sizes.N, T, sizes.D)).astype(name)
            dout_np = rng.standard_normal((sizes.N, T, sizes.H)).astype(name)
            x = torch.from_numpy(x_np.copy()).requires_grad_(True)
            run_torch = fwd_bwd(reference, x, torch.from_numpy(dout_np))
            run_numpy = numpy_fwd_bwd(cell, reference, x_np, dout_np)
            out, dx, _, dW_hh, *_ = run_torch()
            diff = check(f"numpy {cell} {name}", max_rel_diff((out, dx, dW_hh), run_numpy()), dtype)
            t_torch, t_numpy = time_alternating(
                [run_torch, run_numpy],
                args.warmup,
                args.repeats,
                alternate,
                clock=args.clock,
                isolate=args.isolate,
            )
            flops = matmul_flops(cell, Stack(1, False), sizes, T)
            rows.append(
                [
                    cell,
                    name,
                    ms(t_torch.median),
                    ms(t_numpy.median),
                    f"{t_numpy.median / t_torch.median:.2f}",
                    gflops(flops, t_torch.median, peaks[dtype]),
                    gflops(flops, t_numpy.median, peaks[dtype]),
                    diff,
                ]
            )
    header = ("cell", "dtype", "torch.nn ms", "numpy ms", "numpy / torch", "torch.nn GFLOP/s (% peak)")
    header += ("numpy GFLOP/s (% peak)", "max rel. diff")
    return (
        f"## numpy references against torch.nn\n\n"
        f"`companion.ref` forward pass and backpropagation through time by hand "
        f"(`rnn_forward` + `rnn_backward`, and the same for the LSTM and GRU) against a single-layer "
        f"`torch.nn` layer in the same dtype; {sizes}, T={T}; the percentages are of the peak in "
        f"that dtype.\n\n" + markdown_table(header, rows, numeric_from=2)
    )


def _flushing(flush: bool, run: Callable) -> Callable:
    def call():
        torch.set_flush_denormal(flush)
        return run()

    return call


def section_denormals(args: argparse.Namespace) -> str:
    """Table 5: backward passes on subnormal floats, flush-to-zero off against on."""
    sizes, T, rows = args.large, args.denormal_T, []
    for i, cell in enumerate(("RNN", "LSTM")):
        layers = layer_pair(cell, Stack(1, False), sizes, torch.float32, seed=i)
        gen = torch.Generator().manual_seed(400 + i)
        x = torch.randn(sizes.N, T, sizes.D, generator=gen, requires_grad=True)
        dout = torch.zeros(sizes.N, T, sizes.H)
        dout[:, -1] = torch.randn(sizes.N, sizes.H, generator=gen)  # a loss on the last output only
        runs = {
            "torch.nn": fwd_bwd(layers[0], x, dout),
            "companion.nn": fwd_bwd(layers[1], x, dout),
            "companion.ref (numpy)": numpy_fwd_bwd(cell, layers[0], x.detach().numpy(), dout.numpy()),
        }
        for code, run in runs.items():
            progress(f"denormals: {cell} {code} T={T}")
            subnormal, zero = subnormal_share(_flushing(False, run)()[1])
            off, on = time_alternating(
                [_flushing(False, run), _flushing(True, run)],
                args.denormal_warmup,
                args.denormal_repeats,
                clock=args.clock,
            )
            rows.append(
                [cell, code, ms(off.median), ms(on.median), f"{off.median / on.median:.1f}"]
                + [f"{100 * subnormal:.1f}%", f"{100 * zero:.1f}%"]
            )
    torch.set_flush_denormal(True)
    header = ("cell", "code", "flush off ms", "flush on ms", "slowdown", "dL/dx subnormal", "dL/dx zero")
    return (
        f"## Subnormal floats once gradients vanish\n\n"
        f"One forward and one backward pass in float32 with a loss on the last output only, default "
        f"initialisation, {sizes}, T={T}: the gradient reaching early steps shrinks through the "
        f"subnormal range (below {torch.finfo(torch.float32).tiny:.1e}) on its way to zero. Flush-to-zero "
        f"(`torch.set_flush_denormal`) is switched off and on call by call; it sets the CPU thread's "
        f"mode, so it applies to numpy code in that thread as well. The last two columns are the "
        f"shares of entries of the input gradient that are subnormal and exactly zero without flushing.\n\n"
        + markdown_table(header, rows, numeric_from=2)
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 1 warm-up and 3 timed calls per side")
    p.add_argument("--threads", type=int, default=1, help="torch and BLAS threads (default 1)")
    p.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="wall: elapsed time (default); cpu: the thread's CPU time, steadier when busy (1 thread)",
    )
    p.add_argument(
        "--shared-process",
        dest="isolate",
        action="store_false",
        help="time both sides in this process (default: each side in processes of its own, forked)",
    )
    p.add_argument(
        "--malloc",
        choices=["keep", "default"],
        default="keep",
        help="keep: glibc keeps freed memory, so that neither side pays page faults (default); "
        "default: the allocator as a process starts",
    )
    p.add_argument("--repeats", type=int, help="timed calls per side (default 11, --quick 3)")
    p.add_argument("--warmup", type=int, help="untimed calls per side first (default 2, --quick 1)")
    p.add_argument("-T", type=_ints, default=(100, 400), help="sequence lengths (default 100,400)")
    p.add_argument("--stacks", type=_stacks, default=(Stack(1, False), Stack(2, True)), help=_STACKS_HELP)
    p.add_argument("--small", type=_sizes, default=Sizes(64, 2, 32), help="training sizes N,D,H (64,2,32)")
    p.add_argument("--large", type=_sizes, default=Sizes(32, 64, 256), help="larger sizes N,D,H (32,64,256)")
    p.add_argument("--numpy-T", type=int, default=100, help="sequence length of the numpy table (100)")
    p.add_argument("--denormal-T", type=int, default=400, help="sequence length of the denormal table (400)")
    p.add_argument(
        "--skip", nargs="*", default=[], choices=["training", "fwd-bwd", "generation", "numpy", "denormals"]
    )
    p.add_argument("--output", type=Path, default=RESULTS, help=f"Markdown file to write (default {RESULTS})")
    args = p.parse_args(argv)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    args.repeats = args.repeats if args.repeats is not None else (3 if args.quick else 11)
    args.denormal_warmup, args.denormal_repeats = (1, 2) if args.quick else (1, 5)
    if args.threads < 1 or args.repeats < 1 or args.warmup < 0:
        p.error("--threads and --repeats must be at least 1, --warmup at least 0")
    if args.clock == "cpu" and args.threads != 1:
        p.error("--clock cpu measures one thread: use it with --threads 1")
    return args


_STACKS_HELP = "layer stacks: 1 = one layer, 2b = two bidirectional layers, ... (default 1,2b)"


def _ints(text: str) -> tuple[int, ...]:
    values = tuple(int(v) for v in text.split(","))
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas, got {text!r}")
    return values


def _sizes(text: str) -> Sizes:
    return Sizes(*_ints(text))


def _stacks(text: str) -> tuple[Stack, ...]:
    return tuple(Stack(int(s.rstrip("b")), s.endswith("b")) for s in text.split(","))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(args.threads)
    flush = torch.set_flush_denormal(True)  # subnormal floats in a vanishing backward pass are slow
    allocator = keep_freed_memory() if args.malloc == "keep" else "default (`--malloc default`)"
    start = time.perf_counter()
    progress("matmul peak")
    peaks = {
        dtype: matmul_peak(dtype, repeats=5 if args.quick else 15, clock=args.clock)
        for dtype in DTYPES.values()
    }
    command = "python benchmarks/bench_layers.py" + "".join(f" {a}" for a in (argv or sys.argv[1:]))
    calls = f"{args.warmup} warm-up and {args.repeats} timed calls per side"
    blocks = "" if args.threads == 1 else " (numpy table: each side in a block of its own)"
    head = [
        "# Benchmark results\n",
        f"Produced by `{command}`" + (" (a quick run: few calls, indicative only)." if args.quick else "."),
        "",
        markdown_table(
            ("setting", "value"),
            machine_rows(np.__version__, flush if flush else None)
            + [
                (
                    "matmul peak (`torch.mm`, 1024 x 1024)",
                    ", ".join(f"{n} {peaks[d]:.0f} GFLOP/s" for n, d in DTYPES.items()),
                ),
                (
                    "timing",
                    f"medians of {calls}, the sides alternating process by process, "
                    "each process with its own warm-up"
                    if args.isolate
                    else f"medians of {calls}, the sides alternating call by call{blocks}",
                ),
                ("clock", "the thread's CPU time" if args.clock == "cpu" else "elapsed (wall) time"),
                ("memory allocator", allocator),
                (
                    "processes",
                    "each side of a row in processes of its own, forked in 3 rounds (denormal table: shared)"
                    if args.isolate
                    else "both sides in one process",
                ),
            ],
            numeric_from=2,
        ),
    ]
    print("\n".join(head), flush=True)
    sections = {
        "training": lambda: section_training(args, peaks[torch.float32]),
        "fwd-bwd": lambda: section_fwd_bwd(args, peaks[torch.float32]),
        "generation": lambda: section_generation(args),
        "numpy": lambda: section_numpy(args, peaks),
        "denormals": lambda: section_denormals(args),
    }
    parts = ["\n".join(head)]
    for name, make in sections.items():
        if name not in args.skip:
            parts.append(make())
            print("\n" + parts[-1], flush=True)
    parts.append(f"Total time of the run: {time.perf_counter() - start:.0f} s.")
    print("\n" + parts[-1])
    args.output.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    progress(f"wrote {args.output}")


if __name__ == "__main__":
    main()
