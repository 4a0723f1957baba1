"""Inference speed: rows per second of each ``mlpkit predict`` engine next to scikit-learn's MLP.

The model is the training benchmark's 784-300-100-10 ReLU MLP, trained for one epoch on random
features (speed does not depend on the weights) as a real run folder with the default
preprocessing (median imputation, robust scaling with the smooth clip), then exported with
``export_run`` (what ``mlpkit export RUN --format all`` does). Each engine is timed through
``open_predictor(RUN, engine)``, the object ``mlpkit predict RUN INPUT --engine X`` predicts
with: raw features in (an array as ``read_features`` returns it for an NPY file), the
preprocessing, the model, and the top class with its probability out. Only reading the file
and writing the CSV are left out. scikit-learn's ``MLPClassifier.predict_proba`` has the same
layer sizes (fitted for one iteration), its defaults, the same raw rows and the same threads.

Batch 1 gives the latency (median and 99th percentile of single-row calls), batch 4096 the
throughput. The machine may be busy, so the engines take turns: each round times every engine
once, ``--rounds`` times, and the figures are medians over the rounds (the 99th percentile over
all single-row calls); the ratio to scikit-learn is taken within each round, then its median.

    python benchmarks/inference.py [--rounds 7] [--calls 300] [--threads N] [--markdown]

Not a timed test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

FEATURES, HIDDEN, CLASSES = 784, [300, 100], 10
ROWS = 4096
ENGINES = {  # label: the --engine value
    "torch (eager)": "torch",
    "pt2": "pt2",
    "torchscript": "torchscript",
    "onnx (ONNX Runtime)": "onnx",
}
SKLEARN = "scikit-learn predict_proba"


def seconds(run: Callable[[], object], calls: int) -> list[float]:
    """Seconds per call of ``calls`` calls, after one untimed call."""
    run()
    found = []
    for _ in range(calls):
        started = time.perf_counter()
        run()
        found.append(time.perf_counter() - started)
    return found


def make_run(folder: Path) -> tuple[Path, Path]:
    """A trained, exported run folder and an NPY file of 4096 new raw rows, made in another
    process: the timed one is then as fresh as ``mlpkit predict``'s (training changes torch's
    thread count as it goes, and torch's small operators stay slower after such a change)."""
    subprocess.run([sys.executable, __file__, "--make-run", str(folder)], check=True)
    return folder / "run", folder / "new.npy"


def _make_run(folder: Path) -> None:
    from mlpkit.config import build_config
    from mlpkit.runs import train_run
    from mlpkit.runs.export import export_run

    rng = np.random.default_rng(0)
    train = folder / "train.npz"
    X = rng.random((2000, FEATURES), dtype=np.float32)
    np.savez(train, X=X, y=rng.integers(0, CLASSES, len(X)))
    new = folder / "new.npy"
    np.save(new, rng.random((ROWS, FEATURES), dtype=np.float32))
    run = folder / "run"
    config = {"data": str(train), "hidden": HIDDEN, "epochs": 1, "seed": 0, "out": str(run)}
    train_run(build_config(config))
    export_run(run, "all")


def sklearn_model(run: Path):
    """scikit-learn's MLP of the same sizes, with its defaults, fitted on the run's data."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    data = np.load(run.parent / "train.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = MLPClassifier(hidden_layer_sizes=tuple(HIDDEN), max_iter=1, random_state=0)
        return model.fit(data["X"], data["y"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="turns of every engine")
    parser.add_argument("--calls", type=int, default=300, help="single-row calls per round")
    parser.add_argument("--bulk", type=int, default=5, help="4096-row calls per round")
    parser.add_argument("--threads", type=int, default=None, help="threads for every engine")
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    parser.add_argument("--make-run", type=Path, help=argparse.SUPPRESS)  # the other process
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.make_run:
        _make_run(args.make_run)
        return
    from threadpoolctl import threadpool_limits

    from mlpkit.data.loading import read_features
    from mlpkit.runs.predict import open_predictor

    if args.threads and args.threads != torch.get_num_threads():
        torch.set_num_threads(args.threads)  # ONNX Runtime's session follows it
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as folder:
        run, new = make_run(Path(folder))
        predictors = {label: open_predictor(run, engine) for label, engine in ENGINES.items()}
        first = next(iter(predictors.values()))
        raw = read_features(new, first.preprocessor, None)  # as mlpkit predict reads the file
        sk = sklearn_model(run)
        calls: dict[str, Callable] = {
            label: (lambda rows, p=p: p(rows, top_k=1, source=new.name))
            for label, p in predictors.items()
        }
        calls[SKLEARN] = sk.predict_proba
        one, full = raw[:1], raw
        # Every engine agrees with the eager one before it is timed.
        eager = calls["torch (eager)"](full)
        for label, call in calls.items():
            if label != SKLEARN:
                assert (call(full).classes == eager.classes).all(), label

        load_before = os.getloadavg()
        latency: dict[str, list[float]] = {label: [] for label in calls}
        latency_median: dict[str, list[float]] = {label: [] for label in calls}
        bulk: dict[str, list[float]] = {label: [] for label in calls}
        with threadpool_limits(threads):  # scikit-learn's BLAS: the same threads as torch
            for _ in range(args.rounds):
                for label, call in calls.items():
                    times = seconds(lambda call=call: call(one), args.calls)
                    latency[label] += times
                    latency_median[label].append(statistics.median(times))
                    bulk[label].append(
                        statistics.median(seconds(lambda c=call: c(full), args.bulk))
                    )
        load_after = os.getloadavg()

    rate = {label: [ROWS / s for s in found] for label, found in bulk.items()}
    rows = []
    for label in calls:
        rows.append(
            (
                label,
                statistics.median(latency_median[label]) * 1e6,
                float(np.percentile(latency[label], 99)) * 1e6,
                statistics.median(rate[label]),
                statistics.median(a / b for a, b in zip(rate[label], rate[SKLEARN], strict=True)),
                1 / statistics.median(latency_median[label]),
            )
        )
    engines = [r for r in rows if r[0] != SKLEARN]
    best_bulk = max(engines, key=lambda r: r[3])
    best_latency = min(engines, key=lambda r: r[1])
    per_round_best = [
        max(rate[label][i] for label in ENGINES) / rate[SKLEARN][i] for i in range(args.rounds)
    ]
    print(
        f"{FEATURES}-{'-'.join(map(str, HIDDEN))}-{CLASSES} MLP, torch {torch.__version__}, "
        f"{threads} thread(s) per engine, {os.cpu_count()} CPU(s), {args.rounds} rounds; "
        f"load average {load_before[0]:.2f} at the start, {load_after[0]:.2f} at the end"
    )
    header = f"{'engine':<28} {'batch 1 median':>15} {'p99':>10} {'rows/s @4096':>13} {'vs sk':>6}"
    print(header)
    for label, median, p99, bulk_rate, ratio, _ in rows:
        print(f"{label:<28} {median:>12.1f} us {p99:>7.1f} us {bulk_rate:>13,.0f} {ratio:>5.2f}x")
    print(
        f"best engine at 4096 ({best_bulk[0]}) / scikit-learn: {best_bulk[4]:.2f}x (median of the "
        f"per-round ratios of the best engine that round: {statistics.median(per_round_best):.2f}x,"
        f" rounds {min(per_round_best):.2f}-{max(per_round_best):.2f}); target 1.5x: "
        f"{'met' if statistics.median(per_round_best) >= 1.5 else 'not met'}"
    )
    print(
        f"best engine at batch 1 ({best_latency[0]}): {best_latency[1]:.1f} us median; "
        f"target below 100 us: {'met' if best_latency[1] < 100 else 'not met'}"
    )
    if args.markdown:
        print()
        print(
            "| engine | batch 1 median (us) | batch 1 p99 (us) | rows/s at 4096 | vs scikit-learn |"
        )
        print("| --- | ---: | ---: | ---: | ---: |")
        for label, median, p99, bulk_rate, ratio, _ in rows:
            print(f"| {label} | {median:.0f} | {p99:.0f} | {bulk_rate:,.0f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
