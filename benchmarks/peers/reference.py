"""The textbook loop: TensorDataset + DataLoader(shuffle) + autograd, ``loss.item()`` per batch."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from workload import LR, MOMENTUM, Workload, torch_mlp

LABEL = "reference loop (DataLoader)"
REQUIRES: tuple[str, ...] = ()


def make_epoch(batch_size: int):
    model = torch_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = nn.CrossEntropyLoss()

    def epoch(data: Workload) -> float:
        loader = DataLoader(TensorDataset(data.x, data.y), batch_size=batch_size, shuffle=True)
        model.train()
        total = 0.0
        for x, y in loader:
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            total += loss.item() * len(x)
        return total / len(data)

    return epoch
