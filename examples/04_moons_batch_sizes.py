"""Moons with batch sizes B = 1, 32 and N (the whole training set): more steps per epoch
against more exact gradients, by validation accuracy and training time (reference chapter 000).

    python examples/04_moons_batch_sizes.py [--samples 8000] [--epochs 5] [--plot FILE]

The same experiment as one command, with run folders, a table and a report page:
``mlpkit sweep --data moons --param batch_size --values 1,32,N --optimizer sgd --lr 0.001``.
"""

import argparse
from pathlib import Path

import torch

import mlpkit

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--samples", type=int, default=8200, help="moons, train + validation")
parser.add_argument("--epochs", type=int, default=5)
parser.add_argument("--plot", type=Path, help="a PNG of the validation curves (mlpkit[plots])")
args = parser.parse_args()

data = mlpkit.DataConfig(
    name="moons", options={"n_samples": args.samples, "noise": 0.4}, test_fraction=0.0
)
prepared = mlpkit.prepare_data(mlpkit.RunConfig(data=data))
n = len(prepared.train[1])

histories = {}
for batch_size in (1, 32, n):
    # The chapter's network: 2 -> 30 -> 30 -> 2 with tanh, plain SGD at lr 0.001, each batch
    # size from the same initial weights (fit's seed orders the batches; the weights come first).
    torch.manual_seed(0)
    model = mlpkit.MLP(2, hidden=[30, 30], out_features=2, activation="tanh")
    history = mlpkit.fit(
        model, "cross_entropy", prepared.train, prepared.val,
        epochs=args.epochs, batch_size=batch_size, optimizer="sgd", lr=0.001,
        label_smoothing=0.0, metrics=["accuracy"], seed=0,
    )  # fmt: skip
    name = "B=N" if batch_size == n else f"B={batch_size}"
    histories[name] = history
    last = history.iloc[-1]
    steps = -(-n // batch_size) * len(history)
    print(
        f"{name:>6}: {steps:6d} steps, validation accuracy {last['val_accuracy']:.3f}, "
        f"{last['total_time']:.2f} s"
    )

if args.plot is not None:
    print("curves:", mlpkit.overlaid_curves(histories, ["val_accuracy"], args.plot))
