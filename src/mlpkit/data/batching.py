"""Turn what a user passes as data into batches on the device.

Arrays and tensors held in memory go to ``TensorBatcher``: it moves them to the device once and
slices whole batches by a per-epoch permutation, with no per-sample ``__getitem__`` or collate.
Other datasets and ``DataLoader``s stream through ``LoaderBatches``, which moves each batch.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    RandomSampler,
    SequentialSampler,
    TensorDataset,
)
from torch.utils.data.distributed import DistributedSampler

from ..errors import ConfigError, DataError
from ..nested import Structure, leaves, map_structure, primary


def to_tensor(array: Any) -> torch.Tensor:
    """A tensor from an array: floats become float32, integers int64; 1-D float targets stay 1-D."""
    tensor = array if isinstance(array, torch.Tensor) else torch.as_tensor(np.asarray(array))
    if torch.is_floating_point(tensor):
        return tensor.float() if tensor.dtype == torch.float64 else tensor
    if tensor.dtype == torch.bool or tensor.dtype.is_complex:
        raise DataError(f"cannot train on {tensor.dtype} data; convert it to numbers first")
    return tensor.long()


def as_targets(targets: Structure) -> Structure:
    """Regression targets as ``(n, k)`` so they line up with the model's ``(n, k)`` outputs."""

    def shape(t: torch.Tensor) -> torch.Tensor:
        t = to_tensor(t)
        return t.unsqueeze(1) if torch.is_floating_point(t) and t.ndim == 1 else t

    return map_structure(shape, targets)


def move(value: Structure, device: torch.device, non_blocking: bool = False) -> Structure:
    return map_structure(lambda t: t.to(device, non_blocking=non_blocking), value)


class TensorBatcher:
    """Batches sliced from tensors held on the device, reshuffled each epoch.

    The order comes from its own ``generator`` so that its state can be checkpointed and an
    interrupted run resumed with the same batch order.

    >>> batches = TensorBatcher(torch.zeros(10, 3), torch.zeros(10), batch_size=4)
    >>> [len(y) for _, y in batches]
    [4, 4, 2]
    """

    def __init__(
        self,
        inputs: Structure,
        targets: Structure,
        batch_size: int,
        *,
        shuffle: bool = False,
        drop_last: bool = False,
        device: torch.device | str = "cpu",
        seed: int = 0,
    ) -> None:
        device = torch.device(device)
        self.inputs = move(map_structure(to_tensor, inputs), device)
        self.targets = move(as_targets(targets), device)
        lengths = {len(t) for t in leaves(self.inputs) + leaves(self.targets)}
        if len(lengths) != 1:
            raise DataError(
                f"inputs and targets have different numbers of rows {sorted(lengths)}; "
                "give every array one row per sample"
            )
        self.num_samples = lengths.pop()
        if self.num_samples == 0:
            raise DataError("the data set is empty; give at least one sample")
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last and self.num_samples >= batch_size
        self.device = device
        self.generator = torch.Generator().manual_seed(seed)
        self.part: Callable[[int], slice] | None = None  # this rank's rows of a batch
        self.batch_rows = 0  # rows in the whole of the last batch yielded
        self.member_rows: list[torch.Tensor] | None = None  # per_member's row positions
        self.member_inputs = False  # per_member gave one input matrix per member

    def shard(self, part: Callable[[int], slice]) -> None:
        """Yield only this rank's part of each batch (``part(rows)`` picks it) in a
        data-parallel run: every rank draws the same order from the same seed, so the parts of
        one batch are disjoint and together the batch a single process would train on."""
        self.part = part

    def per_member(
        self,
        members: int,
        rows: Sequence[torch.Tensor] | None = None,
        inputs: torch.Tensor | None = None,
    ) -> None:
        """Batches for the K members of a stacked model, each member its own order.

        From now on, every epoch member k draws its own shuffled order of the row positions
        ``rows[k]`` (default: all rows; a fold's training rows, say) from this batcher's seeded
        generator, so that a resumed run draws the same orders again. Each batch is then
        ``(inputs (K, b, ...), targets (K * b, ...))``: member k's targets are rows
        ``k * b`` to ``(k + 1) * b``. Members with more rows than the fewest leave their
        extra rows out of the epoch (a different few each epoch): ``num_samples`` and
        ``len()`` count one member's rows and batches. ``inputs`` (K, n, ...) replace the shared
        inputs with one matrix per member (e.g. preprocessed per fold).

        >>> batches = TensorBatcher(torch.zeros(10, 3), torch.zeros(10), batch_size=4)
        >>> batches.per_member(2, [torch.arange(0, 6), torch.arange(4, 10)])
        >>> [(tuple(x.shape), tuple(y.shape)) for x, y in batches]
        [((2, 4, 3), (8, 1)), ((2, 2, 3), (4, 1))]
        """
        if self.part is not None:
            raise ConfigError("per-member batches do not shard over processes; use one process")
        if not isinstance(self.inputs, torch.Tensor) or not isinstance(self.targets, torch.Tensor):
            raise ConfigError(
                "per-member batches take one input matrix and one target array, not named or "
                "several"
            )
        n = len(self.targets)
        if inputs is not None:
            if inputs.dim() < 2 or inputs.shape[0] != members or inputs.shape[1] != n:
                raise DataError(
                    f"per-member inputs must have shape ({members}, {n}, ...), one matrix per "
                    f"member with a row per sample; got {tuple(inputs.shape)}"
                )
            self.inputs = to_tensor(inputs).to(self.device)
            self.member_inputs = True
        if rows is None:
            rows = [torch.arange(n)] * members
        rows = [torch.as_tensor(r, dtype=torch.long).flatten() for r in rows]
        if len(rows) != members or min(len(r) for r in rows) == 0:
            raise DataError(f"give {members} non-empty sets of row positions, one per member")
        if any(int(r.min()) < 0 or int(r.max()) >= n for r in rows):
            raise DataError(f"row positions must lie in 0 to {n - 1}")
        self.member_rows = rows
        self.num_samples = min(len(r) for r in rows)
        self.drop_last = self.drop_last and self.num_samples >= self.batch_size

    def __len__(self) -> int:
        full, rest = divmod(self.num_samples, self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def __iter__(self) -> Iterator[tuple[Structure, Structure]]:
        return self.batches()

    def batches(self, start: int = 0) -> Iterator[tuple[Structure, Structure]]:
        """One epoch's batches from batch ``start`` on (an epoch resumed part-way): the order is
        drawn as for a whole epoch, and the first ``start`` batches are not gathered."""
        if self.member_rows is not None:
            yield from self._member_batches(start)
            return
        if not self.shuffle:  # slices are views: nothing is copied
            for batch in range(start, len(self)):
                first = batch * self.batch_size
                rows = slice(first, min(first + self.batch_size, self.num_samples))
                if self.part is not None:
                    self.batch_rows = rows.stop - rows.start
                    mine = self.part(self.batch_rows)
                    rows = slice(first + mine.start, first + mine.stop)
                yield rows_of(self.inputs, rows), rows_of(self.targets, rows)
            return
        order = torch.randperm(self.num_samples, generator=self.generator)
        # On the CPU, NumPy gathers each batch on the calling thread. torch's index_select
        # splits a batch of 256 x 784 floats across its intra-op threads, and on a busy
        # machine every batch then waits for a core: up to 30x slower on two cores.
        on_cpu = self.device.type == "cpu" and all(
            t.dtype in _NUMPY_DTYPES for t in leaves(self.inputs) + leaves(self.targets)
        )
        if on_cpu:
            inputs = map_structure(lambda t: t.detach().numpy(), self.inputs)
            targets = map_structure(lambda t: t.detach().numpy(), self.targets)
            positions = order.numpy()
        else:
            positions = order.to(self.device)
        for batch in range(start, len(self)):
            rows = positions[batch * self.batch_size : (batch + 1) * self.batch_size]
            if self.part is not None:
                self.batch_rows = len(rows)
                rows = rows[self.part(len(rows))]
            if on_cpu:
                yield _take(inputs, rows), _take(targets, rows)
            else:
                yield rows_of(self.inputs, rows), rows_of(self.targets, rows)

    def _member_batches(self, start: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Each member's rows in its own order (``per_member``); on the CPU gathered by NumPy
        on this thread, as ``batches`` gathers."""
        assert self.member_rows is not None
        n, size = self.num_samples, self.batch_size
        orders = torch.stack(
            [
                r[torch.randperm(len(r), generator=self.generator)[:n]] if self.shuffle else r[:n]
                for r in self.member_rows
            ]
        )  # (K, n)
        inputs, targets = self.inputs, self.targets
        on_cpu = self.device.type == "cpu" and inputs.dtype in _NUMPY_DTYPES
        if on_cpu:
            inputs, targets, orders = inputs.numpy(), targets.numpy(), orders.numpy()
        else:
            orders = orders.to(self.device)
        owner = torch.arange(len(orders), device=self.device)[:, None]  # (K, 1): whose matrix
        owner = owner.numpy() if on_cpu else owner
        for batch in range(start, len(self)):
            idx = orders[:, batch * size : (batch + 1) * size]  # (K, b)
            # (K, n, ...) inputs: member k's rows of its own matrix
            x = inputs[owner, idx] if self.member_inputs else inputs[idx]
            y = targets[idx.reshape(-1)]
            yield (torch.from_numpy(x), torch.from_numpy(y)) if on_cpu else (x, y)


_NUMPY_DTYPES = {torch.float16, torch.float32, torch.float64, torch.int64, torch.int32,
                 torch.int16, torch.int8, torch.uint8, torch.bool}  # fmt: skip


def _take(arrays: Structure, rows: np.ndarray) -> Structure:
    return map_structure(lambda a: torch.from_numpy(a.take(rows, axis=0)), arrays)


def rows_of(value: Structure, rows: slice | torch.Tensor) -> Structure:
    if isinstance(rows, slice):
        return map_structure(lambda t: t[rows], value)
    return map_structure(lambda t: t.index_select(0, rows), value)


class LoaderBatches:
    """A ``DataLoader`` whose batches are split into (inputs, targets) and moved to the device."""

    def __init__(self, loader: DataLoader, device: torch.device | str = "cpu") -> None:
        self.loader = loader
        self.device = torch.device(device)
        self.non_blocking = self.device.type == "cuda" and bool(loader.pin_memory)
        self.generator = getattr(loader, "generator", None)
        self._world_size = 1
        self._batch_rows = 0

    @property
    def num_samples(self) -> int:
        return len(self.loader.dataset)  # type: ignore[arg-type]

    @property
    def batch_size(self) -> int | None:
        """The loader's batch size (None with a batch sampler of its own)."""
        return self.loader.batch_size

    def __len__(self) -> int:
        return len(self.loader)

    @property
    def batch_rows(self) -> int:
        """Rows in the whole of a batch (all ranks' parts), as ``DistributedSampler`` pads them."""
        return self._batch_rows

    def shard(self, rank: int, world_size: int, seed: int) -> None:
        """Read only this rank's rows: the same loader with a ``DistributedSampler`` (a disjoint
        share of each epoch's order, reshuffled per epoch) and the batch size shared out."""
        loader = self.loader
        if loader.batch_size is None:
            raise ConfigError(
                "a distributed run shares out the DataLoader's batch size, and this loader has a "
                "batch sampler of its own; give a DataLoader with batch_size, or the Dataset"
            )
        if loader.batch_size % world_size:
            raise ConfigError(
                f"a distributed run over {world_size} processes splits each batch of the "
                f"DataLoader evenly: give a batch size divisible by {world_size} "
                f"(not {loader.batch_size})"
            )
        sampler = DistributedSampler(
            loader.dataset,
            num_replicas=world_size,
            rank=rank,
            shuffle=not isinstance(loader.sampler, SequentialSampler),
            seed=seed,
            drop_last=loader.drop_last,
        )
        self.loader = DataLoader(
            loader.dataset,
            batch_size=loader.batch_size // world_size,
            sampler=sampler,
            num_workers=loader.num_workers,
            collate_fn=loader.collate_fn,
            pin_memory=loader.pin_memory,
            drop_last=loader.drop_last,
            persistent_workers=loader.persistent_workers,
            worker_init_fn=loader.worker_init_fn,
        )
        self._world_size = world_size

    def set_epoch(self, epoch: int) -> None:
        """A sharded loader's order for epoch ``epoch`` (counted from 0)."""
        sampler = self.loader.sampler
        if isinstance(sampler, DistributedSampler):
            sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[tuple[Structure, Structure]]:
        return self.batches()

    def batches(self, start: int = 0) -> Iterator[tuple[Structure, Structure]]:
        """One epoch's batches from batch ``start`` on; the loader reads and drops the first
        ``start`` batches, so that its order (and its workers' seeds) stay those of the epoch."""
        for batch in itertools.islice(self.loader, start, None):
            inputs, targets = split_batch(batch)
            self._batch_rows = len(primary(targets)) * self._world_size
            yield (
                move(inputs, self.device, self.non_blocking),
                move(as_targets(targets), self.device, self.non_blocking),
            )


def split_batch(batch: Any) -> tuple[Structure, Structure]:
    """``(inputs, targets)`` from a batch: a pair, or several inputs followed by the targets."""
    if isinstance(batch, Mapping):
        raise DataError(
            "a batch that is a dict must be split into inputs and targets; "
            "make the dataset return (inputs, targets) with inputs a dict"
        )
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise DataError("each batch must be (inputs, targets); make the dataset return a pair")
    if len(batch) == 2:
        return batch[0], batch[1]
    return tuple(batch[:-1]), batch[-1]


def make_batches(
    data: Any,
    batch_size: int,
    *,
    shuffle: bool,
    device: torch.device | str,
    seed: int = 0,
    drop_last: bool = False,
    num_workers: int = 0,
    persistent_workers: bool | None = None,
) -> TensorBatcher | LoaderBatches:
    """Batches from a ``DataLoader``, a ``Dataset`` or ``(X, y)`` arrays / tensors.

    ``X`` may be one array, a tuple of arrays (positional inputs) or a dict of arrays (keyword
    inputs); ``y`` may be a tuple or dict for a model with several outputs. A ``Dataset``
    streams through a ``DataLoader`` with ``num_workers`` processes (kept alive across epochs
    unless ``persistent_workers=False``); a dataset with ``batched = True`` gets whole batches
    of indices per ``__getitem__``.
    """
    if batch_size < 1:
        raise DataError(f"batch_size must be at least 1, got {batch_size}")
    if isinstance(data, DataLoader):
        return LoaderBatches(data, device)
    if isinstance(data, TensorDataset):
        *inputs, targets = data.tensors
        data = (inputs[0] if len(inputs) == 1 else tuple(inputs), targets)
    if isinstance(data, Dataset):
        cuda = torch.device(device).type == "cuda"
        generator = torch.Generator().manual_seed(seed)
        options: dict[str, Any] = {
            "num_workers": num_workers,
            "persistent_workers": num_workers > 0 and persistent_workers is not False,
            "pin_memory": cuda,  # page-locked batches can be copied with non_blocking=True
            "generator": generator,
        }
        if getattr(data, "batched", False):
            # The dataset reads a whole batch per __getitem__ (e.g. rows of a memory map).
            order = RandomSampler(data, generator=generator) if shuffle else SequentialSampler(data)
            sampler = BatchSampler(order, batch_size, drop_last=drop_last)
            loader = DataLoader(data, sampler=sampler, batch_size=None, **options)
        else:
            loader = DataLoader(
                data, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, **options
            )
        return LoaderBatches(loader, device)
    if isinstance(data, (tuple, list)) and len(data) == 2:
        inputs, targets = data
        return TensorBatcher(
            inputs,
            targets,
            batch_size,
            shuffle=shuffle,
            drop_last=drop_last,
            device=device,
            seed=seed,
        )
    raise DataError(
        f"cannot make batches from {type(data).__name__}; "
        "pass (X, y) arrays or tensors, a torch Dataset or a DataLoader"
    )
