"""What the CLI shows besides the progress bars: tables of runs, metrics and data sets."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console(stderr=True)


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
