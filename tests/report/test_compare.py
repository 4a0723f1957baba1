"""mlpkit compare puts runs side by side: the settings that differ, their metrics, and their
learning curves overlaid, on one page and in a printed table."""

import re

from report_runs import command_in_process, mlpkit

from mlpkit.config import build_config
from mlpkit.runs import train_run


def test_compare_shows_the_differing_settings_and_metrics_of_two_runs(moons_run):
    folder, moons, _ = moons_run
    settings = {"data": "moons", "epochs": 2, "hidden": [4], "batch_size": 64, "report": False}
    train_run(build_config({**settings, "out": str(folder / "runs" / "small")}))
    result = mlpkit("compare", moons, "runs/small", "--out", "cmp.html", cwd=folder)
    assert result.stdout.strip() == "cmp.html"
    printed = result.stderr
    assert re.search(r"model\.hidden\s*│\s*16\s*│\s*4", printed), printed
    assert re.search(r"epochs\s*│\s*3\s*│\s*2", printed), printed
    assert "optim.scheduler" in printed and "train.epochs" in printed
    assert "data.name" not in printed  # the same in both runs
    page = (folder / "cmp.html").read_text()
    assert "test accuracy" in page and "final val_loss" in page
    assert len(re.findall(r'<img src="data:image/png;base64,', page)) == 1


def test_compare_needs_two_runs(moons_run, capsys):
    _, moons, _ = moons_run
    code, _, stderr = command_in_process(["compare", moons], capsys)
    assert code == 2
    assert stderr.splitlines() == [
        "error: compare takes two or more run folders, e.g. runs/a runs/b"
    ]
