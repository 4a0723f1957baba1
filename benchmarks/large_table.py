"""Large tables: one epoch of ``mlpkit train`` on a generated CSV, against pyarrow's reader
(`make bench`).

Generates a table (fixed seed) of 24 numeric columns (some heavy-tailed), 5 text category
columns of 3 to 400 levels and a 3-class target, about 2% of the feature values missing, and
writes the first 0.5M, 1M and 2M rows as CSV files in a temporary folder. For each size, in
fresh processes taking turns over ``--reps`` repetitions, it measures

- ``pyarrow.csv.read_csv`` alone (multi-threaded, as pyarrow reads by default): wall time, the
  mean of one read just before and one just after each ``mlpkit train``;
- ``mlpkit train --data FILE --target y --epochs 1`` end to end: wall time, peak RSS (the
  child's ``ru_maxrss``), and its stages (reading the file, loading = reading plus the column
  checks and the target, preparing = loading plus the split and the preprocessing, and the
  epoch's own ``total_time``), timed by wrapping the library functions in the child, and the
  CPU seconds the child spends after preparing (the epoch, the test metrics, saving), which a
  busy machine inflates less than the wall time.

It prints the medians and the ratios the issue sets targets for: reading speed against
pyarrow's (target >= 0.7), peak RSS over the float32 feature matrix the model takes (every
part, after one-hot encoding; target <= 2.5), and the epoch's seconds per million rows (linear
growth: the same figure at every size).

    python benchmarks/large_table.py                           # 0.5M, 1M, 2M rows, 1 rep
    python benchmarks/large_table.py --rows 100000,200000 --reps 3
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
SEED = 0
LEVELS = (3, 12, 50, 200, 400)  # levels of the text columns
MISSING = 0.02

# The child that runs ``mlpkit train`` as the command line does (``mlpkit.cli.app.main``), with
# the library's stages wrapped in timers, and writes the timings as JSON at exit.
TRAIN_CHILD = textwrap.dedent(
    """
    import atexit, json, sys, time
    import mlpkit.data.files as files, mlpkit.data.loading as loading, mlpkit.runs.train as runs
    from mlpkit.cli.app import main

    found = {}

    def timed(module, name, key, after=None):
        inner = getattr(module, name)
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            result = inner(*args, **kwargs)
            found[key] = found.get(key, 0.0) + time.perf_counter() - started
            if after:
                after(result)
            return result
        setattr(module, name, wrapper)

    def matrix(prepared):
        parts = [p for p in (prepared.train, prepared.val, prepared.test) if p is not None]
        found["matrix_bytes"] = sum(int(p[0].nbytes) for p in parts)
        found["inputs"] = int(prepared.n_inputs)
        found["cpu_prepared"] = time.process_time()

    def finish():
        found["train_cpu"] = time.process_time() - found.pop("cpu_prepared")
        open(timings, "w").write(json.dumps(found))

    timed(files, "read_table", "read")
    timed(loading, "load_file", "load")
    timed(runs, "prepare_data", "prepare", matrix)
    timings = sys.argv[1]
    atexit.register(finish)
    sys.argv = ["mlpkit", *sys.argv[2:]]
    main()
    """
)

PYARROW_CHILD = textwrap.dedent(
    """
    import sys, time
    import pyarrow.csv
    started = time.perf_counter()
    table = pyarrow.csv.read_csv(sys.argv[1])
    print(time.perf_counter() - started, table.num_rows)
    """
)


def generate(rows: list[int], folder: Path) -> dict[int, Path]:
    """CSV files of the first ``rows`` rows of one seeded table."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv

    n = max(rows)
    rng = np.random.default_rng(SEED)
    columns = {}
    for j in range(24):
        if j % 4 == 0:
            values = rng.standard_t(2, n) * 10  # heavy tails
        elif j % 4 == 1:
            values = rng.lognormal(0, 2, n)  # skewed, positive
        else:
            values = rng.normal(j, 1 + j, n)
        columns[f"x{j}"] = pa.array(values.astype(np.float32), mask=rng.random(n) < MISSING)
    for j, k in enumerate(LEVELS):
        names = np.array([f"c{j}_{i}" for i in range(k)])
        codes = rng.zipf(1.3, n) % k  # a few frequent levels, many rare ones
        columns[f"cat{j}"] = pa.array(names[codes], mask=rng.random(n) < MISSING)
    columns["y"] = pa.array(rng.integers(0, 3, n))
    table = pa.table(columns)
    paths = {}
    for count in rows:
        paths[count] = folder / f"table-{count}.csv"
        pyarrow.csv.write_csv(table.slice(0, count), paths[count])
    return paths


class MeasuredPopen(subprocess.Popen):
    """A ``Popen`` that reaps its child with ``os.wait4``, keeping the child's own peak RSS
    (``RUSAGE_CHILDREN`` would give the largest of all children so far)."""

    peak_rss = 0.0

    def _try_wait(self, wait_flags):  # type: ignore[override]
        try:
            pid, status, usage = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            return self.pid, 0
        if pid:
            self.peak_rss = usage.ru_maxrss * 1024.0  # kilobytes on Linux
        return pid, status


def run_child(command: list[str], cwd: Path) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in bytes, stdout) of one child process."""
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    started = time.perf_counter()
    child = MeasuredPopen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    stdout, stderr = child.communicate()
    wall = time.perf_counter() - started
    if child.returncode:
        raise RuntimeError(f"{' '.join(command[3:])} failed:\n{stderr[-3000:]}")
    return wall, child.peak_rss, stdout


def read_with_pyarrow(path: Path, folder: Path) -> float:
    _, _, out = run_child([sys.executable, "-c", PYARROW_CHILD, str(path)], folder)
    return float(out.split()[0])


def train(path: Path, folder: Path) -> dict[str, float]:
    timings = folder / "timings.json"
    out = folder / "run"
    command = [
        sys.executable, "-c", TRAIN_CHILD, str(timings), "train", "--data", str(path),
        "--target", "y", "--epochs", "1", "--no-report", "--out", str(out), "--overwrite",
    ]  # fmt: skip
    wall, peak, _ = run_child(command, folder)
    found = json.loads(timings.read_text())
    with open(out / "history.csv") as file:
        found["epoch"] = float(list(csv.DictReader(file))[-1]["total_time"])
    return {**found, "wall": wall, "peak_rss": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="500000,1000000,2000000", help="comma-separated")
    parser.add_argument("--reps", type=int, default=1)
    args = parser.parse_args()
    rows = [int(r) for r in args.rows.split(",")]
    with tempfile.TemporaryDirectory(prefix="mlpkit-large-") as name:
        folder = Path(name)
        started = time.perf_counter()
        paths = generate(rows, folder)
        print(f"generated {len(rows)} CSV files in {time.perf_counter() - started:.0f} s")
        results: dict[int, dict[str, list[float]]] = {n: {} for n in rows}
        for path in paths.values():
            read_with_pyarrow(path, folder)  # the file in the page cache for both readers
        for _ in range(args.reps):
            for n, path in paths.items():
                found = results[n]
                # pyarrow just before and just after: a busy machine's drift shows in both.
                before = read_with_pyarrow(path, folder)
                for key, value in train(path, folder).items():
                    found.setdefault(key, []).append(value)
                after = read_with_pyarrow(path, folder)
                found.setdefault("pyarrow", []).append((before + after) / 2)
                size = path.stat().st_size / 1e6
                print(f"{n:>9,} rows ({size:,.0f} MB): " + ", ".join(
                    f"{k} {v[-1]:.3g}" for k, v in found.items()
                ), flush=True)  # fmt: skip
        report(results, paths)


def report(results: dict[int, dict[str, list[float]]], paths: dict[int, Path]) -> None:
    print()
    print(
        "| rows | CSV MB | pyarrow read s | mlpkit read s | read speed vs pyarrow | load s | "
        "prepare s | epoch s | epoch s per 1M rows | CPU s after prepare per 1M rows | wall s | "
        "inputs | float32 matrix MB | peak RSS MB | peak RSS / matrix |"
    )
    print("|" + "---:|" * 15)
    per_million, cpu_per_million = {}, {}
    for n, found in results.items():
        m = {k: statistics.median(v) for k, v in found.items()}
        per_million[n] = m["epoch"] / (n / 1e6)
        cpu_per_million[n] = m["train_cpu"] / (n / 1e6)
        print(
            f"| {n:,} | {paths[n].stat().st_size / 1e6:,.0f} | {m['pyarrow']:.2f} | "
            f"{m['read']:.2f} | {m['pyarrow'] / m['read']:.2f} | {m['load']:.2f} | "
            f"{m['prepare']:.2f} | {m['epoch']:.1f} | {per_million[n]:.1f} | "
            f"{cpu_per_million[n]:.1f} | {m['wall']:.1f} | "
            f"{m['inputs']:.0f} | {m['matrix_bytes'] / 1e6:,.0f} | {m['peak_rss'] / 1e6:,.0f} | "
            f"{m['peak_rss'] / m['matrix_bytes']:.2f} |"
        )
    smallest, largest = min(per_million), max(per_million)
    print(
        f"\nepoch time per row at {largest:,} rows / at {smallest:,} rows: "
        f"{per_million[largest] / per_million[smallest]:.2f} (1.00 is linear); in CPU seconds "
        f"after preparing: {cpu_per_million[largest] / cpu_per_million[smallest]:.2f}"
    )


if __name__ == "__main__":
    main()
