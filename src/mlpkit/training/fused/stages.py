"""The stages of a fused step: linear, activation, dropout and batch-norm layers, and the loss
heads, each with a forward and a backward pass into buffers allocated once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from .activations import ActivationKernels

aten = torch.ops.aten

# ATen's reduction codes, as in torch.nn._reduction
REDUCTIONS = {"mean": 1, "sum": 2}


class _Buffer:
    """A (rows, width) scratch tensor reused across batches; a smaller batch uses its first rows."""

    def __init__(self, width: int, like: Tensor, fresh: bool = False) -> None:
        self.width, self.like, self.fresh = width, like, fresh
        self.full: Tensor | None = None

    def take(self, n: int) -> Tensor:
        if self.fresh:  # the network's output is handed to the caller: new memory every batch
            return self.like.new_empty((n, self.width))
        full = self.full
        if full is not None and full.shape[0] == n:
            return full
        if full is None or full.shape[0] < n:
            self.full = self.like.new_empty((n, self.width))
            return self.full
        return full[:n]


class LinearStage:
    def __init__(self, layer: nn.Linear, needs_input_grad: bool, fresh: bool) -> None:
        self.weight, self.bias = layer.weight, layer.bias
        self.params = [p for p in (layer.weight, layer.bias) if p is not None]
        self.grads = [torch.zeros_like(p) for p in self.params]
        self.needs_input_grad = needs_input_grad
        self.out = _Buffer(layer.out_features, layer.weight, fresh)
        self.grad_in = _Buffer(layer.in_features, layer.weight)

    def forward(self, x: Tensor) -> Tensor:
        self.x = x
        out = self.out.take(x.shape[0])
        if self.bias is None:
            return torch.mm(x, self.weight.t(), out=out)
        return torch.addmm(self.bias, x, self.weight.t(), out=out)

    def backward(self, g: Tensor) -> Tensor | None:
        torch.mm(g.t(), self.x, out=self.grads[0])
        if self.bias is not None:
            torch.sum(g, 0, out=self.grads[1])
        if not self.needs_input_grad:
            return None
        return torch.mm(g, self.weight, out=self.grad_in.take(g.shape[0]))


class ActivationStage:
    params: list[Tensor] = []
    grads: list[Tensor] = []

    def __init__(self, kernels: ActivationKernels, width: int, like: Tensor, fresh: bool) -> None:
        self.k = kernels
        self.out = None if kernels.uses_result else _Buffer(width, like, fresh)

    def forward(self, z: Tensor) -> Tensor:
        out = z if self.out is None else self.out.take(z.shape[0])
        y = self.k.forward(z, out)
        self.saved = y if self.out is None else z
        return y

    def backward(self, g: Tensor) -> Tensor:
        return self.k.backward(g, self.saved, g)


class DropoutStage:
    params: list[Tensor] = []
    grads: list[Tensor] = []

    def __init__(self, layer: nn.Dropout, width: int, like: Tensor, fresh: bool) -> None:
        self.layer = layer
        self.mask, self.out = _Buffer(width, like), _Buffer(width, like, fresh)
        self.kept: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        p = self.layer.p
        if not self.layer.training or p == 0:
            self.kept = None
            return x
        # As torch's CPU dropout: the same calls on the same generator give the same masks.
        kept = self.mask.take(x.shape[0]).bernoulli_(1 - p).div_(1 - p)
        self.kept = kept
        # Not in place: the activation before may need its output intact for its backward.
        return torch.mul(x, kept, out=self.out.take(x.shape[0]))

    def backward(self, g: Tensor) -> Tensor:
        return g if self.kept is None else g.mul_(self.kept)


class BatchNormStage:
    """BatchNorm1d through ``native_batch_norm`` and its backward, the kernels autograd uses."""

    def __init__(self, layer: nn.BatchNorm1d) -> None:
        self.layer = layer
        self.params = [p for p in (layer.weight, layer.bias) if p is not None]
        self.grads = [torch.zeros_like(p) for p in self.params]

    def forward(self, x: Tensor) -> Tensor:
        bn = self.layer
        factor = 0.0 if bn.momentum is None else bn.momentum
        if bn.training and bn.track_running_stats and bn.num_batches_tracked is not None:
            bn.num_batches_tracked.add_(1)
            if bn.momentum is None:  # a cumulative average, as nn.BatchNorm1d does
                factor = 1.0 / float(bn.num_batches_tracked)
        self.batch_stats = bn.training or (bn.running_mean is None and bn.running_var is None)
        use_running = not bn.training or bn.track_running_stats
        self.running = (bn.running_mean, bn.running_var) if use_running else (None, None)
        y, self.mean, self.invstd = aten.native_batch_norm(
            x, bn.weight, bn.bias, *self.running, self.batch_stats, factor, bn.eps
        )
        self.x = x
        return y

    def backward(self, g: Tensor) -> Tensor:
        bn = self.layer
        mask = [True, bn.weight is not None, bn.bias is not None]
        gx, gw, gb = aten.native_batch_norm_backward(
            g,
            self.x,
            bn.weight,
            *self.running,
            self.mean,
            self.invstd,
            self.batch_stats,
            bn.eps,
            mask,
        )
        for grad, new in zip(self.grads, [t for t in (gw, gb) if t is not None], strict=True):
            grad.copy_(new)
        return gx


class _CrossEntropy:
    """Class-index cross-entropy through log_softmax and nll_loss, forward and backward."""

    def __init__(self, loss_fn: nn.CrossEntropyLoss, width: int, like: Tensor) -> None:
        self.fallback = _AutogradLoss(loss_fn)
        self.smoothing = loss_fn.label_smoothing > 0  # composite in torch: no single kernel
        self.weight, self.ignore_index = loss_fn.weight, loss_fn.ignore_index
        self.reduction = REDUCTIONS[loss_fn.reduction]
        self.one = like.new_ones(())
        self.lsm, self.nll_grad, self.grad = (_Buffer(width, like) for _ in range(3))

    def __call__(self, out: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        if self.smoothing or targets.dtype != torch.long or targets.dim() != 1:  # or probabilities
            return self.fallback(out, targets)
        n = out.shape[0]
        lsm = aten._log_softmax.out(out, 1, False, out=self.lsm.take(n))
        loss, total = aten.nll_loss_forward(
            lsm, targets, self.weight, self.reduction, self.ignore_index
        )
        g = aten.nll_loss_backward.grad_input(
            self.one, lsm, targets, self.weight, self.reduction, self.ignore_index, total,
            grad_input=self.nll_grad.take(n),
        )  # fmt: skip
        return loss, aten._log_softmax_backward_data.out(
            g, lsm, 1, lsm.dtype, out=self.grad.take(n)
        )


class _MeanSquaredError:
    def __init__(self, loss_fn: nn.MSELoss, width: int, like: Tensor) -> None:
        self.fallback = _AutogradLoss(loss_fn)
        self.reduction = REDUCTIONS[loss_fn.reduction]
        self.one = like.new_ones(())
        self.grad = _Buffer(width, like)

    def __call__(self, out: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        if targets.shape != out.shape or targets.dtype != out.dtype:  # broadcasting, promotion
            return self.fallback(out, targets)
        loss = aten.mse_loss(out, targets, self.reduction)
        g = self.grad.take(out.shape[0])
        return loss, aten.mse_loss_backward.grad_input(
            self.one, out, targets, self.reduction, grad_input=g
        )


class _AutogradLoss:
    """Any other whitelisted loss: autograd on the (batch, outputs) tensor alone, which is cheap."""

    def __init__(self, loss_fn: nn.Module, *_: Any) -> None:
        self.loss_fn = loss_fn

    def __call__(self, out: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        with torch.enable_grad():
            leaf = out.detach().requires_grad_()
            loss = self.loss_fn(leaf, targets)
        (grad,) = torch.autograd.grad(loss, leaf)
        return loss.detach(), grad


# Exact loss type -> head. Only losses that depend on (outputs, targets) alone may be listed.
LOSS_HEADS: dict[type[nn.Module], Callable[..., Any]] = {
    nn.CrossEntropyLoss: _CrossEntropy,
    nn.MSELoss: _MeanSquaredError,
    nn.L1Loss: _AutogradLoss,
    nn.SmoothL1Loss: _AutogradLoss,
    nn.HuberLoss: _AutogradLoss,
    nn.NLLLoss: _AutogradLoss,
    nn.BCEWithLogitsLoss: _AutogradLoss,
    nn.BCELoss: _AutogradLoss,
}
