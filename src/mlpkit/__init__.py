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

from .version import __version__

_EXPORTS = {
    "callbacks.base": ["Callback", "History", "LogEpochs", "StopTraining", "TrainingState"],
    "callbacks.checkpoint": ["Checkpoint"],
    "callbacks.early_stopping": ["EarlyStopping"],
    "callbacks.lr_scheduler": ["LRScheduler"],
    "callbacks.regularization": ["RegularizationSchedule"],
    "callbacks.monitor": ["Monitor"],
    "callbacks.tensorboard": ["TensorBoard"],
    "config": [
        "RunConfig",
        "DataConfig",
        "ModelConfig",
        "OptimConfig",
        "TrainConfig",
        "SETTINGS",
    ],
    "data.prepare": ["prepare_data"],
    "errors": [
        "CheckpointError",
        "ConfigError",
        "DataError",
        "DataNotFoundError",
        "DistributedError",
        "DownloadError",
        "MlpkitError",
        "TrainingError",
    ],
    "inference.evaluation": ["evaluate"],
    "inference.prediction": ["Predictions", "predict"],
    "io.checkpoint_file": ["load_checkpoint", "save_checkpoint"],
    "io.weights": ["load_model", "save_model"],
    "losses": ["LOSSES", "WeightedLoss", "make_loss"],
    "metrics": ["METRICS", "get_metric"],
    "models": ["ACTIVATIONS", "MLP", "WideAndDeep"],
    "optim": ["OPTIMIZERS", "make_optimizer"],
    "realmlp": ["RealMLP"],
    "stacked": ["Ensemble", "StackedMLP"],
    "plots": [
        "confusion_matrix_plot",
        "decision_surface",
        "fitted_curve",
        "learning_curves",
        "learning_rate_curve",
        "overlaid_curves",
        "plot_activations",
        "predicted_vs_true",
        "roc_pr_plot",
        "wrong_images_grid",
    ],
    "report.compare": ["compare_runs"],
    "runs": ["train_run", "evaluate_run", "predict_run", "resume_run"],
    "runs.export": ["export_run"],
    "runs.report": ["report_run"],
    "schedulers": ["SCHEDULERS"],
    "sklearn": ["MLPClassifier", "MLPRegressor"],
    "training.interrupt": ["TrainingInterrupted"],
    "training.fit": ["fit"],
    "training.trainer": ["Trainer"],
    # mlpkit.sweep.sweep is not here: its name is the subpackage's, which an import of
    # mlpkit.sweep.* would put in its place.
    "tune.options": ["TuneConfig"],
    "tune.pruning": ["TrialPruning"],
    "tune.retrain": ["retrain_best"],
    "tune.space": ["SearchSpace", "default_space"],
    "tune.tuning": ["TuneResult", "resume_study", "start_study", "tune_study"],
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
    from .callbacks.base import Callback, History, LogEpochs, StopTraining, TrainingState
    from .callbacks.checkpoint import Checkpoint
    from .callbacks.early_stopping import EarlyStopping
    from .callbacks.lr_scheduler import LRScheduler
    from .callbacks.monitor import Monitor
    from .callbacks.regularization import RegularizationSchedule
    from .callbacks.tensorboard import TensorBoard
    from .config import SETTINGS, DataConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig
    from .data.prepare import prepare_data
    from .errors import (
        CheckpointError,
        ConfigError,
        DataError,
        DataNotFoundError,
        DistributedError,
        DownloadError,
        MlpkitError,
        TrainingError,
    )
    from .inference.evaluation import evaluate
    from .inference.prediction import Predictions, predict
    from .io.checkpoint_file import load_checkpoint, save_checkpoint
    from .io.weights import load_model, save_model
    from .losses import LOSSES, WeightedLoss, make_loss
    from .metrics import METRICS, get_metric
    from .models import ACTIVATIONS, MLP, WideAndDeep
    from .optim import OPTIMIZERS, make_optimizer
    from .plots import (
        confusion_matrix_plot,
        decision_surface,
        fitted_curve,
        learning_curves,
        learning_rate_curve,
        overlaid_curves,
        plot_activations,
        predicted_vs_true,
        roc_pr_plot,
        wrong_images_grid,
    )
    from .realmlp import RealMLP
    from .report.compare import compare_runs
    from .runs import evaluate_run, predict_run, resume_run, train_run
    from .runs.export import export_run
    from .runs.report import report_run
    from .schedulers import SCHEDULERS
    from .sklearn import MLPClassifier, MLPRegressor
    from .stacked import Ensemble, StackedMLP
    from .training.fit import fit
    from .training.interrupt import TrainingInterrupted
    from .training.trainer import Trainer
    from .tune.options import TuneConfig
    from .tune.pruning import TrialPruning
    from .tune.retrain import retrain_best
    from .tune.space import SearchSpace, default_space
    from .tune.tuning import TuneResult, resume_study, start_study, tune_study
