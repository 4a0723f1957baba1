"""The process group of a data-parallel run: joining it, and the few collectives the loop uses.

A process belongs to a distributed run when the environment says so, as ``torchrun`` and
``mlpkit train --nproc N`` set it (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``,
``MASTER_ADDR``, ``MASTER_PORT``), or when the user has called
``torch.distributed.init_process_group`` already. ``join`` returns that run's ``Group`` (None for
an ordinary single-process run); gloo on CPUs, NCCL on CUDA devices.

Every collective has the group's timeout: a rank that dies or hangs ends the others' waits with
an error instead of a hang, and ``monitored_barrier`` at epoch ends names the rank missing.
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..errors import ConfigError, DistributedError

log = logging.getLogger(__name__)

# What torchrun (and ``mlpkit train --nproc``) sets for each process.
ENVIRONMENT = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def launched() -> bool:
    """Whether this process was started as one rank of a distributed run (of two or more)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def rank_in_environment() -> int:
    """This process's rank as the launcher set it (0 outside a distributed run)."""
    return int(os.environ.get("RANK", "0"))


def main_process() -> bool:
    """Whether this process writes the run's files and terminal output: rank 0, or the only one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return rank_in_environment() == 0


@dataclass(frozen=True)
class Group:
    """The ranks of one data-parallel run. ``rank`` 0 is the one that writes."""

    rank: int
    world_size: int
    local_world_size: int
    backend: str
    timeout: float  # seconds

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def device(self) -> torch.device:
        """Where this rank's collectives take their tensors (NCCL: its CUDA device)."""
        return (
            torch.device("cuda", torch.cuda.current_device())
            if self.backend == "nccl"
            else (torch.device("cpu"))
        )

    def threads_per_rank(self) -> int:
        """CPU threads for each rank when the user set none: this machine's cores shared out."""
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            cores = os.cpu_count() or 1
        return max(1, cores // self.local_world_size)

    def part(self, rows: int) -> slice:
        """This rank's contiguous share of ``rows`` rows; shares differ by at most one row.

        >>> Group(1, 2, 2, "gloo", 60.0).part(5)
        slice(3, 5, None)
        """
        base, extra = divmod(rows, self.world_size)
        start = self.rank * base + min(self.rank, extra)
        return slice(start, start + base + (self.rank < extra))

    # -- collectives ---------------------------------------------------------------------------
    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """The element-wise sum over ranks (in place, also returned)."""
        with self.contact("summing a result"):
            dist.all_reduce(tensor)
        return tensor

    def mean(self, total: float, rows: int) -> float:
        """The mean over every rank's rows, from this rank's ``total`` over its ``rows``."""
        sums = torch.tensor([total, rows], dtype=torch.float64, device=self.device)
        total, count = self.sum(sums).tolist()
        return total / max(count, 1)

    def gather_rows(self, tensor: torch.Tensor) -> torch.Tensor:
        """Every rank's rows of ``tensor``, rank 0's first (ranks may hold different counts)."""
        counts = torch.tensor([len(tensor)], dtype=torch.long, device=tensor.device)
        with self.contact("gathering outputs"):
            sizes = [torch.zeros_like(counts) for _ in range(self.world_size)]
            dist.all_gather(sizes, counts)
            longest = int(max(s.item() for s in sizes))
            padded = tensor.new_zeros((longest, *tensor.shape[1:]))
            padded[: len(tensor)] = tensor
            parts = [torch.empty_like(padded) for _ in range(self.world_size)]
            dist.all_gather(parts, padded.contiguous())
        return torch.cat([p[: int(s.item())] for p, s in zip(parts, sizes, strict=True)])

    def broadcast_parameters(self, module: torch.nn.Module) -> None:
        """Every rank starts from rank 0's weights and buffers."""
        with self.contact("sharing the initial weights"), torch.no_grad():
            for tensor in [*module.parameters(), *module.buffers()]:
                dist.broadcast(tensor, src=0)

    def barrier(self, what: str) -> None:
        """Wait for every rank; a rank that does not arrive within the timeout is named."""
        timeout = datetime.timedelta(seconds=self.timeout)
        with self.contact(what):
            if self.backend == "gloo":
                dist.monitored_barrier(timeout=timeout, wait_all_ranks=True)
            else:
                dist.barrier()

    @contextmanager
    def contact(self, what: str) -> Iterator[None]:
        """Turn a lost rank (its connection closed, or the timeout passed) into one clear error."""
        try:
            yield
        except (RuntimeError, dist.DistError) as exc:
            if isinstance(exc, DistributedError):
                raise
            raise lost_contact(self.rank, what, exc) from None


def lost_contact(rank: int, what: str, exc: BaseException) -> DistributedError:
    """The error a rank raises when the others stopped answering."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return DistributedError(
        f"rank {rank} lost contact with the other ranks while {what} ({first[:300]}); "
        "a rank has died or hangs: the run ends, and its last checkpoint resumes it "
        "(mlpkit train --resume RUN_DIR)"
    )


def join(timeout: float) -> Group | None:
    """The group of the distributed run this process belongs to, joined if need be; None for a
    single-process run. ``timeout`` (seconds) bounds every wait for another rank."""
    if not dist.is_available():
        if launched():
            raise ConfigError("this torch has no torch.distributed; install a build that has it")
        return None
    if not dist.is_initialized():
        if not launched():
            return None
        missing = [name for name in ENVIRONMENT if name not in os.environ]
        if missing:
            raise ConfigError(
                f"a distributed run needs {', '.join(missing)} in the environment; start it "
                "with mlpkit train --nproc N or torchrun"
            )
        backend = "nccl" if torch.cuda.is_available() and dist.is_nccl_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        try:
            dist.init_process_group(
                backend, init_method="env://", timeout=datetime.timedelta(seconds=timeout)
            )
        except (RuntimeError, dist.DistError) as exc:
            raise lost_contact(rank_in_environment(), "joining the run", exc) from None
    world = dist.get_world_size()
    if world == 1:
        return None
    local = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    group = Group(dist.get_rank(), world, local, dist.get_backend(), timeout)
    log.info("rank %d of %d (%s)", group.rank, world, group.backend)
    return group


def leave() -> None:
    """End this process's part in the group (at the end of a run it joined)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
