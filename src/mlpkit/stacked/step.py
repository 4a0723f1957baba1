"""``StackedStep``: the fused training step of a ``StackedMLP``, forward, backward and update
without autograd.

As ``mlpkit.training.fused.FusedMLPStep`` does for one MLP, it calls the ATen kernels autograd
would (``baddbmm``, ``bmm``, ``threshold_backward``, ...) into buffers kept across batches, and
updates through a stacked optimizer, whose state stays what its ``step()`` leaves (checkpoints
and resumes work). Each layer is one batched product over the K members.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from .activations import KERNELS
from .losses import LOSS_HEADS, loss_problem
from .model import StackedMLP
from .optim import StackedOptimizer


class StackedStep:
    """The step interface of mlpkit's loop: ``train_batch(inputs, targets) -> (loss,
    outputs)``, the loss (0-d, on the device) the mean of the active members' losses, the
    outputs (K, n, out) and detached. ``member_losses`` holds the last batch's loss of each
    member, (K,), masked members included.

    Inputs are (n, in), shared by all members, or (K, n, in), one batch per member; targets
    (n, ...) or (K, n, ...) likewise, or (K * n, ...), the members' batches one after another
    (as ``TensorBatcher.per_member`` yields them). Dropout draws its masks with the calls
    ``StackedMLP.forward`` makes, so with one seed both draw the same masks. With
    ``clip_grad_norm``, each member's gradients are clipped to that norm on their own, as K
    separate runs would clip them.

    The gradient is that of the mean loss, so each member's is its own divided by K (Adam and
    AdamW hardly notice; SGD moves K times less than one model alone). With
    ``own_gradients=True`` each member gets the gradient of its own loss instead, and learns
    exactly as it would alone (as tuning trials must), while the reported loss stays the mean.

    >>> from mlpkit.stacked import StackedAdamW
    >>> model = StackedMLP(4, 3, [8], 2)
    >>> step = StackedStep(model, nn.CrossEntropyLoss(), StackedAdamW(model.parameters()))
    >>> loss, outputs = step.train_batch(torch.randn(5, 3), torch.tensor([0, 1, 1, 0, 1]))
    >>> outputs.shape, step.member_losses.shape
    (torch.Size([4, 5, 2]), torch.Size([4]))
    """

    name = "stacked"

    def __init__(
        self,
        model: StackedMLP,
        loss_fn: nn.Module,
        optimizer: StackedOptimizer,
        clip_grad_norm: float | None = None,
        *,
        own_gradients: bool = False,
    ) -> None:
        reason = self.why_not(model, loss_fn, optimizer)
        if reason is not None:
            raise ConfigError(f"the stacked step cannot train this model: {reason}")
        if clip_grad_norm is not None and not clip_grad_norm > 0:
            raise ConfigError(f"clip_grad_norm must be > 0, got {clip_grad_norm}")
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.clip_grad_norm = clip_grad_norm
        self.own_gradients = own_gradients
        self.kernels = KERNELS[model.activation]
        self._loss = LOSS_HEADS[type(loss_fn)](loss_fn)
        self.member_losses: Tensor | None = None
        self._reset()

    @staticmethod
    def why_not(model: Any, loss_fn: Any, optimizer: Any) -> str | None:
        """The reason this step cannot train ``model``, or None."""
        if not isinstance(model, StackedMLP):
            return f"the model is a {type(model).__name__}, not a StackedMLP"
        if model.activation not in KERNELS:
            return f"activation {model.activation!r} has no kernels; use one of {list(KERNELS)}"
        if not isinstance(optimizer, StackedOptimizer):
            return (
                f"the optimizer is a {type(optimizer).__name__}; use StackedSGD, StackedAdam or "
                "StackedAdamW (per-member rates)"
            )
        owned = {id(p) for p in model.parameters()}
        if {id(p) for g in optimizer.param_groups for p in g["params"]} != owned:
            return "the optimizer must hold exactly the model's parameters"
        return loss_problem(loss_fn)

    def recommended_threads(self, batch_size: int) -> int:
        """CPU threads for this stack at ``batch_size``: as ``FusedMLPStep`` recommends, one per
        5 MFLOP of matrix products per step (all K members' together), at most one per core."""
        widths = [self.model.in_features, *self.model.hidden, self.model.out_features]
        products = [a * b for a, b in zip(widths, widths[1:], strict=False)]
        flops = 2 * batch_size * self.model.members * (2 * sum(products) + sum(products[1:]))
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            cores = os.cpu_count() or 1
        return max(1, min(cores, 1 + flops // 5_000_000))

    def _params(self) -> list[Tensor]:
        return [*self.model.weights, *self.model.biases]  # ParameterLists: slow to index

    def compact(self) -> Tensor:
        """Drop the model's masked members, their optimizer state and this step's buffers for
        them; returns the positions kept (``StackedMLP.compact``)."""
        kept = self.model.compact()
        self.optimizer.compact(kept)
        self._reset()
        return kept

    def _reset(self) -> None:
        # The parameters as plain lists, read once: compact() keeps the Parameter objects.
        self._param_list = params = self._params()
        self._layers = list(zip(self.model.weights, self.model.biases, strict=True))
        self._grads = [torch.zeros_like(p) for p in params]
        self._weights_t = [w.transpose(1, 2) for w in self.model.weights]  # views: stay current
        self._plans: dict[tuple[int, ...], _Plan] = {}
        self._shares: tuple[Any, ...] = ()
        self._dropout: tuple[Any, ...] = ()

    def train_batch(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        model = self.model
        with torch.no_grad():
            x = model.check_inputs(inputs)
            plan = self._plan(x)
            weights, scales = self._member_shares(x.shape[1])
            out = self._forward(x, plan)
            targets = _per_member(targets, *x.shape[:2]) if inputs.dim() == 3 else targets
            loss, self.member_losses, g = self._loss(out, targets, weights, scales)
            self._backward(g, x, plan)
            for p, grad in zip(self._param_list, self._grads, strict=True):  # as autograd would
                if p.grad is not grad:
                    p.grad = grad
            if self.clip_grad_norm is not None:
                self._clip()
            self.optimizer.update(model.active)
        return loss, out

    def _plan(self, x: Tensor) -> _Plan:
        key = tuple(x.shape[:2])
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) > 8:  # batch sizes that keep changing: keep the newest only
                self._plans.clear()
            plan = self._plans[key] = _Plan(self.model, self.kernels, *key)
        return plan

    def _member_shares(self, n: int) -> tuple[Tensor, Tensor]:
        """Each member's share of the loss, and its gradient's scale over the n rows; kept
        until the mask changes."""
        active = self.model.active
        key = (id(active), active._version, n)
        if self._shares[:1] != (key,):
            weights = active / active.sum().clamp(min=1)
            scales = active.to(weights.dtype) if self.own_gradients else weights
            self._shares = (key, weights, scales.view(-1, 1, 1) / n)
        return self._shares[1], self._shares[2]

    def _keep(self) -> Tensor | None:
        """The members' keep probabilities (K, 1, 1) while dropout is on, else None."""
        if not self.model.training:
            return None
        rates = self.model.dropout_rates
        key = (id(rates), rates._version)
        if self._dropout[:1] != (key,):
            self._dropout = (key, 1 - rates if bool(rates.any()) else None)
        return self._dropout[1]

    def _forward(self, x: Tensor, plan: _Plan) -> Tensor:
        k = self.kernels
        keep = self._keep()
        plan.dropped = keep is not None
        h = x
        last = len(self._layers) - 1
        for i, (weight, bias) in enumerate(self._layers):
            if i == last:  # handed to the caller: new memory every batch
                return torch.baddbmm(bias, h, weight)
            z = torch.baddbmm(bias, h, weight, out=plan.z[i])
            h = k.forward(z, plan.a[i])
            if keep is not None:
                mask = plan.mask[i].bernoulli_(keep).div_(keep)
                # Not in place: the activation's backward may need its output intact.
                h = torch.mul(h, mask, out=plan.dropped_out[i])
        raise AssertionError("unreachable: a stacked MLP has at least one layer")

    def _backward(self, g: Tensor, x: Tensor, plan: _Plan) -> None:
        layers, grads = len(self._weights_t), self._grads
        inputs_t = plan.dropped_t if plan.dropped else plan.activated_t
        for i in reversed(range(layers)):
            h_t = x.transpose(1, 2) if i == 0 else inputs_t[i - 1]
            torch.bmm(h_t, g, out=grads[i])
            torch.sum(g, 1, keepdim=True, out=grads[layers + i])
            if i == 0:
                return
            g = torch.bmm(g, self._weights_t[i], out=plan.g[i - 1])
            if plan.dropped:
                g.mul_(plan.mask[i - 1])
            self.kernels.backward(g, plan.saved[i - 1], g)

    def _clip(self) -> None:
        squares = torch.stack([g.square().sum(dim=list(range(1, g.dim()))) for g in self._grads])
        norms = squares.sum(0).sqrt()
        # As torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6), at most 1.
        factor = (self.clip_grad_norm / (norms + 1e-6)).clamp(max=1.0)
        for g in self._grads:
            g.mul_(factor.view(-1, *[1] * (g.dim() - 1)))


def _per_member(targets: Tensor, k: int, n: int) -> Tensor:
    """(K * n, ...) targets, the members' batches one after another, as (K, n, ...)."""
    if k > 1 and targets.dim() >= 1 and targets.shape[0] == k * n:
        return targets.view(k, n, *targets.shape[1:])
    return targets


class _Plan:
    """The buffers for batches of one shape (K, n), reused batch after batch (an epoch's last
    batch is often smaller: then there are two plans), and the views the backward pass reads."""

    def __init__(self, model: StackedMLP, kernels: Any, k: int, n: int) -> None:
        like = model.weights[0]
        widths = [w.shape[2] for w in model.weights][:-1]
        self.z = [like.new_empty(k, n, w) for w in widths]
        # uses_result: the activation runs in place on z, and its backward reads its output.
        self.a = self.z if kernels.uses_result else [like.new_empty(k, n, w) for w in widths]
        self.saved = self.a if kernels.uses_result else self.z
        self.mask = [like.new_empty(k, n, w) for w in widths]
        self.dropped_out = [like.new_empty(k, n, w) for w in widths]
        self.g = [like.new_empty(k, n, w) for w in widths]
        # The layers' inputs, transposed for their weight gradients: with and without dropout.
        self.activated_t = [a.transpose(1, 2) for a in self.a]
        self.dropped_t = [d.transpose(1, 2) for d in self.dropped_out]
        self.dropped = False
