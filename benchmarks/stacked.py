"""K models at once: one epoch of a StackedMLP of K members against K separate models trained one
after another (issue 17's target: K = 8 in at most 2.5x the time of one model).

The task is mlpkit's default model on a synthetic table: 10,000 rows of 20 features, 2 classes;
hidden layers 256, 128 with ReLU, Adam at lr 1e-3, batches of 32, cross-entropy, one epoch.
One model is trained the faster of two ways (``FusedMLPStep`` in a minimal loop, or
``mlpkit.fit`` for one epoch, which chooses the same fused step); the stack with
``StackedStep``, its members sharing each batch (as TabM trains) or each drawing its own
shuffle order ("own batches", what ``--ensemble`` with per-member orders would run). Every
configuration runs in each repetition, in a rotating order, so that machine drift spreads over
all of them; medians are shown. Each way of training is tried with 1 thread and with all cores,
and shown at its faster (a small model alone gains little from a second core; a stack does).

    python benchmarks/stacked.py [--reps 5] [--members 1,4,8,16,32] [--threads 1,2]
        [--batches shared,own]

Not a timed test: the figures depend on the machine; compare the ratios, which come from one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

ROWS, FEATURES, CLASSES = 10_000, 20, 2
HIDDEN, BATCH, LR = [256, 128], 32, 1e-3  # mlpkit's defaults (config/sections.py, optim.py)


def make_data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(ROWS, FEATURES, generator=gen)
    rule = torch.randn(FEATURES, generator=gen)
    y = ((x @ rule + 0.5 * torch.randn(ROWS, generator=gen)) > 0).long()
    return x, y


def single_fused(x: torch.Tensor, y: torch.Tensor, seed: int) -> Callable[[], float]:
    """One model, FusedMLPStep in a minimal loop: one epoch per call, on a new model."""
    from mlpkit.models import MLP
    from mlpkit.training.fused import FusedMLPStep

    def epoch() -> float:
        torch.manual_seed(seed)
        model = MLP(FEATURES, HIDDEN, CLASSES)
        opt = torch.optim.Adam(model.parameters(), lr=LR)
        step = FusedMLPStep(model, nn.CrossEntropyLoss(), opt)
        started = time.perf_counter()
        train_epoch(step, x, y, torch.randperm(ROWS))
        return time.perf_counter() - started

    return epoch


def train_epoch(step, x: torch.Tensor, y: torch.Tensor, order: torch.Tensor) -> None:
    """One epoch of ``step`` over the rows in ``order``: (n,) shared, or (K, n) one per member."""
    total = torch.zeros(())
    for start in range(0, ROWS, BATCH):
        idx = order[..., start : start + BATCH]
        loss, _ = step.train_batch(x[idx], y[idx])
        total += loss
    total.item()  # the loop never waited for the losses; this does, once


def single_fit(x: torch.Tensor, y: torch.Tensor, seed: int) -> Callable[[], float]:
    """One model, ``mlpkit.fit`` for one epoch (the whole call timed)."""
    import mlpkit

    def epoch() -> float:
        torch.manual_seed(seed)
        model = mlpkit.MLP(FEATURES, HIDDEN, CLASSES)
        started = time.perf_counter()
        history = mlpkit.fit(
            model, "cross_entropy", (x, y), epochs=1, batch_size=BATCH, optimizer="adam",
            lr=LR, label_smoothing=0.0, seed=seed, threads=torch.get_num_threads(),
        )  # fmt: skip
        seconds = time.perf_counter() - started
        if history.attrs.get("step") != "fused":
            print(f"note: mlpkit.fit used the {history.attrs.get('step_details')} step")
        return seconds

    return epoch


def stack(x: torch.Tensor, y: torch.Tensor, members: int, own_batches: bool):
    """K members as one StackedMLP: one epoch per call, on a new stack."""
    from mlpkit.stacked import StackedAdam, StackedMLP, StackedStep

    def epoch() -> float:
        model = StackedMLP(members, FEATURES, HIDDEN, CLASSES)
        step = StackedStep(model, nn.CrossEntropyLoss(), StackedAdam(model.parameters(), lr=LR))
        started = time.perf_counter()
        if own_batches:  # each member its own shuffle order: (K, n, in) batches
            order = torch.stack([torch.randperm(ROWS) for _ in range(members)])
        else:
            order = torch.randperm(ROWS)
        train_epoch(step, x, y, order)
        return time.perf_counter() - started

    return epoch


def with_threads(threads: int, epoch: Callable[[], float]) -> Callable[[], float]:
    def run() -> float:
        torch.set_num_threads(threads)
        return epoch()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="repetitions (medians are shown)")
    parser.add_argument("--members", default="1,4,8,16,32", help="stack sizes K")
    parser.add_argument(
        "--threads", default=None, help="thread counts to try, e.g. 1,2 (default: 1 and all cores)"
    )
    parser.add_argument("--batches", default="shared,own", help="shared, own or both")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    thread_counts = sorted({1, cores or 1}) if args.threads is None else [
        int(t) for t in args.threads.split(",")
    ]  # fmt: skip
    sizes = [int(k) for k in args.members.split(",")]
    kinds = args.batches.split(",")
    x, y = make_data()

    # (way of training, threads) -> one timed epoch
    single: dict[tuple[str, int], Callable[[], float]] = {}
    stacks: dict[tuple[str, int], Callable[[], float]] = {}
    for t in thread_counts:
        single[("single: FusedMLPStep loop", t)] = with_threads(t, single_fused(x, y, 0))
        single[("single: mlpkit.fit", t)] = with_threads(t, single_fit(x, y, 0))
        for k in sizes:
            for kind in kinds:
                epoch = stack(x, y, k, own_batches=kind == "own")
                stacks[(f"stack K={k}: {kind}", t)] = with_threads(t, epoch)
    runs = {**single, **stacks}
    load_before = os.getloadavg()[0]
    for run in runs.values():  # warm-up: allocations, first-call paths
        run()
    times: dict[tuple[str, int], list[float]] = {key: [] for key in runs}
    sequential: dict[int, list[float]] = {k: [] for k in sizes}
    keys = list(runs)
    for rep in range(args.reps):
        shift = rep * len(keys) // max(args.reps, 1)
        for key in keys[shift:] + keys[:shift]:
            times[key].append(runs[key]())
        fastest = min(single, key=lambda key: times[key][-1])
        for k in sizes:  # K separate models, one after another, the fastest way this round
            sequential[k].append(sum(single[fastest]() for _ in range(k)))
    load_after = os.getloadavg()[0]

    median = {key: statistics.median(t) for key, t in times.items()}

    def best(name: str) -> tuple[float, int]:
        return min((median[(n, t)], t) for n, t in median if n == name)

    print(f"{ROWS:,} rows x {FEATURES} features, {CLASSES} classes; {FEATURES}-"
          f"{'-'.join(map(str, HIDDEN))}-{CLASSES} ReLU, Adam lr {LR}, batch {BATCH}, one epoch; "
          f"torch {torch.__version__}; median of {args.reps}; threads tried {thread_counts}; "
          f"load average {load_before:.1f} before, {load_after:.1f} after")  # fmt: skip
    for (name, t), seconds in median.items():
        if (name, t) in single:
            print(f"{name:<28} {t} thread(s) {seconds * 1e3:8.1f} ms")
    one = min(median[key] for key in single)
    print(f"one model (the fastest of these): {one * 1e3:.1f} ms\n")
    print(f"{'K':>3}  {'batches':<7} {'threads':>7} {'stack ms':>9} {'K separate ms':>14} "
          f"{'time / one':>11} {'throughput / one':>17} {'vs K separate':>14}")  # fmt: skip
    for k in sizes:
        seq = statistics.median(sequential[k])
        for kind in kinds:
            t, threads = best(f"stack K={k}: {kind}")
            print(f"{k:>3}  {kind:<7} {threads:>7} {t * 1e3:9.1f} {seq * 1e3:14.1f} "
                  f"{t / one:10.2f}x {k * one / t:16.2f}x {seq / t:13.2f}x")  # fmt: skip
    if 8 in sizes and "shared" in kinds:
        ratio = best("stack K=8: shared")[0] / one
        verdict = "met" if ratio <= 2.5 else "missed"
        print(f"\ntarget, K=8 in at most 2.5x one model's time: {ratio:.2f}x, {verdict}")


if __name__ == "__main__":
    main()
