"""The ``mlpkit`` command. It builds a typed config from flags and files and calls the library.

Heavy imports (torch) happen inside the commands, so ``mlpkit --help`` stays fast.
"""

from __future__ import annotations

import os
import shlex
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    name="mlpkit",
    help="Train, evaluate and use fully-connected neural networks (MLPs) on PyTorch.",
    no_args_is_help=True,
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


def _groups(**columns: list[str] | None) -> dict[str, list[str]] | None:
    """Input groups from flags such as ``--wide a,b --deep b,c``; None when none is given."""
    given = {name: names for name, names in columns.items() if names is not None}
    return given or None


@app.command()
def train(
    config: Annotated[
        Path | None, typer.Argument(help="a TOML config (e.g. runs/X/config.toml)")
    ] = None,
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
    architecture: Annotated[
        str | None, Flag(help="mlp, or wide_deep (Wide & Deep; see --wide, --deep)")
    ] = None,
    wide: Annotated[str | None, Flag(help="wide_deep: columns of the wide input")] = None,
    deep: Annotated[str | None, Flag(help="wide_deep: columns of the deep input")] = None,
    aux_weight: Annotated[
        float | None, Flag(help="wide_deep: loss weight of an auxiliary output, e.g. 0.2")
    ] = None,
    hidden: Annotated[
        str | None, Flag(help="hidden layer widths, e.g. 128,64 ('' for none)")
    ] = None,
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
    resume: Annotated[
        Path | None, Flag(help="continue this run folder from its last checkpoint")
    ] = None,
    checkpoint_every: Annotated[
        int | None, Flag(help="also keep checkpoints/epoch-NNNN.pt every N epochs")
    ] = None,
    keep_last: Annotated[int | None, Flag(help="keep only the newest K epoch-NNNN.pt")] = None,
    monitor: Annotated[
        str | None, Flag(help="metric for best.pt, early stopping, plateau (val_loss)")
    ] = None,
    monitor_mode: Annotated[str | None, Flag(help="auto (from the name), min or max")] = None,
    early_stopping: Annotated[int | None, Flag(help="stop after N epochs without gain")] = None,
    min_delta: Annotated[float | None, Flag(help="least gain that counts")] = None,
    restore_best: Annotated[bool | None, Flag("--restore-best/--no-restore-best")] = None,
    scheduler: Annotated[str | None, Flag(help="step, cosine, onecycle or plateau")] = None,
    step_size: Annotated[int | None, Flag(help="step: epochs between decays")] = None,
    gamma: Annotated[float | None, Flag(help="step, plateau: decay factor")] = None,
    max_lr: Annotated[float | None, Flag(help="onecycle: peak learning rate")] = None,
    min_lr: Annotated[float | None, Flag(help="cosine, plateau: lowest learning rate")] = None,
    scheduler_patience: Annotated[int | None, Flag(help="plateau: epochs to wait")] = None,
    clip_grad_norm: Annotated[float | None, Flag(help="clip gradients to this norm")] = None,
    skip_nonfinite: Annotated[
        bool | None, Flag("--skip-nonfinite", help="skip batches with NaN/inf loss")
    ] = None,
    deterministic: Annotated[
        bool | None, Flag("--deterministic", help="deterministic algorithms only")
    ] = None,
    precision: Annotated[
        str | None, Flag(help="fp32 or bf16 (autocast; fp32 where bf16 is not faster)")
    ] = None,
    compile: Annotated[
        bool | None, Flag("--compile/--no-compile", help="train through torch.compile")
    ] = None,
    threads: Annotated[int | None, Flag(help="CPU threads (default: chosen per model)")] = None,
) -> None:
    """Train a model; with no arguments, an MLP on the built-in digits data.

    --resume RUN_DIR [--epochs TOTAL] continues a stopped run to TOTAL epochs.
    """
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
        "groups": _groups(wide=_names(wide), deep=_names(deep)),
        "architecture": architecture,
        "aux_weight": aux_weight,
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
        "checkpoint_every": checkpoint_every,
        "keep_last": keep_last,
        "monitor": monitor,
        "monitor_mode": monitor_mode,
        "early_stopping": early_stopping,
        "min_delta": min_delta,
        "restore_best": restore_best,
        "scheduler": scheduler,
        "step_size": step_size,
        "gamma": gamma,
        "max_lr": max_lr,
        "min_lr": min_lr,
        "scheduler_patience": scheduler_patience,
        "clip_grad_norm": clip_grad_norm,
        "skip_nonfinite": skip_nonfinite,
        "deterministic": deterministic,
        "precision": precision,
        "compile": compile,
        "threads": threads,
    }
    if resume is not None:
        _resume(resume, config, flags)
        return
    base = load_config(config) if config is not None else RunConfig()
    if config is not None and out is None:
        base.out = None  # a rerun gets a folder of its own
    run_config = merge(base, {k: v for k, v in flags.items() if v is not None})

    from .console import ProgressBar, console, summary_table
    from .run import train_run

    bar = ProgressBar()
    with _interruptible(bar):
        result = train_run(run_config, callbacks=[bar])
    console.print(summary_table(result))
    typer.echo(str(result.run_dir))


def _resume(run_dir: Path, config: Path | None, flags: dict[str, Any]) -> None:
    from .console import ProgressBar, console, summary_table
    from .errors import ConfigError
    from .resume import resume_run

    others = sorted(k for k, v in flags.items() if v is not None and k != "epochs")
    if config is not None or others:
        given = ", ".join(["a config file"] * (config is not None) + [f"--{k}" for k in others])
        raise ConfigError(
            f"--resume continues a run with the settings it was started with, so {given} "
            "cannot be given with it; only --epochs can (the new total)"
        )
    bar = ProgressBar()
    with _interruptible(bar):
        result = resume_run(run_dir, epochs=flags["epochs"], callbacks=[bar])
    console.print(summary_table(result))
    typer.echo(str(result.run_dir))


@contextmanager
def _interruptible(bar) -> Iterator[None]:
    """On SIGINT / SIGTERM: say what was saved and how to resume, exit with 130 / 143."""
    from .interrupt import TrainingInterrupted

    try:
        yield
    except TrainingInterrupted as stop:
        bar.stop()
        typer.echo(f"{stop}", err=True)
        if stop.run_dir is not None:
            command = f"mlpkit train --resume {shlex.quote(str(stop.run_dir))}"
            typer.echo(f"resume with: {command}", err=True)
        raise typer.Exit(stop.exit_code) from None
    finally:
        bar.stop()


@app.command()
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="a run folder")],
    data: Annotated[
        str | None, Flag(help="evaluate on this data instead of the test split")
    ] = None,
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

    # Piped output is not cut to 80 columns: it is read by programs and people alike.
    width = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 120
    Console(width=width).print(datasets_table(list_datasets()), soft_wrap=True)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line each, without the source line Python would print."""
    typer.echo(f"warning: {message}", err=True)


def main() -> None:
    """Entry point: user errors end with one line on stderr and exit code 2, no traceback."""
    from .errors import MlpkitError

    warnings.showwarning = _show_warning
    try:
        code = app(standalone_mode=False)
    except MlpkitError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except typer.TyperException as exc:  # a bad flag or value: one line, with where to look
        command = " ".join(["mlpkit", *(a for a in sys.argv[1:2] if not a.startswith("-"))])
        message = exc.format_message().rstrip(".")
        typer.echo(f"error: {message}; see '{command} --help'", err=True)
        sys.exit(getattr(exc, "exit_code", 2))
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        typer.echo("interrupted", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
