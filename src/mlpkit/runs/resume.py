"""Resuming a run: continue from its last checkpoint, with the settings it was started with.

The checkpoint holds the run's config, so ``resume_run`` needs nothing else from the folder. The
resumed run appends to the same history and, at the end, rewrites the folder's config, history,
metrics and model files as the uninterrupted run would have written them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from ..callbacks.base import Callback
from ..config import RunConfig, describe, merge
from ..errors import CheckpointError, ConfigError
from ..io.checkpoint_file import checkpoint_path, load_checkpoint
from .train import RunResult, train_run


def resume_run(
    run_dir: str | Path, epochs: int | None = None, callbacks: Iterable[Callback] = ()
) -> RunResult:
    """Continue a run from its last checkpoint up to ``epochs`` in total (default: as planned),
    with the settings it was started with, and rewrite its folder as if it had never stopped.

    ``run_dir`` is a run folder, or a checkpoint file in its ``checkpoints`` folder.

    >>> result = resume_run("runs/digits", epochs=50)  # doctest: +SKIP
    """
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
    overrides = {} if epochs is None else {"epochs": epochs}
    try:
        config = merge(RunConfig.model_validate(state["config"]), overrides)
    except ValidationError as exc:
        raise CheckpointError(f"{path} holds an invalid config ({describe(exc)})") from None
    if config.train.epochs < int(state["epoch"]):
        raise ConfigError(
            f"{path} has {state['epoch']} epochs done already; "
            f"give --epochs {state['epoch']} or more"
        )
    return train_run(config, callbacks, resume_from=state, run_dir=run_dir)
