"""A memory-mapped NPY file streams to training a batch at a time, never copied whole."""

from __future__ import annotations

import pickle
import tracemalloc

import numpy as np
import pytest
import torch

from mlpkit.config import build_config
from mlpkit.data.batching import make_batches
from mlpkit.data.prepare import prepare_data
from mlpkit.data.stream import ArrayRows
from mlpkit.runs import train_run


def npy_table(path, n: int, width: int, seed: int = 0):
    """``n`` rows of ``width`` float32 features and a 0/1 label in the last column."""
    rng = np.random.default_rng(seed)
    X = rng.normal(3.0, 2.0, (n, width)).astype(np.float32)
    table = np.column_stack([X, (X[:, 0] > 3.0).astype(np.float32)])
    np.save(path, table)
    return table


def test_streamed_batches_hold_exactly_the_in_memory_rows(tmp_path):
    table = npy_table(tmp_path / "d.npy", 500, 6)
    settings = {"data": str(tmp_path / "d.npy")}
    streamed = prepare_data(build_config({**settings, "stream": True}))
    in_memory = prepare_data(build_config({**settings, "stream": False}))

    assert isinstance(streamed.train, ArrayRows)
    mapped = streamed.train.X
    assert isinstance(mapped, np.memmap) and str(mapped.filename) == str(tmp_path / "d.npy")
    assert not mapped.flags.owndata  # a view of the file's pages, not a copy
    np.testing.assert_array_equal(mapped[:3], table[:3, :-1])

    for part in ("train", "val", "test"):
        batches = make_batches(getattr(streamed, part), 64, shuffle=False, device="cpu")
        inputs, targets = zip(*batches, strict=True)
        X, y = getattr(in_memory, part)
        np.testing.assert_allclose(torch.cat(inputs).numpy(), X, rtol=1e-6)
        np.testing.assert_array_equal(torch.cat(targets).reshape(-1).numpy(), y)


def test_preparing_a_streamed_file_never_copies_it_whole(tmp_path):
    npy_table(tmp_path / "big.npy", 60_000, 200)  # 48 MB
    size = (tmp_path / "big.npy").stat().st_size
    config = build_config({"data": str(tmp_path / "big.npy"), "stream": True})
    tracemalloc.start()
    try:
        prepared = prepare_data(config)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(prepared.train) == 42_000
    assert peak < size / 3, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB file"


def test_training_streams_through_worker_processes(tmp_path):
    npy_table(tmp_path / "d.npy", 400, 4)
    config = build_config(
        {
            "data": str(tmp_path / "d.npy"),
            "stream": True,
            "num_workers": 1,
            "epochs": 6,
            "hidden": [8],
            "lr": 0.05,
            "out": str(tmp_path / "run"),
        }
    )
    result = train_run(config)
    assert result.test_metrics["accuracy"] > 0.9
    assert result.history["epoch"].tolist() == list(range(1, 7))


def test_workers_reopen_the_file_instead_of_receiving_a_copy(tmp_path):
    table = npy_table(tmp_path / "d.npy", 2000, 50)
    mapped = np.load(tmp_path / "d.npy", mmap_mode="r")[:, :-1]
    rows = ArrayRows(mapped, table[:, -1], rows=np.arange(10, 2000))

    sent = pickle.dumps(rows)
    copy = pickle.loads(sent)

    assert len(sent) < table.nbytes / 10
    assert isinstance(copy.X, np.ndarray) and not copy.X.flags.owndata
    np.testing.assert_array_equal(copy[[0, 5]][0].numpy(), table[[10, 15], :-1])


def test_dataloader_options_for_streamed_data(tmp_path):
    table = npy_table(tmp_path / "d.npy", 100, 3)
    rows = ArrayRows(np.load(tmp_path / "d.npy", mmap_mode="r")[:, :-1], table[:, -1])
    batches = make_batches(rows, 32, shuffle=True, device="cpu", num_workers=1, drop_last=True)
    assert batches.loader.persistent_workers and len(batches) == 3
    assert [len(y) for _, y in batches] == [32, 32, 32]
    inline = make_batches(rows, 32, shuffle=True, device="cpu", persistent_workers=True)
    assert not inline.loader.persistent_workers  # no workers to keep


@pytest.mark.parametrize("column", [0, 2])
def test_npy_target_can_be_any_column(tmp_path, column):
    table = npy_table(tmp_path / "d.npy", 50, 3)
    from mlpkit.data.files import load_file

    data = load_file(tmp_path / "d.npy", target=str(column))
    np.testing.assert_array_equal(data.X, np.delete(table, column, axis=1))
    assert data.task == "regression"
