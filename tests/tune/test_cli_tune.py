"""mlpkit tune end to end on iris, in a subprocess: results, resume, retrain, bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from tune_helpers import run_mlpkit

from samples import command_error

TINY = ["--data", "iris", "--epochs", "3", "--startup-trials", "2", "--no-report"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tune")
    result = run_mlpkit("tune", *TINY, "--trials", "6", "--out", "study", "--retrain", cwd=folder)
    return folder, folder / "study", result


def test_a_study_writes_its_trials_and_the_best_one(study):
    _, out, result = study
    trials = pd.read_csv(out / "trials.csv")
    assert trials["number"].tolist() == list(range(6))
    assert set(trials["state"]) <= {"complete", "pruned", "fail"}
    params = {"param_lr", "param_hidden_depth", "param_dropout", "param_label_smoothing"}
    assert params <= set(trials.columns)
    assert {"value", "duration_s", "epochs", "best_epoch", "fail_reason"} <= set(trials.columns)
    complete = trials[trials["state"] == "complete"]
    assert (complete["epochs"] == 3).all()
    best = json.loads((out / "best.json").read_text())
    assert best["metric"] == "val_accuracy" and best["direction"] == "maximize"
    assert best["value"] == complete["value"].max()
    assert best["number"] in complete["number"].tolist()
    assert best["config"]["optim"]["lr"] == pytest.approx(best["params"]["lr"])
    assert best["config"]["data"]["name"] == "iris"
    about = json.loads((out / "study.json").read_text())
    assert about["sampler"]["name"] == "TPESampler"
    assert about["sampler"]["multivariate"] and about["sampler"]["constant_liar"]
    assert about["pruner"]["name"] == "median"
    for line in ("best val_accuracy", "complete", "pruned", "failed", "trials per minute"):
        assert line in result.stderr, line
    assert result.stdout.splitlines()[0] == "study"


def test_a_study_draws_its_plots(study):
    _, out, _ = study
    for name in ("optimization_history", "param_importances", "parallel_coordinate", "slice"):
        path = out / "plots" / f"{name}.png"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def test_retrain_trains_the_best_settings_on_train_and_validation_into_a_run_folder(study):
    from mlpkit.config import load_config
    from mlpkit.runs import evaluate_run

    _, out, result = study
    best = json.loads((out / "best.json").read_text())
    run = out / "retrained"
    config = load_config(run / "config.toml")
    assert config.data.val_fraction == 0.0
    assert config.train.epochs == best["best_epoch"]
    assert config.model.hidden == best["config"]["model"]["hidden"]
    history = pd.read_csv(run / "history.csv")
    assert "val_loss" not in history.columns and len(history) == best["best_epoch"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert evaluate_run(run)["accuracy"] == pytest.approx(metrics["accuracy"])
    assert "test_accuracy" in result.stderr
    assert result.stdout.splitlines()[-1].endswith("retrained")


def test_resume_continues_the_study_to_the_new_total(study, capsys):
    _, out, _ = study
    again = ["tune", "--out", str(out), "--resume", "--trials", "8", "--no-plots"]
    code, stderr = command_error(again, capsys)
    assert code == 0, stderr
    trials = pd.read_csv(out / "trials.csv")
    assert trials["number"].tolist() == list(range(8))
    assert "(2 run now)" in stderr
    assert not trials["state"].eq("running").any()


def test_a_bad_space_is_refused_in_one_line_before_anything_is_written(tmp_path, capsys):
    config = tmp_path / "tune.toml"
    config.write_text('data = "iris"\n[tune.space]\nlearning_rat = { low = 1e-4, high = 0.1 }\n')
    out = tmp_path / "study"
    code, stderr = command_error(["tune", str(config), "--out", str(out)], capsys)
    assert code == 2
    assert stderr.startswith("error: unknown setting in the search space 'learning_rat'")
    assert len(stderr.splitlines()) == 1
    assert not out.exists()


IRIS = ["--data", "iris"]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        ([*IRIS, "--metric", "val_auc"], "cannot tune on 'val_auc'"),
        ([*IRIS, "--direction", "up"], "bad setting tune.direction"),
        ([*IRIS, "--trials", "0"], "bad setting tune.trials"),
        ([*IRIS, "--val-fraction", "0"], "tuning compares trials on validation data"),
        ([*IRIS, "--storage", "sqlite:///s.db", "--workers", "2"], "SQLite storage fails"),
        ([*IRIS, "--resume"], "--resume continues a study"),
        (["--resume"], "there is no study"),
    ],
)
def test_bad_input_ends_with_one_line_and_exit_code_2(argv, says, tmp_path, capsys):
    out = tmp_path / "study"
    code, stderr = command_error(["tune", "--out", str(out), *argv], capsys)
    assert code == 2
    assert says in stderr and len(stderr.splitlines()) == 1, stderr
    assert not out.exists()


def test_a_study_that_exists_is_not_started_again(study, capsys):
    folder, out, _ = study
    before = (out / "trials.csv").read_text()
    code, stderr = command_error(["tune", "--data", "iris", "--out", str(out)], capsys)
    assert code == 2 and "continue it with --resume" in stderr
    assert (out / "trials.csv").read_text() == before
