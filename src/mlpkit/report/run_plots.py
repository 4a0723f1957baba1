"""Which plots a run gets, drawn into ``RUN_DIR/plots/``: learning curves (and the learning
rate when a schedule ran) for every run; then by task and data, the confusion matrix, ROC and
precision-recall curves, the most confidently wrong images, predicted against true values,
the fitted 1-D curve or the 2-D decision surface."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .predictions import part_predictions, raw_predictor

log = logging.getLogger(__name__)
PLOTS = "plots"
NO_PLOTS = "plots need matplotlib; install it with: pip install 'mlpkit[plots]'"


@dataclass
class Plot:
    title: str
    path: Path
    caption: str = ""


def run_plots(
    run_dir: Path, config: Any, prepared: Any, model: Any, history: pd.DataFrame, facts: dict
) -> list[Plot]:
    """Draw the run's plots (PNG files in ``run_dir/plots``); [] with a warning when
    matplotlib is not installed."""
    from ..plots import plots_available

    if not plots_available():
        warnings.warn(f"{run_dir}/report.html has no plots: {NO_PLOTS}", stacklevel=2)
        return []
    folder = run_dir / PLOTS
    found = _curves(folder, history, facts["training"])
    found += _model_plots(folder, prepared, model)
    log.info("drew %d plots in %s", len(found), folder)
    return found


def _curves(folder: Path, history: pd.DataFrame, training: dict) -> list[Plot]:
    from ..plots import learning_curves, learning_rate_curve

    if not len(history):
        return []
    best, monitor = training.get("best_epoch"), training.get("monitor")
    mark = f"; the dashed line marks the best epoch ({best}, by {monitor})" if best else ""
    found = [
        Plot(
            "Learning curves",
            learning_curves(history, folder / "learning_curves.png", best, monitor),
            f"training and validation, against epoch and against training time{mark}",
        )
    ]
    if "lr" in history:
        found.append(
            Plot(
                "Learning rate",
                learning_rate_curve(history, folder / "learning_rate.png"),
                "the learning rate of each epoch, as the schedule set it",
            )
        )
    return found


def _model_plots(folder: Path, prepared: Any, model: Any) -> list[Plot]:
    source = prepared.source
    predictions = part_predictions(model, prepared)
    if source.task == "classification":
        found = _classification(folder, prepared, predictions)
    else:
        found = _regression(folder, prepared, predictions, model)
    points = _raw_points(prepared)
    if points is not None and source.n_features == 2 and source.task == "classification":
        from ..plots import decision_surface

        path = decision_surface(
            points,
            source.y,
            raw_predictor(model, prepared),
            _class_names(source),
            folder / "decision_surface.png",
            feature_names=source.feature_names,
        )
        found.append(Plot("Decision surface", path, "class probabilities over the two features, "
                          "with every sample of the data"))  # fmt: skip
    return found


def _classification(folder: Path, prepared: Any, predictions: Any) -> list[Plot]:
    from ..plots import confusion_matrix_plot, roc_pr_plot, wrong_images_grid

    source, part = prepared.source, predictions.part
    names = _class_names(source)
    y, probabilities = predictions.y.astype(np.int64), predictions.outputs
    found = [
        Plot(
            "Confusion matrix",
            confusion_matrix_plot(y, probabilities.argmax(axis=1), names, folder / "confusion.png"),
            f"{part} set: counts, and each true class's share per predicted class",
        )
    ]
    if len(names) == 2:
        path = roc_pr_plot(y, probabilities[:, 1], names[1], folder / "roc_pr.png")
        found.append(Plot("ROC and precision-recall", path, f"{part} set"))
    shape = source.image_shape
    if shape and isinstance(predictions.inputs, np.ndarray) and len(shape) in (2, 3):
        images = prepared.scaler.inverse_transform(predictions.inputs).reshape(-1, *shape)
        path = wrong_images_grid(images, y, probabilities, names, folder / "wrong_images.png")
        if path is not None:
            caption = f"the most confidently wrong images of the {part} set"
            found.append(Plot("Most confidently wrong", path, caption))
    return found


def _regression(folder: Path, prepared: Any, predictions: Any, model: Any) -> list[Plot]:
    from ..plots import fitted_curve, predicted_vs_true

    source = prepared.source
    target = str(source.target or "target")
    targets = predictions.y.reshape(len(predictions.y), -1).shape[1]
    names = [target] if targets == 1 else [f"{target} {i + 1}" for i in range(targets)]
    found = [
        Plot(
            "Predicted against true",
            predicted_vs_true(predictions.y, predictions.outputs, names, folder / "regression.png"),
            f"{predictions.part} set; residuals are true minus predicted",
        )
    ]
    points = _raw_points(prepared)
    if points is not None and source.n_features == 1 and targets == 1:
        path = fitted_curve(
            points,
            source.y,
            raw_predictor(model, prepared),
            folder / "fitted_curve.png",
            feature=source.feature_names[0],
            target=target,
        )
        found.append(Plot("Fitted curve", path, "the model over the range of its one feature"))
    return found


def _class_names(source: Any) -> list[str]:
    return [str(n) for n in source.class_names or range(source.n_outputs)]


def _raw_points(prepared: Any) -> np.ndarray | None:
    """The whole data's features as a float array, where there are one or two numeric ones
    (none of them one-hot encoded: a grid over a category means nothing)."""
    source = prepared.source
    if source.n_features not in (1, 2) or source.image_shape:
        return None
    if getattr(prepared.preprocessor, "categories_", None):
        return None
    X = source.X
    if isinstance(X, pd.DataFrame):
        if not all(pd.api.types.is_numeric_dtype(X[c]) for c in X.columns):
            return None
        X = X.to_numpy(dtype=np.float64)
    return np.asarray(X, dtype=np.float64)
