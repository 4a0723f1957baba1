"""One rank of the equivalence test (tests/distributed/test_data_parallel.py): trains each
configuration of ``CASES`` with ``mlpkit.fit`` and, on rank 0, saves the weights and history."""

from __future__ import annotations

import os
import sys

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

import mlpkit

# (step, optimizer options): the fused and the autograd step, SGD with momentum and Adam.
CASES = {
    "fused-sgd": ("fused", {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9}),
    "autograd-sgd": ("autograd", {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9}),
    "fused-adam": ("fused", {"optimizer": "adam", "lr": 0.01}),
    "autograd-adam": ("autograd", {"optimizer": "adam", "lr": 0.01}),
}


def data():
    """411 rows in 3 classes: batches of 64 leave a last batch of 27, split 14 / 13."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(511, 8)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] ** 2 > 1).astype(np.int64) + (X[:, 2] > 0.5)
    return (X[:411], y[:411]), (X[411:], y[411:])


def train(case: str):
    step, options = CASES[case]
    torch.manual_seed(0)
    model = mlpkit.MLP(8, [32, 32], 3, activation="tanh")
    train_part, val_part = data()
    history = mlpkit.fit(
        model, "cross_entropy", train_part, val_part, epochs=2, batch_size=64, step=step,
        metrics=["accuracy"], threads=1, early_stopping=0, restore_best=False, seed=0,
        **options,
    )  # fmt: skip
    return model.state_dict(), history


def train_from_a_loader():
    """The reference chapters' idiom: a DataLoader, which each rank reads a share of."""
    torch.manual_seed(0)
    model = mlpkit.MLP(8, [32], 3)
    (X, y), val_part = data()
    loader = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(y)), 64, True)
    history = mlpkit.fit(
        model, "cross_entropy", loader, val_part, epochs=3, lr=0.01, threads=1,
        early_stopping=0, seed=0,
    )  # fmt: skip
    return model.state_dict(), history


if __name__ == "__main__":
    results = {case: train(case) for case in CASES}
    results["loader"] = train_from_a_loader()
    if int(os.environ.get("RANK", "0")) == 0:
        torch.save(results, sys.argv[1])
