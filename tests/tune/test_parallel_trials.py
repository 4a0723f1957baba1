"""``mlpkit tune --parallel-trials K``: trials asked K at a time and trained as stacked models,
each ending as it would alone (real journal storage, iris, a few epochs)."""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import time

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState
from tune_helpers import run_mlpkit, start_mlpkit

from mlpkit.config import RunConfig, build_config
from mlpkit.runs.train import train_run
from mlpkit.tune import TuneConfig, start_study
from mlpkit.tune.run import run_study
from mlpkit.tune.study import open_study
from samples import command_error

# No dropout: a stack draws its members' dropout masks in one call, so with dropout a member's
# masks (not its distribution) differ from a lone run's; everything else is the same.
SPACE = {
    "lr": {"low": 1e-3, "high": 3e-2, "log": True},
    "weight_decay": {"low": 1e-6, "high": 1e-2, "log": True},
    "label_smoothing": {"low": 0.0, "high": 0.2},
    "hidden": {"depth": [1, 2], "width": [8, 32]},
}
BASE = {"data": "iris", "epochs": 4, "report": False}


def study_of(tmp_path, parallel=4, trials=4, pruner="none", startup=0, **settings):
    """A new study; with no random start (``startup=0``) the trials asked together share the
    first one's structure."""
    tune = TuneConfig(trials=trials, parallel_trials=parallel, pruner=pruner, space=SPACE,
                      startup_trials=startup)  # fmt: skip
    return start_study(build_config({**BASE, **settings}), tune, tmp_path / "study")


def stacks_logged(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().endswith("as one stack")]


def test_trials_asked_together_train_as_one_stack_and_each_equals_its_run_alone(tmp_path, caplog):
    spec = study_of(tmp_path)
    with caplog.at_level(logging.INFO, logger="mlpkit.tune.parallel"):
        run_study(spec, 4)
    assert stacks_logged(caplog) == ["training trials 0, 1, 2, 3 as one stack"]
    trials = open_study(spec).trials
    shared = {n: v for n, v in trials[0].params.items() if n.startswith("hidden")}
    assert all({n: t.params[n] for n in shared} == shared for t in trials)
    assert len({t.params["lr"] for t in trials}) == 4  # the per-member settings their own
    for trial in trials:
        assert trial.state == TrialState.COMPLETE
        folder = tmp_path / "study" / "trials" / f"{trial.number:04d}"
        config = RunConfig.model_validate(trial.user_attrs["config"])
        config.out = str(tmp_path / f"alone-{trial.number}")
        alone = train_run(config).history  # the oracle: the same trial trained on its own
        assert trial.value == pytest.approx(alone["val_accuracy"].max(), abs=1e-5)
        assert trial.user_attrs["epochs"] == len(alone) == 4
        stacked = pd.read_csv(folder / "history.csv")
        for column in ("train_loss", "val_loss", "val_accuracy", "val_f1", "train_accuracy"):
            assert stacked[column].tolist() == pytest.approx(alone[column].tolist(), abs=1e-5)
        for name in ("config.toml", "model.safetensors", "model.json", "metrics.json"):
            assert (folder / name).is_file(), name
        got = json.loads((folder / "metrics.json").read_text())
        want = json.loads((tmp_path / f"alone-{trial.number}" / "metrics.json").read_text())
        assert got == pytest.approx(want, abs=1e-5)


def test_early_stopping_ends_each_member_at_its_own_epoch_as_alone(tmp_path):
    spec = study_of(tmp_path, epochs=30, early_stopping=2, monitor="val_accuracy")
    run_study(spec, 4)
    trials = open_study(spec).trials
    assert len({t.user_attrs["epochs"] for t in trials}) > 1  # not all stopped together
    for trial in trials:
        config = RunConfig.model_validate(trial.user_attrs["config"])
        config.out = str(tmp_path / f"alone-{trial.number}")
        alone = train_run(config).history
        assert trial.user_attrs["epochs"] == len(alone)
        assert trial.value == pytest.approx(alone["val_accuracy"].max(), abs=1e-5)


GOOD = {"lr": 0.02, "weight_decay": 1e-5, "label_smoothing": 0.0, "hidden_depth": 1,
        "hidden_width_1": 16, "hidden_width_2": 16}  # fmt: skip


def test_a_pruned_member_leaves_the_stack_and_the_others_complete(tmp_path):
    spec = study_of(tmp_path, trials=8, pruner="median", startup=2, optimizer="sgd")
    study = open_study(spec)
    for _ in range(7):
        study.enqueue_trial(GOOD)
    study.enqueue_trial({**GOOD, "lr": 1e-3})  # learns next to nothing in 4 epochs of SGD
    run_study(spec, 8)
    trials = open_study(spec).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 7 + [TrialState.PRUNED]
    # The pruned member left the stack: the others trained on exactly as the first four.
    assert {t.value for t in trials[4:7]} == {trials[0].value}
    pruned = trials[7]
    history = pd.read_csv(tmp_path / "study" / "trials" / "0007" / "history.csv")
    assert pruned.user_attrs["epochs"] == len(history) < 4


def test_trials_of_different_structures_are_grouped_into_stacks(tmp_path, caplog):
    spec = study_of(tmp_path)
    study = open_study(spec)
    for depth in (1, 2, 1, 2):
        study.enqueue_trial({**GOOD, "hidden_depth": depth})
    with caplog.at_level(logging.INFO, logger="mlpkit.tune.parallel"):
        run_study(spec, 4)
    assert stacks_logged(caplog) == [
        "training trials 0, 2 as one stack",
        "training trials 1, 3 as one stack",
    ]
    trials = open_study(spec).trials
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert trials[0].value == trials[2].value and trials[1].value == trials[3].value


def test_a_member_whose_loss_becomes_nan_fails_alone(tmp_path):
    spec = study_of(tmp_path, optimizer="sgd")
    study = open_study(spec)
    for lr in (0.02, 1e6, 0.02, 0.02):
        study.enqueue_trial({**GOOD, "lr": lr})
    run_study(spec, 4)
    trials = open_study(spec).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL] + [
        TrialState.COMPLETE
    ] * 2
    assert "the loss became nan" in trials[1].user_attrs["fail_reason"]
    assert math.isfinite(trials[0].value) and trials[0].value == trials[2].value


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--workers", "2"], "--parallel-trials and --workers cannot be combined"),
        (["--batch-norm"], "cannot use batch_norm (leave it out)"),
        (["--optimizer", "rmsprop"], "cannot use optimizer rmsprop (use sgd, adam or adamw)"),
        (["--architecture", "wide_deep"], "cannot use architecture wide_deep"),
    ],
)
def test_what_a_stack_cannot_train_is_refused_in_one_line_with_exit_code_2(
    flags, says, tmp_path, capsys
):
    out = tmp_path / "study"
    argv = ["tune", "--data", "iris", "--parallel-trials", "2", *flags, "--out", str(out)]
    code, stderr = command_error(argv, capsys)
    assert code == 2, stderr
    assert says in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert not out.exists()


def test_mlpkit_tune_parallel_trials_end_to_end(tmp_path):
    args = ["--data", "iris", "--epochs", "3", "--startup-trials", "2", "--no-report"]
    result = run_mlpkit(
        "tune", *args, "--trials", "8", "--parallel-trials", "4", "--out", "study", cwd=tmp_path
    )
    out = tmp_path / "study"
    trials = pd.read_csv(out / "trials.csv")
    assert trials["number"].tolist() == list(range(8))
    assert set(trials["state"]) <= {"complete", "pruned", "fail"}
    assert "trials per minute" in result.stderr
    about = json.loads((out / "study.json").read_text())
    assert about["parallel_trials"]["asked_at_once"] == 4
    best = json.loads((out / "best.json").read_text())
    assert (out / "trials" / f"{best['number']:04d}" / "model.safetensors").is_file()


def test_ctrl_c_fails_every_asked_trial_and_leaves_none_running(tmp_path):
    args = ["tune", "--data", "iris", "--epochs", "100000", "--trials", "4"]
    more = ["--parallel-trials", "4", "--startup-trials", "0", "--out", "study"]  # one stack
    parent = start_mlpkit(*args, *more, cwd=tmp_path)
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    journal = str(tmp_path / "study" / "study.journal")

    def trials():
        storage = JournalStorage(JournalFileBackend(journal))
        return optuna.load_study(study_name="study", storage=storage).get_trials()

    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if os.path.exists(journal):
                running = [t for t in trials() if t.state == TrialState.RUNNING and t.user_attrs]
                if len(running) == 4:
                    break
            time.sleep(0.3)
        time.sleep(1.0)  # into the stack's training
        parent.send_signal(signal.SIGINT)
        _, stderr = parent.communicate(timeout=120)
    finally:
        parent.kill()
    assert parent.returncode == 130, stderr
    found = trials()
    assert len(found) == 4
    assert all(t.state == TrialState.FAIL for t in found)
    reasons = [t.user_attrs["fail_reason"] for t in found]
    assert all("interrupted by SIGINT" in r for r in reasons), reasons


def test_the_stacked_cross_entropy_takes_one_label_smoothing_per_member():
    import torch
    from torch import nn

    from mlpkit.stacked.losses import StackedCrossEntropy

    torch.manual_seed(0)
    outputs, targets, eps = torch.randn(3, 7, 4), torch.randint(0, 4, (7,)), [0.0, 0.1, 0.2]
    head = StackedCrossEntropy(nn.CrossEntropyLoss(), eps)
    shares, scales = torch.full((3,), 1 / 3), torch.ones(3, 1, 1) / 7  # each member's own
    _, losses, grad = head(outputs.clone(), targets, shares, scales)
    for k in range(3):  # the oracle: torch's loss and autograd, member by member
        logits = outputs[k].clone().requires_grad_()
        loss = nn.functional.cross_entropy(logits, targets, label_smoothing=eps[k])
        loss.backward()
        assert float(losses[k]) == pytest.approx(float(loss), abs=1e-6)
        assert torch.allclose(grad[k], logits.grad, atol=1e-6)
