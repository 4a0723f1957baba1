"""The ``RegularizationSchedule`` callback: dropout and weight decay over training."""

from __future__ import annotations

from torch import nn

from ..registry import Registry
from ..schedulers import flat_cos
from .base import Callback, TrainingState

SHAPES: Registry = Registry("regularization_schedule")
SHAPES.add("flat_cos", flat_cos)


class RegularizationSchedule(Callback):
    """Scales every dropout rate and every parameter group's weight decay by ``shape`` of the
    training progress, before each step (RealMLP's ``flat_cos``: as set for the first half of
    training, then down to 0). The rates come from the model and the optimizer as built, so a
    resumed run follows the same schedule.

    >>> fit(model, "mse", (X, y), epochs=30, callbacks=[RegularizationSchedule()])  # doctest: +SKIP
    """

    order = 10  # with the learning-rate schedule, before the checkpoint

    def __init__(self, shape: str = "flat_cos") -> None:
        self.name = shape
        self.shape = SHAPES.get(shape)
        self.dropouts: list[tuple[nn.Dropout, float]] = []
        self.total = 1

    def setup(self, state: TrainingState) -> None:
        self.total = max(state.epochs * state.steps_per_epoch, 1)
        self.dropouts = [(m, m.p) for m in state.model.modules() if isinstance(m, nn.Dropout)]
        for group in state.optimizer.param_groups:  # kept in the optimizer's saved state
            group.setdefault("initial_weight_decay", group.get("weight_decay", 0.0))

    def on_epoch_start(self, state: TrainingState) -> None:
        self._apply(state)

    def on_batch_end(self, state: TrainingState) -> None:
        self._apply(state)

    def _apply(self, state: TrainingState) -> None:
        done = state.epoch * state.steps_per_epoch + state.step
        factor = self.shape(min(done / self.total, 1.0))
        for module, rate in self.dropouts:
            module.p = rate * factor
        for group in state.optimizer.param_groups:
            if "weight_decay" in group:
                group["weight_decay"] = group["initial_weight_decay"] * factor
