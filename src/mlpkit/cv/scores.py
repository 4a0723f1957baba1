"""Each fold scored on its held-out rows after every epoch, each fold's own early stopping and
best epoch, and the mean and spread of the folds' scores.

Member k of the stack is fold k's model. ``FoldScores`` adds ``fold<k>_val_<name>`` columns to
every history row, with their mean over the folds as ``val_<name>`` and their spread as
``val_<name>_std``. It tracks each fold's monitored value as an ordinary run's early stopping
would (the same ``Monitor``, patience and ``min_delta``): a fold whose patience runs out is
masked, so that it stops learning (its scores stay those of its last epoch), and training ends
once every fold has stopped. At the end each fold keeps the weights and scores of its best
epoch (``restore_best``, the default) or of the last epoch it trained, as a run of its own
would.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..callbacks.base import Callback, StopTraining, TrainingState
from ..callbacks.monitor import Monitor
from ..errors import ConfigError
from ..metrics import Metric, compute_all
from ..stacked.model import StackedMLP


class FoldScores(Callback):
    """Validation of every fold, on its own held-out rows, inside the one training loop.

    ``inputs`` are (K, m, in): fold k's held-out rows first, padded to the largest fold's m;
    ``targets[k]`` fold k's held-out targets. ``patience`` None or 0 never stops a fold early.
    """

    order = -200  # before History (-100) records the epoch's row, so that the row has these

    def __init__(
        self,
        stack: StackedMLP,
        inputs: Tensor,
        targets: Sequence[Tensor],
        loss_fn: Any,
        metrics: Sequence[Metric],
        *,
        monitor: str = "val_loss",
        mode: str = "auto",
        min_delta: float = 0.0,
        patience: int | None = None,
        restore_best: bool = True,
    ) -> None:
        self.stack, self.inputs, self.targets = stack, inputs, list(targets)
        self.loss_fn, self.metrics = loss_fn, list(metrics)
        self.names = ["val_loss", *(f"val_{m.name}" for m in self.metrics)]
        if monitor not in self.names:
            raise ConfigError(
                f"cross-validation monitors a fold's held-out score; monitor one of: "
                f"{', '.join(self.names)} (not {monitor})"
            )
        self.monitors = [Monitor(monitor, mode, min_delta) for _ in self.targets]
        self.patience = patience or None
        self.restore_best = restore_best
        self.wait_ = [0] * len(self.targets)
        self.stopped_ = [False] * len(self.targets)
        self.trained_ = [0] * len(self.targets)  # epochs each fold trained
        self.kept_: list[dict[str, Any] | None] = [None] * len(self.targets)  # scores kept
        self.last_: list[dict[str, Any] | None] = [None] * len(self.targets)  # its last epoch's
        self.best_weights_: list[list[Tensor] | None] = [None] * len(self.targets)

    @property
    def monitor(self) -> str:
        return str(self.monitors[0].name)

    def setup(self, state: TrainingState) -> None:
        # The scheduler's monitor (plateau) may watch the folds' mean validation score.
        state.columns.extend(c for c in (*self.names, *self._std_names()) if c not in state.columns)

    def _std_names(self) -> list[str]:
        return [f"{name}_std" for name in self.names]

    def fold_scores(self) -> list[dict[str, float]]:
        """Each fold's loss and metrics on its held-out rows, with the weights as they are."""
        stack, was_training = self.stack, self.stack.training
        stack.eval()
        try:
            with torch.inference_mode():
                outputs = stack(self.inputs)
        finally:
            stack.train(was_training)
        scores = []
        for k, target in enumerate(self.targets):
            out = outputs[k, : len(target)]
            row = {"val_loss": float(self.loss_fn(out, target))}
            row.update({f"val_{n}": v for n, v in compute_all(self.metrics, out, target).items()})
            scores.append(row)
        return scores

    def on_epoch_end(self, state: TrainingState) -> None:
        scores = self.fold_scores()
        for name in self.names:
            values = np.array([s[name] for s in scores])
            state.row[name] = float(values.mean())
            state.row[f"{name}_std"] = float(values.std())
        for k, row in enumerate(scores):
            state.row.update({f"fold{k + 1}_{name}": value for name, value in row.items()})
        for k, row in enumerate(scores):
            if not self.stopped_[k]:
                self._track(k, {"epoch": state.epoch, **row})
        if all(self.stopped_):
            raise StopTraining(
                f"every fold's {self.monitor} stopped improving for {self.patience} epochs"
            )

    def _track(self, k: int, row: dict[str, Any]) -> None:
        self.trained_[k] = row["epoch"]
        self.last_[k] = row
        if not self.restore_best:
            self.kept_[k] = row
        if self.monitors[k].update(row) and self.restore_best:
            self.kept_[k] = row
            self.best_weights_[k] = [p[k].detach().clone() for p in self.stack.parameters()]
        if self.monitors[k].progressed:  # a tie keeps the later epoch but is no progress
            self.wait_[k] = 0
            return
        self.wait_[k] += 1
        if self.patience is not None and self.wait_[k] >= self.patience:
            self.stopped_[k] = True
            self.stack.mask([k])  # it stops learning; the other folds train on

    def on_fit_end(self, state: TrainingState) -> None:
        """Each fold's kept weights back in the stack, every member active again (for the
        test part and for saving)."""
        with torch.no_grad():
            for k, weights in enumerate(self.best_weights_):
                if weights is None:
                    continue
                for p, w in zip(self.stack.parameters(), weights, strict=True):
                    p[k].copy_(w)
        self.stack.active.fill_(True)

    def folds(self) -> list[dict[str, Any]]:
        """Per fold: the epoch whose scores it keeps, the epochs it trained, whether its early
        stopping ended it, and those scores (its last epoch's if none was ever finite)."""
        kept_rows = [kept or last for kept, last in zip(self.kept_, self.last_, strict=True)]
        return [
            {
                "fold": k + 1,
                "epoch": kept["epoch"] if kept else None,
                "epochs_trained": self.trained_[k],
                "stopped_early": self.stopped_[k],
                **{n: v for n, v in (kept or {}).items() if n != "epoch"},
            }
            for k, kept in enumerate(kept_rows)
        ]

    def state_dict(self) -> dict[str, Any]:
        return {
            "monitors": [m.state_dict() for m in self.monitors],
            "wait": list(self.wait_),
            "stopped": list(self.stopped_),
            "trained": list(self.trained_),
            "kept": list(self.kept_),
            "last": list(self.last_),
            "best_weights": self.best_weights_,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for monitor, saved in zip(self.monitors, state["monitors"], strict=True):
            monitor.load_state_dict(saved)
        self.wait_, self.stopped_ = list(state["wait"]), list(state["stopped"])
        self.trained_, self.kept_ = list(state["trained"]), list(state["kept"])
        self.last_ = list(state["last"])
        self.best_weights_ = state["best_weights"]


def spread(values: Sequence[float]) -> dict[str, Any]:
    """Mean, standard deviation (over the folds, ``ddof=0`` as NumPy's and scikit-learn's
    examples), lowest and highest of the folds' values, and the values.

    >>> spread([0.5, 1.0])
    {'mean': 0.75, 'std': 0.25, 'min': 0.5, 'max': 1.0, 'folds': [0.5, 1.0]}
    """
    array = np.asarray(values, dtype=float)
    return {
        "mean": float(array.mean()),
        "std": float(array.std()),
        "min": float(array.min()),
        "max": float(array.max()),
        "folds": [float(v) for v in array],
    }


def held_out_batch(
    fold_inputs: Sequence[Tensor],
) -> Tensor:
    """(K, m, in) from each fold's (m_k, in) held-out inputs, padded with copies of its first
    row to the largest m (the padding is never scored)."""
    m = max(len(x) for x in fold_inputs)
    padded = [torch.cat([x, x[:1].expand(m - len(x), *x.shape[1:])]) for x in fold_inputs]
    return torch.stack(padded)
