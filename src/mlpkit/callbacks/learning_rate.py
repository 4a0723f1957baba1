"""``LearningRateLog``: records the learning rate of each epoch in the history (``lr``), so
that a schedule's effect can be read and plotted beside the losses."""

from __future__ import annotations

from .base import Callback, TrainingState


class LearningRateLog(Callback):
    """Adds ``lr``, the first parameter group's learning rate, to each epoch's history row.

    It runs before the history records the row and before the scheduler steps, so ``lr`` is the
    rate the epoch trained with (for a per-step schedule, the rate it reached by its end).

    >>> fit(model, "mse", (X, y), scheduler="cosine").lr  # doctest: +SKIP
    """

    order = -200  # before History (-100) copies the row

    def on_epoch_end(self, state: TrainingState) -> None:
        state.row["lr"] = float(state.optimizer.param_groups[0]["lr"])
