"""mlpkit's fused step in a minimal loop: shuffled in-memory batches, the loss summed on device."""

from __future__ import annotations

import torch
from torch import nn
from workload import HIDDEN, IN_FEATURES, LR, MOMENTUM, Workload, torch_mlp

LABEL = "mlpkit FusedMLPStep, minimal loop"
REQUIRES = ("mlpkit.training.fused",)


def make_epoch(batch_size: int):
    from mlpkit.models import MLP
    from mlpkit.training.fused import FusedMLPStep, recommended_num_threads

    torch.set_num_threads(recommended_num_threads(batch_size, IN_FEATURES, [*HIDDEN, 10]))
    model = MLP(IN_FEATURES, list(HIDDEN), 10)
    model.load_state_dict(torch_mlp().state_dict())  # the peers' initial weights
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    step = FusedMLPStep(model, nn.CrossEntropyLoss(), opt)

    def epoch(data: Workload) -> float:
        order = torch.randperm(len(data))
        total = torch.zeros(())
        for start in range(0, len(data), batch_size):
            idx = order[start : start + batch_size]
            loss, _ = step.train_batch(data.x[idx], data.y[idx])
            total += loss * len(idx)
        return total.item() / len(data)

    return epoch
