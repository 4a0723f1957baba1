"""Running the real command from the tuning tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from samples import run_command

SRC = str(Path(__file__).resolve().parents[2] / "src")


def run_mlpkit(*args, cwd, check=True, timeout=240):
    """The real command in a subprocess; its CompletedProcess."""
    return run_command(*args, cwd=cwd, env={"COLUMNS": "160"}, timeout=timeout, check=check)


def start_mlpkit(*args, cwd):
    """The real command started in the background; its Popen."""
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.Popen(
        [sys.executable, "-m", "mlpkit", *map(str, args)],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
