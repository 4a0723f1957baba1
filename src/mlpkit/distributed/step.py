"""The step of a data-parallel run: each rank's step on its rows, the ranks' gradients summed.

Each rank holds a disjoint part of every global batch (``TensorBatcher.shard``). Its loss
gradient is weighted by its part of the batch (``rows here / rows in the whole batch`` for a mean
loss), so that the sum over ranks is the gradient of the whole batch's loss, exactly what one
process training on the whole batch computes, also for a last batch that does not split evenly.
Every rank then makes the same update, and the weights stay identical.

- With the fused step, all gradients live in one flat buffer and are summed in one
  ``all_reduce`` per step; the buffer carries one more number, the ranks' votes to stop (a
  signal), so that every rank stops after the same step at no extra cost.
- Otherwise the model runs through ``DistributedDataParallel`` (bucketed all-reduce overlapped
  with the backward pass), and the stop vote is one small all-reduce per step.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from ..errors import ConfigError
from ..nested import Structure, call_model, primary
from .group import Group


class DataParallelStep:
    """A fused or autograd step (``training.step.choose_step``) made data-parallel over ``group``.

    ``global_rows`` says how many rows the whole batch has whose part this rank trains on;
    ``stop_wanted`` whether this rank was asked to stop (a signal), and after each step
    ``stop_voted`` whether any rank was.
    """

    def __init__(
        self,
        step: Any,
        group: Group,
        global_rows: Callable[[], int],
        stop_wanted: Callable[[], bool],
    ) -> None:
        if step.name == "stacked":
            raise ConfigError(
                "an ensemble (a StackedMLP) does not train data-parallel; train it in one process"
            )
        if getattr(step, "skip_nonfinite", False):
            raise ConfigError(
                "skip_nonfinite cannot be used in a distributed run (every rank would have to "
                "skip the same batches); leave it out, or train in one process"
            )
        self.inner = step
        self.group = group
        self.global_rows = global_rows
        self.stop_wanted = stop_wanted
        self.stop_voted = False
        self._sum_losses = _reduction(step.loss_fn) == "sum"
        model = step.model
        group.broadcast_parameters(model)
        if step.name == "fused":
            self._flat = step.flat_gradients(extra=1)
            step.sync = self
        else:
            self._flat = None
            device = _device(model)
            self._vote = torch.zeros(1, device=device)
            device_ids = [device.index] if device.type == "cuda" else None
            self.ddp = nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
            step.forward = partial(call_model, self.ddp)
            self._loss_fn = step.loss_fn
            step.loss_fn = self._weighted_loss
        self._rows = 0
        self._multiplier = 1.0

    def __getattr__(self, name: str) -> Any:  # the inner step's own attributes
        return getattr(self.inner, name)

    # -- one step ------------------------------------------------------------------------------
    def train_batch(self, inputs: Structure, targets: Any) -> tuple[torch.Tensor, Any]:
        self._rows = len(primary(targets))
        with self.group.contact("exchanging gradients"):
            loss, outputs = self.inner.train_batch(inputs, targets)
            if self._flat is None:
                self._vote.fill_(float(self.stop_wanted()))
                dist.all_reduce(self._vote)
                self.stop_voted = bool(self._vote.item())
                loss = loss / self._multiplier if self._multiplier else torch.zeros_like(loss)
        if self._rows == 0:  # an empty part of a small last batch: nothing to report
            loss = torch.zeros_like(loss)
        return loss, outputs

    def share(self, rows: int) -> float:
        """This rank's weight in the whole batch's loss (the fused step's ``GradientSync``)."""
        return 1.0 if self._sum_losses else rows / max(self.global_rows(), 1)

    def reduce(self) -> None:
        """Sum the gradients and the stop votes over the ranks, in one call."""
        assert self._flat is not None
        self._flat[-1] = float(self.stop_wanted())
        dist.all_reduce(self._flat)
        self.stop_voted = bool(self._flat[-1].item())

    # -- the autograd path ---------------------------------------------------------------------
    def _weighted_loss(self, outputs: Any, targets: Any) -> torch.Tensor:
        """The loss DistributedDataParallel's averaging turns into the whole batch's: this
        rank's loss times ``ranks x share`` (zero on an empty part, with gradients still flowing
        to every parameter so that the all-reduce runs on every rank)."""
        share = self.share(self._rows)
        self._multiplier = self.group.world_size * share
        if self._rows == 0:
            return primary(outputs).sum() * 0.0
        return self._loss_fn(outputs, targets) * self._multiplier


def _reduction(loss_fn: Any) -> str:
    return getattr(loss_fn, "reduction", "mean")


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters(), torch.empty(0)).device
