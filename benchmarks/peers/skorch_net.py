"""skorch: ``NeuralNetClassifier.partial_fit`` for one epoch, no validation split."""

from __future__ import annotations

import torch
from torch import nn
from workload import LR, MOMENTUM, Workload, torch_mlp

LABEL = "skorch"
REQUIRES = ("skorch",)


def make_epoch(batch_size: int):
    from skorch import NeuralNetClassifier

    net = NeuralNetClassifier(
        torch_mlp(),
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.SGD,
        optimizer__momentum=MOMENTUM,
        lr=LR,
        batch_size=batch_size,
        max_epochs=1,
        train_split=None,
        iterator_train__shuffle=True,
        verbose=0,
    )

    def epoch(data: Workload) -> float:
        net.partial_fit(data.x.numpy(), data.y.numpy())
        return float(net.history[-1, "train_loss"])

    return epoch
