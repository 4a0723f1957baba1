"""Training on a busy machine: the default thread choice against fixed counts (`make bench`).

Other processes using the cores make a step that waits for all of its threads many times slower.
This starts ``--load`` CPU-bound competitor processes (0 = an idle machine), then trains the same
run with the default (adaptive) thread choice and with each fixed count from 1 to the cores,
taking turns over ``--reps`` repetitions, each in a fresh ``mlpkit train`` process. It prints the
median training time (the run's own ``total_time``) and whole-command wall time of each, and the
default's ratio to the best fixed count measured in the same run.

    python benchmarks/busy.py                          # load 0, 1 and 2; digits, 30 epochs
    python benchmarks/busy.py --load 2 --reps 3 --data moons --epochs 30
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"


def spin() -> None:
    """A competitor: one core's worth of pure computation, until it is terminated."""
    while True:
        pass


def train(folder: Path, data: str, epochs: int, threads: int | None) -> tuple[float, float]:
    """(training seconds, wall seconds) of one ``mlpkit train`` in a fresh process."""
    out = folder / f"run-{threads or 'auto'}"
    command = [
        sys.executable, "-m", "mlpkit", "train", "--data", data, "--epochs", str(epochs),
        "--early-stopping", "0", "--no-report", "--out", str(out), "--overwrite",
    ]  # fmt: skip
    if threads:
        command += ["--threads", str(threads)]
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    wall = time.perf_counter() - started
    with open(out / "history.csv") as file:
        rows = list(csv.DictReader(file))
    return float(rows[-1]["total_time"]), wall


def measure(load: int, args: argparse.Namespace, folder: Path) -> dict[str, list[tuple]]:
    cores = len(os.sched_getaffinity(0))
    choices: list[int | None] = [None, *range(1, cores + 1)]
    competitors = [multiprocessing.Process(target=spin, daemon=True) for _ in range(load)]
    for process in competitors:
        process.start()
    times: dict[str, list[tuple]] = {str(c or "auto"): [] for c in choices}
    try:
        for rep in range(args.reps):
            order = choices if rep % 2 == 0 else choices[::-1]
            for threads in order:
                seconds = train(folder, args.data, args.epochs, threads)
                times[str(threads or "auto")].append(seconds)
                training, wall = seconds
                name = threads or "auto"
                print(f"  load {load}, rep {rep + 1}, threads {name}: {training:.2f} s training, "
                      f"{wall:.2f} s wall", flush=True)  # fmt: skip
    finally:
        for process in competitors:
            process.terminate()
    return times


def report(results: dict[int, dict[str, list[tuple]]], args: argparse.Namespace) -> str:
    lines = [
        f"## Busy machine: {args.data}, {args.epochs} epochs, median of {args.reps}",
        "",
        f"`python benchmarks/busy.py --load {args.load} --reps {args.reps} --data {args.data} "
        f"--epochs {args.epochs}`; {len(os.sched_getaffinity(0))} cores; "
        "load = CPU-bound competitor processes.",
        "",
        "| load | threads | training s | wall s | default / best fixed (training) |",
        "|---:|---|---:|---:|---:|",
    ]
    for load, times in results.items():
        medians = {
            key: [statistics.median(run[i] for run in runs) for i in (0, 1)]
            for key, runs in times.items()
        }
        best = min(v[0] for k, v in medians.items() if k != "auto")
        for key, (training, wall) in medians.items():
            ratio = f"{training / best:.2f}x" if key == "auto" else ""
            lines.append(f"| {load} | {key} | {training:.2f} | {wall:.2f} | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load", default="0,1,2", help="competitor processes, e.g. 0,2")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--data", default="digits")
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        results = {
            load: measure(load, args, Path(folder)) for load in map(int, args.load.split(","))
        }
    print(report(results, args))


if __name__ == "__main__":
    main()
