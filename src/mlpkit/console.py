"""What the CLI shows: a progress bar over epochs with live metrics, and summary tables."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .callbacks import Callback

if TYPE_CHECKING:
    from .trainer import Trainer

console = Console(stderr=True)


class ProgressBar(Callback):
    """One bar over the epochs; after each epoch it shows that epoch's losses and metrics."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("[bold]epoch"),
            MofNCompleteColumn(),
            BarColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[metrics]}"),
            console=console,
            transient=False,
        )
        self.task: Any = None

    def on_fit_start(self, trainer: Trainer) -> None:
        self.progress.start()
        self.task = self.progress.add_task(
            "train", total=trainer.epochs, completed=trainer.epoch, metrics=""
        )

    def on_epoch_end(self, trainer: Trainer) -> None:
        # The losses and validation metrics: what tells whether training goes well.
        shown = "  ".join(
            f"{k}={v:.4f}"
            for k, v in trainer.row.items()
            if (k.endswith("loss") or k.startswith("val_")) and isinstance(v, float)
        )
        self.progress.update(self.task, completed=trainer.epoch, metrics=shown)

    def on_fit_end(self, trainer: Trainer) -> None:
        self.stop()

    def stop(self) -> None:
        """End the bar's display; nothing is printed if it never started."""
        if self.progress.live.is_started:
            self.progress.stop()


def metrics_table(title: str, metrics: dict[str, float]) -> Table:
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in metrics.items():
        table.add_row(name, f"{value:.4f}")
    return table


def peak_memory_mb() -> float | None:
    """This process's peak resident memory in MB (None where the OS does not say)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes / KiB


def summary_table(result) -> Table:
    """The end-of-run summary: where it went, how long, which step, final and test metrics."""
    history = result.history
    last = history.iloc[-1].to_dict() if len(history) else {}
    table = Table(title=f"run {result.run_dir}", show_header=True, header_style="bold")
    table.add_column("")
    table.add_column("value", justify="right")
    table.add_row("epochs", str(len(history)))
    table.add_row("training time", f"{last.get('total_time', 0.0):.2f} s")
    table.add_row("step", result.step)
    if peak := peak_memory_mb():
        table.add_row("peak memory", f"{peak:.0f} MB")
    for key in ("train_loss", "val_loss"):
        if key in last:
            table.add_row(key, f"{last[key]:.4f}")
    for name, value in result.test_metrics.items():
        table.add_row(f"test_{name}", f"{value:.4f}")
    return table


def datasets_table(rows: list[dict[str, Any]]) -> Table:
    columns = ("name", "task", "samples", "features", "classes", "source")
    table = Table(title="data sets", show_header=True, header_style="bold")
    for column in columns:
        table.add_column(column, no_wrap=column == "name")  # names are typed back in full
    for row in rows:
        table.add_row(*["" if row[c] is None else str(row[c]) for c in columns])
    return table
