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


def thread_text(attrs: dict[str, Any]) -> str:
    """``2``, or ``1 (adaptive)``, ``1 (adaptive, 3 changes)`` where the chooser set them."""
    if not attrs.get("threads_adaptive"):
        return str(attrs.get("threads"))
    changes = attrs.get("thread_changes", 0)
    changed = f", {changes} change{'s' if changes > 1 else ''}" if changes else ""
    return f"{attrs['threads']} (adaptive{changed})"


def summary_table(result) -> Table:
    """The end-of-run summary: where it went, how long, which step, final and test metrics."""
    history = result.history
    last = history.iloc[-1].to_dict() if len(history) else {}
    table = Table(title=f"run {result.run_dir}", show_header=True, header_style="bold")
    table.add_column("")
    table.add_column("value", justify="right")
    for label, text in getattr(result, "training", [("epochs", str(len(history)))]):
        table.add_row(label, text)
    table.add_row("training time", f"{last.get('total_time', 0.0):.2f} s")
    table.add_row("step", result.step)
    if history.attrs.get("threads") is not None:
        per_rank = " per process" if history.attrs.get("processes", 1) > 1 else ""
        table.add_row("threads", thread_text(history.attrs) + per_rank)
    if history.attrs.get("processes", 1) > 1:
        table.add_row("processes", f"{history.attrs['processes']} (data-parallel)")
    if peak := peak_memory_mb():
        table.add_row("peak memory", f"{peak:.0f} MB")
    for label, text in getattr(result, "preprocessing", []):
        table.add_row(label, text)
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
