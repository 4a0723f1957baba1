"""Helpers of the export tests: the command in a subprocess, and small tables."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from mlpkit.config import build_config
from mlpkit.runs import train_run
from samples import run_command

SRC = str(Path(__file__).resolve().parents[2] / "src")


def mlpkit(*args, cwd, env_extra=None, check=True, python_prelude=None):
    """The real command in a subprocess (``python_prelude`` runs first, in that process)."""
    env = {"OMP_NUM_THREADS": "1", **(env_extra or {})}
    return run_command(*args, cwd=cwd, env=env, prelude=python_prelude or "", check=check)


def command(*args, capsys) -> tuple[int, str, str]:
    """The real command's entry point in this process (the export packages are imported once
    for all tests): its exit code, stdout and stderr."""
    from mlpkit.cli import main

    old = sys.argv
    sys.argv = ["mlpkit", *map(str, args)]
    try:
        main()
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 0
    finally:
        sys.argv = old
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def houses(rows: int = 300, seed: int = 0) -> pd.DataFrame:
    """Prices from two numbers and a town (text), with some values missing."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "rooms": rng.integers(1, 8, rows).astype(float),
            "town": rng.choice(["north", "south", "east"], rows),
            "age": rng.uniform(0, 80, rows),
        }
    )
    bonus = frame.town.map({"north": 50.0, "south": 0.0, "east": 20.0})
    frame["price"] = 1000 + 40 * frame.rooms - 2 * frame.age + bonus + rng.normal(0, 5, rows)
    frame.loc[rng.choice(rows, 15, replace=False), "age"] = np.nan
    frame.loc[rng.choice(rows, 10, replace=False), "town"] = None
    return frame


def labelled(rows: int = 300, seed: int = 1) -> pd.DataFrame:
    """Three classes from two numbers and a colour (text)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=rows),
            "colour": rng.choice(["red", "green", "blue"], rows),
            "b": rng.normal(size=rows),
            "c": rng.normal(size=rows),
        }
    )
    score = frame.a + (frame.colour == "red") - frame.b
    frame["kind"] = np.where(score > 0.8, "high", np.where(score < -0.5, "low", "mid"))
    return frame


def shops(rows: int = 300, seed: int = 2) -> pd.DataFrame:
    """Busy or quiet shops from two numbers with gaps and a street (text) of 12 values, 3 of
    them frequent: with ``max_categories`` 4 the other 9 share one ``(other)`` level."""
    rng = np.random.default_rng(seed)
    streets = [f"street {i}" for i in range(12)]
    frame = pd.DataFrame(
        {
            "area": rng.lognormal(3, 1, rows),  # a long tail for the smooth clip
            "street": rng.choice(streets, rows, p=[0.3, 0.2, 0.2, *[0.3 / 9] * 9]),
            "staff": rng.integers(1, 10, rows).astype(float),
        }
    )
    score = np.log(frame.area) / 3 + frame.staff / 5 - (frame.street == "street 0")
    frame["busy"] = np.where(score > np.median(score), "yes", "no")
    frame.loc[rng.choice(rows, 30, replace=False), "area"] = np.nan
    frame.loc[rng.choice(rows, 20, replace=False), "staff"] = np.nan
    return frame


def train(**settings):
    """A tiny run: a few epochs, seeded, with the default preprocessing otherwise."""
    return train_run(build_config({"epochs": 3, "batch_size": 32, "seed": 0, **settings}))
