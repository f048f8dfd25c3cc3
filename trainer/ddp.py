"""Data-parallel training through PyTorch's own DDP: under torchrun, or N local processes.

``torchrun --nproc-per-node N -m cli.train ...`` sets RANK / WORLD_SIZE / MASTER_ADDR and each
process calls :func:`distributed_from_environment`; ``train --ddp N`` calls :func:`launch`,
which starts N processes on this machine (gloo on CPU, NCCL on GPUs) talking over loopback.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from trainer.config import TrainConfig
from trainer.errors import TrainError
from trainer.results import read_rows
from trainer.run import RunOutcome, new_run_id, run_training


def _backend() -> str:
    return "nccl" if torch.cuda.is_available() and dist.is_nccl_available() else "gloo"


@contextlib.contextmanager
def distributed_from_environment() -> Iterator[bool]:
    """Join the process group torchrun describes in the environment (yields True), or do nothing."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        yield False
        return
    dist.init_process_group(_backend())
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    try:
        yield True
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _worker(rank: int, world: int, port: int, config: TrainConfig, run_id: str) -> None:
    os.environ.update(
        {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "RANK": str(rank),
            "WORLD_SIZE": str(world),
            "LOCAL_RANK": str(rank),
        }
    )
    if config.threads is None:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    dist.init_process_group(_backend(), rank=rank, world_size=world)
    if torch.cuda.is_available():
        torch.cuda.set_device(rank % torch.cuda.device_count())
    try:
        run_training(config, run_id=run_id)
    finally:
        dist.destroy_process_group()


def launch(config: TrainConfig, world: int) -> RunOutcome:
    """Train with ``world`` local processes; returns rank 0's outcome (read from results.csv)."""
    if world < 2:
        raise TrainError(f"--ddp needs at least 2 processes, got {world}")
    config.validate()
    run_id = new_run_id(config)
    try:
        mp.spawn(_worker, args=(world, _free_port(), config, run_id), nprocs=world, join=True)
    except mp.ProcessRaisedException as error:
        last = [line for line in str(error).strip().splitlines() if line.strip()][-1]
        raise TrainError(f"a DDP process failed: {last.strip()}") from None
    rows = [row for row in read_rows(config.out) if row["run_id"] == run_id]
    if not rows:
        raise TrainError(f"the DDP run {run_id} finished without a results row")
    return RunOutcome(run_id, config.out / run_id, rows[-1])
