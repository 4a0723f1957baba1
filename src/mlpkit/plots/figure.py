"""The one way a plot is made and saved: a headless matplotlib ``Figure`` (no pyplot, so no
global state and no display), written as a PNG through the one atomic write.

matplotlib is an optional extra (``mlpkit[plots]``); it is imported here, when a plot is drawn.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import require
from ..io.atomic import atomic_write

DPI = 100
# One colour per line or class, readable on white and by most colour-blind readers.
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
TRAIN, VAL = COLORS[0], COLORS[1]
MAX_POINTS = 5000  # a scatter of more points shows no more and slows the PNG down


def plots_available() -> bool:
    """Whether matplotlib (the ``plots`` extra) can be imported."""
    try:
        require("matplotlib", "plots")
    except ImportError:
        return False
    return True


def new_figure(
    width: float,
    height: float,
    rows: int = 1,
    columns: int = 1,
    *,
    fit: bool = False,
    margins: tuple[float, float, float, float] = (0.8, 0.25, 0.6, 0.45),
) -> tuple[Any, Any]:
    """A ``Figure`` of ``width`` x ``height`` inches and its grid of axes (a 2-D array).

    The axes sit inside fixed ``margins`` (left, right, bottom, top, in inches), room for tick
    labels and axis titles; ``fit=True`` measures the labels instead (names of any length, at
    about a third more drawing time).

    >>> figure, axes = new_figure(6, 4)  # doctest: +SKIP
    """
    require("matplotlib", "plots")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained" if fit else None)
    FigureCanvasAgg(figure)  # the Agg canvas: PNGs without a display
    if not fit:
        left, right, bottom, top = margins
        figure.subplots_adjust(
            left=left / width,
            right=1 - right / width,
            bottom=bottom / height,
            top=1 - top / height,
            wspace=0.85 * columns / max(width - left - right, 1),
            hspace=0.95 * rows / max(height - bottom - top, 1),
        )
    axes = figure.subplots(rows, columns, squeeze=False)
    return figure, axes


def save_png(figure: Any, path: str | Path) -> Path:
    """Write ``figure`` to ``path`` as a PNG, atomically; returns the path."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    path = Path(path)
    atomic_write(path, lambda file: file.write(buffer.getvalue()))
    return path


def grid_shape(count: int, columns: int) -> tuple[int, int]:
    """Rows and columns for ``count`` panels, at most ``columns`` wide."""
    columns = max(1, min(columns, count))
    return -(-count // columns), columns


def sample_rows(count: int, limit: int = MAX_POINTS, seed: int = 0) -> np.ndarray:
    """All row positions, or ``limit`` of them drawn at random (seeded), in order."""
    if count <= limit:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, limit, replace=False))
