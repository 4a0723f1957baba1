"""A Fashion-MNIST classifier written as an ``nn.Module`` class, as the cookbook does: a
log-softmax output trained with the negative log-likelihood loss, dropout, Adam, then the top
three classes of a few images with their probabilities (reference chapters 003, 004 and 001).

Fashion-MNIST is downloaded on first use (about 30 MB) into ``$MLPKIT_DATA`` or
``~/.cache/mlpkit``.

    python examples/08_fashion_mnist.py [--epochs 5] [--dropout 0.2]
"""

import argparse
import sys

import torch
from torch import nn
from torch.nn import functional as F

import mlpkit

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=5)
parser.add_argument("--dropout", type=float, default=0.2)
args = parser.parse_args()


class Classifier(nn.Module):
    """784 -> 256 -> 128 -> 64 -> 10, ReLU and dropout between, log-probabilities out."""

    def __init__(self, dropout: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 128)
        self.fc3 = nn.Linear(128, 64)
        self.fc4 = nn.Linear(64, 10)
        self.dropout = nn.Dropout(p=dropout)  # active in training, off in evaluation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(x.shape[0], -1)  # images arrive flat already; 28x28 batches would too
        x = self.dropout(F.relu(self.fc1(x)))
        x = self.dropout(F.relu(self.fc2(x)))
        x = self.dropout(F.relu(self.fc3(x)))
        return F.log_softmax(self.fc4(x), dim=1)  # what NLLLoss expects


data = mlpkit.DataConfig(name="fashion_mnist", scale_features=False)  # pixels in [0, 1]
try:
    prepared = mlpkit.prepare_data(mlpkit.RunConfig(data=data))
except mlpkit.DownloadError as error:
    sys.exit(f"this example needs Fashion-MNIST, which could not be downloaded (offline?): {error}")
names = prepared.source.class_names

torch.manual_seed(0)
model = Classifier(args.dropout)
# Any nn.Module trains the same way; "nll" is nn.NLLLoss. (mlpkit.MLP(784, [256, 128, 64], 10,
# dropout=0.2, log_softmax=True) is the same network.)
history = mlpkit.fit(
    model, "nll", prepared.train, prepared.val,
    epochs=args.epochs, batch_size=64, optimizer="adam", lr=0.003, metrics=["accuracy"],
)  # fmt: skip
print(history[["epoch", "train_loss", "val_loss", "val_accuracy"]].to_string(index=False))
test = mlpkit.evaluate(model, prepared.test, ["accuracy", "top5_accuracy"])
print(f"test accuracy {test['accuracy']:.4f}, top-5 accuracy {test['top5_accuracy']:.4f}")

# The top three classes of three test images: softmax of the log-probabilities, best first.
X_test, y_test = prepared.test
top = mlpkit.predict(model, X_test[:3], top_k=3, class_names=names)
for labels, probabilities, truth in zip(top.labels, top.probabilities, y_test, strict=False):
    guesses = ", ".join(f"{label} {p:.2f}" for label, p in zip(labels, probabilities, strict=True))
    print(f"true {names[truth]}: {guesses}")
