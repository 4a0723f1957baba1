"""Several workers on one study, on the default journal and on PostgreSQL: every trial counted
once, pruned trials among them, none left RUNNING by a killed worker after the next start, and
Ctrl-C ending the workers' trials cleanly."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import optuna
import pandas as pd
from optuna.trial import TrialState
from tune_helpers import start_mlpkit

from mlpkit.config import build_config
from mlpkit.tune import TuneConfig, run_study, start_study, tune_study

# lr 1e-6 learns nothing in 4 epochs: such trials fall below the median and are pruned.
SPACE = {"lr": [0.000001, 0.05], "hidden": {"depth": [1, 2], "width": [4, 16]}}


def new_study(folder, storage, study_name, epochs=4, **options):
    options = TuneConfig(
        storage=storage,
        study_name=study_name if storage else None,
        startup_trials=2,
        space=SPACE,
        plots=False,
        **options,
    )
    config = build_config({"data": "iris", "epochs": epochs})
    return start_study(config, options, folder / "study"), options


def trials_of(spec):
    from mlpkit.tune.study import open_study

    return open_study(spec).get_trials()


def test_two_workers_share_one_study_and_every_trial_is_counted_once(tmp_path, storage, study_name):
    spec, options = new_study(tmp_path, storage, study_name, trials=8, workers=2)
    result = tune_study(spec, options)  # this process creates the study, two workers run it
    trials = trials_of(spec)
    assert [t.number for t in trials] == list(range(8))
    states = Counter(t.state for t in trials)
    assert states[TrialState.RUNNING] == 0 and states[TrialState.FAIL] == 0
    assert states[TrialState.PRUNED] >= 1
    assert len({t.user_attrs["worker"]["pid"] for t in trials}) == 2
    assert os.getpid() not in {t.user_attrs["worker"]["pid"] for t in trials}
    for trial in trials:  # each trial trained once, in its own folder, for the epochs it says
        history = pd.read_csv(tmp_path / "study" / "trials" / f"{trial.number:04d}" / "history.csv")
        assert len(history) == trial.user_attrs["epochs"]
    assert result.run.ran == 8
    assert len(pd.read_csv(tmp_path / "study" / "trials.csv")) == 8


def wait_for_running(spec, count, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        running = [
            t for t in trials_of(spec) if t.state == TrialState.RUNNING and "worker" in t.user_attrs
        ]
        if len(running) >= count:
            return running
        time.sleep(0.3)
    raise AssertionError(f"fewer than {count} trials were RUNNING after {seconds} s")


def where(spec) -> list[str]:
    if spec.storage is None:
        return ["--out", "study"]
    return ["--out", "study", "--storage", spec.storage, "--study-name", spec.study_name]


def test_a_worker_killed_mid_trial_leaves_no_trial_running_after_the_next_start(
    tmp_path, storage, study_name
):
    spec, _ = new_study(tmp_path, storage, study_name, epochs=100000)
    worker = start_mlpkit("tune", "--resume", "--trials", "3", *where(spec), cwd=tmp_path)
    try:
        (lost,) = wait_for_running(spec, count=1)
        assert lost.user_attrs["worker"]["pid"] == worker.pid
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        worker.kill()
    assert trials_of(spec)[lost.number].state == TrialState.RUNNING  # what the kill left
    run = run_study(spec, 1)  # the next start
    trials = trials_of(spec)
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert run.lost == [lost.number]
    assert trials[lost.number].state == TrialState.FAIL
    assert "ended before it finished" in trials[lost.number].user_attrs["fail_reason"]


def test_ctrl_c_ends_every_workers_trial_as_failed_and_says_how_to_resume(tmp_path):
    args = ["tune", "--data", "iris", "--epochs", "100000", "--trials", "4", "--workers", "2"]
    parent = start_mlpkit(*args, "--out", "study", cwd=tmp_path)
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    journal = str(tmp_path / "study" / "study.journal")
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if os.path.exists(journal):
                study = optuna.load_study(
                    study_name="study", storage=JournalStorage(JournalFileBackend(journal))
                )
                running = [
                    t for t in study.get_trials() if t.state == TrialState.RUNNING and t.user_attrs
                ]
                if len(running) == 2:
                    break
            time.sleep(0.3)
        parent.send_signal(signal.SIGINT)  # Ctrl-C: the workers end their trials cleanly
        _, stderr = parent.communicate(timeout=120)
    finally:
        parent.kill()  # its workers get SIGTERM when it dies
    assert parent.returncode == 130, stderr
    assert "resume with: mlpkit tune --out study --resume" in stderr
    trials = optuna.load_study(
        study_name="study", storage=JournalStorage(JournalFileBackend(journal))
    ).get_trials()
    assert len(trials) == 2
    assert all(t.state == TrialState.FAIL for t in trials)
    assert all("interrupted by SIGINT" in t.user_attrs["fail_reason"] for t in trials)
    assert (tmp_path / "study" / "trials.csv").is_file()
