"""mlpkit: fully-connected neural networks on PyTorch, from a data set to a trained model.

>>> import mlpkit
>>> model = mlpkit.MLP(64, [128, 64], 10)
>>> history = mlpkit.fit(model, "cross_entropy", (X, y), epochs=20, metrics=["accuracy"])  # doctest: +SKIP
"""

__version__ = "0.1.0"

from .callbacks import Callback, History, LogEpochs, StopTraining
from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
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
from .losses import LOSSES, WeightedLoss, make_loss
from .metrics import METRICS, get_metric
from .models import ACTIVATIONS, MLP
from .optim import OPTIMIZERS, make_optimizer
from .prediction import Predictions, predict
from .trainer import Trainer, fit

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "METRICS",
    "MLP",
    "OPTIMIZERS",
    "Callback",
    "Checkpoint",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "DataNotFoundError",
    "DownloadError",
    "History",
    "LogEpochs",
    "MlpkitError",
    "Predictions",
    "StopTraining",
    "Trainer",
    "TrainingError",
    "WeightedLoss",
    "evaluate",
    "fit",
    "get_metric",
    "load_checkpoint",
    "make_loss",
    "make_optimizer",
    "predict",
    "save_checkpoint",
]
