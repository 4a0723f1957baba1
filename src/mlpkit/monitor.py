"""A monitored history column (``val_loss``, ``val_accuracy``...) and which way is better.

Shared by the best checkpoint, early stopping and the plateau scheduler, so that the three agree
on what "improved" means.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    from .trainer import Trainer

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
    """Which column to watch, whether lower (``min``) or higher (``max``) is better, and by how much
    a value must beat the best to count as an improvement.

    ``name=None`` watches ``val_loss`` when there is validation data, else ``train_loss``.

    >>> monitor = Monitor("val_accuracy", min_delta=0.01)
    >>> monitor.mode, monitor.improved(0.905, best=0.9), monitor.improved(0.92, best=0.9)
    ('max', False, True)
    """

    def __init__(self, name: str | None = None, mode: str = "auto", min_delta: float = 0.0) -> None:
        if mode not in MODES:
            raise ConfigError(f"mode must be auto, min or max, got {mode!r}")
        if not min_delta >= 0:
            raise ConfigError(f"min_delta must be >= 0, got {min_delta}")
        self.name = name
        self.requested_mode = mode
        self.min_delta = float(min_delta)

    @property
    def mode(self) -> str:
        if self.requested_mode != "auto":
            return self.requested_mode
        return infer_mode(self.name or "loss")

    def resolve(self, trainer: Trainer) -> None:
        """Pick the default column and check that the history will have it."""
        if self.name is None:
            self.name = "val_loss" if trainer.val_batches is not None else "train_loss"
        columns = trainer.columns()
        if self.name not in columns:
            hint = " (there is no validation data)" if self.name.startswith("val_") else ""
            raise ConfigError(
                f"cannot monitor {self.name!r}{hint}; monitor one of: {', '.join(columns)}"
            )

    def value(self, row: dict[str, Any]) -> float:
        return float(row[self.name])

    def improved(self, value: float, best: float | None) -> bool:
        """Whether ``value`` beats ``best`` by more than ``min_delta`` (NaN never does)."""
        if not math.isfinite(value):
            return False
        if best is None:
            return True
        if self.mode == "min":
            return value < best - self.min_delta
        return value > best + self.min_delta

    def __repr__(self) -> str:
        return f"Monitor({self.name!r}, mode={self.mode!r}, min_delta={self.min_delta})"
