"""Data-parallel training: time per epoch with 1 and N processes (`make bench`).

The benchmark's 784-300-100-10 workload (``workload.py``: MNIST-shaped random data, SGD with
momentum), trained by ``mlpkit.fit`` for ``--epochs`` epochs in one process and in ``--nproc``
processes (gloo on loopback, each with ``cores / nproc`` threads), at each batch size, taking
turns over ``--reps`` repetitions. Prints the median seconds per epoch (the history's own
``total_time``, training only), the ratio, and what one step exchanges against what it computes:
the bytes all-reduced (every gradient, float32) and the matrix-product FLOPs of the whole batch.

    python benchmarks/distributed.py
    python benchmarks/distributed.py --samples 20000 --batch-sizes 32 256 --reps 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "src")]

from workload import LR, MOMENTUM, Workload, flops_per_sample, torch_mlp  # noqa: E402


def worker(samples: int, batch_size: int, epochs: int, out: str) -> None:
    """One rank (or the only process): train and, on rank 0, write the epoch times."""
    import mlpkit

    data = Workload.make(samples)
    model = torch_mlp()
    history = mlpkit.fit(
        model, "cross_entropy", (data.x, data.y), epochs=epochs, batch_size=batch_size,
        optimizer="sgd", lr=LR, momentum=MOMENTUM, early_stopping=0, restore_best=False,
        metrics=[], seed=0,
    )  # fmt: skip
    if int(os.environ.get("RANK", "0")) == 0:
        times = history["total_time"].diff().fillna(history["total_time"]).tolist()
        result = {"epoch_seconds": times[1:] or times, "step": history.attrs["step"]}
        result["threads"] = history.attrs["threads"]
        Path(out).write_text(json.dumps(result))


def timed(nproc: int, samples: int, batch_size: int, epochs: int, folder: Path) -> dict:
    """Median seconds per epoch (the first epoch left out) of one run on ``nproc`` processes."""
    from mlpkit.distributed.launch import free_port, rank_environment

    out = folder / f"result-{nproc}-{batch_size}.json"
    command = [sys.executable, __file__, "--worker", str(samples), str(batch_size), str(epochs)]
    port = free_port()
    ranks = [
        subprocess.Popen(
            [*command, str(out)],
            env={**os.environ, **(rank_environment(r, nproc, port) if nproc > 1 else {})},
        )
        for r in range(nproc)
    ]
    codes = [r.wait() for r in ranks]
    if any(codes):
        raise SystemExit(f"a rank failed: exit codes {codes}")
    result = json.loads(out.read_text())
    result["median"] = statistics.median(result["epoch_seconds"])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 256])
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args()
    widths = (300, 100, 10)
    sizes = list(zip([784, *widths[:-1]], widths, strict=True))
    parameters = sum(m * n + n for m, n in sizes)
    print(f"load average {os.getloadavg()[0]:.1f}; {os.cpu_count()} cores; {args.samples} rows")
    print(f"gradients all-reduced per step: {parameters * 4 / 1e6:.2f} MB ({parameters} floats)")
    with tempfile.TemporaryDirectory() as tmp:
        for batch in args.batch_sizes:
            medians: dict[int, list[float]] = {1: [], args.nproc: []}
            for _ in range(args.reps):
                for nproc in (1, args.nproc):  # taking turns: both see the same load
                    result = timed(nproc, args.samples, batch, args.epochs, Path(tmp))
                    medians[nproc].append(result["median"])
            one, many = (statistics.median(medians[n]) for n in (1, args.nproc))
            steps = -(-args.samples // batch)
            flops = flops_per_sample() * batch
            print(
                f"batch {batch}: {one:.2f} s/epoch on 1 process, {many:.2f} s on {args.nproc} "
                f"(speed-up {one / many:.2f}x); {steps} steps; per step {flops / 1e6:.0f} MFLOP "
                f"of products for the whole batch against {parameters * 4 / 1e6:.2f} MB "
                f"exchanged ({flops / (parameters * 4):.0f} FLOP per byte); "
                f"{(many - one / args.nproc) / steps * 1e6:.0f} us per step beyond a perfect "
                "split"
            )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        main()
