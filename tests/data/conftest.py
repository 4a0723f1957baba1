"""Tiny data files in the real formats, and a runner for the real ``mlpkit`` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SRC = Path(__file__).resolve().parents[2] / "src"


def houses(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """A regression table with a numeric, a whole-number and a text (categorical) column.

    price = 1000 * size + 20000 * rooms + a premium per city + noise.
    """
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "size": rng.uniform(50, 200, n).round(1),
            "rooms": rng.integers(1, 6, n),
            "city": rng.choice(["lyon", "nice", "paris"], n),
        }
    )
    premium = frame["city"].map({"lyon": 100_000, "nice": 150_000, "paris": 300_000})
    frame["price"] = 1000 * frame["size"] + 20_000 * frame["rooms"] + premium
    frame["price"] += rng.normal(0, 5000, n).round(0)
    return frame


def flowers(n: int = 90, seed: int = 0) -> pd.DataFrame:
    """A classification table with string labels that two numeric columns separate."""
    rng = np.random.default_rng(seed)
    species = np.array(["setosa", "versicolor", "virginica"])[np.arange(n) % 3]
    centre = {"setosa": 0.0, "versicolor": 3.0, "virginica": 6.0}
    offset = np.array([centre[s] for s in species])
    return pd.DataFrame(
        {
            "petal": offset + rng.normal(0, 0.3, n),
            "sepal": offset / 2 + rng.normal(0, 0.3, n),
            "species": species,
        }
    )


@pytest.fixture
def houses_csv(tmp_path):
    path = tmp_path / "houses.csv"
    houses().to_csv(path, index=False)
    return path


@pytest.fixture
def flowers_csv(tmp_path):
    path = tmp_path / "flowers.csv"
    flowers().to_csv(path, index=False)
    return path


@pytest.fixture
def cli(tmp_path):
    """Run ``python -m mlpkit ARGS`` in ``tmp_path`` with this tree's sources, as a user does;
    the data cache is an empty folder there."""

    def run(*args: str) -> subprocess.CompletedProcess:
        env = {
            **os.environ,
            "PYTHONPATH": str(SRC),
            "COLUMNS": "200",
            "MLPKIT_DATA": str(tmp_path / "cache"),
            "OMP_NUM_THREADS": "1",
        }
        return subprocess.run(
            [sys.executable, "-m", "mlpkit", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    return run


@pytest.fixture
def make_houses():
    return houses


@pytest.fixture
def make_flowers():
    return flowers
