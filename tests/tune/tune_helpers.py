"""Running the real command from the tuning tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")


def run_mlpkit(*args, cwd, check=True, timeout=240):
    """The real command in a subprocess; its CompletedProcess."""
    env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": "160"}
    result = subprocess.run(
        [sys.executable, "-m", "mlpkit", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}: {result.stderr}")
    return result


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
