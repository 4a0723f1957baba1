"""Streaming rows of an array too large for memory, a batch at a time, through a DataLoader.

An NPY file is memory-mapped when loaded (``files.py``); ``ArrayRows`` reads the rows of one
batch from the map (in file order), preprocesses them and hands them to the loop, so the whole
array is never copied. It is a *batched* dataset: ``make_batches`` gives it whole batches of
indices through a ``BatchSampler``, so each batch is one read and one preprocessing call rather
than one per sample. Worker processes reopen the file instead of receiving a pickled copy.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset


class ArrayRows(Dataset):
    """``(inputs, targets)`` batches of selected rows of an array, preprocessed on the fly.

    ``transform`` turns raw rows into model inputs (an array, or a dict of arrays for named
    input groups); ``dataset[[3, 1, 2]]`` returns one batch, ``dataset[3]`` one sample.

    >>> rows = ArrayRows(np.arange(12.0).reshape(6, 2), np.arange(6), rows=[4, 1, 5])
    >>> inputs, targets = rows[[0, 1]]
    >>> inputs.tolist(), targets.tolist()
    ([[2.0, 3.0], [8.0, 9.0]], [1, 4])
    """

    batched = True  # __getitem__ takes a list of positions: make_batches uses a BatchSampler

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        rows: Any = None,
        transform: Callable[[np.ndarray], Any] | None = None,
    ) -> None:
        self.X = X
        self.y = np.asarray(y)
        self.rows = np.arange(len(X)) if rows is None else np.asarray(rows, dtype=np.int64)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, positions: Any) -> tuple[Any, torch.Tensor]:
        if isinstance(positions, (int, np.integer)):
            inputs, targets = self[[int(positions)]]
            return _first(inputs), targets[0]
        rows = np.sort(self.rows[np.asarray(positions, dtype=np.int64)])  # file order: fewer seeks
        raw = self.X[rows]
        inputs = self.transform(raw) if self.transform else np.asarray(raw, dtype=np.float32)
        return _to_tensors(inputs), torch.from_numpy(np.ascontiguousarray(self.y[rows]))

    # A memory map would be pickled as a full copy; workers reopen the file instead.
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        reopen = _reopen_spec(self.X)
        if reopen is not None:
            state["X"], state["_reopen"] = None, reopen
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        reopen = state.pop("_reopen", None)
        self.__dict__.update(state)
        if reopen is not None:
            filename, offset, shape, dtype, strides = reopen
            full = np.load(filename, mmap_mode="r")
            self.X = np.ndarray(shape, dtype, buffer=full, offset=offset, strides=strides)


def _reopen_spec(X: np.ndarray) -> tuple[str, int, tuple, np.dtype, tuple] | None:
    """Where a view of a memory-mapped NPY file lies in it, to map it again in another process."""
    if not isinstance(X, np.memmap) or not getattr(X, "filename", None):
        return None
    root = X
    while isinstance(root.base, np.ndarray):
        root = root.base
    if not os.path.isfile(str(X.filename)):
        return None
    return str(X.filename), X.ctypes.data - root.ctypes.data, X.shape, X.dtype, X.strides


def _to_tensors(inputs: Any) -> Any:
    if isinstance(inputs, dict):
        return {k: _to_tensors(v) for k, v in inputs.items()}
    return torch.from_numpy(np.ascontiguousarray(inputs))


def _first(inputs: Any) -> Any:
    if isinstance(inputs, dict):
        return {k: v[0] for k, v in inputs.items()}
    return inputs[0]
