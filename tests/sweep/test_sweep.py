"""mlpkit sweep: one run per value, everything else fixed; a table, overlaid curves and a page;
a stopped sweep run again keeps its finished runs and resumes the stopped one."""

import sys
from pathlib import Path

import pandas as pd
import pytest

from mlpkit.config import RunConfig
from mlpkit.errors import ConfigError
from mlpkit.sweep import grid, point_config
from samples import run_command

SRC = str(Path(__file__).resolve().parents[2] / "src")
SWEEP = "sweep --data moons --epochs 2 --hidden 8 --no-report --checkpoint-every 1 --out sw"


def mlpkit(*args, cwd, check=True):
    return run_command(*args, cwd=cwd, env={"COLUMNS": "160"}, check=check)


def in_process(argv, monkeypatch) -> int:
    """The command's entry point run in this process; its exit code."""
    from mlpkit.cli import main

    monkeypatch.setattr(sys, "argv", ["mlpkit", *argv])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code


@pytest.fixture(scope="module")
def batch_sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    result = mlpkit(*SWEEP.split(), "--param", "batch_size", "--values", "64,N", cwd=folder)
    return folder, folder / "sw", result


def test_a_batch_size_sweep_runs_each_value_and_n_is_the_whole_training_set(batch_sweep):
    _, sweep, result = batch_sweep
    table = pd.read_csv(sweep / "sweep.csv")
    assert table["batch_size"].tolist() == ["64", "N=700"]
    assert table["epochs"].tolist() == [2, 2]
    assert {"time_s", "final_val_loss", "test_accuracy"} <= set(table.columns)
    whole = (sweep / "batch_size=N" / "config.toml").read_text()
    assert "batch_size = 700" in whole and "hidden = [\n    8,\n]" in whole
    assert (sweep / "sweep_curves.png").stat().st_size > 10_000
    page = (sweep / "sweep.html").read_text()
    assert "N=700" in page and 'src="data:image/png;base64,' in page
    assert result.stdout.strip().endswith("sweep.html")
    assert "batch_size=N" in result.stderr  # the printed table


def test_a_stopped_sweep_run_again_keeps_finished_runs_and_resumes_the_stopped_one(batch_sweep):
    folder, sweep, _ = batch_sweep
    finished, stopped = sweep / "batch_size=64", sweep / "batch_size=N"
    before = pd.read_csv(stopped / "history.csv")
    model_time = (finished / "model.safetensors").stat().st_mtime_ns
    # As if stopped after epoch 1: its last checkpoint is epoch 1's, the run unfinished.
    (stopped / "checkpoints" / "epoch-0001.pt").replace(stopped / "checkpoints" / "last.pt")
    (stopped / "run.json").unlink()
    mlpkit(*SWEEP.split(), "--param", "batch_size", "--values", "64,N", cwd=folder)
    after = pd.read_csv(stopped / "history.csv")
    assert (finished / "model.safetensors").stat().st_mtime_ns == model_time  # not retrained
    assert after["total_time"].iloc[0] == before["total_time"].iloc[0]  # epoch 1 kept, not redone
    pd.testing.assert_series_equal(after["train_loss"], before["train_loss"])
    assert (stopped / "run.json").is_file()


def test_another_sweep_into_the_same_folder_is_refused(batch_sweep, capsys, monkeypatch):
    folder, _, _ = batch_sweep
    monkeypatch.chdir(folder)
    assert in_process([*SWEEP.split(), "--param", "lr", "--values", "0.1"], monkeypatch) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: sw holds another sweep (see sw/sweep.json); give another --out, or delete the "
        "folder to start this one there"
    ]


def test_depth_and_width_make_a_grid_of_hidden_layers():
    points = grid({"depth": [1, 3], "width": [8, 16]})
    hidden = [point_config(RunConfig(), p, None).model.hidden for p in points]
    assert hidden == [[8], [16], [8, 8, 8], [16, 16, 16]]
    assert [p.name for p in points][:2] == ["depth=1_width=8", "depth=1_width=16"]
    assert point_config(RunConfig(), grid({"width": [4]})[0], None).model.hidden == [4, 4]


def test_a_misspelt_sweep_parameter_gets_the_nearest_names(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert in_process(["sweep", "--param", "batchsize", "--values", "1"], monkeypatch) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: unknown setting to sweep 'batchsize'; did you mean batch_size?"
    ]
    with pytest.raises(ConfigError, match="bad setting train.batch_size"):
        point_config(RunConfig(), grid({"batch_size": [0]})[0], None)
    assert not (tmp_path / "runs").exists()
