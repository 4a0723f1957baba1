"""Small data sets shared by several test modules (fixtures live in conftest.py)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from mlpkit import MLP, fit
from mlpkit.callbacks import Callback, StopTraining
from mlpkit.cli import main


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


class StopAfter(Callback):
    """Ends a run after ``epoch`` epochs, as a crash would, with that epoch's checkpoint written."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, state) -> None:
        if state.epoch == self.epoch:
            raise StopTraining("simulated crash")


def fit_with_checkpoints(folder, epochs=4, callbacks=(), checkpoint=None, data=None, **options):
    torch.manual_seed(0)
    model = MLP(6, [8], 3)
    history = fit(
        model,
        "cross_entropy",
        classes() if data is None else data,
        classes(seed=1),
        epochs=epochs,
        batch_size=16,
        lr=0.1,
        metrics=["accuracy"],
        checkpoint=checkpoint if checkpoint is not None else folder,
        callbacks=callbacks,
        # Runs compared bit for bit need a fixed thread count: another count rounds differently.
        **{"optimizer": "sgd", "threads": 1, **options},
    )
    return model, history


SRC = str(Path(__file__).resolve().parents[1] / "src")


def run_command(*args, cwd, env=None, prelude="", timeout=300, check=True):
    """The real ``mlpkit`` command in a subprocess, on this tree's ``src`` (``prelude`` runs
    first in that process, ``env`` adds to its environment); its CompletedProcess."""
    code = f"import sys\n{prelude}\nsys.argv = ['mlpkit', *sys.argv[1:]]\n"
    code += "from mlpkit.cli import main\nmain()"
    result = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": SRC, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}: {result.stderr}")
    return result


def command_error(argv: list[str], capsys) -> tuple[int, str]:
    """Run the real command's entry point in this process; its exit code and stderr."""
    old = sys.argv
    sys.argv = ["mlpkit", *argv]
    try:
        with pytest.raises(SystemExit) as exit_info:
            main()
    finally:
        sys.argv = old
    return exit_info.value.code, capsys.readouterr().err
