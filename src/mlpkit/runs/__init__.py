"""Whole runs and their folders: train, resume, evaluate and predict from a run folder."""

from .evaluate import evaluate_run
from .predict import predict_run
from .resume import resume_run
from .train import RunResult, train_run

__all__ = ["RunResult", "evaluate_run", "predict_run", "resume_run", "train_run"]
