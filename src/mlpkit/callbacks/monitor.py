"""A monitored history column (``val_loss``, ``val_accuracy``...), which way is better, and the
best value so far.

The one best-value tracker: the best checkpoint, early stopping and the plateau scheduler share
it, so that the three agree on what "improved" means and on what a resume with another
monitored column does (it is refused).
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import ConfigError
from .base import TrainingState

# Names ending like these are errors (lower is better); anything else is a score.
LOWER_IS_BETTER = ("loss", "mse", "rmse", "mae")
MODES = ("auto", "min", "max")


def infer_mode(name: str) -> str:
    """``"min"`` for losses and errors, ``"max"`` for scores.

    >>> infer_mode("val_rmse"), infer_mode("val_accuracy")
    ('min', 'max')
    """
    return "min" if name.lower().endswith(LOWER_IS_BETTER) else "max"


class Monitor:
    """Which column to watch, whether lower (``min``) or higher (``max``) is better, by how much
    a value must beat the best to count as an improvement, and the best value and epoch so far.

    ``name=None`` watches ``val_loss`` when there is validation data, else ``train_loss``.

    >>> monitor = Monitor("val_accuracy", min_delta=0.01)
    >>> monitor.mode, monitor.improved(0.905, best=0.9), monitor.improved(0.92, best=0.9)
    ('max', False, True)
    >>> monitor.update({"epoch": 1, "val_accuracy": 0.9}), monitor.best, monitor.best_epoch
    (True, 0.9, 1)
    """

    def __init__(self, name: str | None = None, mode: str = "auto", min_delta: float = 0.0) -> None:
        if mode not in MODES:
            raise ConfigError(f"mode must be auto, min or max, got {mode!r}")
        if not min_delta >= 0:
            raise ConfigError(f"min_delta must be >= 0, got {min_delta}")
        self.name = name
        self.requested_mode = mode
        self.min_delta = float(min_delta)
        self.best: float | None = None
        self.best_epoch: int | None = None
        # Whether the last update was progress, for early stopping's patience: a better value,
        # or an accuracy equal to the best with the lowest loss so far (of the same part);
        # an accuracy that ties without a better loss is kept as the best epoch, but a
        # saturated accuracy (1.0 from the first epoch) must still let the patience run out.
        self.progressed = False
        self.lowest_loss: float | None = None

    @property
    def mode(self) -> str:
        if self.requested_mode != "auto":
            return self.requested_mode
        return infer_mode(self.name or "loss")

    def resolve(self, state: TrainingState) -> None:
        """Pick the default column and check that the history will have it."""
        if self.name is None:
            self.name = "val_loss" if state.has_validation else "train_loss"
        if self.name not in state.columns:
            missing_val = self.name.startswith("val_") and not state.has_validation
            hint = " (there is no validation data)" if missing_val else ""
            raise ConfigError(
                f"cannot monitor {self.name!r}{hint}; monitor one of: {', '.join(state.columns)}"
            )

    def value(self, row: dict[str, Any]) -> float:
        return float(row[self.name])

    def improved(self, value: float, best: float | None) -> bool:
        """Whether ``value`` beats ``best`` by more than ``min_delta`` (NaN never does); an
        accuracy equal to the best counts too (with no ``min_delta``)."""
        if not math.isfinite(value):
            return False
        if best is None:
            return True
        if value == best and self.min_delta == 0 and "accuracy" in (self.name or ""):
            # An accuracy ties often (a count of rows): the later epoch, as RealMLP chooses.
            return True
        if self.mode == "min":
            return value < best - self.min_delta
        return value > best + self.min_delta

    def update(self, row: dict[str, Any]) -> bool:
        """Take an epoch's history row; True if it holds a new best (then kept as ``best``).
        ``progressed`` then says whether it was progress for a patience: a better value, or
        an equal accuracy with the lowest loss of its part so far."""
        value = self.value(row)
        lower_loss = self._lower_loss(row)
        if not self.improved(value, self.best):
            self.progressed = False
            return False
        self.progressed = self.best is None or value != self.best or lower_loss
        self.best, self.best_epoch = value, int(row["epoch"])
        return True

    def _lower_loss(self, row: dict[str, Any]) -> bool:
        """Whether the row's loss of the monitored part (``val_loss`` beside ``val_accuracy``)
        is the lowest yet; tracked for accuracies only, which tie."""
        if "accuracy" not in (self.name or ""):
            return False
        loss = row.get(f"{(self.name or '').split('_')[0]}_loss")
        if loss is None or not math.isfinite(loss):
            return False
        if self.lowest_loss is not None and loss >= self.lowest_loss:
            return False
        self.lowest_loss = float(loss)
        return True

    def state_dict(self) -> dict[str, Any]:
        return {
            "monitor": self.name,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "lowest_loss": self.lowest_loss,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["monitor"] != self.name:
            raise ConfigError(
                f"the checkpoint tracked the best {state['monitor']}, this run monitors "
                f"{self.name}; resume with the same monitored metric, or start a new run"
            )
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self.lowest_loss = state.get("lowest_loss")  # absent from checkpoints before 2026-12-02

    def __repr__(self) -> str:
        return f"Monitor({self.name!r}, mode={self.mode!r}, min_delta={self.min_delta})"
