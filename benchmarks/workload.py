"""The benchmark's workload, the same for every trainer: an MNIST-shaped MLP task.

55,000 x 784 float32 inputs in [0, 1) and labels 0..9 (random, MNIST-sized), a 784-300-100-10 ReLU
MLP with PyTorch's default initialisation, cross-entropy, SGD with lr 0.01 and momentum 0.9.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

IN_FEATURES, HIDDEN, CLASSES = 784, (300, 100), 10
LR, MOMENTUM = 0.01, 0.9


@dataclass
class Workload:
    """Inputs ``x`` (float32, n x 784) and labels ``y`` (int64), built from a seed.

    >>> Workload.make(100).x.shape
    torch.Size([100, 784])
    """

    x: torch.Tensor
    y: torch.Tensor
    widths: tuple[int, ...] = field(default=(*HIDDEN, CLASSES))

    @classmethod
    def make(cls, samples: int, seed: int = 0) -> Workload:
        gen = torch.Generator().manual_seed(seed)
        x = torch.rand(samples, IN_FEATURES, generator=gen)
        y = torch.randint(0, CLASSES, (samples,), generator=gen)
        return cls(x, y)

    def __len__(self) -> int:
        return len(self.x)

    def first(self, n: int) -> Workload:
        return Workload(self.x[:n], self.y[:n], self.widths)


def torch_mlp(seed: int = 1) -> nn.Sequential:
    """The model as plain PyTorch layers, initialised from a seed."""
    torch.manual_seed(seed)
    sizes = [IN_FEATURES, *HIDDEN]
    layers: list[nn.Module] = []
    for m, n in zip(sizes, sizes[1:], strict=False):
        layers += [nn.Linear(m, n), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(sizes[-1], CLASSES))


def flops_per_sample(in_features: int = IN_FEATURES, widths: tuple[int, ...] = (*HIDDEN, CLASSES)):
    """Matrix-product FLOPs of one sample's training step: forward, weight and input gradients.

    >>> flops_per_sample()
    1126800
    """
    sizes = list(zip([in_features, *widths[:-1]], widths, strict=True))
    products = [m * n for m, n in sizes]
    return 2 * (2 * sum(products) + sum(products[1:]))
