"""Metrics by name, computed exactly over a whole set.

The loop keeps each batch's outputs on the device and computes every metric once per epoch on
the concatenation, so RMSE is the root of the whole-set MSE and AUC is the whole-set AUC, and no
step waits for the device. Outputs are logits (or log-probabilities); integer targets mean
classification (one output unit: binary with a sigmoid), floating targets mean regression.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .errors import ConfigError, DataError
from .registry import Registry

MetricFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
METRICS: Registry[torch.Tensor] = Registry("metric")
_TOP_K = re.compile(r"^top_?(\d+)_accuracy$")


def _is_classification(targets: torch.Tensor) -> bool:
    return not torch.is_floating_point(targets)


def _probabilities(outputs: torch.Tensor) -> torch.Tensor:
    """Class probabilities from logits: (n, classes), or (n,) for one sigmoid unit."""
    if outputs.ndim == 1 or outputs.shape[-1] == 1:
        return torch.sigmoid(outputs.reshape(-1))
    return torch.softmax(outputs.float(), dim=-1)


def predicted_classes(outputs: torch.Tensor) -> torch.Tensor:
    if outputs.ndim == 1 or outputs.shape[-1] == 1:
        return (outputs.reshape(-1) > 0).long()
    return outputs.argmax(dim=-1)


def _num_classes(outputs: torch.Tensor) -> int:
    return 2 if outputs.ndim == 1 or outputs.shape[-1] == 1 else int(outputs.shape[-1])


def _classification_metric(name: str, binary_fn: str, multiclass_fn: str, use_probs: bool):
    def compute(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        from torchmetrics.functional import classification as tmc

        classes = _num_classes(outputs)
        preds = _probabilities(outputs) if use_probs else predicted_classes(outputs)
        if classes == 2:
            if preds.ndim == 2:  # two logits: the positive class is the second
                preds = preds[:, 1] if use_probs else preds
            return getattr(tmc, binary_fn)(preds, targets)
        return getattr(tmc, multiclass_fn)(preds, targets, num_classes=classes, average="macro")

    METRICS.add(name, compute)


_classification_metric("roc_auc", "binary_auroc", "multiclass_auroc", use_probs=True)


def _counted(score: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]):
    """A score of each class's true positives, false positives and false negatives: of the
    positive class for two classes, else the mean over the classes that occur (in the targets
    or the predictions), as scikit-learn's ``average="binary"`` / ``"macro"``, a class with
    nothing to divide scoring 0. Counted here rather than with torchmetrics, whose import
    costs every run a second or more for the default f1."""

    def compute(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        classes = _num_classes(outputs)
        preds, targets = predicted_classes(outputs).reshape(-1), targets.reshape(-1).long()
        pairs = torch.bincount(targets * classes + preds, minlength=classes * classes)
        confusion = pairs.reshape(classes, classes).double()  # rows: true, columns: predicted
        tp = confusion.diagonal()
        fp, fn = confusion.sum(dim=0) - tp, confusion.sum(dim=1) - tp
        if classes == 2:
            return score(tp[1:], fp[1:], fn[1:])[0].float()
        present = (confusion.sum(dim=0) + confusion.sum(dim=1)) > 0
        return score(tp, fp, fn)[present].mean().float()

    return compute


def _ratio(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.where(b > 0, a / b.clamp(min=1), torch.zeros_like(a))


METRICS.add("f1", _counted(lambda tp, fp, fn: _ratio(2 * tp, 2 * tp + fp + fn)))
METRICS.add("precision", _counted(lambda tp, fp, fn: _ratio(tp, tp + fp)))
METRICS.add("recall", _counted(lambda tp, fp, fn: _ratio(tp, tp + fn)))


@METRICS.register("accuracy")
def _accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return (predicted_classes(outputs) == targets).float().mean()


def _top_k_accuracy(k: int) -> MetricFn:
    def compute(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        k_ = min(k, outputs.shape[-1])
        top = outputs.topk(k_, dim=-1).indices
        return (top == targets.unsqueeze(-1)).any(dim=-1).float().mean()

    return compute


def _regression_pair(outputs: torch.Tensor, targets: torch.Tensor):
    return outputs.float().reshape(targets.shape), targets.float()


@METRICS.register("mse")
def _mse(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    preds, targets = _regression_pair(outputs, targets)
    return torch.mean((preds - targets) ** 2)


@METRICS.register("rmse")
def _rmse(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return torch.sqrt(_mse(outputs, targets))


@METRICS.register("mae")
def _mae(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    preds, targets = _regression_pair(outputs, targets)
    return torch.mean(torch.abs(preds - targets))


@METRICS.register("r2")
def _r2(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    # Uniform average over targets, as scikit-learn's r2_score does by default.
    preds, targets = _regression_pair(outputs, targets)
    preds, targets = preds.reshape(len(preds), -1), targets.reshape(len(targets), -1)
    residual = ((targets - preds) ** 2).sum(dim=0)
    total = ((targets - targets.mean(dim=0)) ** 2).sum(dim=0)
    # A constant target has no variance to explain: 1 for a perfect fit, else 0, as
    # scikit-learn's r2_score (force_finite), rather than a huge negative number.
    constant = targets.amax(dim=0) == targets.amin(dim=0)  # exact, whatever the rounding
    score = 1 - residual / torch.where(constant, torch.ones_like(total), total)
    score = torch.where(constant, (residual == 0).to(score.dtype), score)
    return score.mean()


CLASSIFICATION_ONLY = frozenset({"accuracy", "f1", "precision", "recall", "roc_auc"})


# scikit-learn's scores that rank or weigh by confidence: they take probabilities, not classes.
SCORE_FUNCTIONS = frozenset(
    {"roc_auc_score", "average_precision_score", "log_loss", "brier_score_loss",
     "top_k_accuracy_score", "d2_log_loss_score"}
)  # fmt: skip


def _base(fn: Callable[..., Any]) -> Callable[..., Any]:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return fn


def _wants_scores(fn: Callable[..., Any]) -> bool:
    """Whether a score function takes probabilities: one of ``SCORE_FUNCTIONS`` (also through
    ``functools.partial``), or any function with ``needs_scores = True`` set on it."""
    marked = getattr(fn, "needs_scores", getattr(_base(fn), "needs_scores", None))
    if marked is not None:
        return bool(marked)
    return getattr(_base(fn), "__name__", "") in SCORE_FUNCTIONS


@dataclass(frozen=True)
class Metric:
    """A named metric: ``compute(outputs, targets)`` over a whole set, returns a float."""

    name: str
    fn: Callable[[torch.Tensor, torch.Tensor], Any]
    sklearn_style: bool = False
    scores: bool = False  # a scikit-learn style function that takes probabilities

    def compute(self, outputs: torch.Tensor, targets: torch.Tensor) -> float:
        needs_classes = self.name in CLASSIFICATION_ONLY or _TOP_K.match(self.name)
        if needs_classes and not _is_classification(targets):
            raise ConfigError(
                f"metric {self.name!r} needs class labels but the targets are real numbers; "
                "use mse, rmse, mae or r2 for regression"
            )
        if self.sklearn_style and self.scores and _is_classification(targets):
            return self._on_scores(outputs, targets)
        if self.sklearn_style:
            y_pred = predicted_classes(outputs) if _is_classification(targets) else outputs
            y_pred = y_pred.reshape(targets.shape) if y_pred.numel() == targets.numel() else y_pred
            return float(self.fn(targets.cpu().numpy(), y_pred.float().cpu().numpy()))
        return float(self.fn(outputs, targets))

    def _on_scores(self, outputs: torch.Tensor, targets: torch.Tensor) -> float:
        """A score function on probabilities: the positive class's for two classes, else one
        column per class (summing to one), with every class named, as scikit-learn wants."""
        import numpy as np

        classes = _num_classes(outputs)
        probabilities = _probabilities(outputs).double()
        if probabilities.ndim == 2:
            probabilities = probabilities / probabilities.sum(dim=1, keepdim=True)
            if classes == 2:
                probabilities = probabilities[:, 1]
        given = getattr(self.fn, "keywords", None) or {}
        extra: dict[str, Any] = {}
        name = getattr(_base(self.fn), "__name__", "")
        if name in ("roc_auc_score", "log_loss") and "labels" not in given and classes > 2:
            extra["labels"] = np.arange(classes)
        if name == "roc_auc_score" and classes > 2 and "multi_class" not in given:
            extra["multi_class"] = "ovr"  # as the built-in roc_auc (the default would refuse)
        y_true = targets.reshape(-1).cpu().numpy()
        return float(self.fn(y_true, probabilities.cpu().numpy(), **extra))


def get_metric(metric: str | Callable[..., Any]) -> Metric:
    """A metric by name (``"accuracy"``, ``"top5_accuracy"``, ``"rmse"``...) or from a callable.

    A callable is scikit-learn style, ``score(y_true, y_pred)``, and receives NumPy arrays:
    predicted classes for classification, predicted values for regression. Functions that need
    scores get class probabilities instead, as scikit-learn defines them (the positive class's
    for two classes, else one column per class): ``roc_auc_score`` (one-vs-rest for several
    classes), ``average_precision_score``, ``log_loss``, ``brier_score_loss``,
    ``top_k_accuracy_score``, or any function with ``needs_scores = True`` set on it. A
    torchmetrics ``Metric`` object receives the outputs (logits) and targets as tensors.

    >>> get_metric("rmse").name
    'rmse'
    """
    if isinstance(metric, Metric):
        return metric
    if _is_torchmetric(metric):
        return _torchmetric(metric)
    if callable(metric):
        name = getattr(_base(metric), "__name__", "score")
        return Metric(name, metric, sklearn_style=True, scores=_wants_scores(metric))
    if not isinstance(metric, str):
        raise ConfigError(f"a metric is a name or a callable, got {metric!r}")
    name = metric.strip().lower()
    top_k = _TOP_K.match(name)
    if top_k:
        return Metric(name, _top_k_accuracy(int(top_k.group(1))))
    try:
        return Metric(name, METRICS.get(name))
    except ConfigError:
        raise ConfigError(
            f"unknown metric {metric!r}; choose one of: {', '.join(METRICS.names())}, "
            "topK_accuracy (e.g. top5_accuracy), or pass a callable score(y_true, y_pred)"
        ) from None


def _is_torchmetric(metric: Any) -> bool:
    return isinstance(metric, torch.nn.Module) and all(
        callable(getattr(metric, method, None)) for method in ("update", "compute", "reset")
    )


def _torchmetric(metric: Any) -> Metric:
    """A torchmetrics ``Metric`` over a whole set: reset, one update, compute."""

    def compute(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if _is_classification(targets) and (outputs.ndim == 1 or outputs.shape[-1] == 1):
            outputs = outputs.reshape(-1)  # one sigmoid unit: binary scores
        elif not _is_classification(targets):
            outputs = outputs.reshape(targets.shape)
        metric.to(outputs.device)
        metric.reset()
        metric.update(outputs, targets)
        value = metric.compute()
        metric.reset()
        return value

    name = re.sub(r"(?<!^)(?=[A-Z])", "_", type(metric).__name__).lower()
    return Metric(name, compute)


def get_metrics(metrics: Sequence[str | Callable[..., Any]] | str | None) -> list[Metric]:
    if metrics is None:
        return []
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    return [get_metric(m) for m in metrics]


def compute_all(metrics: Sequence[Metric], outputs: torch.Tensor, targets: torch.Tensor):
    """Every metric on one whole set, as ``{name: float}``."""
    if _is_classification(targets) and len(targets):
        check_labels(targets, _num_classes(outputs))
    return {m.name: m.compute(outputs, targets) for m in metrics}


def check_labels(labels: torch.Tensor, classes: int) -> None:
    """Class labels must index the model's outputs: 0 to ``classes - 1``."""
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= classes:
        raise DataError(
            f"labels must be in [0, {classes}) for a model with {classes} outputs, "
            f"found {low}..{high}; give the model one output per class"
        )
