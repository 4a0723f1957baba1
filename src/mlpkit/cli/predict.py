"""``mlpkit predict``: a finished run's predictions on a file of features."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Flag = typer.Option


def predict(
    run_dir: Annotated[Path, typer.Argument(help="a run folder")],
    inputs: Annotated[Path, typer.Argument(help="features: CSV, TSV, Parquet, NPY or NPZ")],
    top_k: Annotated[int, Flag(help="how many classes to list per sample")] = 1,
    output: Annotated[Path | None, Flag(help="write a CSV here instead of printing")] = None,
) -> None:
    """Predict with a trained run: classes with names and probabilities, or values."""
    from ..runs.predict import predict_run

    frame = predict_run(run_dir, inputs, top_k=top_k)
    if output is None:
        typer.echo(frame.to_csv(index=False), nl=False)
    else:
        frame.to_csv(output, index=False)
        typer.echo(f"wrote {len(frame)} predictions to {output}")
