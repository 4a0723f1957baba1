"""Batches per second: mlpkit's in-memory batcher against a DataLoader over a TensorDataset.

Fashion-MNIST-sized data (55,000 x 784 float32, 10 classes), one shuffled pass per epoch, nothing
done with the batches: this is the overhead that a small model pays for its input pipeline. The
streaming path (a memory-mapped NPY file read a batch at a time) is shown too.

    python benchmarks/batching.py [--epochs 5] [--threads 1]

Not a timed test: the figures depend on the machine; the median epoch is reported.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from mlpkit.data.batching import make_batches
from mlpkit.data.stream import ArrayRows

ROWS, FEATURES = 55_000, 784


def batches_per_second(batches, epochs: int) -> float:
    rates = []
    for _ in range(epochs):
        started = time.perf_counter()
        count = 0
        for _inputs, _targets in batches:
            count += 1
        rates.append(count / (time.perf_counter() - started))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="timed passes (median is shown)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    generator = torch.Generator().manual_seed(0)
    X = torch.rand(ROWS, FEATURES, generator=generator)
    y = torch.randint(0, 10, (ROWS,), generator=generator)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.npy"
        np.save(path, X.numpy())
        mapped = np.load(path, mmap_mode="r")
        print(f"{ROWS} x {FEATURES} float32, torch {torch.__version__}, "
              f"{torch.get_num_threads()} thread(s), median of {args.epochs} epochs")  # fmt: skip
        print(f"{'batch':>5}  {'path':<34} {'batches/s':>10}  {'samples/s':>11}  {'speed-up':>8}")
        for batch_size in (32, 256):
            pipelines = {
                "DataLoader(TensorDataset)": DataLoader(
                    TensorDataset(X, y), batch_size=batch_size, shuffle=True
                ),
                "TensorBatcher (mlpkit, in memory)": make_batches(
                    (X, y), batch_size, shuffle=True, device="cpu"
                ),
                "ArrayRows (mlpkit, memory map)": make_batches(
                    ArrayRows(mapped, y.numpy()), batch_size, shuffle=True, device="cpu"
                ),
            }
            baseline = None
            for name, batches in pipelines.items():
                rate = batches_per_second(batches, args.epochs)
                baseline = baseline or rate
                print(f"{batch_size:>5}  {name:<34} {rate:>10,.0f}  {rate * batch_size:>11,.0f}  "
                      f"{rate / baseline:>7.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
