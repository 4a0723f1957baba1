"""What a classifier learned: the confusion matrix (counts and normalised), ROC and
precision-recall curves for two classes, and the most confidently wrong images."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .figure import COLORS, grid_shape, new_figure, save_png

ANNOTATED_CLASSES = 20  # beyond this the cells are too small to print numbers in


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> np.ndarray:
    """Rows of each true class (row) predicted as each class (column); labels outside
    ``0 .. classes - 1`` are left out, as ``sklearn.metrics.confusion_matrix(labels=...)`` does.

    >>> confusion_counts(np.array([0, 1, 1]), np.array([0, 0, 1]), 2).tolist()
    [[1, 0], [1, 1]]
    """
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    known = (y_true >= 0) & (y_true < classes) & (y_pred >= 0) & (y_pred < classes)
    cells = y_true[known] * classes + y_pred[known]
    return np.bincount(cells, minlength=classes * classes).reshape(classes, classes)


def confusion_matrix_plot(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str], path: str | Path
) -> Path:
    """One cell per (true, predicted) class: shaded by its share of the true class (each row
    normalised to one) and labelled with its count and that share, classes named on the axes.

    >>> confusion_matrix_plot(y, predicted, ["cat", "dog"], "plots/confusion.png")  # doctest: +SKIP
    """
    k = len(class_names)
    counts = confusion_counts(y_true, y_pred, k)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    names = [str(n) for n in class_names]
    longest = min(max(map(len, names)), 30) * 0.075  # inches of the longest name at 10 pt
    rotate = longest > 0.2
    left, bottom = 0.65 + longest, 0.6 + (0.75 * longest if rotate else 0.1)
    side = min(2.5 + 0.4 * k, 12.0)
    figure, axes = new_figure(
        side + left + 1.1, side + bottom, margins=(left, 1.1, bottom, 0.25)
    )  # right: the colour bar and its label
    ax = axes[0, 0]
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=ax, shrink=0.8, label="share of the true class")
    ax.set_xticks(range(k), names, rotation=45 if rotate else 0, ha="right" if rotate else "center")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= ANNOTATED_CLASSES:
        for i in range(k):
            for j in range(k):
                text = f"{counts[i, j]}\n{shares[i, j]:.0%}" if counts[i, j] else "0"
                color = "white" if shares[i, j] > 0.5 else "black"
                ax.text(
                    j, i, text, ha="center", va="center", color=color, fontsize=7, in_layout=False
                )  # inside the cells: the layout need not measure them
    return save_png(figure, path)


def roc_pr_plot(
    y_true: np.ndarray, positive_probability: np.ndarray, positive_name: str, path: str | Path
) -> Path:
    """ROC (left, with its area) and precision-recall (right, with average precision) curves
    of a two-class model, for the class ``positive_name`` (index 1)."""
    from sklearn.metrics import (
        average_precision_score,
        precision_recall_curve,
        roc_auc_score,
        roc_curve,
    )

    positive = np.asarray(y_true) == 1
    figure, axes = new_figure(10, 4.4, columns=2)
    roc, pr = axes[0, 0], axes[0, 1]
    if positive.all() or not positive.any():  # one class only: no curve to draw
        for ax in (roc, pr):
            ax.text(0.5, 0.5, "the set holds one class only", ha="center", va="center")
        return save_png(figure, path)
    fpr, tpr, _ = roc_curve(positive, positive_probability)
    auc = roc_auc_score(positive, positive_probability)
    roc.plot(fpr, tpr, color=COLORS[0], label=f"AUC {auc:.3f}")
    roc.plot([0, 1], [0, 1], ":", color="#888888", label="chance")
    roc.set_xlabel("false positive rate")
    roc.set_ylabel("true positive rate")
    roc.set_title(f"ROC, positive class {positive_name}")
    precision, recall, _ = precision_recall_curve(positive, positive_probability)
    average = average_precision_score(positive, positive_probability)
    pr.plot(recall, precision, color=COLORS[1], label=f"average precision {average:.3f}")
    pr.axhline(positive.mean(), linestyle=":", color="#888888", label="chance")
    pr.set_xlabel("recall")
    pr.set_ylabel("precision")
    pr.set_title(f"precision-recall, positive class {positive_name}")
    for ax in (roc, pr):
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right" if ax is roc else "lower left", fontsize="small")
    return save_png(figure, path)


def wrong_images_grid(
    images: np.ndarray,
    y_true: np.ndarray,
    probabilities: np.ndarray,
    class_names: Sequence[str],
    path: str | Path,
    count: int = 16,
) -> Path | None:
    """The ``count`` most confidently wrong images, each titled with its true and predicted
    class (and the predicted probability). None when every image is classified right.

    ``images`` is ``(n, height, width)`` (grey) or ``(n, height, width, 3)`` in any range.
    """
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    wrong = np.flatnonzero(predicted != y_true)
    if len(wrong) == 0:
        return None
    chosen = wrong[np.argsort(-confidence[wrong], kind="stable")][:count]
    rows, columns = grid_shape(len(chosen), 8)
    # One mosaic in one axes: much faster to draw than an axes per image.
    tiles = [_unit(np.asarray(images[i], dtype=np.float64)) for i in chosen]
    height, width = tiles[0].shape[:2]
    gap, band = max(1, width // 8), int(np.ceil(0.3 * height))  # band: room for the titles
    cell_height, cell_width = height + band, width + gap
    mosaic = np.ones((cell_height * rows, cell_width * columns, *tiles[0].shape[2:]))
    for n, tile in enumerate(tiles):
        top, left = (n // columns) * cell_height + band, (n % columns) * cell_width
        mosaic[top : top + height, left : left + width] = 1 - tile if tile.ndim == 2 else tile
    height_inches = 1.6 * columns * mosaic.shape[0] / mosaic.shape[1]
    figure, axes = new_figure(1.6 * columns, height_inches, margins=(0.05, 0.05, 0.05, 0.05))
    ax = axes[0, 0]
    ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1, interpolation="nearest", aspect="auto")
    ax.set_axis_off()
    for n, index in enumerate(chosen):
        ax.text(
            (n % columns) * cell_width + width / 2,
            (n // columns) * cell_height + band - 0.5,
            f"true {class_names[y_true[index]]}\npred {class_names[predicted[index]]}"
            f" ({confidence[index]:.0%})",
            ha="center", va="bottom", fontsize=7,
        )  # fmt: skip
    return save_png(figure, path)


def _unit(image: np.ndarray) -> np.ndarray:
    """An image scaled to [0, 1] (a constant one to zeros)."""
    low, high = np.nanmin(image), np.nanmax(image)
    return (image - low) / (high - low) if high > low else np.zeros_like(image)
