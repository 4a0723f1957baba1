"""Run folders: an earlier run is never touched without --overwrite, a replacing run that fails
leaves it as it was, a folder in use is locked, and history.csv shows every finished epoch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mlpkit.callbacks import Callback
from mlpkit.config import build_config
from mlpkit.errors import ConfigError, DataError
from mlpkit.runs import resume_run, train_run
from mlpkit.runs.folder import RunFolder

SRC = str(Path(__file__).resolve().parents[2] / "src")


def settings(out, **more):
    values = {"data": "iris", "hidden": [8], "epochs": 2, "batch_size": 32, "seed": 1}
    return build_config({**values, "out": None if out is None else str(out), **more})


def contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_an_earlier_run_is_refused_and_left_as_it_was(tmp_path):
    train_run(settings(tmp_path / "run"))
    before = contents(tmp_path / "run")
    with pytest.raises(
        ConfigError, match="holds an earlier run; give another --out, or --overwrite"
    ):
        train_run(settings(tmp_path / "run", epochs=3))
    assert contents(tmp_path / "run") == before


def test_overwrite_replaces_the_run_only_once_the_new_one_has_finished(tmp_path):
    train_run(settings(tmp_path / "run"))
    before = contents(tmp_path / "run")

    class Fail(Callback):
        def on_epoch_end(self, state) -> None:
            assert (tmp_path / "run" / "config.toml").read_bytes() == before["config.toml"]
            raise DataError("the new run fails in its first epoch")

    with pytest.raises(DataError):
        train_run(settings(tmp_path / "run", epochs=3, overwrite=True), callbacks=[Fail()])
    assert contents(tmp_path / "run") == before  # the earlier run, byte for byte
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no staging folder left

    result = train_run(settings(tmp_path / "run", epochs=3, overwrite=True))
    assert result.run_dir == tmp_path / "run"
    assert len(pd.read_csv(tmp_path / "run" / "history.csv")) == 3
    assert "epochs = 3" in (tmp_path / "run" / "config.toml").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_the_default_folder_is_the_next_free_name(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    first = train_run(settings(None)).run_dir
    second = train_run(settings(None)).run_dir
    assert (first, second) == (Path("runs/iris"), Path("runs/iris-2"))
    assert "runs/iris holds an earlier run; this run goes to runs/iris-2" in caplog.text


@pytest.mark.parametrize("out", ["", "."])
def test_an_empty_run_folder_is_refused(tmp_path, monkeypatch, out):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="the run folder \\(out\\) is empty"):
        train_run(settings(out))
    assert list(tmp_path.iterdir()) == []


def test_a_run_folder_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "run").write_text("notes")
    with pytest.raises(ConfigError, match="is a file; give a folder"):
        train_run(settings(tmp_path / "run"))
    assert (tmp_path / "run").read_text() == "notes"


def test_history_csv_holds_every_finished_epoch_while_the_run_goes_on(tmp_path):
    seen = []

    class Look(Callback):
        order = 95  # after the history file is written

        def on_epoch_end(self, state) -> None:
            seen.append(len(pd.read_csv(tmp_path / "run" / "history.csv")))

    train_run(settings(tmp_path / "run", epochs=3), callbacks=[Look()])
    assert seen == [1, 2, 3]


def test_a_folder_in_use_is_refused_with_the_process_that_holds_it(tmp_path):
    (tmp_path / "run").mkdir()
    with RunFolder(tmp_path / "run"):  # this process holds the lock, as a running train would
        result = subprocess.run(
            [sys.executable, "-m", "mlpkit", "train", "--data", "iris", "--out", "run"],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": SRC},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: run is in use by mlpkit process {os.getpid()}; wait for it to finish, or give "
        "another --out"
    ]
    assert [p.name for p in (tmp_path / "run").iterdir()] == [".lock"]


def test_an_interrupted_replacement_resumes_and_then_replaces(tmp_path):
    train_run(settings(tmp_path / "run"))

    class Stop(Callback):
        def on_epoch_end(self, state) -> None:
            if state.epoch == 1:
                raise KeyboardInterrupt  # as Ctrl-C would, after the first epoch's checkpoint

    with pytest.raises(KeyboardInterrupt):
        train_run(settings(tmp_path / "run", epochs=3, overwrite=True), callbacks=[Stop()])
    staging = tmp_path / ".run.incoming"
    assert staging.is_dir() and len(pd.read_csv(tmp_path / "run" / "history.csv")) == 2
    result = resume_run(staging)
    assert result.run_dir == tmp_path / "run" and not staging.exists()
    assert len(pd.read_csv(tmp_path / "run" / "history.csv")) == 3
