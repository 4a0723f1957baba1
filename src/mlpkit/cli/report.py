"""``mlpkit report`` (a run's report.html, rebuilt) and ``mlpkit compare`` (runs side by side)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def report(run_dir: Annotated[Path, typer.Argument(help="a run folder")]) -> None:
    """Rebuild a run's report.html and its plots from the run folder."""
    from ..runs.report import report_run

    typer.echo(str(report_run(run_dir)))


def compare(
    run_dirs: Annotated[list[Path], typer.Argument(help="two or more run folders")],
    out: Annotated[Path, typer.Option(help="the page to write")] = Path("compare.html"),
) -> None:
    """Compare runs: the settings that differ, metrics side by side, learning curves overlaid."""
    from rich.table import Table

    from ..report import compare_runs
    from ..report.html import number
    from .console import console

    comparison = compare_runs(run_dirs, out)
    for title, rows, first in (
        ("settings that differ", comparison.settings, "setting"),
        ("metrics", comparison.metrics, ""),
    ):
        table = Table(title=title, show_header=True, header_style="bold")
        table.add_column(first)
        for label in comparison.labels:
            table.add_column(label, justify="right")
        for row in rows:
            table.add_row(*(number(v) for v in row))
        console.print(table)
    typer.echo(str(comparison.path))
