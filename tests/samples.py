"""Small data sets shared by several test modules (fixtures live in conftest.py)."""

import numpy as np
import torch
from torch.utils.data import Dataset


def classes(n=96, features=6, seed=0):
    """Three noisy classes: (X, y) float32 / int64."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    X = rng.normal(size=(n, features)).astype(np.float32)
    X[np.arange(n), y] += 2.0
    return X, y.astype(np.int64)


class Rows(Dataset):
    """A map-style dataset: batches stream through a DataLoader, shuffled by its generator."""

    def __init__(self, X, y) -> None:
        self.X, self.y = torch.as_tensor(X), torch.as_tensor(y)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index):
        return self.X[index], self.y[index]
