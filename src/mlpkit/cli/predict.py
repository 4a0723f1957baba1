"""``mlpkit predict``: a finished run's predictions on a file of features."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

Flag = typer.Option


class Engine(str, Enum):
    torch = "torch"
    pt2 = "pt2"
    torchscript = "torchscript"
    onnx = "onnx"


def predict(
    run_dir: Annotated[Path, typer.Argument(help="a run folder")],
    inputs: Annotated[Path, typer.Argument(help="features: CSV, TSV, Parquet, NPY or NPZ")],
    top_k: Annotated[int, Flag(help="how many classes to list per sample")] = 1,
    output: Annotated[Path | None, Flag(help="write a CSV here instead of printing")] = None,
    engine: Annotated[
        Engine, Flag(help="torch (the eager model), or the run's export: pt2, torchscript, onnx")
    ] = Engine.torch,
    compile: Annotated[
        bool, Flag(help="compile the eager model (torch.compile; eager where it fails)")
    ] = False,
) -> None:
    """Predict with a trained run: classes with names and probabilities, or values."""
    from ..io.atomic import writable_file, write_text
    from ..runs.predict import predict_run

    if output is not None:
        writable_file(output, "--output")  # before the work, not after it
    frame = predict_run(run_dir, inputs, top_k=top_k, engine=engine.value, compile=compile)
    if output is None:
        typer.echo(frame.to_csv(index=False), nl=False)
    else:
        write_text(output, frame.to_csv(index=False))
        typer.echo(f"wrote {len(frame)} predictions to {output}")
