"""What a regression model learned: predicted against true values with their residuals, and,
for one input feature, the fitted curve over the data (the reference chapters' noisy 1-D plot)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .figure import COLORS, new_figure, sample_rows, save_png

MAX_TARGETS = 4


def predicted_vs_true(
    y_true: np.ndarray, y_pred: np.ndarray, target_names: Sequence[str], path: str | Path
) -> Path:
    """Per target (the first four): predicted against true with the line of perfect
    predictions (left), and the residuals, true minus predicted, against predicted (right).

    >>> predicted_vs_true(y, model_output, ["price"], "plots/regression.png")  # doctest: +SKIP
    """
    y_true = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(len(y_pred), -1)
    targets = min(y_true.shape[1], MAX_TARGETS)
    figure, axes = new_figure(10, 4.2 * targets, rows=targets, columns=2)
    rows = sample_rows(len(y_true))
    for t in range(targets):
        true, pred = y_true[rows, t], y_pred[rows, t]
        name = target_names[t] if t < len(target_names) else f"target {t + 1}"
        left, right = axes[t, 0], axes[t, 1]
        left.scatter(true, pred, s=8, alpha=0.5, color=COLORS[0])
        low, high = float(min(true.min(), pred.min())), float(max(true.max(), pred.max()))
        left.plot([low, high], [low, high], "--", color="#555555", label="predicted = true")
        left.set_xlabel(f"true {name}")
        left.set_ylabel(f"predicted {name}")
        left.legend(loc="upper left", fontsize="small")
        right.scatter(pred, true - pred, s=8, alpha=0.5, color=COLORS[1])
        right.axhline(0, linestyle="--", color="#555555")
        right.set_xlabel(f"predicted {name}")
        right.set_ylabel("residual (true - predicted)")
        for ax in (left, right):
            ax.grid(alpha=0.3)
    return save_png(figure, path)


def fitted_curve(
    x: np.ndarray,
    y: np.ndarray,
    predict: Callable[[np.ndarray], np.ndarray],
    path: str | Path,
    feature: str = "x",
    target: str = "y",
    points: int = 400,
) -> Path:
    """The data (``x`` one feature, ``y`` its target) and the model's curve over its range;
    ``predict`` maps raw feature values ``(m, 1)`` to predictions ``(m,)``."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64).reshape(len(x), -1)[:, 0]
    rows = sample_rows(len(x))
    grid = np.linspace(x.min(), x.max(), points).reshape(-1, 1)
    curve = np.asarray(predict(grid), dtype=np.float64).reshape(points, -1)[:, 0]
    figure, axes = new_figure(8, 4.4)
    ax = axes[0, 0]
    ax.scatter(x[rows], y[rows], s=10, alpha=0.5, color=COLORS[0], label="data")
    ax.plot(grid[:, 0], curve, color=COLORS[3], linewidth=2, label="model")
    ax.set_xlabel(feature)
    ax.set_ylabel(target)
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
    return save_png(figure, path)
