"""Tuning with ``--parallel-trials K``: trials per minute and the best value against sequential
trials, on the same data, default search space and number of trials (issue 17's target: K = 8
completes at least 3x the trials per minute, with the same best value within noise).

    .venv/bin/python benchmarks/tune_parallel.py [--data breast_cancer | --rows 10000]
        [--trials 32] [--parallel 8] [--seeds 0 1] [--out /tmp/tune-parallel]

``--rows N`` tunes on a synthetic table of N rows instead (scikit-learn's make_classification:
20 features, 10 informative, 3 classes, 5% of the labels flipped), written to a CSV.

Each (seed, mode) is a new study of the default space (TPE, median pruner, 5 startup trials)
with the default training settings (epochs and early stopping left to the data). The times are
the studies' own (``StudyRun.seconds``); the load average is printed before and after, as the
machine is shared.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
from pathlib import Path

import pandas as pd

from mlpkit.config import build_config
from mlpkit.runs.train import train_run
from mlpkit.tune import TuneConfig, start_study, tune_study


def synthetic_csv(rows: int, folder: Path) -> Path:
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=rows, n_features=20, n_informative=10, n_classes=3,
                               flip_y=0.05, random_state=0)  # fmt: skip
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame["label"] = y
    path = folder / f"synthetic-{rows}.csv"
    frame.to_csv(path, index=False)
    return path


def one_study(data: dict, trials: int, parallel: int, seed: int, folder: Path) -> dict:
    settings = {**data, "report": False, "seed": seed}
    tune = TuneConfig(trials=trials, parallel_trials=parallel, plots=False)
    name = f"{Path(data['data']).stem}-seed{seed}-k{parallel}"
    spec = start_study(build_config(settings), tune, folder / name)
    result = tune_study(spec, tune)
    rows = pd.read_csv(Path(spec.study_dir) / "trials.csv")
    counts = rows["state"].value_counts()
    return {
        "seed": seed,
        "parallel trials": parallel,
        "trials": result.run.ran,
        "seconds": round(result.run.seconds, 1),
        "trials per minute": round(result.run.trials_per_minute, 2),
        f"best {spec.metric}": round(float(result.summary.best["value"]), 4),
        "complete/pruned/failed": "/".join(
            str(int(counts.get(s, 0))) for s in ("complete", "pruned", "fail")
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="breast_cancer")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--trials", type=int, default=32)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--out", type=Path, default=Path("/tmp/tune-parallel"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    args.out.mkdir(parents=True, exist_ok=True)
    data = {"data": args.data}
    if args.rows:
        data = {"data": str(synthetic_csv(args.rows, args.out)), "target": "label"}
    print(f"data: {data['data']}; load average before: {os.getloadavg()}")
    # Warm-up (imports, first kernels) outside the timed studies.
    train_run(build_config({**data, "epochs": 1, "report": False,
                            "out": str(args.out / "warmup"), "overwrite": True}))  # fmt: skip
    rows = []
    for seed in args.seeds:
        for parallel in (1, args.parallel):
            rows.append(one_study(data, args.trials, parallel, seed, args.out))
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    ratios = []
    for seed in args.seeds:
        mine = table[table["seed"] == seed].set_index("parallel trials")["trials per minute"]
        ratios.append(mine[args.parallel] / mine[1])
        print(f"seed {seed}: {args.parallel} parallel / sequential trials per minute = "
              f"{ratios[-1]:.2f}x")  # fmt: skip
    print(f"mean ratio {statistics.mean(ratios):.2f}x over {len(ratios)} seeds")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
