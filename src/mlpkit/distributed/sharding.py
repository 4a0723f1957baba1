"""Each rank's part of the data in a data-parallel run: disjoint parts of every batch."""

from __future__ import annotations

from typing import Any

from ..data.batching import LoaderBatches, TensorBatcher
from .group import Group


def shard_batches(batches: Any, group: Group, seed: int) -> None:
    """Make ``batches`` yield only this rank's rows.

    In-memory data (``TensorBatcher``): every rank draws the epoch's order from the same seed and
    takes its contiguous part of each batch, so a global batch of ``batch_size`` rows is split
    over the ranks exactly (parts differ by at most one row). A ``DataLoader`` gets a
    ``DistributedSampler`` and ``batch_size / ranks`` rows per rank and batch.
    """
    if isinstance(batches, TensorBatcher):
        batches.shard(group.part)
    elif isinstance(batches, LoaderBatches):
        batches.shard(group.rank, group.world_size, seed)
    else:
        raise TypeError(f"cannot share out {type(batches).__name__} over the ranks")
