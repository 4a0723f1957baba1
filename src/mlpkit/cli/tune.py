"""``mlpkit tune``: a study's settings from a TOML file (``[tune]``, ``[tune.space]``) and flags,
then the library runs it; this module only reads, checks what was given together, and shows."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import ConfigError
from .flags import given_settings, out_names, with_setting_flags

TUNING = "Tuning"
# What a resumed study may be given: how many more trials and how to run them, and where it is.
RESUMABLE = {"trials", "timeout", "workers", "parallel_trials", "stale_after", "storage",
             "study_name", "plots"}  # fmt: skip


def _help(name: str) -> str:
    from ..tune.options import TuneConfig

    field = TuneConfig.model_fields[name]
    text = field.description or ""
    if field.default is None or "default" in text:
        return text
    return f"{text} (default: {field.default})"


def _option(name: str, kind: type) -> Any:
    flag = "--" + name.replace("_", "-")
    flags = [f"{flag}/--no-{flag[2:]}"] if kind is bool else [flag]
    option = typer.Option(*flags, help=_help(name), rich_help_panel=TUNING, show_default=False)
    return Annotated[kind | None, option]


@out_names("the study folder (default: studies/<data name>)")
@with_setting_flags
def tune(
    config: Annotated[
        Path | None,
        typer.Argument(help=r"a TOML config: run settings, \[tune] and \[tune.space] tables"),
    ] = None,
    trials: _option("trials", int) = None,  # type: ignore[valid-type]
    timeout: _option("timeout", float) = None,  # type: ignore[valid-type]
    metric: _option("metric", str) = None,  # type: ignore[valid-type]
    direction: _option("direction", str) = None,  # type: ignore[valid-type]
    pruner: _option("pruner", str) = None,  # type: ignore[valid-type]
    startup_trials: _option("startup_trials", int) = None,  # type: ignore[valid-type]
    workers: _option("workers", int) = None,  # type: ignore[valid-type]
    parallel_trials: _option("parallel_trials", int) = None,  # type: ignore[valid-type]
    storage: _option("storage", str) = None,  # type: ignore[valid-type]
    study_name: _option("study_name", str) = None,  # type: ignore[valid-type]
    heartbeat: _option("heartbeat", int) = None,  # type: ignore[valid-type]
    stale_after: _option("stale_after", float) = None,  # type: ignore[valid-type]
    plots: _option("plots", bool) = None,  # type: ignore[valid-type]
    resume: Annotated[
        bool,
        typer.Option("--resume", help="continue the study in --out", rich_help_panel=TUNING),
    ] = False,
    retrain: Annotated[
        bool,
        typer.Option(
            "--retrain",
            help="then train the best settings on train + validation data and test them",
            rich_help_panel=TUNING,
        ),
    ] = False,
    **flags: Any,
) -> None:
    """Tune hyperparameters with Optuna: trials are runs of mlpkit train's settings, some drawn
    from a search space (default: learning rate, layers, dropout, weight decay, batch size).

    --trials N runs until the study holds N trials; --resume continues it; --workers K runs K
    processes; --parallel-trials K trains K trials at once as stacked models; --storage
    postgresql://... shares one study between machines.
    """
    from ..tune.options import given_keys, read_tune_file, tune_config
    from ..tune.tuning import resume_study, start_study

    settings = given_settings(flags)
    out = settings.pop("out", None)
    given = {
        "trials": trials, "timeout": timeout, "metric": metric, "direction": direction,
        "pruner": pruner, "startup_trials": startup_trials, "workers": workers,
        "parallel_trials": parallel_trials, "storage": storage, "study_name": study_name,
        "heartbeat": heartbeat, "stale_after": stale_after, "plots": plots,
    }  # fmt: skip
    options = {k: v for k, v in given.items() if v is not None}
    if resume:
        _check_resumable(config, settings, options)
        tune_options = tune_config(options)
        folder = Path(out) if out else Path("studies") / "digits"
        spec = resume_study(folder, tune_options)
    else:
        values: dict[str, Any] = {}
        table: dict[str, Any] = {}
        if config is not None:
            values, table = read_tune_file(config)
        from ..config import build_config, merge

        base = merge(build_config(values), settings)
        tune_options = tune_config({**table, **options})
        folder = out or base.out
        spec = start_study(base, tune_options, folder, given_keys(values) | set(settings))
    spec = dataclasses.replace(spec, parallel_trials=tune_options.parallel_trials)
    _run(spec, tune_options, retrain)


def _check_resumable(config: Path | None, settings: dict[str, Any], options: dict[str, Any]):
    others = sorted(settings) + sorted(k for k in options if k not in RESUMABLE)
    if config is not None or others:
        flags = [f"--{k.replace('_', '-')}" for k in others]
        given = ", ".join(["a config file"] * (config is not None) + flags)
        raise ConfigError(
            f"--resume continues a study with the settings and space it was started with, so "
            f"{given} cannot be given with it; only --trials, --timeout, --workers, "
            "--parallel-trials, --stale-after, --no-plots and where the study is (--out, "
            "--storage, --study-name) can"
        )


def _run(spec, options, retrain: bool) -> None:
    from ..tune.run import StudyInterrupted
    from ..tune.tuning import tune_study
    from .console import console, summary_table
    from .tune_table import TrialLines, tune_table

    lines = TrialLines(spec, console)
    console.print(f"study {spec.study_name}: {spec.metric} ({spec.direction}) in {spec.study_dir}")
    try:
        result = tune_study(spec, options, retrain=retrain, on_trial=lines)
    except StudyInterrupted as stop:
        typer.echo(f"{stop}; no trial is left running", err=True)
        typer.echo(f"resume with: {_resume_command(spec)}", err=True)
        raise typer.Exit(stop.exit_code) from None
    console.print(tune_table(result))
    if result.retrained is not None:
        console.print(summary_table(result.retrained))
    typer.echo(spec.study_dir)
    if result.retrained is not None:
        typer.echo(str(result.retrained.run_dir))


def _resume_command(spec) -> str:
    """The command that continues the study (a database URL's password left out)."""
    from ..tune.storage import shown

    words = ["mlpkit", "tune", "--out", spec.study_dir, "--resume"]
    if spec.storage is not None:
        words += ["--storage", shown(spec.storage, Path(spec.study_dir))]
        words += ["--study-name", spec.study_name]
    return " ".join(shlex.quote(w) for w in words)
