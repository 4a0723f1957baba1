"""A ``StackedMLP`` trained by ``mlpkit.fit`` as one ensemble: its optimizer by name, the step
whose outputs are the ensemble's, and each member's validation scores.

``fit(StackedMLP(K, ...), "cross_entropy", ...)`` trains the K members on the mean of their
losses (TabM's recipe) in one stacked step, validates the ensemble (the mean of the members'
probabilities, or values), and says in ``history.attrs["members"]`` how each member scores alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from ..metrics import Metric, compute_all
from ..nested import primary
from ..optim import default_lr
from .model import StackedMLP
from .optim import StackedAdam, StackedAdamW, StackedOptimizer, StackedSGD
from .predict import Ensemble, Task, ensemble_log_probabilities, ensemble_mean
from .step import StackedStep

STACKED_OPTIMIZERS = {"sgd": StackedSGD, "adam": StackedAdam, "adamw": StackedAdamW}


def stacked_optimizer(
    name: Any, params: Iterable[Tensor], *, lr: float | None, momentum: float = 0.0,
    nesterov: bool = False, weight_decay: float | None = None,
) -> StackedOptimizer:  # fmt: skip
    """The stacked counterpart of ``mlpkit.optim.make_optimizer`` for the optimizers it has."""
    if name not in STACKED_OPTIMIZERS:
        raise ConfigError(
            f"an ensemble trains with {', '.join(STACKED_OPTIMIZERS)}, not {name!r}; "
            "choose one of them"
        )
    options: dict[str, Any] = {"lr": default_lr(name) if lr is None else lr}
    if weight_decay is not None:
        options["weight_decay"] = weight_decay
    if name == "sgd":
        options.update(momentum=momentum, nesterov=nesterov)
    return STACKED_OPTIMIZERS[name](params, **options)


def task_of(loss_fn: Any) -> Task:
    """Classification for a cross-entropy loss, regression for mean squared error."""
    if isinstance(loss_fn, nn.CrossEntropyLoss):
        return "classification"
    if isinstance(loss_fn, nn.MSELoss):
        return "regression"
    raise ConfigError(
        f"an ensemble trains with cross-entropy or mean squared error, not {type(loss_fn).__name__}"
    )


class EnsembleStep:
    """``StackedStep`` in the loop's terms: the loss is the mean of the members' losses, the
    outputs (n, out) the ensemble's, so that the training metrics are the ensemble's. Where
    each member trains on its own batch ((K, n, in) inputs, ``TensorBatcher.per_member``), there
    is no batch common to the ensemble: the outputs are the members' own, (K * n, out), and the
    training metrics those of the members on their batches."""

    def __init__(self, model: Ensemble, loss_fn: Any, optimizer: Any, clip_grad_norm=None):
        if not isinstance(optimizer, StackedOptimizer):
            raise ConfigError(
                "an ensemble needs a stacked optimizer (mlpkit.stacked.StackedAdamW, ...); give "
                "the optimizer by name"
            )
        self.inner = StackedStep(model.stack, loss_fn, optimizer, clip_grad_norm)
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.name = self.inner.name

    def recommended_threads(self, batch_size: int) -> int:
        return self.inner.recommended_threads(batch_size)

    def train_batch(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        loss, outputs = self.inner.train_batch(inputs, targets)
        if inputs.dim() == 3:  # each member its own batch: the members' outputs on their rows
            return loss, outputs.reshape(-1, outputs.shape[2])
        return loss, _combined(outputs, self.model.task, self.model.stack.active)


def _combined(outputs: Tensor, task: Task, active: Tensor) -> Tensor:
    if task == "classification":
        return ensemble_log_probabilities(outputs, active)
    return ensemble_mean(outputs, "regression", active)


def member_scores(
    stack: StackedMLP, batches: Any, loss_fn: Any, metrics: Sequence[Metric]
) -> list[dict[str, float]]:
    """Each member's loss and metrics on ``batches`` (validation), alone."""
    was_training = stack.training
    stack.eval()
    outputs, targets = [], []
    try:
        with torch.inference_mode():
            for inputs, target in batches:
                outputs.append(stack(inputs))
                targets.append(primary(target))
    finally:
        stack.train(was_training)
    every, target = torch.cat(outputs, dim=1), torch.cat(targets)
    scores = []
    for k in range(stack.members):
        row = {"member": k, "val_loss": float(loss_fn(every[k], target))}
        row.update({f"val_{name}": v for name, v in compute_all(metrics, every[k], target).items()})
        scores.append(row)
    return scores
