"""What validation and metrics add to an epoch of ``mlpkit.fit``, and the memory a run holds.

The workload of ``run.py`` (55,000 x 784 training samples, 784-300-100-10 MLP, SGD with
momentum) plus 5,000 validation samples, with accuracy and F1 on both parts. Within each epoch
of one ``fit``, a callback times the whole epoch (from ``on_epoch_start`` to ``on_epoch_end``)
and the history's ``total_time`` gives the part spent in the training loop; the rest is
validation and metrics. Timing both parts of the same epoch keeps the machine's drift from one
run to the next out of the share. Peak RSS after many epochs next to peak RSS after one shows
whether anything grows per epoch (the data set is held once).

    python benchmarks/epoch_costs.py [--reps 5] [--batch-sizes 32,256]

Not a timed test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "src")]

from workload import HIDDEN, IN_FEATURES, LR, MOMENTUM, Workload  # noqa: E402

import mlpkit  # noqa: E402

METRICS = ["accuracy", "f1"]
VAL_SAMPLES = 5_000


class EpochClock(mlpkit.Callback):
    """Wall seconds of each whole epoch: training loop, validation and metrics."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def on_epoch_start(self, state) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, state) -> None:
        self.seconds.append(time.perf_counter() - self.started)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--batch-sizes", default="32,256")
    parser.add_argument("--samples", type=int, default=55_000)
    args = parser.parse_args()

    data = Workload.make(args.samples + VAL_SAMPLES)
    train = (data.x[: args.samples], data.y[: args.samples])
    val = (data.x[args.samples :], data.y[args.samples :])
    features_mb = data.x.numel() * 4 / 2**20
    print(f"data: {features_mb:,.0f} MB of features; peak RSS {peak_rss_mb():,.0f} MB")
    print("| batch | training loop (s) | whole epoch (s) | validation + metrics share |")
    print("|---:|---:|---:|---:|")
    for batch_size in [int(b) for b in args.batch_sizes.split(",")]:
        model = mlpkit.MLP(IN_FEATURES, list(HIDDEN), 10)
        options = dict(
            batch_size=batch_size, optimizer="sgd", lr=LR, momentum=MOMENTUM, label_smoothing=0.0
        )
        warm = (train[0][:2000], train[1][:2000])
        mlpkit.fit(model, "cross_entropy", warm, val, epochs=1, metrics=METRICS, **options)
        clock = EpochClock()
        history = mlpkit.fit(
            model, "cross_entropy", train, val, epochs=args.reps, metrics=METRICS,
            callbacks=[clock], **options,
        )  # fmt: skip
        training = history["total_time"].diff().fillna(history["total_time"].iloc[0]).tolist()
        epoch, loop = statistics.median(clock.seconds), statistics.median(training)
        share = statistics.median(1 - t / e for t, e in zip(training, clock.seconds, strict=True))
        print(f"| {batch_size} | {loop:.3f} | {epoch:.3f} | {share:.1%} |")
    after_one = peak_rss_mb()
    model = mlpkit.MLP(IN_FEATURES, list(HIDDEN), 10)
    options = dict(
        epochs=10, batch_size=256, optimizer="sgd", lr=LR, momentum=MOMENTUM, label_smoothing=0.0
    )
    mlpkit.fit(model, "cross_entropy", train, val, metrics=METRICS, **options)
    print(f"peak RSS: {after_one:,.0f} MB before, {peak_rss_mb():,.0f} MB after 10 more epochs")


if __name__ == "__main__":
    main()
