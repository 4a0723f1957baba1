"""What the CLI shows: a progress bar over epochs with live metrics, and summary tables."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .callbacks import Callback

if TYPE_CHECKING:
    from .trainer import Trainer

console = Console(stderr=True)


class ProgressBar(Callback):
    """A bar over the epochs with each finished epoch's losses and metrics, and below it, while
    an epoch runs, a bar over its steps with the running training loss.

    The step bar is redrawn at most every ``refresh`` seconds: reading the running loss waits
    for the device, which the loop otherwise does once per epoch.
    """

    def __init__(self, refresh: float = 0.25) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description:>5}"),
            MofNCompleteColumn(),
            BarColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[metrics]}"),
            console=console,
            transient=False,
        )
        self.refresh = refresh
        self.task: Any = None
        self.steps: Any = None
        self._shown_at = 0.0

    def on_fit_start(self, trainer: Trainer) -> None:
        self.progress.start()
        self.task = self.progress.add_task(
            "epoch", total=trainer.epochs, completed=trainer.epoch, metrics=""
        )
        self.steps = self.progress.add_task(
            "step", total=len(trainer.train_batches), metrics="", visible=False
        )

    def on_epoch_start(self, trainer: Trainer) -> None:
        self.progress.reset(self.steps, total=len(trainer.train_batches), metrics="")
        self._shown_at = time.monotonic()

    def on_batch_end(self, trainer: Trainer) -> None:
        now = time.monotonic()
        if now - self._shown_at < self.refresh:
            return
        self._shown_at = now
        loss = trainer.running_loss()
        shown = "" if loss is None else f"train_loss={loss:.4f}"
        self.progress.update(self.steps, completed=trainer.batch, metrics=shown, visible=True)

    def on_epoch_end(self, trainer: Trainer) -> None:
        # The losses and validation metrics: what tells whether training goes well.
        shown = "  ".join(
            f"{k}={v:.4f}"
            for k, v in trainer.row.items()
            if (k.endswith("loss") or k.startswith("val_")) and isinstance(v, float)
        )
        self.progress.update(self.task, completed=trainer.epoch, metrics=shown)
        self.progress.update(self.steps, visible=False)

    def on_fit_end(self, trainer: Trainer) -> None:
        self.stop()

    def stop(self) -> None:
        """End the bar's display; nothing is printed if it never started."""
        if self.progress.live.is_started:
            if self.steps is not None:
                self.progress.update(self.steps, visible=False)
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
