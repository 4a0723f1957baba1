"""Learning curves from a run's history: each quantity (loss, then each metric) train against
validation, against epoch and against training time, with the best epoch marked; the learning
rate per epoch when a schedule ran; and several runs' curves overlaid, for comparisons."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from .figure import COLORS, TRAIN, VAL, new_figure, save_png

TIME = "total_time"


def quantities(history: pd.DataFrame) -> list[str]:
    """What the history tracks, loss first: ``["loss", "accuracy", "f1"]``.

    >>> quantities(pd.DataFrame(columns=["epoch", "train_loss", "val_loss", "val_f1"]))
    ['loss', 'f1']
    """
    found: list[str] = []
    for column in history.columns:
        for part in ("train_", "val_"):
            name = column.removeprefix(part)
            if column.startswith(part) and name not in found:
                found.append(name)
    return sorted(found, key=lambda name: name != "loss")


def learning_curves(
    history: pd.DataFrame,
    path: str | Path,
    best_epoch: int | None = None,
    monitor: str | None = None,
) -> Path:
    """One row per quantity, train and validation, against epoch (left) and training time
    (right); ``best_epoch`` is marked on every panel, and ``monitor``'s best value is dotted.

    >>> learning_curves(history, "plots/learning_curves.png", best_epoch=12)  # doctest: +SKIP
    """
    names = quantities(history)
    figure, axes = new_figure(10, 2.6 * len(names) + 0.4, rows=len(names), columns=2)
    best = None
    if best_epoch is not None and best_epoch in set(history["epoch"]):
        best = history.loc[history["epoch"] == best_epoch].iloc[0]
    for row, name in enumerate(names):
        for col, x in enumerate(("epoch", TIME)):
            ax = axes[row, col]
            if x not in history:
                ax.set_visible(False)
                continue
            for part, color in (("train", TRAIN), ("val", VAL)):
                column = f"{part}_{name}"
                if column in history:
                    label = "validation" if part == "val" else "training"
                    ax.plot(history[x], history[column], color=color, label=label)
            if best is not None:
                ax.axvline(best[x], color="#555555", linestyle="--", linewidth=1)
                if monitor in history and monitor.endswith(f"_{name}"):
                    ax.plot([best[x]], [best[monitor]], "o", color="#222222")
            _label_x(ax, x)
            ax.set_ylabel(name)
            ax.grid(alpha=0.3)
        axes[row, 0].legend(loc="best", fontsize="small")
    if best is not None:
        figure.suptitle(f"best epoch {best_epoch}" + (f" ({monitor})" if monitor else ""))
    return save_png(figure, path)


def learning_rate_curve(history: pd.DataFrame, path: str | Path) -> Path:
    """The learning rate of each epoch (the ``lr`` column a schedule records), log-scaled when
    it spans more than a factor of ten."""
    figure, axes = new_figure(6, 3.2)
    ax = axes[0, 0]
    ax.plot(history["epoch"], history["lr"], color=COLORS[2], marker=".")
    positive = history["lr"][history["lr"] > 0]
    if len(positive) and positive.max() > 10 * positive.min():
        ax.set_yscale("log")
    _label_x(ax, "epoch")
    ax.set_ylabel("learning rate")
    ax.grid(alpha=0.3)
    return save_png(figure, path)


def overlaid_curves(
    histories: Mapping[str, pd.DataFrame], columns: list[str], path: str | Path
) -> Path:
    """Several runs' ``columns`` (``val_loss``...), one line per run, against epoch (left) and
    training time (right).

    >>> overlaid_curves({"a": h1, "b": h2}, ["val_loss"], "compare.png")  # doctest: +SKIP
    """
    figure, axes = new_figure(10, 2.8 * len(columns) + 0.6, rows=len(columns), columns=2)
    for row, column in enumerate(columns):
        for col, x in enumerate(("epoch", TIME)):
            ax = axes[row, col]
            for index, (label, history) in enumerate(histories.items()):
                if column in history and x in history:
                    color = COLORS[index % len(COLORS)]
                    style = "-" if index < len(COLORS) else "--"
                    ax.plot(history[x], history[column], style, color=color, label=label)
            _label_x(ax, x)
            ax.set_ylabel(column)
            ax.grid(alpha=0.3)
        axes[row, 0].legend(loc="best", fontsize="small")
    return save_png(figure, path)


def _label_x(ax, x: str) -> None:
    if x == "epoch":
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 1.25
    ax.set_xlabel("epoch" if x == "epoch" else "training time (s)")
