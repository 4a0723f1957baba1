"""Using a trained model: evaluation over a whole set, and predictions."""

from .evaluation import evaluate, infer
from .prediction import Predictions, predict

__all__ = ["Predictions", "evaluate", "infer", "predict"]
