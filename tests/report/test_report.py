"""Every mlpkit train ends with a self-contained report.html holding what a user needs to judge
the run; mlpkit report rebuilds it, --no-report skips it, and without matplotlib the run still
trains and the report says how to get plots."""

import json
import re
import sys

import pandas as pd
import pytest
from report_runs import command_in_process, mlpkit

from mlpkit.config import build_config
from mlpkit.runs import train_run


def images(page: str) -> list[str]:
    return re.findall(r'<img src="([^"]*)"', page)


def text(page: str) -> str:
    """The page without its embedded images, whose base64 could hold any short text."""
    return re.sub(r'src="data:image/png;base64,[^"]*"', 'src=""', page)


def test_train_writes_a_self_contained_report_with_every_part_the_issue_lists(moons_run):
    _, run, result = moons_run
    page = (run / "report.html").read_text()
    plots = sorted(p.name for p in (run / "plots").glob("*.png"))
    assert plots == [
        "confusion.png",
        "decision_surface.png",
        "learning_curves.png",
        "learning_rate.png",
        "roc_pr.png",
    ]
    sources = images(page)
    assert len(sources) == len(plots)
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r'(src|href)="(?!data:|#)', page)  # nothing fetched from anywhere
    assert "<script" not in page
    metrics = json.loads((run / "metrics.json").read_text())
    facts = json.loads((run / "run.json").read_text())
    for words in (
        "Config (config.toml)",
        "hidden = [\n    16,\n]",  # the resolved config, verbatim
        f"{facts['data']['rows']['training']:,} training",  # rows per split
        "Classes",
        "Layers",
        f"{facts['model']['parameters']:,}",  # the parameter count
        facts["training"]["step"],  # the step that ran
        "fp32",
        f"{metrics['accuracy']:.4g}",  # the test accuracy
        "History",
        facts["versions"]["torch"],
        "Machine",
    ):
        assert words in text(page), words
    assert facts["data"]["rows"] == {"training": 700, "validation": 150, "test": 150}
    assert [c["name"] for c in facts["data"]["classes"]] == ["0", "1"]
    assert result.stdout.strip().endswith("runs/moons")


def test_a_schedule_puts_each_epochs_learning_rate_in_the_history(moons_run):
    _, run, _ = moons_run
    lr = pd.read_csv(run / "history.csv")["lr"]
    assert lr.iloc[0] == pytest.approx(1e-3)  # cosine starts at the optimizer's rate
    assert list(lr) == sorted(lr, reverse=True) and lr.iloc[-1] < lr.iloc[0]


def test_mlpkit_report_rebuilds_the_page_and_its_plots(moons_run):
    folder, run, _ = moons_run
    before = (run / "report.html").read_text()
    (run / "report.html").unlink()
    (run / "plots" / "confusion.png").unlink()
    result = mlpkit("report", run, cwd=folder)
    assert result.stdout.strip().endswith("report.html")
    again = (run / "report.html").read_text()
    assert (run / "plots" / "confusion.png").is_file()
    assert len(images(again)) == len(images(before))
    same = ("Metrics", "Decision surface", json.loads((run / "run.json").read_text())["written"])
    assert all(words in text(again) for words in same)


def test_mlpkit_report_on_a_folder_that_is_no_run_fails_with_one_line(tmp_path, capsys):
    code, _, stderr = command_in_process(["report", tmp_path], capsys)
    assert code == 2
    assert stderr.splitlines() == [
        f"error: no config.toml in {tmp_path}; give the folder of a run mlpkit train finished"
    ]


def test_no_report_skips_the_page_which_mlpkit_report_can_write_later(tmp_path, capsys):
    run = tmp_path / "runs" / "iris"
    argv = ["train", "--data", "iris", "--epochs", "2", "--hidden", "8", "--no-report"]
    assert command_in_process([*argv, "--out", run], capsys)[0] == 0
    assert not (run / "report.html").exists() and not (run / "plots").exists()
    assert "report = false" in (run / "config.toml").read_text()
    mlpkit("report", run, cwd=tmp_path)
    page = text((run / "report.html").read_text())
    assert "Confusion matrix" in page and "setosa" in page  # class names
    assert "<h3>ROC" not in page  # three classes: no ROC curve


def test_without_matplotlib_training_works_and_the_report_says_how_to_get_plots(tmp_path):
    args = "train --data iris --epochs 2 --hidden 8 --out runs/iris"
    result = mlpkit(*args.split(), cwd=tmp_path, block_matplotlib=True)
    run = tmp_path / "runs" / "iris"
    assert (run / "model.safetensors").is_file()
    page = (run / "report.html").read_text()
    assert "pip install &#x27;mlpkit[plots]&#x27;" in page and not images(page)
    assert "Classes" in page and "History" in page
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warning == ["warning: runs/iris/report.html has no plots: plots need matplotlib; "
                       "install it with: pip install 'mlpkit[plots]'"]  # fmt: skip


def test_without_matplotlib_plot_activations_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    argv = ["plot", "activations", "--out", tmp_path / "a.png"]
    code, _, stderr = command_in_process(argv, capsys)
    assert code == 2
    assert stderr.splitlines() == [
        "error: matplotlib is not installed; install it with: pip install 'mlpkit[plots]'"
    ]
    assert not (tmp_path / "a.png").exists()


def test_a_regression_run_on_one_feature_gets_the_fitted_curve(tmp_path):
    pytest.importorskip("matplotlib")
    config = build_config(
        {"data": "toy_regression", "epochs": 3, "hidden": [16], "out": str(tmp_path / "toy")}
    )
    result = train_run(config)
    names = sorted(p.name for p in (result.run_dir / "plots").glob("*.png"))
    assert names == ["fitted_curve.png", "learning_curves.png", "regression.png"]
    page = text((result.run_dir / "report.html").read_text())
    assert "Fitted curve" in page and "0 (median)" in page  # imputation on, nothing missing


def test_an_image_run_shows_its_most_confidently_wrong_images(tmp_path):
    pytest.importorskip("matplotlib")
    config = build_config(
        {"data": "digits", "epochs": 1, "hidden": [4], "lr": 0.01, "out": str(tmp_path / "d")}
    )
    result = train_run(config)
    assert result.test_metrics["accuracy"] < 1  # some are wrong, so there is something to show
    page = text((result.run_dir / "report.html").read_text())
    assert "Most confidently wrong" in page
    assert (result.run_dir / "plots" / "wrong_images.png").is_file()
    assert "image shape" in page and "8x8" in page
