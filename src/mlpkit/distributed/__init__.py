"""Data-parallel training over several processes with ``torch.distributed``.

``mlpkit train --nproc N`` starts N processes on this machine (``launch``); under ``torchrun``
each process reads the environment torchrun sets. ``mlpkit.fit`` in such a process joins the
group (``join``), takes its part of every batch (``shard_batches``) and sums the ranks'
gradients in each step (``DataParallelStep``); only rank 0 writes.
"""

from .group import Group, join, leave, main_process
from .sharding import shard_batches
from .step import DataParallelStep

__all__ = ["DataParallelStep", "Group", "join", "leave", "main_process", "shard_batches"]
