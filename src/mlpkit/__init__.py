"""mlpkit: fully-connected neural networks on PyTorch, from a data set to a trained model.

>>> import mlpkit
>>> model = mlpkit.MLP(64, [128, 64], 10)
>>> history = mlpkit.fit(model, "cross_entropy", (X, y), epochs=20)  # doctest: +SKIP

The public names below are imported on first use, so that ``mlpkit --help`` does not pay for
importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "callbacks": ["Callback", "History", "LogEpochs", "StopTraining"],
    "checkpoint": ["Checkpoint", "load_checkpoint", "save_checkpoint"],
    "early_stopping": ["EarlyStopping"],
    "interrupt": ["TrainingInterrupted"],
    "monitor": ["Monitor"],
    "resume": ["resume_run"],
    "schedulers": ["LRScheduler", "SCHEDULERS"],
    "errors": [
        "CheckpointError",
        "ConfigError",
        "DataError",
        "DataNotFoundError",
        "DownloadError",
        "MlpkitError",
        "TrainingError",
    ],
    "evaluation": ["evaluate"],
    "losses": ["LOSSES", "WeightedLoss", "make_loss"],
    "metrics": ["METRICS", "get_metric"],
    "models": ["ACTIVATIONS", "MLP", "WideAndDeep"],
    "optim": ["OPTIMIZERS", "make_optimizer"],
    "prediction": ["Predictions", "predict"],
    "serialize": ["load_model", "save_model"],
    "trainer": ["Trainer", "fit"],
    "config": ["RunConfig", "DataConfig", "ModelConfig", "OptimConfig", "TrainConfig"],
    "run": ["train_run", "evaluate_run", "predict_run", "prepare_data"],
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'mlpkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


if TYPE_CHECKING:
    from .callbacks import Callback, History, LogEpochs, StopTraining
    from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
    from .config import DataConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig
    from .early_stopping import EarlyStopping
    from .errors import (
        CheckpointError,
        ConfigError,
        DataError,
        DataNotFoundError,
        DownloadError,
        MlpkitError,
        TrainingError,
    )
    from .evaluation import evaluate
    from .interrupt import TrainingInterrupted
    from .losses import LOSSES, WeightedLoss, make_loss
    from .metrics import METRICS, get_metric
    from .models import ACTIVATIONS, MLP
    from .monitor import Monitor
    from .optim import OPTIMIZERS, make_optimizer
    from .prediction import Predictions, predict
    from .resume import resume_run
    from .run import evaluate_run, predict_run, prepare_data, train_run
    from .schedulers import SCHEDULERS, LRScheduler
    from .serialize import load_model, save_model
    from .trainer import Trainer, fit
