"""``mlpkit cv --folds 5`` against 5 runs of ``mlpkit train`` doing the same work (each on 80%
of the rows, validated on the other 20%), in one process after the imports.

The table is ``benchmarks/stacked.py``'s: 10,000 rows of 20 features, 2 classes, written as a
CSV into a temporary folder; mlpkit's default model (256, 128, Adam, batch 32), ``--epochs``
epochs without early stopping, no report. The two ways take turns (``--reps`` rounds) and the
medians are shown: wall time, this process's CPU time, and the training time the runs report.

    python benchmarks/cv.py [--epochs 10] [--reps 3] [--threads 1]  (0: mlpkit's own choice)

Not a timed test: compare the ratios, which come from one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from stacked import make_data


def measured(run):
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="0: mlpkit's adaptive choice")
    args = parser.parse_args()
    from mlpkit.config import RunConfig, merge
    from mlpkit.cv import cross_validate
    from mlpkit.runs.train import train_run

    folder = Path(tempfile.mkdtemp(prefix="mlpkit-cv-bench-"))
    x, y = make_data()
    table = pd.DataFrame(x.numpy(), columns=[f"x{i}" for i in range(x.shape[1])])
    table["y"] = y.numpy()
    table.to_csv(folder / "table.csv", index=False)
    base = {
        "data": str(folder / "table.csv"), "target": "y", "task": "classification",
        "epochs": args.epochs, "early_stopping": 0, "overwrite": True, "report": False,
        **({"threads": args.threads} if args.threads else {}),
    }  # fmt: skip
    rows: dict[str, list[tuple[float, float, float]]] = {"cv --folds 5": [], "5 x train": []}
    warm = {**base, "epochs": 1}  # first calls: imports, allocations
    cross_validate(merge(RunConfig(), {**warm, "out": str(folder / "cv")}), 5)
    train_run(merge(RunConfig(), {**warm, "out": str(folder / "train"), "val_fraction": 0.2}))
    load_before = os.getloadavg()[0]
    for _ in range(args.reps):
        config = merge(RunConfig(), {**base, "out": str(folder / "cv")})
        wall, cpu, cv = measured(lambda config=config: cross_validate(config, 5))
        rows["cv --folds 5"].append((wall, cpu, cv.details["training_time"]))
        total = [0.0, 0.0, 0.0]
        for k in range(5):
            config = merge(RunConfig(), {**base, "out": str(folder / f"train{k}"), "seed": k,
                                         "val_fraction": 0.2, "test_fraction": 0})  # fmt: skip
            w, c, run = measured(lambda config=config: train_run(config))
            for i, v in enumerate((w, c, float(run.history["total_time"].iloc[-1]))):
                total[i] += v
        rows["5 x train"].append((total[0], total[1], total[2]))
    load_after = os.getloadavg()[0]
    median = {k: [statistics.median(r[i] for r in v) for i in range(3)] for k, v in rows.items()}
    threads = args.threads or "adaptive"
    print(f"10,000 rows x 20 features, 2 classes; 20-256-128-2, batch 32, {args.epochs} epochs; "
          f"threads {threads}; medians of {args.reps}; load average {load_before:.1f} before, "
          f"{load_after:.1f} after")  # fmt: skip
    print(f"{'':<14} {'wall s':>8} {'CPU s':>8} {'training s':>11}")
    for name, (wall, cpu, training) in median.items():
        print(f"{name:<14} {wall:8.2f} {cpu:8.2f} {training:11.2f}")
    ratio = [a / b for a, b in zip(median["5 x train"], median["cv --folds 5"], strict=True)]
    print(f"5 x train / cv: wall {ratio[0]:.2f}x, CPU {ratio[1]:.2f}x, training {ratio[2]:.2f}x")
    print(f"cross-validated accuracy: {cv.summary['val_accuracy']['mean']:.4f} ± "
          f"{cv.summary['val_accuracy']['std']:.4f}")  # fmt: skip


if __name__ == "__main__":
    main()
