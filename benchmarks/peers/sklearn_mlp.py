"""scikit-learn: ``MLPClassifier.partial_fit`` (one epoch of SGD) on float32 inputs."""

from __future__ import annotations

import numpy as np
from workload import CLASSES, HIDDEN, LR, MOMENTUM, Workload

LABEL = "scikit-learn MLPClassifier"
REQUIRES = ("sklearn",)


def make_epoch(batch_size: int):
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(
        hidden_layer_sizes=HIDDEN,
        solver="sgd",
        learning_rate_init=LR,
        momentum=MOMENTUM,
        nesterovs_momentum=False,
        alpha=0.0,
        batch_size=batch_size,
        shuffle=True,
        random_state=1,
    )

    def epoch(data: Workload) -> float:
        model.partial_fit(data.x.numpy(), data.y.numpy(), classes=np.arange(CLASSES))
        return float(model.loss_)

    return epoch
