"""``mlpkit evaluate``: a finished run's metrics on its test split or on another file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Flag = typer.Option


def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="a run folder")],
    data: Annotated[
        str | None, Flag(help="evaluate on this data instead of the test split")
    ] = None,
    target: Annotated[str | None, Flag(help="target column of --data")] = None,
) -> None:
    """Metrics of a trained run on its test split (or on --data); saved to evaluation.json."""
    import json

    from ..runs.evaluate import evaluation_metrics, save_evaluation
    from .console import console, metrics_table

    metrics = evaluation_metrics(run_dir, data, target)
    console.print(metrics_table(f"evaluation of {run_dir}", metrics))
    typer.echo(json.dumps(metrics))
    save_evaluation(run_dir, metrics)  # after printing: a failed write keeps the metrics shown
