"""Many MLPs of one shape trained as one stacked model: ensembles, folds and tuning trials."""

from .model import StackedMLP
from .optim import StackedAdam, StackedAdamW, StackedOptimizer, StackedSGD
from .predict import Ensemble, ensemble_log_probabilities, ensemble_mean
from .step import StackedStep

__all__ = [
    "Ensemble",
    "StackedAdam",
    "StackedAdamW",
    "StackedMLP",
    "StackedOptimizer",
    "StackedSGD",
    "StackedStep",
    "ensemble_log_probabilities",
    "ensemble_mean",
]
