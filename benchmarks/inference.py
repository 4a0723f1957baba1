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

    python benchmarks/inference.py [--rounds 7] [--calls 300] [--threads N] [--markdown] [--ceiling]

``--ceiling`` also times, in the same rounds, the models' matrix products alone in each library
(NumPy's OpenBLAS, torch's MKL and oneDNN, ONNX Runtime's MLAS): how far any engine could go.

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


def gemm_chains(run: Path, sk, X: np.ndarray) -> dict[str, Callable[[], object]]:
    """The three matrix products (with bias, ReLU and softmax) of both models alone, in each
    library the machine has: what the engines and scikit-learn cannot go below. No
    preprocessing, the rows as they are; 4096 rows per call."""
    import onnx

    from mlpkit.export import onnx as onnx_format
    from mlpkit.io.weights import load_model

    weights, biases = sk.coefs_, sk.intercepts_

    def numpy_openblas() -> np.ndarray:  # scikit-learn's own forward pass, without its checks
        h = X
        for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
            h = h @ w
            h += b
            if i < len(weights) - 1:
                np.maximum(h, 0, out=h)
        return h

    model = load_model(run)[0].eval()
    Xt = torch.from_numpy(np.array(X))
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]

    def torch_mkl() -> torch.Tensor:
        with torch.inference_mode():
            return torch.softmax(model(Xt), dim=1)

    chains = {"NumPy (OpenBLAS), scikit-learn's weights": numpy_openblas,
              "torch (MKL), mlpkit's model": torch_mkl}  # fmt: skip
    if hasattr(torch.ops.mkldnn, "_linear_pointwise"):
        packed = [(torch.ops.mkldnn._reorder_linear_weight(m.weight.detach(), len(X)),
                   m.bias.detach()) for m in linears]  # fmt: skip

        def torch_onednn() -> torch.Tensor:
            h = Xt
            for i, (w, b) in enumerate(packed):
                relu = "relu" if i < len(packed) - 1 else "none"
                h = torch.ops.mkldnn._linear_pointwise(h, w, b, relu, [], "")
            return torch.softmax(h, dim=1)

        chains["torch (oneDNN), mlpkit's model"] = torch_onednn
    # The export without its preprocessing: the first matrix product reads the rows directly.
    proto = onnx.load(str(run / "export" / "model.onnx"))
    kept = [n for n in proto.graph.node if n.op_type in ("Gemm", "Relu", "Softmax")]
    kept[0].input[0] = proto.graph.input[0].name
    del proto.graph.node[:]
    proto.graph.node.extend(kept)
    bare = run / "export" / "model_only.onnx"
    onnx.save(proto, str(bare))
    name, engine = proto.graph.input[0].name, onnx_format.load(bare)
    chains["ONNX Runtime (MLAS), as the engine runs it"] = lambda: engine({name: X})
    whole = onnx_format.load(bare).session
    chains["ONNX Runtime (MLAS), one call, one thread"] = lambda: whole.run(None, {name: X})
    return chains


def ceiling_table(found: dict[str, list[float]], sklearn: list[float]) -> None:
    """Milliseconds per 4096 rows, GFLOP/s of the matrix products and the ratio to
    scikit-learn's ``predict_proba`` (within each round, then the median)."""
    sizes = [FEATURES, *HIDDEN, CLASSES]
    flops = 2 * ROWS * sum(a * b for a, b in zip(sizes, sizes[1:], strict=False))
    print(f"{'matrix products alone, 4096 rows':<46} {'ms':>7} {'GFLOP/s':>8} {'vs sk':>6}")
    for label, times in found.items():
        ms = statistics.median(times) * 1e3
        ratio = statistics.median(b / a for a, b in zip(times, sklearn, strict=True))
        print(f"{label:<46} {ms:>7.1f} {flops / ms / 1e6:>8.1f} {ratio:>5.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="turns of every engine")
    parser.add_argument("--calls", type=int, default=300, help="single-row calls per round")
    parser.add_argument("--bulk", type=int, default=5, help="4096-row calls per round")
    parser.add_argument("--threads", type=int, default=None, help="threads for every engine")
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    parser.add_argument(
        "--ceiling", action="store_true", help="also time the matrix products alone, per library"
    )
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
        torch.set_num_threads(args.threads)  # ONNX Runtime's worker count follows it
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
        chains = gemm_chains(run, sk, np.array(full)) if args.ceiling else {}
        alone: dict[str, list[float]] = {label: [] for label in chains}
        with threadpool_limits(threads):  # scikit-learn's BLAS: the same threads as torch
            for _ in range(args.rounds):
                for label, call in calls.items():
                    times = seconds(lambda call=call: call(one), args.calls)
                    latency[label] += times
                    latency_median[label].append(statistics.median(times))
                    bulk[label].append(
                        statistics.median(seconds(lambda c=call: c(full), args.bulk))
                    )
                for label, chain in chains.items():  # in the same rounds as scikit-learn
                    alone[label].append(statistics.median(seconds(chain, args.bulk)))
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
    if alone:
        print()
        ceiling_table(alone, bulk[SKLEARN])
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
