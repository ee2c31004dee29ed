"""companion.nn and companion.train.loop.fit under DistributedDataParallel.

Two CPU processes (gloo backend, loopback only) each train the same small model, a
``companion.nn.LSTM`` with a linear readout, on one half of every batch; DDP averages their
gradients. After a few clipped SGD steps both processes hold exactly the parameters that one process
reaches by training on the whole batches, and record the same gradient norms.
"""

import datetime
import os
import socket
import time

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

import companion.nn
from companion.train import Readout, fit

WORLD, N, T, D, H, STEPS = 2, 8, 6, 3, 5, 4
LR, CLIP = 0.5, 1.0
DTYPE = torch.float64
TIMEOUT_S = 60  # the whole test; a hung collective fails it instead of blocking the test run


def make_model() -> Readout:
    """The same model in every process: weights drawn from a local generator, not the global one."""
    model = Readout(companion.nn.LSTM(D, H, batch_first=True, dtype=DTYPE), 1)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.rand(p.shape, generator=gen, dtype=DTYPE) - 0.5)
    return model


def make_batches() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(STEPS, N, T, D, generator=gen, dtype=DTYPE)  # one batch (N, T, D) per step
    y = torch.randn(STEPS, N, 1, generator=gen, dtype=DTYPE)
    return x, y


def train(model, rows: slice) -> list[float]:
    """SGD with gradient clipping through fit(), on ``rows`` of every batch; returns the gradient norms."""
    x, y = make_batches()
    history = fit(
        model,
        lambda m, b: F.mse_loss(m(b[0]), b[1]),
        lambda step: (x[step, rows], y[step, rows]),
        torch.optim.SGD(model.parameters(), lr=LR),
        STEPS,
        clip_norm=CLIP,
        progress=False,
    )
    return history.grad_norm


def worker(rank: int, port: int, out_dir: str) -> None:
    """One process of the distributed run: train on its half of every batch, save the result."""
    torch.set_num_threads(1)
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD, timeout=datetime.timedelta(seconds=30))
    try:
        model = DistributedDataParallel(make_model())
        half = N // WORLD
        norms = train(model, slice(rank * half, (rank + 1) * half))
        torch.save({"params": model.module.state_dict(), "grad_norm": norms}, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_distributed(out_dir: str) -> None:
    """Start WORLD worker processes and wait for them, killing them all after TIMEOUT_S seconds."""
    context = mp.start_processes(
        worker, args=(free_port(), out_dir), nprocs=WORLD, join=False, start_method="spawn"
    )
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while not context.join(timeout=1):  # raises if a worker failed
            if time.monotonic() > deadline:
                pytest.fail(f"distributed training did not finish within {TIMEOUT_S} s")
    finally:
        for process in context.processes:
            if process.is_alive():
                process.kill()
                process.join()


@pytest.mark.skipif(not dist.is_available(), reason="this torch build has no torch.distributed")
def test_ddp_on_two_halves_equals_one_process_on_the_whole_batch(tmp_path):
    run_distributed(str(tmp_path))
    results = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]

    single = make_model()
    norms = train(single, slice(None))

    initial = make_model().state_dict()
    expected = single.state_dict()
    assert any(not torch.equal(initial[k], expected[k]) for k in expected)  # training moved the weights
    assert max(norms) > CLIP  # clipping was active, and has to agree across processes
    for result in results:
        assert result["params"].keys() == expected.keys()
        for name, value in expected.items():
            torch.testing.assert_close(result["params"][name], value, rtol=1e-12, atol=1e-12, msg=name)
        torch.testing.assert_close(result["grad_norm"], norms, rtol=1e-12, atol=0)
