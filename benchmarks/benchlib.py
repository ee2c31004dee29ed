"""Timing, machine description and Markdown tables shared by the benchmark scripts.

numpy's BLAS sizes its thread pool once, when numpy is first imported: a script calls
:func:`set_thread_variables` before it imports numpy or torch. This module imports torch only
inside the functions that need it, so importing it first is safe.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

#: Environment variables that size the thread pools of numpy's BLAS (OpenBLAS, MKL) and of OpenMP.
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def set_thread_variables(threads: int) -> None:
    """Set the thread variables in the environment; only effective before numpy is imported."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)


#: glibc's ``mallopt`` parameters (``<malloc.h>``) and the value :func:`keep_freed_memory` gives both.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, KEEP_BYTES = -1, -3, 1 << 30


def keep_freed_memory() -> str:
    """Make glibc's allocator keep freed memory in the process, for every allocation up to 1 GiB.

    By default glibc serves large allocations with fresh pages from the operating system (``mmap``)
    and returns freed memory above a threshold that adapts to the process's history; each fresh page
    then costs a page fault when first written. A layer that allocates tens of megabytes per call pays
    thousands of them or none, depending on what the process did before (``torch.nn.LSTM`` ran at two
    speeds, a fifth apart, for that reason). Raising ``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD``
    serves every allocation from memory the process keeps, so that after warm-up neither side pays
    page faults. Forked children inherit the setting. Returns a description for the results table
    (what was set, or why nothing was).
    """
    import ctypes
    import ctypes.util

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return "default (not glibc: left as it is)"
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        done = all(libc.mallopt(name, KEEP_BYTES) == 1 for name in (M_MMAP_THRESHOLD, M_TRIM_THRESHOLD))
    except (OSError, AttributeError) as error:
        return f"default (mallopt unavailable: {error})"
    if not done:
        return "default (glibc refused the mallopt settings)"
    return (
        "glibc keeps freed memory (`mallopt`: `M_MMAP_THRESHOLD` and `M_TRIM_THRESHOLD` 1 GiB), "
        "so no page faults after warm-up"
    )


@dataclass(frozen=True)
class Timing:
    """Wall-clock times of one function over ``count`` timed calls, in milliseconds."""

    median: float
    min: float
    count: int


CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}


def time_alternating(
    fns: Sequence[Callable[[], object]],
    warmup: int,
    repeats: int,
    alternate: bool = True,
    clock: str = "wall",
    isolate: bool = False,
    rounds: int = 3,
) -> list[Timing]:
    """Time each function of ``fns``: ``warmup`` untimed calls each, then ``repeats`` timed ones.

    ``clock="wall"`` measures elapsed time; ``clock="cpu"`` the calling thread's CPU time
    (``time.thread_time``), which leaves out the time the thread waits while other programs run: the
    steadier measure on a busy machine, and a complete one only for single-threaded work.

    With ``alternate`` the functions take turns call by call (``a b c a b c ...``), so that a load
    that comes and goes on the machine reaches all of them alike; without, each runs in one block
    (its warm-up included) after the other.

    With ``isolate`` each function runs in processes of its own, forked from this one: in ``rounds``
    rounds, each function in turn gets a fresh copy of the process, its ``warmup`` calls and its
    share of the ``repeats``. Functions then share nothing at run time: in one process, memory that
    one library frees and another reuses makes a function's speed depend on what ran before it
    (``torch.nn.LSTM`` ran about 25 % faster right after calls that freed large buffers). Needs
    ``os.fork`` (Linux, macOS).

    Returns
    -------
    list of Timing
        One per function, in the order of ``fns``.
    """
    if clock not in CLOCKS:
        raise ValueError(f"time_alternating: expected clock in {sorted(CLOCKS)}, got {clock!r}")
    if isolate:
        return _time_isolated(fns, warmup, repeats, clock, rounds)
    now = CLOCKS[clock]
    times: list[list[float]] = [[] for _ in fns]
    groups = [list(range(len(fns)))] if alternate else [[i] for i in range(len(fns))]
    for group in groups:
        for _ in range(warmup):
            for i in group:
                fns[i]()
        for _ in range(repeats):
            for i in group:
                start = now()
                fns[i]()
                times[i].append(1e3 * (now() - start))
    return [Timing(statistics.median(t), min(t), len(t)) for t in times]


def _time_isolated(fns, warmup: int, repeats: int, clock: str, rounds: int) -> list[Timing]:
    """:func:`time_alternating` with every function in forked processes of its own."""
    if not hasattr(os, "fork"):
        raise RuntimeError("time_alternating(isolate=True) needs os.fork, which this platform lacks")
    rounds = max(1, min(rounds, repeats))
    shares = [repeats // rounds + (r < repeats % rounds) for r in range(rounds)]
    times: list[list[float]] = [[] for _ in fns]
    for share in shares:
        for i, fn in enumerate(fns):
            times[i] += _in_child(fn, warmup, share, CLOCKS[clock])
    return [Timing(statistics.median(t), min(t), len(t)) for t in times]


def _in_child(fn: Callable[[], object], warmup: int, calls: int, now: Callable[[], float]) -> list[float]:
    """Run ``fn`` in a forked child: ``warmup`` untimed calls, then ``calls`` timed ones (ms)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: time, report through the pipe, and leave without cleaning up
        os.close(read)
        code = 0
        try:
            for _ in range(warmup):
                fn()
            found = []
            for _ in range(calls):
                start = now()
                fn()
                found.append(1e3 * (now() - start))
            message = json.dumps(found)
        except BaseException as error:  # noqa: BLE001 - report any failure to the parent
            message, code = json.dumps({"error": repr(error)}), 1
        with os.fdopen(write, "w") as pipe:
            pipe.write(message)
        os._exit(code)
    os.close(write)
    with os.fdopen(read) as pipe:
        message = pipe.read()
    os.waitpid(pid, 0)
    found = json.loads(message)
    if isinstance(found, dict):
        raise RuntimeError(f"a timed function failed in its process: {found['error']}")
    return found


def matmul_peak(
    dtype: torch.dtype, size: int = 1024, warmup: int = 3, repeats: int = 15, clock: str = "wall"
) -> float:
    """Median GFLOP/s of ``torch.mm`` on two ``size`` x ``size`` matrices (2·size³ flops a call),
    timed with ``clock`` as in :func:`time_alternating`."""
    import torch

    gen = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=gen, dtype=dtype)
    b = torch.randn(size, size, generator=gen, dtype=dtype)
    out = torch.empty(size, size, dtype=dtype)
    (timing,) = time_alternating([lambda: torch.mm(a, b, out=out)], warmup, repeats, clock=clock)
    return 2 * size**3 / (timing.median * 1e-3) / 1e9


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (Linux), else what :mod:`platform` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine_rows(numpy_version: str, flush: bool | None) -> list[tuple[str, str]]:
    """Where and how the measurement ran, as (name, value) rows for a two-column table."""
    import torch

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"
    env = ", ".join(f"`{name}={os.environ.get(name, 'unset')}`" for name in THREAD_VARIABLES)
    if flush is None:
        flushing = "unsupported on this CPU (`torch.set_flush_denormal(True)` returned False)"
    else:
        flushing = "on (`torch.set_flush_denormal(True)`)" if flush else "off"
    return [
        ("date", datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")),
        ("platform", platform.platform()),
        ("CPU", f"{cpu_model()}; {os.cpu_count()} logical CPUs, {usable} usable"),
        ("load average (1, 5, 15 min) at start", load),
        ("Python, torch, numpy", f"{platform.python_version()}, {torch.__version__}, {numpy_version}"),
        (
            "threads",
            f"torch {torch.get_num_threads()} intra-op, {torch.get_num_interop_threads()} inter-op; {env}",
        ),
        ("flush denormals to zero", flushing),
    ]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1) -> str:
    """A GitHub/MyST pipe table; columns from ``numeric_from`` on are right-aligned."""
    align = ["---" if i < numeric_from else "--:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"markdown_table: expected {len(header)} cells, got {len(row)}: {row}")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def ms(value: float) -> str:
    """A time in ms with three significant digits (at least one decimal below 100 ms)."""
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def gflops(flops: float, milliseconds: float, peak: float) -> str:
    """Achieved GFLOP/s and its share of ``peak`` (GFLOP/s), e.g. ``12.3 (6.1%)``."""
    rate = flops / (milliseconds * 1e-3) / 1e9
    share = 100 * rate / peak
    rate_text = f"{rate:.0f}" if rate >= 100 else f"{rate:.3g}"
    return f"{rate_text} ({share:.0f}%)" if share >= 10 else f"{rate_text} ({share:.2g}%)"
