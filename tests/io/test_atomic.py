"""The one atomic write: a failed write leaves the previous file, and says why in one line."""

from __future__ import annotations

import errno
import os
import tempfile
import urllib.error

import pytest
import torch

from mlpkit.errors import WriteError
from mlpkit.io.atomic import atomic_write, writable_file, write_text
from mlpkit.io.checkpoint_file import load_checkpoint, save_checkpoint


def failing(code: int):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    return fail


def test_a_read_only_folder_is_one_line_naming_the_path_and_the_fix(tmp_path, monkeypatch):
    target = tmp_path / "config.toml"
    target.write_text("before")
    monkeypatch.setattr(tempfile, "mkstemp", failing(errno.EROFS))
    with pytest.raises(WriteError) as info:
        write_text(target, "after")
    assert str(info.value) == (
        f"cannot write {target} (Read-only file system); the file system is read-only; "
        "write to another folder"
    )
    assert target.read_text() == "before"


def test_a_path_under_a_file_is_refused_in_one_line(tmp_path):
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(WriteError, match="a_file/run/config.toml .*choose another path"):
        write_text(tmp_path / "a_file" / "run" / "config.toml", "x")


def test_errors_that_are_not_the_file_systems_pass_through(tmp_path):
    def download(file):
        raise urllib.error.URLError("no route to host")

    with pytest.raises(urllib.error.URLError):
        atomic_write(tmp_path / "data.gz", download)
    assert list(tmp_path.iterdir()) == []


def test_a_checkpoint_that_meets_a_full_disk_leaves_the_last_one_loadable(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"model": {"w": torch.ones(2)}})
    before = path.read_bytes()
    monkeypatch.setattr(os, "fsync", failing(errno.ENOSPC))
    with pytest.raises(WriteError, match="No space left on device.*the disk is full"):
        save_checkpoint(path, {"model": {"w": torch.zeros(2)}})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert torch.equal(load_checkpoint(path)["model"]["w"], torch.ones(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_an_output_file_is_checked_before_any_work(tmp_path):
    writable_file(tmp_path / "p.csv")
    with pytest.raises(WriteError, match="is a folder; give a file name"):
        writable_file(tmp_path)
    with pytest.raises(WriteError, match="does not exist; create the folder"):
        writable_file(tmp_path / "missing" / "p.csv")


class FillsUp:
    """A file on a disk that fills up after ``room`` bytes."""

    def __init__(self, room: int) -> None:
        self.room, self.written = room, 0

    def write(self, data) -> int:
        if self.written + len(data) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.written += len(data)
        return len(data)

    def flush(self) -> None:
        pass


def test_torch_save_on_a_full_disk_reports_the_full_disk_not_a_zip_position():
    from mlpkit.io.checkpoint_file import _save

    with pytest.raises(OSError) as info:
        _save(FillsUp(room=2000), {"model": {"w": torch.zeros(10_000)}})
    assert info.value.errno == errno.ENOSPC
