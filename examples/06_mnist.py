"""MNIST with one hidden layer: 20% of the training images held out for validation, a history
of validation loss and accuracy, the learning rate lowered for a second round (reference
chapter 002).

MNIST is downloaded on first use (about 11 MB) into ``$MLPKIT_DATA`` or ``~/.cache/mlpkit``.

    python examples/06_mnist.py [--epochs 5] [--hidden 32]
"""

import argparse
import sys

import torch

import mlpkit

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=5, help="epochs per round (two rounds)")
parser.add_argument("--hidden", type=int, default=32, help="hidden units (the chapter: 32)")
args = parser.parse_args()

# Pixels stay in [0, 1] as the chapter's ToTensor leaves them; 20% of the 60,000 training
# images (drawn at random, stratified) validate; the official 10,000 test images test.
data = mlpkit.DataConfig(name="mnist", val_fraction=0.2, scale_features=False)
try:
    prepared = mlpkit.prepare_data(mlpkit.RunConfig(data=data))
except mlpkit.DownloadError as error:
    sys.exit(f"this example needs MNIST, which could not be downloaded (offline?): {error}")
X_train, y_train = prepared.train
print(f"{len(y_train)} training and {len(prepared.val[1])} validation images")

torch.manual_seed(0)  # the same initial weights on every run
model = mlpkit.MLP(28 * 28, hidden=[args.hidden], out_features=10, activation="relu")
for lr in (0.5, 0.1):  # fit(5, 0.5) then fit(5, 0.1) in the chapter: the same weights go on
    history = mlpkit.fit(
        model, "cross_entropy", prepared.train, prepared.val,
        epochs=args.epochs, batch_size=128, optimizer="sgd", lr=lr,
        label_smoothing=0.0, metrics=["accuracy"],
    )  # fmt: skip
    print(history[["epoch", "val_loss", "val_accuracy"]].to_string(index=False))
    last = history.iloc[-1]
    print(f"lr {lr}: val_loss {last['val_loss']:.4f}, val_accuracy {last['val_accuracy']:.4f}")

test = mlpkit.evaluate(model, prepared.test, ["accuracy"])
print(f"test accuracy {test['accuracy']:.4f}")
