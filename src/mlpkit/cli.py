"""The ``mlpkit`` command. It builds a typed config from flags and files and calls the library.

Heavy imports (torch) happen inside the commands, so ``mlpkit --help`` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    name="mlpkit",
    help="Train, evaluate and use fully-connected neural networks (MLPs) on PyTorch.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)

Flag = typer.Option


def _names(text: str | None) -> list[str] | None:
    """Comma-separated column names, e.g. ``--features age,income``."""
    if text is None:
        return None
    return [name.strip() for name in text.split(",") if name.strip()]


def _hidden(text: str | None) -> list[int] | None:
    if text is None:
        return None
    from .errors import ConfigError

    try:
        return [int(w) for w in text.replace(" ", "").split(",") if w]
    except ValueError:
        raise ConfigError(f"--hidden takes widths like 128,64, got {text!r}") from None


@app.command()
def train(
    config: Annotated[Path | None, typer.Argument(help="a TOML config (e.g. runs/X/config.toml)")] = None,
    data: Annotated[str | None, Flag(help="built-in data set name or a file")] = None,
    target: Annotated[str | None, Flag(help="target column of a file")] = None,
    features: Annotated[str | None, Flag(help="feature columns, e.g. age,income")] = None,
    task: Annotated[str | None, Flag(help="auto, classification or regression")] = None,
    val_fraction: Annotated[float | None, Flag(help="validation share (default 0.15)")] = None,
    test_fraction: Annotated[float | None, Flag(help="test share (default 0.15)")] = None,
    val: Annotated[str | None, Flag(help="a separate validation file")] = None,
    test: Annotated[str | None, Flag(help="a separate test file")] = None,
    categorical: Annotated[str | None, Flag(help="numeric columns to one-hot encode")] = None,
    impute: Annotated[
        str | None, Flag(help="fill missing values: mean, median, most_frequent")
    ] = None,
    unknown_category: Annotated[str | None, Flag(help="unseen category: error or ignore")] = None,
    normalize: Annotated[
        bool | None, Flag("--normalize/--no-normalize", help="standardise features (default on)")
    ] = None,
    scale_target: Annotated[
        bool | None,
        Flag("--scale-target/--no-scale-target", help="standardise a regression target"),
    ] = None,
    stream: Annotated[
        bool | None, Flag("--stream/--no-stream", help="stream an NPY file from disk")
    ] = None,
    hidden: Annotated[str | None, Flag(help="hidden layer widths, e.g. 128,64 ('' for none)")] = None,
    activation: Annotated[str | None, Flag(help="relu, tanh, gelu, ...")] = None,
    dropout: Annotated[float | None, Flag(help="dropout probability")] = None,
    batch_norm: Annotated[bool | None, Flag("--batch-norm/--no-batch-norm")] = None,
    loss: Annotated[str | None, Flag(help="cross_entropy, mse, l1, huber, nll, ...")] = None,
    optimizer: Annotated[str | None, Flag(help="sgd, adam, adamw, rmsprop, ...")] = None,
    lr: Annotated[float | None, Flag(help="learning rate")] = None,
    momentum: Annotated[float | None, Flag()] = None,
    weight_decay: Annotated[float | None, Flag()] = None,
    epochs: Annotated[int | None, Flag()] = None,
    batch_size: Annotated[int | None, Flag()] = None,
    seed: Annotated[int | None, Flag()] = None,
    device: Annotated[str | None, Flag(help="auto, cpu, cuda, mps")] = None,
    num_workers: Annotated[int | None, Flag(help="DataLoader workers when streaming")] = None,
    drop_last: Annotated[bool | None, Flag("--drop-last/--no-drop-last")] = None,
    out: Annotated[Path | None, Flag(help="the run folder (default runs/<data>)")] = None,
) -> None:
    """Train a model; with no arguments, an MLP on the built-in digits data."""
    from .config import RunConfig, load_config, merge

    flags: dict[str, Any] = {
        "data": data,
        "target": target,
        "features": _names(features),
        "task": task,
        "val_fraction": val_fraction,
        "test_fraction": test_fraction,
        "val": val,
        "test": test,
        "categorical": _names(categorical),
        "impute": impute,
        "unknown_category": unknown_category,
        "scale_features": normalize,
        "scale_target": scale_target,
        "stream": stream,
        "hidden": _hidden(hidden),
        "activation": activation,
        "dropout": dropout,
        "batch_norm": batch_norm,
        "loss": loss,
        "optimizer": optimizer,
        "lr": lr,
        "momentum": momentum,
        "weight_decay": weight_decay,
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "device": device,
        "num_workers": num_workers,
        "drop_last": drop_last,
        "out": None if out is None else str(out),
    }
    base = load_config(config) if config is not None else RunConfig()
    if config is not None and out is None:
        base.out = None  # a rerun gets a folder of its own
    run_config = merge(base, {k: v for k, v in flags.items() if v is not None})

    from .console import ProgressBar, console, summary_table
    from .run import train_run

    result = train_run(run_config, callbacks=[ProgressBar()])
    console.print(summary_table(result))
    typer.echo(str(result.run_dir))


@app.command()
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="a run folder")],
    data: Annotated[str | None, Flag(help="evaluate on this data instead of the test split")] = None,
    target: Annotated[str | None, Flag(help="target column of --data")] = None,
) -> None:
    """Metrics of a trained run on its test split (or on --data); saved to evaluation.json."""
    from .console import console, metrics_table
    from .run import evaluate_run

    metrics = evaluate_run(run_dir, data, target)
    console.print(metrics_table(f"evaluation of {run_dir}", metrics))
    import json

    typer.echo(json.dumps(metrics))


@app.command()
def predict(
    run_dir: Annotated[Path, typer.Argument(help="a run folder")],
    inputs: Annotated[Path, typer.Argument(help="features: CSV, TSV, Parquet, NPY or NPZ")],
    top_k: Annotated[int, Flag(help="how many classes to list per sample")] = 1,
    output: Annotated[Path | None, Flag(help="write a CSV here instead of printing")] = None,
) -> None:
    """Predict with a trained run: classes with names and probabilities, or values."""
    from .run import predict_run

    frame = predict_run(run_dir, inputs, top_k=top_k)
    if output is None:
        typer.echo(frame.to_csv(index=False), nl=False)
    else:
        frame.to_csv(output, index=False)
        typer.echo(f"wrote {len(frame)} predictions to {output}")


@app.command()
def datasets() -> None:
    """List the built-in and downloadable data sets (to stdout, so that it can be piped)."""
    from rich.console import Console

    from .console import datasets_table
    from .data.loading import list_datasets

    Console().print(datasets_table(list_datasets()), soft_wrap=True)


def main() -> None:
    """Entry point: user errors end with one line on stderr and exit code 2, no traceback."""
    from .errors import MlpkitError

    try:
        app()
    except MlpkitError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
