"""``mlpkit tune --parallel-trials K``: K trials asked at once and trained as stacked models.

How the K trials are drawn: during the sampler's random start (``startup_trials``) each one
freely, as sequential trials are; after it, the first of each K by the sampler (TPE, as a
sequential trial), and the other K - 1 get the first's structural parameters (those one stack
cannot vary: the layers, the batch size and every other searched setting but the per-member
ones) fixed through Optuna's ``enqueue_trial``, and draw the per-member ones (``PER_MEMBER``:
learning rate, weight decay, dropout, label smoothing) from the sampler, which counts the
trials still running as bad results (constant liar), so that they spread out. The asked trials
are then grouped by structure (trials waiting in the study, enqueued by a user, may differ) and
each group trains as one stack (``mlpkit.tune.stack_trials``): every trial still reports its
own value each epoch, is pruned, stops early or fails on its own, and keeps its own
``trials/NNNN`` folder.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import merge
from ..errors import ConfigError
from ..stacked.activations import KERNELS
from ..training.interrupt import TrainingInterrupted, catch_signals
from .objective import TRIAL_ERRORS, Stop, one_line
from .space import Choice
from .stack_trials import Member, train_stack
from .storage import worker_id
from .study import StudySpec

log = logging.getLogger(__name__)

# Settings each member of a stack has its own of; every other searched setting is shared.
PER_MEMBER = ("lr", "weight_decay", "dropout", "label_smoothing")
_PATHS = {
    "lr": ("optim", "lr"),
    "weight_decay": ("optim", "weight_decay"),
    "dropout": ("model", "dropout"),
    "label_smoothing": ("optim", "label_smoothing"),
}
_OPTIMIZERS = ("sgd", "adam", "adamw")
_LOSSES = (None, "cross_entropy", "mse")


def stack_problem(config: Any) -> str | None:
    """Why trials of ``config`` cannot train as stacked models (the setting and the fix), or
    None."""
    model, optim, train = config.model, config.optim, config.train
    checks = [
        (model.architecture != "mlp", f"architecture {model.architecture}", "use mlp"),
        (model.batch_norm, "batch_norm", "leave it out"),
        (model.aux_weight > 0, "aux_weight", "set it to 0"),
        (model.ensemble > 1, "ensemble", "set it to 1"),
        (model.activation not in KERNELS, f"activation {model.activation}",
         f"use one of {', '.join(KERNELS)}"),
        (optim.optimizer not in _OPTIMIZERS, f"optimizer {optim.optimizer}",
         "use sgd, adam or adamw"),
        (optim.loss not in _LOSSES, f"loss {optim.loss}", "use cross_entropy or mse"),
        (optim.class_weights is not None, "class_weights", "leave them out"),
        (optim.scheduler == "plateau", "scheduler plateau", "use step, cosine or onecycle"),
        (optim.scheduler == "onecycle" and optim.max_lr is not None, "max_lr",
         "leave it to each trial's lr"),
        (optim.scheduler == "cosine" and optim.min_lr > 0, "min_lr", "leave it at 0"),
        (train.precision != "fp32", f"precision {train.precision}", "use fp32"),
        (train.compile, "compile", "leave it out"),
        (train.skip_nonfinite, "skip_nonfinite", "leave it out"),
        (train.step == "autograd", "step autograd", "use auto"),
        (bool(config.data.stream), "stream", "load the table in memory"),
        (config.nproc > 1, "nproc", "set it to 1"),
    ]  # fmt: skip
    for bad, setting, fix in checks:
        if bad:
            return f"{setting} ({fix})"
    return None


def check_parallel(spec: StudySpec, workers: int) -> None:
    """Refuse, in one line, what ``--parallel-trials`` cannot run: several workers, or settings
    (in the base config or among the space's choices) that a stacked model cannot train."""
    if workers > 1:
        raise ConfigError(
            "--parallel-trials and --workers cannot be combined yet; give one of the two"
        )
    base = spec.base
    found = stack_problem(base)
    space = spec.search_space
    for name, dimension in space.dimensions.items():
        if found is None and isinstance(dimension, Choice):
            for choice in dimension.choices:
                found = found or stack_problem(merge(base, {name: choice}))
    if found is not None:
        raise ConfigError(
            f"--parallel-trials trains trials as stacked MLPs, which cannot use {found}, or "
            "tune without --parallel-trials"
        )


def structure(config: Any) -> str:
    """What trials of one stack must share: the config without the per-member settings."""
    values = config.model_dump(mode="json")
    values.pop("out", None)
    for section, name in _PATHS.values():
        values[section].pop(name, None)
    return json.dumps(values, sort_keys=True, default=str)


def ask_trials(study: Any, space: Any, k: int, startup: int) -> list[Any]:
    """``k`` trials. While the study holds fewer than ``startup`` trials (the sampler's random
    start) each is drawn freely, as sequential trials are; from then on the first is drawn by
    the sampler and the others get its structural parameters fixed. Trials waiting in the
    study (enqueued by a user) are taken as they come."""
    from optuna.trial import TrialState

    asked: list[Any] = []
    shared: dict[str, Any] | None = None
    for _ in range(k):
        waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        if shared is not None and not waiting:
            study.enqueue_trial(shared, skip_if_exists=False)
        trial = study.ask()
        asked.append(trial)
        if shared is None and not waiting and len(study.trials) > startup:
            space.suggest(trial)  # its parameters are drawn as the space asks for them
            shared = {n: v for n, v in trial.params.items() if n not in PER_MEMBER}
    return asked


def optimize_parallel(
    spec: StudySpec,
    quota: int,
    trials: int,
    parallel: int,
    *,
    timeout: float | None = None,
    counted: Callable[[Any], int],
    after: Callable[[Any, Any], None],
) -> int | None:
    """Run up to ``quota`` trials, ``parallel`` at a time; ``after(study, frozen_trial)`` as
    each one ends. Returns the signal that stopped it, or None."""
    from .study import make_sampler, open_study, quiet_optuna

    study = open_study(spec)
    # Seeded per start, as a sequential worker 0: a resumed study draws new points.
    study.sampler = make_sampler(spec, len(study.trials))
    stop = Stop()
    space = spec.search_space
    begin = time.perf_counter()
    ran = 0
    with quiet_optuna(), catch_signals(stop):
        while ran < quota and stop.signum is None and counted(study) < trials:
            if timeout is not None and time.perf_counter() - begin > timeout:
                break
            k = min(parallel, quota - ran, trials - counted(study))
            asked = ask_trials(study, space, k, spec.startup_trials)
            ran += len(asked)
            members = _members(spec, study, space, asked, after)
            signum = _train_groups(spec, study, members, stop, after)
            if signum is not None:
                return signum
    return stop.signum


def _members(spec, study, space, asked, after) -> list[Member]:
    """The asked trials with their configs; a trial whose settings do not build fails."""
    members = []
    for trial in asked:
        try:
            params = space.suggest(trial)
            config = merge(spec.base, params)
        except TRIAL_ERRORS as exc:
            _fail(study, trial, one_line(exc), after)
            continue
        trial.set_user_attr("worker", worker_id())
        run_dir = Path(spec.study_dir) / "trials" / f"{trial.number:04d}"
        members.append(Member(trial, config, run_dir))
    return members


def _train_groups(spec, study, members, stop: Stop, after) -> int | None:
    """Each group of one structure as one stack; on a signal, every trial not yet told fails
    with the reason, and the signal is returned."""
    groups: dict[str, list[Member]] = {}
    for member in members:
        groups.setdefault(structure(member.config), []).append(member)
    told: set[int] = set()

    def tell(member: Member) -> None:
        told.add(member.trial.number)
        _tell(study, member, after)

    for group in groups.values():
        if stop.signum is not None:
            break
        log.info("training trials %s as one stack", ", ".join(str(m.trial.number) for m in group))
        try:
            train_stack(spec, group, tell, stop)
        except TrainingInterrupted as exc:
            when = "before training" if not exc.epoch else f"after {exc.epoch} epochs"
            for member in group:
                if member.trial.number not in told:
                    reason = f"interrupted by {exc.signal_name} {when}"
                    told.add(member.trial.number)
                    _fail(study, member.trial, reason, after)
            stop(exc.signum)
        except TRIAL_ERRORS as exc:
            for member in group:
                if member.trial.number not in told:
                    told.add(member.trial.number)
                    _fail(study, member.trial, one_line(exc), after)
    for member in members:
        if member.trial.number not in told:
            _fail(study, member.trial, "interrupted before it started", after)
    return stop.signum


def _tell(study: Any, member: Member, after) -> None:
    from optuna.trial import TrialState

    trial = member.trial
    if member.outcome == "pruned":
        frozen = study.tell(trial, state=TrialState.PRUNED)
    elif member.outcome == "fail":
        trial.set_user_attr("fail_reason", member.reason)
        frozen = study.tell(trial, state=TrialState.FAIL)
    elif not math.isfinite(member.value):
        metric = study.user_attrs.get("mlpkit", {}).get("metric", "the metric")
        trial.set_user_attr("fail_reason", f"{metric} was never a finite number")
        frozen = study.tell(trial, state=TrialState.FAIL)
    else:
        frozen = study.tell(trial, member.value)
    after(study, frozen)


def _fail(study: Any, trial: Any, reason: str, after) -> None:
    from optuna.trial import TrialState

    trial.set_user_attr("fail_reason", reason)
    after(study, study.tell(trial, state=TrialState.FAIL))
