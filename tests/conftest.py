"""Shared tiny fixtures. Everything is seeded, small and runs on the CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    # Tiny models train fastest on one thread, and one thread cannot stall behind a busy core.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture
def blobs():
    """Three well separated Gaussian classes in 4 dimensions: (X, y) float32 / int64."""
    rng = np.random.default_rng(0)
    centers = np.array([[3, 0, 0, 0], [0, 3, 0, 0], [0, 0, 3, 0]], dtype=np.float32)
    y = rng.integers(0, 3, size=300)
    X = centers[y] + rng.normal(scale=0.5, size=(300, 4)).astype(np.float32)
    return X.astype(np.float32), y.astype(np.int64)


@pytest.fixture
def linear_regression_data():
    """y = X @ w + 1 with a little noise: (X, y, w)."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 3)).astype(np.float32)
    w = np.array([1.5, -2.0, 0.5], dtype=np.float32)
    y = (X @ w + 1.0 + rng.normal(scale=0.05, size=400)).astype(np.float32)
    return X, y, w
