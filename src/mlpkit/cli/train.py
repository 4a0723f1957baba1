"""``mlpkit train``: a config from a TOML file and flags, then a run (or a resumed one)."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import ConfigError
from .flags import PANELS, given_settings, with_setting_flags

RUN = PANELS["run"]


@with_setting_flags
def train(
    config: Annotated[
        Path | None, typer.Argument(help="a TOML config (e.g. runs/X/config.toml)")
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            help="continue this run folder from its last checkpoint", rich_help_panel="Run"
        ),
    ] = None,
    **flags: Any,
) -> None:
    """Train a model; with no arguments, an MLP on the built-in digits data.

    --resume RUN_DIR [--epochs TOTAL] continues a stopped run to TOTAL epochs; with --lr (or
    --momentum, --weight-decay, --nesterov) it goes on from the same weights with the new value.
    """
    from ..config import RunConfig, load_config, merge

    settings = given_settings(flags)
    if resume is not None:
        _resume(resume, config, settings)
        return
    base = load_config(config) if config is not None else RunConfig()
    if config is not None and "out" not in settings:
        base.out = None  # a rerun gets a folder of its own
    run_config = merge(base, settings)
    _launch_ranks(run_config.nproc)

    from ..runs.train import train_run

    _show(lambda bar: train_run(run_config, callbacks=[bar]))


def _resume(run_dir: Path, config: Path | None, settings: dict[str, Any]) -> None:
    from ..runs.resume import STAGED, planned_processes, resume_run

    others = sorted(k for k in settings if k not in ("epochs", "nproc") and k not in STAGED)
    if config is not None or others:
        flags = [f"--{k.replace('_', '-')}" for k in others]
        given = ", ".join(["a config file"] * (config is not None) + flags)
        allowed = ", ".join(f"--{k.replace('_', '-')}" for k in STAGED)
        raise ConfigError(
            f"--resume continues a run with the settings it was started with, so {given} "
            f"cannot be given with it; only --epochs (the new total), --nproc and {allowed} can"
        )
    staged = {k: v for k, v in settings.items() if k in STAGED}
    epochs, nproc = settings.get("epochs"), settings.get("nproc")
    _launch_ranks(planned_processes(run_dir, nproc))
    _show(lambda bar: resume_run(run_dir, epochs=epochs, callbacks=[bar], nproc=nproc, **staged))


def _launch_ranks(nproc: int) -> None:
    """With --nproc N (N > 1), this process starts N ranks of the same command and ends with
    their exit code; each rank (and a process torchrun started) goes on to train."""
    from ..distributed.group import launched

    if nproc > 1 and not launched():
        from ..distributed.launch import launch

        raise typer.Exit(launch(sys.argv[1:], nproc))


def _show(run) -> None:
    """Run with progress bars, then print the summary table and the run folder."""
    from .console import console, summary_table
    from .progress import ProgressBar

    bar = ProgressBar()
    with _interruptible(bar):
        result = run(bar)
    if result.run_dir is None:  # a rank of a distributed run other than 0: rank 0 reports
        return
    console.print(summary_table(result))
    typer.echo(str(result.run_dir))


@contextmanager
def _interruptible(bar) -> Iterator[None]:
    """On SIGINT / SIGTERM: say what was saved and how to resume, exit with 130 / 143."""
    from ..training.interrupt import TrainingInterrupted

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
