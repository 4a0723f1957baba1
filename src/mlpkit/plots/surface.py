"""The decision surface of a classifier on two input features, with its class probabilities
and the data points (the reference chapters' ``visualize2DSoftmax``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .figure import COLORS, new_figure, sample_rows, save_png


def decision_surface(
    X: np.ndarray,
    y: np.ndarray,
    probabilities: Callable[[np.ndarray], np.ndarray],
    class_names: Sequence[str],
    path: str | Path,
    feature_names: Sequence[str] = ("x1", "x2"),
    resolution: int = 200,
) -> Path:
    """The points ``X`` ``(n, 2)`` coloured by class ``y`` over the model's surface:
    ``probabilities`` maps raw points ``(m, 2)`` to class probabilities ``(m, classes)``.

    Two classes: the probability of the second, from blue (0) to red (1), and the 0.5 boundary.
    More: each region in its predicted class's colour, paler where the model is less sure.

    >>> decision_surface(X, y, model_probabilities, ["0", "1"], "surface.png")  # doctest: +SKIP
    """
    from matplotlib.colors import ListedColormap, to_rgb

    X = np.asarray(X, dtype=np.float64)
    margin = 0.1 * (X.max(axis=0) - X.min(axis=0) + 1e-9)
    low, high = X.min(axis=0) - margin, X.max(axis=0) + margin
    gx, gy = np.meshgrid(
        np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution)
    )
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    p = np.asarray(probabilities(grid), dtype=np.float64)
    k = len(class_names)
    figure, axes = new_figure(7.5, 6, margins=(0.8, 0.9, 0.6, 0.3))  # right: the colour bar
    ax = axes[0, 0]
    colors = [to_rgb(COLORS[i % len(COLORS)]) for i in range(k)]
    if k == 2:
        positive = p[:, 1].reshape(gx.shape)
        filled = ax.contourf(gx, gy, positive, levels=np.linspace(0, 1, 11), cmap="RdBu_r")
        ax.contour(gx, gy, positive, levels=[0.5], colors="black", linewidths=1)
        figure.colorbar(filled, ax=ax, label=f"probability of class {class_names[1]}")
        colors = [(0.13, 0.4, 0.67), (0.7, 0.09, 0.17)]
    else:
        best = p.argmax(axis=1)
        sure = (p.max(axis=1) - 1 / k) / (1 - 1 / k)  # 0 at a uniform guess, 1 when certain
        image = np.array(colors)[best] * sure[:, None] + (1 - sure[:, None])  # faded to white
        ax.imshow(
            image.reshape(*gx.shape, 3),
            origin="lower",
            extent=(low[0], high[0], low[1], high[1]),
            aspect="auto",
            interpolation="bilinear",
        )
    rows = sample_rows(len(X))
    cmap = ListedColormap(colors)
    ax.scatter(
        X[rows, 0], X[rows, 1], c=np.asarray(y)[rows], cmap=cmap, vmin=-0.5, vmax=k - 0.5,
        s=14, edgecolors="black", linewidths=0.4,
    )  # fmt: skip
    for index, name in enumerate(class_names):
        ax.scatter([], [], color=colors[index], edgecolors="black", label=f"class {name}")
    ax.legend(loc="best", fontsize="small")
    ax.set_xlabel(feature_names[0])
    ax.set_ylabel(feature_names[1])
    ax.set_xlim(low[0], high[0])
    ax.set_ylim(low[1], high[1])
    return save_png(figure, path)
