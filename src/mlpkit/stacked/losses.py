"""Loss heads of the stacked step: each member's mean loss, their weighted mean, and its
gradient with respect to the (K, n, out) outputs, written by hand into buffers.

The training loss is the mean of the active members' losses (as TabM trains its ensembles):
``weights`` (K,) are each member's share of it (1/K for the active ones, 0 for masked ones),
``scales`` (K, 1, 1) what the gradient of each member's summed loss over the n rows is
multiplied by: its share over n for the gradient of that mean, or 1/n for members trained as
if alone (``StackedStep(own_gradients=True)``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ..errors import DataError

aten = torch.ops.aten


class StackedCrossEntropy:
    """Class-index cross-entropy (with the loss's label smoothing), targets (n,) shared by all
    members or (K, n), one row of labels per member.

    ``smoothing`` (default: the loss's ``label_smoothing``) is one number, or one per member
    ((K,) or (K, 1, 1)), as tuning trials of one stack draw their own."""

    def __init__(self, loss_fn: nn.CrossEntropyLoss, smoothing: Any = None) -> None:
        eps = loss_fn.label_smoothing if smoothing is None else smoothing
        eps = torch.as_tensor(eps, dtype=torch.float32)
        # One number stays a float (today's arithmetic); one per member is a (K, 1, 1) tensor.
        self.smoothing = float(eps) if eps.numel() == 1 else eps.reshape(-1, 1, 1)
        self.lsm = self.grad = self.minus = None

    def __call__(
        self, out: Tensor, targets: Tensor, weights: Tensor, scales: Tensor
    ) -> tuple[Tensor, ...]:
        k, n, classes = out.shape
        if targets.dtype != torch.long or targets.shape not in ((n,), (k, n)):
            raise DataError(
                f"the stacked cross-entropy takes class indices (int64) of shape ({n},) or "
                f"({k}, {n}), got {targets.dtype} {tuple(targets.shape)}"
            )
        index = targets.view(-1, n, 1).expand(k, n, 1)
        self.lsm = lsm = aten._log_softmax.out(out, 2, False, out=_same(self.lsm, out))
        eps = self.smoothing
        if isinstance(eps, Tensor):
            return self._per_member(out, lsm, index, eps, weights, scales)
        rows = lsm.gather(2, index).mul_(eps - 1)  # -(1 - eps) * log p(target)
        if eps:
            rows.sub_(lsm.sum(2, keepdim=True), alpha=eps / classes)
        member_losses = rows.view(k, n).mean(1)
        # d loss / d logits = softmax - the smoothed one-hot target, weighted per member.
        self.grad = grad = torch.exp(lsm, out=_same(self.grad, out))
        if eps:
            grad.sub_(eps / classes)
        if self.minus is None or self.minus.shape != index.shape:
            self.minus = out.new_full((1, 1, 1), eps - 1).expand(index.shape)
        grad.scatter_add_(2, index, self.minus)
        grad.mul_(scales)
        return torch.dot(member_losses, weights), member_losses, grad

    def _per_member(self, out, lsm, index, eps, weights, scales) -> tuple[Tensor, ...]:
        """The same with each member's own smoothing ``eps`` (K, 1, 1)."""
        k, n, classes = out.shape
        if eps.shape[0] != k:
            raise DataError(f"give one label smoothing per member ({k}), got {eps.shape[0]}")
        eps = eps.to(out.device, out.dtype)
        rows = lsm.gather(2, index).mul_(eps - 1)
        rows.sub_(lsm.sum(2, keepdim=True) * (eps / classes))
        member_losses = rows.view(k, n).mean(1)
        self.grad = grad = torch.exp(lsm, out=_same(self.grad, out))
        grad.sub_(eps / classes)
        grad.scatter_add_(2, index, (eps - 1).expand(index.shape))
        grad.mul_(scales)
        return torch.dot(member_losses, weights), member_losses, grad


class StackedMeanSquaredError:
    """Mean squared error over rows and outputs, targets (n, out) shared or (K, n, out) (or
    (n,) and (K, n) for one output)."""

    def __init__(self, loss_fn: nn.MSELoss) -> None:
        self.diff = self.scales = self.factor = None

    def __call__(
        self, out: Tensor, targets: Tensor, weights: Tensor, scales: Tensor
    ) -> tuple[Tensor, ...]:
        k, n, width = out.shape
        t = _regression_targets(targets, k, n, width)
        self.diff = diff = torch.sub(out, t, out=_same(self.diff, out))
        member_losses = diff.square().mean((1, 2))
        if self.scales is not scales or self.factor.shape[0] != k:  # d (z - t)^2 = 2 (z - t)
            self.scales, self.factor = scales, scales * (2 / width)
        grad = diff.mul(self.factor)
        return torch.dot(member_losses, weights), member_losses, grad


def _regression_targets(targets: Tensor, k: int, n: int, width: int) -> Tensor:
    shapes = {(n, width): (1, n, width), (k, n, width): (k, n, width)}
    if width == 1:
        shapes.update({(n,): (1, n, 1), (k, n): (k, n, 1)})
    shape = tuple(targets.shape)
    if not targets.is_floating_point() or shape not in shapes:
        raise DataError(
            f"the stacked mean squared error takes float targets of shape ({n}, {width}) or "
            f"({k}, {n}, {width}), got {targets.dtype} {shape}"
        )
    return targets.view(shapes[shape])


def _same(buffer: Tensor | None, like: Tensor) -> Tensor:
    """``buffer`` again if it has ``like``'s shape, else a new one (batches change size once per
    epoch, at the last one)."""
    if buffer is not None and buffer.shape == like.shape:
        return buffer
    return torch.empty_like(like)


# Exact loss type -> head; ``loss_problem`` names what else a loss must be.
LOSS_HEADS: dict[type[nn.Module], Any] = {
    nn.CrossEntropyLoss: StackedCrossEntropy,
    nn.MSELoss: StackedMeanSquaredError,
}


def loss_problem(loss_fn: Any) -> str | None:
    """Why the stacked step cannot train with ``loss_fn``, or None."""
    if type(loss_fn) not in LOSS_HEADS:
        names = ", ".join(t.__name__ for t in LOSS_HEADS)
        return f"the loss is a {type(loss_fn).__name__}; supported: {names}"
    if loss_fn.reduction != "mean":
        return f"the loss has reduction={loss_fn.reduction!r}; use 'mean'"
    if getattr(loss_fn, "weight", None) is not None:
        return "class weights are not supported by the stacked step; leave them out"
    return None
