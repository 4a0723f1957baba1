"""Inference speed: rows per second of each prediction engine next to scikit-learn's MLP.

The model is the training benchmark's 784-300-100-10 ReLU MLP. mlpkit's engines run the exported
module, preprocessing included (standardisation of the 784 raw features, softmax at the end):
eager PyTorch, torch.export (pt2, reloaded from its file), TorchScript (reloaded) and ONNX
Runtime; ``mlpkit.predict`` is the eager path ``mlpkit predict --engine torch`` takes (NumPy
preprocessing, then the model). scikit-learn's ``MLPClassifier.predict_proba`` has the same
layer sizes (fitted for one iteration: speed does not depend on the weights) and no
preprocessing. Batch 1 gives the latency (median and 99th percentile of single-row calls),
batch 4096 the throughput.

    python benchmarks/inference.py [--calls 2000] [--threads N]

Not a timed test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from mlpkit.data.preprocess import Preprocessor
from mlpkit.export import format_module
from mlpkit.export.serving import Serving, serving_spec
from mlpkit.inference.prediction import predict
from mlpkit.models import MLP

FEATURES, HIDDEN, CLASSES = 784, [300, 100], 10


def timings(run: Callable[[], object], calls: int) -> list[float]:
    """Seconds per call, after a warm-up."""
    for _ in range(min(50, calls)):
        run()
    found = []
    for _ in range(calls):
        started = time.perf_counter()
        run()
        found.append(time.perf_counter() - started)
    return found


def engines(folder: Path, serving: Serving, example: dict, spec: dict) -> dict[str, Callable]:
    found: dict[str, Callable] = {}

    def eager(inputs):
        with torch.inference_mode():
            return serving(**{k: torch.from_numpy(v) for k, v in inputs.items()}).numpy()

    found["eager (exported module)"] = eager
    for name in ("pt2", "torchscript", "onnx"):
        module = format_module(name)
        try:
            data, _ = module.serialize(serving, example, spec, None)
        except ImportError as exc:
            print(f"{name}: skipped ({exc})")
            continue
        path = folder / module.FILE
        path.write_bytes(data)
        found[name] = module.load(path)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="single-row calls timed")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")

    rng = np.random.default_rng(0)
    X = rng.random((4096, FEATURES), dtype=np.float32)
    torch.manual_seed(0)
    model = MLP(FEATURES, HIDDEN, CLASSES).eval()
    preprocessor = Preprocessor().fit(X)
    serving = Serving(model, preprocessor, "classification").eval()
    metadata = {
        "architecture": {"type": "MLP", **model.arguments()},
        "task": "classification",
        "preprocessing": preprocessor.to_dict(),
    }
    spec = serving_spec(metadata, serving)
    example = {"features": torch.from_numpy(X[:7].copy())}

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = MLPClassifier(hidden_layer_sizes=tuple(HIDDEN), max_iter=1, random_state=0)
        sk.fit(X[:1000], rng.integers(0, CLASSES, 1000))

    with tempfile.TemporaryDirectory() as folder:
        runs = engines(Path(folder), serving, example, spec)

        def mlpkit_predict(inputs):
            return predict(model, preprocessor.transform(inputs["features"]), top_k=1)

        runs["mlpkit.predict (eager path)"] = mlpkit_predict
        runs["scikit-learn predict_proba"] = lambda inputs: sk.predict_proba(inputs["features"])

        print(
            f"{FEATURES}-{'-'.join(map(str, HIDDEN))}-{CLASSES} MLP, torch {torch.__version__}, "
            f"{torch.get_num_threads()} torch thread(s)"
        )
        print(f"{'engine':<30} {'batch 1 median':>15} {'p99':>10} {'rows/s @4096':>14}")
        one = {"features": X[:1].copy()}
        full = {"features": X}
        results = {}
        for name, run in runs.items():
            latency = timings(lambda run=run: run(one), args.calls)
            bulk = timings(lambda run=run: run(full), 30)
            median = statistics.median(latency)
            p99 = float(np.percentile(latency, 99))
            rate = 4096 / statistics.median(bulk)
            results[name] = rate
            print(f"{name:<30} {median * 1e6:>12.1f} us {p99 * 1e6:>7.1f} us {rate:>14,.0f}")
        best = max((r for n, r in results.items() if "scikit" not in n), default=0.0)
        sklearn_rate = results["scikit-learn predict_proba"]
        print(f"best mlpkit engine / scikit-learn at 4096: {best / sklearn_rate:.2f}x")


if __name__ == "__main__":
    main()
