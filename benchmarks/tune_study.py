"""Tuning: the best validation value after 20 and 50 trials against the untuned default run, on
digits and on a file-based table, and trials per minute with 1 and 2 workers.

    .venv/bin/python benchmarks/tune_study.py [--out /tmp/tune-bench] [--trials 50]

The table is scikit-learn's diabetes data written to a CSV with its sex column as text (so it is
one-hot encoded), target ``progression``: a regression, tuned on val_rmse. Each value is the best
epoch's, as a trial's value is; the test metric is the default run's and the retrained best's.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from pathlib import Path

import pandas as pd

from mlpkit.config import build_config
from mlpkit.runs.train import train_run
from mlpkit.tune import TuneConfig, start_study, tune_study

# One thread per trial: on this shared 2-core machine two threads contend with other work.
SAME = {"threads": 1, "report": False}


def diabetes_csv(folder: Path) -> Path:
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame
    frame["sex"] = frame["sex"].map({1.0: "female", 2.0: "male"})
    frame = frame.rename(columns={"target": "progression"})
    path = folder / "diabetes.csv"
    frame.to_csv(path, index=False)
    return path


def best(values: pd.Series, direction: str) -> float:
    return float(values.max() if direction == "maximize" else values.min())


def compare(name: str, settings: dict, folder: Path, trials: int) -> dict:
    default = train_run(build_config({**settings, "out": str(folder / f"{name}-default")}))
    tune = TuneConfig(trials=trials)
    spec = start_study(build_config(settings), tune, folder / f"{name}-study")
    metric, direction = spec.metric, spec.direction
    result = tune_study(spec, tune, retrain=True)
    rows = pd.read_csv(Path(spec.study_dir) / "trials.csv")
    complete = rows[rows["state"] == "complete"]
    test_metric = metric.removeprefix("val_")
    return {
        "data": name,
        "metric": metric,
        "default (val, best epoch)": best(default.history[metric], direction),
        "best after 20": best(complete[complete["number"] < 20]["value"], direction),
        f"best after {trials}": best(complete["value"], direction),
        "default test": default.test_metrics[test_metric],
        "retrained best test": result.retrained.test_metrics[test_metric],
        "complete/pruned/failed": "/".join(
            str(result.summary.counts[s]) for s in ("complete", "pruned", "fail")
        ),
        "minutes": round(result.run.seconds / 60, 2),
    }


def speed(folder: Path, workers: int, trials: int, threads: int | None = None) -> dict:
    tune = TuneConfig(trials=trials, workers=workers)
    settings = {"data": "digits", "report": False, "threads": threads}
    name = f"speed-{workers}-{threads or 'auto'}"
    spec = start_study(build_config(settings), tune, folder / name)
    begin = time.perf_counter()
    result = tune_study(spec, tune)
    return {
        "workers": workers,
        "threads per trial": threads or ("auto" if workers == 1 else 1),
        "trials": result.run.ran,
        "seconds": round(time.perf_counter() - begin, 1),
        "trials per minute": round(result.run.trials_per_minute, 2),
        "pruned": result.summary.counts["pruned"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/mlpkit-tune-bench"))
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--speed-trials", type=int, default=20)
    parser.add_argument("--auto-thread-trials", type=int, default=5)
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if any(args.out.iterdir()):
        raise SystemExit(f"{args.out} is not empty; give an empty --out")
    logging.basicConfig(level=logging.WARNING)
    if not args.skip_quality:
        table = diabetes_csv(args.out)
        table_settings = {"data": str(table), "target": "progression", **SAME}
        quality = [
            compare("digits", {"data": "digits", **SAME}, args.out, args.trials),
            compare("diabetes.csv", table_settings, args.out, args.trials),
        ]
        print(pd.DataFrame(quality).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    rates = [
        speed(args.out, 1, args.speed_trials, threads=1),
        speed(args.out, 2, args.speed_trials),
        speed(args.out, 1, args.auto_thread_trials),  # mlpkit's own thread choice
    ]
    print(pd.DataFrame(rates).to_string(index=False))
    if not math.isfinite(rates[0]["trials per minute"]):
        raise SystemExit("no trial ran")


if __name__ == "__main__":
    main()
