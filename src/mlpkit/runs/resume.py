"""Resuming a run: continue from its last checkpoint, with the settings it was started with.

The checkpoint holds the run's config, so ``resume_run`` needs nothing else from the folder. The
resumed run appends to the same history and, at the end, rewrites the folder's config, history,
metrics and model files as the uninterrupted run would have written them.

Staged training (lr 0.5, then lr 0.1 from the same weights) resumes with new optimizer settings
(``STAGED``): they replace the checkpoint's in the optimizer's state, go into the run's config,
and the history records each epoch's ``lr``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..callbacks.base import Callback
from ..callbacks.learning_rate import LearningRateLog
from ..config import RunConfig, describe, merge
from ..errors import CheckpointError, ConfigError
from ..io.checkpoint_file import checkpoint_path, load_checkpoint
from .train import RunResult, train_run

# Optimizer settings a resume may change: each is a key of the optimizer's parameter groups.
STAGED = ("lr", "momentum", "weight_decay", "nesterov")


def resume_run(
    run_dir: str | Path,
    epochs: int | None = None,
    callbacks: Iterable[Callback] = (),
    nproc: int | None = None,
    **optimizer_settings: Any,
) -> RunResult:
    """Continue a run from its last checkpoint up to ``epochs`` in total (default: as planned),
    with the settings it was started with, and rewrite its folder as if it had never stopped.

    ``run_dir`` is a run folder, or a checkpoint file in its ``checkpoints`` folder. Keywords of
    ``STAGED`` (``lr=0.1``...) continue with new optimizer settings from the same weights and
    optimizer state (staged training). ``nproc`` is the number of processes of a distributed
    run (by default, as many as wrote the checkpoint).

    >>> result = resume_run("runs/digits", epochs=50)  # doctest: +SKIP
    >>> result = resume_run("runs/digits", epochs=60, lr=0.1)  # doctest: +SKIP
    """
    unknown = sorted(set(optimizer_settings) - set(STAGED))
    if unknown:
        raise ConfigError(
            f"a resume can change {', '.join(STAGED)} and epochs, not {', '.join(unknown)}; "
            "start a new run to change the others"
        )
    path = checkpoint_path(run_dir)
    if path.parent.name != "checkpoints":
        raise ConfigError(
            f"{path} is not in a run folder's checkpoints folder; give the run folder "
            "mlpkit train wrote, or resume in Python with fit(..., resume_from=path)"
        )
    run_dir = path.parent.parent
    state = load_checkpoint(path)
    if "config" not in state:
        raise CheckpointError(
            f"{path} holds no run config (fit wrote it, not mlpkit train); "
            "resume it in Python with fit(..., resume_from=path)"
        )
    overrides: dict[str, Any] = {} if epochs is None else {"epochs": epochs}
    if nproc is not None:
        overrides["nproc"] = nproc
    overrides.update(optimizer_settings)
    try:
        config = merge(RunConfig.model_validate(state["config"]), overrides)
    except ValidationError as exc:
        raise CheckpointError(f"{path} holds an invalid config ({describe(exc)})") from None
    if config.train.epochs < int(state["epoch"]):
        raise ConfigError(
            f"{path} has {state['epoch']} epochs done already; "
            f"give --epochs {state['epoch']} or more"
        )
    if optimizer_settings:
        _set_optimizer(state, config, optimizer_settings, path)
        if "lr" in optimizer_settings:
            callbacks = [*callbacks, LearningRateLog()]  # the history's lr column
    return train_run(config, callbacks, resume_from=state, run_dir=run_dir)


def planned_processes(run_dir: str | Path, nproc: int | None = None) -> int:
    """How many processes a resume of ``run_dir`` trains on: ``nproc``, or as many as before."""
    if nproc is not None:
        return nproc
    try:
        state = load_checkpoint(checkpoint_path(run_dir))
    except (CheckpointError, ConfigError, OSError):
        return 1  # resume_run says what is wrong with the folder
    return int(state.get("config", {}).get("nproc", 1))


def _set_optimizer(state: dict[str, Any], config: RunConfig, settings: dict[str, Any], path):
    """Put new optimizer settings into the checkpoint's optimizer state, which a resume loads
    over the optimizer built from the config (and would otherwise bring the old values back)."""
    if "lr" in settings and config.optim.scheduler is not None:
        raise ConfigError(
            f"this run's learning rate follows its {config.optim.scheduler} schedule, so --lr "
            "cannot change it on resume; start a new run with the schedule you want"
        )
    groups = state["optimizer"]["param_groups"]
    for name, value in settings.items():
        if any(name not in group for group in groups):
            raise ConfigError(
                f"{config.optim.optimizer} has no setting {name}; leave --"
                f"{name.replace('_', '-')} out of the resume"
            )
        for group in groups:
            group[name] = value
            if name == "lr" and "initial_lr" in group:
                group["initial_lr"] = value
