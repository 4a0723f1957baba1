"""Careful plain PyTorch: shuffled in-memory batches, autograd, the loss summed on the device."""

from __future__ import annotations

import torch
from torch import nn
from workload import LR, MOMENTUM, Workload, torch_mlp

LABEL = "careful plain PyTorch"
REQUIRES: tuple[str, ...] = ()


def make_epoch(batch_size: int):
    model = torch_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = nn.CrossEntropyLoss()

    def epoch(data: Workload) -> float:
        order = torch.randperm(len(data))
        total = torch.zeros(())
        for start in range(0, len(data), batch_size):
            idx = order[start : start + batch_size]
            x, y = data.x[idx], data.y[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            total += loss.detach() * len(idx)
        return total.item() / len(data)  # the one wait for the device, after the epoch

    return epoch
