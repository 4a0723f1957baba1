"""K-fold cross-validation as one stacked run: ``cross_validate`` and its fold assignment."""

from .folds import assign_folds, training_rows
from .run import CVResult, cross_validate

__all__ = ["CVResult", "assign_folds", "cross_validate", "training_rows"]
