"""Gradient descent with momentum written out, checked against ``torch.optim.SGD`` (and
mlpkit's ``make_optimizer``, which builds it from the settings' names): reference chapter 004.

The chapter writes momentum as ``v = gamma * v - lr * grad; w = w + v``. PyTorch keeps
``v = gamma * v + grad; w = w - lr * v`` instead: the same steps for a fixed learning rate, with
its ``v`` the chapter's divided by ``-lr``. The script shows that they are equal.

    python examples/02_momentum.py [--steps 20] [--lr 0.1] [--gamma 0.9]
"""

import argparse
import copy

import torch
from torch import nn
from torch.nn import functional as F

import mlpkit

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--steps", type=int, default=20)
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--gamma", type=float, default=0.9)
args = parser.parse_args()


class Model(nn.Module):
    """The chapter's network: 20 inputs, 13 ReLU units, 8 sigmoid units, 3 classes."""

    def __init__(self, in_features: int = 20, out_features: int = 3) -> None:
        super().__init__()
        self.linear1 = nn.Linear(in_features, 13)
        self.linear2 = nn.Linear(13, 8)
        self.output = nn.Linear(8, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(torch.sigmoid(self.linear2(torch.relu(self.linear1(x)))))


torch.manual_seed(420)
X = torch.rand((500, 20))
y = torch.randint(0, 3, (500,))
by_hand = Model()
with_torch = copy.deepcopy(by_hand)
with_mlpkit = copy.deepcopy(by_hand)


def loss_of(model: nn.Module) -> torch.Tensor:
    return F.cross_entropy(model(X), y)


# Written out: one velocity per parameter, zero at the start (there is no earlier direction).
velocities = [torch.zeros_like(p) for p in by_hand.parameters()]
for _ in range(args.steps):
    by_hand.zero_grad()
    loss_of(by_hand).backward()
    with torch.no_grad():
        for w, v in zip(by_hand.parameters(), velocities, strict=True):
            v.mul_(args.gamma).sub_(args.lr * w.grad)  # v = gamma * v - lr * dL/dw
            w.add_(v)  # w = w + v

optimizers = {
    "torch.optim.SGD": (with_torch, torch.optim.SGD(with_torch.parameters(), lr=args.lr,
                                                    momentum=args.gamma)),
    "mlpkit.make_optimizer": (with_mlpkit, mlpkit.make_optimizer(
        "sgd", with_mlpkit.parameters(), lr=args.lr, momentum=args.gamma)),
}  # fmt: skip
for name, (model, optimizer) in optimizers.items():
    for _ in range(args.steps):
        optimizer.zero_grad()
        loss_of(model).backward()
        optimizer.step()
    gap = max(
        (a - b).abs().max().item()
        for a, b in zip(by_hand.parameters(), model.parameters(), strict=True)
    )
    same = all(
        torch.allclose(a, b, rtol=1e-5, atol=1e-6)
        for a, b in zip(by_hand.parameters(), model.parameters(), strict=True)
    )
    print(f"{name}: largest difference from the written-out steps {gap:.2e}, equal: {same}")

print(f"loss after {args.steps} steps: {loss_of(by_hand).item():.4f}")
