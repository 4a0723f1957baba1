"""Running a study's trials: in this process, or in K worker processes on this machine.

``--trials N`` is the number of trials the study holds when done (complete, pruned or failed,
earlier starts and other machines included). A start runs the ones missing, split evenly among
its workers, so that one machine's count adds up exactly; each worker also stops once the
study is full, for workers on other machines. Each worker gets ``1 / K`` of the CPU threads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import TrainingError, require
from ..training.interrupt import TrainingInterrupted, catch_signals
from .objective import Objective, Stop, TrialFailed
from .storage import fail_lost_trials
from .study import WORKER_SEED_STRIDE, StudySpec, make_sampler, open_study, quiet_optuna

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5


class StudyInterrupted(KeyboardInterrupt):
    """SIGINT / SIGTERM ended a study: the trial it stopped is marked failed, none is left
    RUNNING, and a ``--resume`` carries on. ``exit_code`` is the shell's (130, 143)."""

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        super().__init__(f"tuning stopped by {signal.Signals(self.signum).name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


@dataclass
class StudyRun:
    """What one start of a study did."""

    started: int  # trials the study held (finished or running) when this start began
    ran: int  # trials this start ran
    seconds: float
    lost: list[int]  # trials found RUNNING by lost workers and marked failed

    @property
    def trials_per_minute(self) -> float:
        return 60.0 * self.ran / self.seconds if self.seconds > 0 else 0.0


def _counted(study: Any) -> int:
    """Trials finished or running: what counts towards ``--trials``."""
    from optuna.trial import TrialState

    return sum(t.state != TrialState.WAITING for t in study.get_trials(deepcopy=False))


def quotas(missing: int, workers: int) -> list[int]:
    """``missing`` trials split among workers as evenly as whole trials allow.

    >>> quotas(7, 3)
    [3, 2, 2]
    """
    return [missing // workers + (i < missing % workers) for i in range(workers)]


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def run_study(
    spec: StudySpec,
    trials: int,
    *,
    workers: int = 1,
    timeout: float | None = None,
    stale_after: float | None = None,
    on_trial: Callable[[Any], None] | None = None,
) -> StudyRun:
    """Mark lost trials failed, then run the trials missing up to ``trials`` in ``workers``
    processes; ``on_trial(frozen_trial)`` is called as each one finishes.

    >>> run = run_study(spec, 50, workers=2)  # doctest: +SKIP
    """
    require("optuna", "tune")
    if spec.parallel_trials > 1:
        from .parallel import check_parallel

        check_parallel(spec, workers)
    study = open_study(spec)
    lost = fail_lost_trials(study, stale_after)
    started = _counted(study)
    shares = quotas(max(0, trials - started), workers)
    begin = time.perf_counter()
    if workers == 1:
        optimize(spec, shares[0], trials, timeout=timeout, on_trial=on_trial)
    else:
        _run_workers(spec, shares, trials, timeout, stale_after, on_trial)
    seconds = time.perf_counter() - begin
    ran = _counted(open_study(spec)) - started
    return StudyRun(started, ran, seconds, lost)


def optimize(
    spec: StudySpec,
    quota: int,
    trials: int,
    *,
    timeout: float | None = None,
    worker: int = 0,
    threads: int | None = None,
    on_trial: Callable[[Any], None] | None = None,
) -> None:
    """Run up to ``quota`` trials here (fewer if the study reaches ``trials`` or ``timeout``
    passes). SIGINT / SIGTERM end the current trial (marked failed) with ``StudyInterrupted``."""
    if quota <= 0:
        return
    if spec.parallel_trials > 1:
        _optimize_parallel(spec, quota, trials, timeout, on_trial)
        return
    study = open_study(spec)
    # Seeded per worker and per start: workers, and a resumed study, draw different points.
    study.sampler = make_sampler(spec, WORKER_SEED_STRIDE * worker + len(study.trials))
    stop = Stop()
    objective = Objective(spec, threads=threads, stop=stop)

    def after(study: Any, trial: Any) -> None:
        _log_trial(trial, spec)
        if on_trial is not None:
            on_trial(trial)
        if stop.signum is not None or _counted(study) >= trials:
            study.stop()

    try:
        with quiet_optuna(), catch_signals(stop):
            study.optimize(
                objective, n_trials=quota, timeout=timeout, catch=(TrialFailed,), callbacks=[after]
            )
    except TrainingInterrupted as exc:
        raise StudyInterrupted(exc.signum) from None
    if stop.signum is not None:
        raise StudyInterrupted(stop.signum)


def _optimize_parallel(spec, quota, trials, timeout, on_trial) -> None:
    """``optimize`` with ``spec.parallel_trials`` trials at a time, as stacked models."""
    from .parallel import optimize_parallel

    def after(study: Any, trial: Any) -> None:
        _log_trial(trial, spec)
        if on_trial is not None:
            on_trial(trial)

    signum = optimize_parallel(spec, quota, trials, spec.parallel_trials, timeout=timeout,
                               counted=_counted, after=after)  # fmt: skip
    if signum is not None:
        raise StudyInterrupted(signum)


def _log_trial(trial: Any, spec: StudySpec) -> None:
    reason = trial.user_attrs.get("fail_reason")
    shown = "" if trial.value is None else f" {spec.metric}={trial.value:.4g}"
    because = f": {reason}" if reason else ""
    log.info("trial %d %s%s%s", trial.number, trial.state.name.lower(), shown, because)


def _run_workers(
    spec: StudySpec,
    shares: list[int],
    trials: int,
    timeout: float | None,
    stale_after: float | None,
    on_trial: Callable[[Any], None] | None,
) -> None:
    """K worker processes, each in its own process group (so that a Ctrl-C reaches them once,
    forwarded from here); this process reports the trials as they finish."""
    threads = max(1, cpu_count() // len(shares))
    processes = []
    for index, share in enumerate(shares):
        if share == 0:
            continue
        payload = {
            "spec": dataclasses.asdict(spec),
            "quota": share,
            "trials": trials,
            "timeout": timeout,
            "worker": index,
            "threads": threads,
            "parent": os.getpid(),
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "mlpkit.tune.worker"],
            stdin=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert process.stdin is not None
        process.stdin.write(json.dumps(payload))
        process.stdin.close()
        processes.append(process)
    study = open_study(spec)
    seen = {t.number for t in study.get_trials(deepcopy=False) if t.state.is_finished()}
    received: list[int] = []

    def forward(signum: int, frame: Any = None) -> None:
        received.append(signum)
        for process in processes:
            if process.poll() is None:
                os.kill(process.pid, signum)  # a second signal stops a worker at once

    running = list(processes)
    with _forwarding(forward):
        while running:
            time.sleep(POLL_SECONDS)
            for process in [p for p in running if p.poll() is not None]:
                running.remove(process)
                if process.returncode < 0 and not received:  # killed from outside
                    name = signal.Signals(-process.returncode).name
                    log.warning("worker process %d was killed (%s)", process.pid, name)
                    fail_lost_trials(study, stale_after)
            seen |= _report_new(study, seen, spec, on_trial)
    if received:
        raise StudyInterrupted(received[0])
    crashed = [p for p in processes if p.returncode > 0]
    if crashed:
        raise TrainingError(
            f"worker process {crashed[0].pid} ended with exit code {crashed[0].returncode}; "
            "its error is printed above"
        )


def _report_new(study: Any, seen: set[int], spec: StudySpec, on_trial) -> set[int]:
    new = set()
    for trial in study.get_trials(deepcopy=False):
        if trial.state.is_finished() and trial.number not in seen:
            new.add(trial.number)
            _log_trial(trial, spec)
            if on_trial is not None:
                on_trial(trial)
    return new


@contextlib.contextmanager
def _forwarding(forward: Callable[..., None]) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in previous:
        signal.signal(s, forward)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
