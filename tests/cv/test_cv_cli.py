"""``mlpkit cv`` end to end, in a subprocess: the table, cv.json, and one line on bad input."""

from __future__ import annotations

import json

from samples import run_command


def mlpkit(*args, cwd, check=True):
    return run_command(*args, cwd=cwd, env={"COLUMNS": "140"}, check=check)


def test_cv_writes_cv_json_and_prints_each_metrics_mean_and_spread(tmp_path):
    result = mlpkit("cv", "--data", "iris", "--folds", "3", "--epochs", "2", cwd=tmp_path)
    folder = tmp_path / "runs" / "iris-cv"
    assert result.stdout.strip().endswith("runs/iris-cv")
    saved = json.loads((folder / "cv.json").read_text())
    assert saved["folds"] == 3 and saved["rows"] == 150 and saved["stratified"]
    accuracy = saved["metrics"]["val_accuracy"]
    assert set(accuracy) == {"mean", "std", "min", "max", "folds"} and len(accuracy["folds"]) == 3
    assert "best epoch by val_accuracy" in saved["scores_at"]  # as mlpkit train watches
    for text in ("mean ± std", "min-max", "fold 3", "val_accuracy", f"{accuracy['mean']:.4f}"):
        assert text in result.stderr, text
    assert (folder / "config.toml").read_text().startswith("# cross-validated with: mlpkit cv")
    rerun = mlpkit(
        "cv", folder / "config.toml", "--folds", "3", cwd=tmp_path
    )  # a folder of its own
    assert rerun.stdout.strip().endswith("runs/iris-cv-2")
    again = json.loads((tmp_path / "runs" / "iris-cv-2" / "cv.json").read_text())
    assert again["metrics"] == saved["metrics"]  # seeded: the same folds, orders and weights


def test_a_bad_fold_count_exits_2_with_one_line_and_writes_nothing(tmp_path):
    # Each refusal's wording is checked in-process (test_folds.py); this is the command's side.
    says = "give --folds 150 or fewer"
    result = mlpkit("cv", "--data", "iris", "--folds", "151", cwd=tmp_path, check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and lines[0].endswith(says)
    assert not (tmp_path / "runs").exists()
