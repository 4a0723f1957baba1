"""``mlpkit export``: a run's model, preprocessing included, as ONNX, pt2, TorchScript or
safetensors in ``RUN_DIR/export/``, each file verified against the eager model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Flag = typer.Option


def export(
    run_dir: Annotated[Path, typer.Argument(help="a run folder")],
    format: Annotated[
        str,
        Flag(
            "--format",
            help="onnx, pt2 (torch.export), torchscript (deprecated in torch 2.13; kept for "
            "LibTorch users), safetensors (weights + JSON), a comma-separated list, or all",
        ),
    ] = "all",
    opset: Annotated[
        int | None, Flag(help="ONNX opset version (default: the exporter's recommended one)")
    ] = None,
) -> None:
    """Export a trained run: raw features in, probabilities (or original-unit values) out.

    Each file is reloaded and checked against the eager model at batch sizes 1, 7 and 256
    (over 1e-4 it is refused); export/manifest.json records sizes, checksums and differences,
    export/model.json the inputs and the categorical code tables.
    """
    from ..runs.export import export_run

    for written in export_run(run_dir, format, opset=opset):
        typer.echo(
            f"{written.format:<12} {written.path}  {_size(written.bytes)}  "
            f"max diff {written.max_abs:.2g} (relative {written.max_rel:.2g})"
        )


def _size(count: int) -> str:
    if count < 1000:
        return f"{count} B"
    return f"{count / 1e3:.1f} kB" if count < 1e6 else f"{count / 1e6:.1f} MB"
