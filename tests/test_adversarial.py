"""Inputs an adversary would try (issue 11): each gets one line that says what is wrong and what
to do, exit code 2 from the command, and leaves nothing written and an earlier run intact.

Two tables: ``COMMAND_CASES`` run the real command in a subprocess (the one-line error and the
exit code are what they check); ``LIBRARY_CASES`` call the library in this process, where the
command would add nothing but seconds.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from mlpkit import MLP, fit
from mlpkit.config import build_config, load_config
from mlpkit.errors import MlpkitError
from samples import classes, run_command

SRC = str(Path(__file__).resolve().parents[1] / "src")
FEATURES = [f"x{i}" for i in range(6)]


def mlpkit(*args, cwd):
    env = {"COLUMNS": "120", "OMP_NUM_THREADS": "1"}
    return run_command(*args, cwd=cwd, env=env, check=False)


def table(n=96, seed=0) -> pd.DataFrame:
    X, y = classes(n=n, seed=seed)
    return pd.DataFrame(X, columns=FEATURES).assign(label=np.array(["a", "b", "c"])[y])


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` and its bytes (empty if there is no folder)."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A finished run on a CSV file (``data.csv`` beside the run folder ``run``)."""
    from mlpkit.runs.train import train_run

    folder = tmp_path_factory.mktemp("trained")
    table().to_csv(folder / "data.csv", index=False)
    settings = {"data": str(folder / "data.csv"), "target": "label", "epochs": 2, "hidden": [8]}
    train_run(build_config({**settings, "out": str(folder / "run"), "report": False}))
    return folder


@pytest.fixture
def workspace(trained, tmp_path) -> Path:
    """A copy of the trained run and its data, for a case to damage as it likes."""
    shutil.copytree(trained, tmp_path, dirs_exist_ok=True)
    return tmp_path


def edit_model_json(run: Path, change: Callable[[dict], None], keep_checksum=False) -> None:
    path = run / "model.json"
    document = json.loads(path.read_text())
    change(document)
    if not keep_checksum:
        document.pop("metadata_sha256", None)  # as a file written before the checksum was
    path.write_text(json.dumps(document))


# -- the command, in a subprocess --------------------------------------------------------------
@dataclass
class Command:
    name: str
    prepare: Callable[[Path], list]  # makes the files it needs in the workspace; the argv
    words: tuple[str, ...]  # in the one line on stderr
    watched: str = "run"  # what must be left exactly as it was
    stdout: tuple[str, ...] = ()
    subprocess: bool = True  # else the command's entry point in this process (no import cost)


def _huge_features(ws: Path) -> list:
    rows = table().drop(columns="label").head(3).assign(x2=[0.0, 1e308, 0.0])
    rows.to_csv(ws / "new.csv", index=False)
    return ["predict", "run", "new.csv"]


def _short_scale(ws: Path) -> list:
    edit_model_json(ws / "run", lambda d: d["preprocessing"]["standardize"].update(scale=[1.0]))
    table().drop(columns="label").to_csv(ws / "new.csv", index=False)
    return ["predict", "run", "new.csv"]


def _changed_data(ws: Path) -> list:
    from mlpkit.runs.train import train_run

    table().to_csv(ws / "fresh.csv", index=False)
    settings = {"data": str(ws / "fresh.csv"), "target": "label", "epochs": 1, "hidden": [4]}
    train_run(build_config({**settings, "out": str(ws / "fresh"), "report": False}))
    frame = pd.read_csv(ws / "fresh.csv")
    frame.loc[5, "x0"] += 1.0
    frame.to_csv(ws / "fresh.csv", index=False)
    return ["evaluate", "fresh"]


def _evaluation_is_a_folder(ws: Path) -> list:
    (ws / "run" / "evaluation.json").mkdir()
    return ["evaluate", "run"]


def _output(path: str) -> Callable[[Path], list]:
    def prepare(ws: Path) -> list:
        table().drop(columns="label").to_csv(ws / "new.csv", index=False)
        (ws / "a_folder").mkdir()
        return ["predict", "run", "new.csv", "--output", path]

    return prepare


def _semicolons(ws: Path) -> list:
    table().to_csv(ws / "semi.csv", sep=";", index=False)
    return ["train", "--data", "semi.csv", "--out", "run"]


def _csv_named_npy(ws: Path) -> list:
    table().to_csv(ws / "table.npy", index=False)
    return ["train", "--data", "table.npy", "--out", "run"]


def _toml_bool_epochs(ws: Path) -> list:
    (ws / "bool.toml").write_text('data = "data.csv"\ntarget = "label"\nepochs = true\n')
    return ["train", "bool.toml", "--out", "run"]


COMMAND_CASES = [
    Command("features of 1e308", _huge_features, ("column 'x2'", "data row 2", "rescale")),
    Command("a shortened scaling vector", _short_scale, ("model.json", "scaling", "retrain")),
    Command("a data file changed since training", _changed_data,
            ("fresh.csv changed since this run was trained", "test split", "--data"), "fresh"),
    Command("evaluation.json is a folder", _evaluation_is_a_folder,
            ("cannot write", "evaluation.json", "Is a directory", "give a file name"),
            stdout=('"accuracy"',)),
    Command("--output is a folder", _output("a_folder"), ("--output", "is a folder")),
    Command("--output in a missing folder", _output("nowhere/p.csv"),
            ("nowhere", "does not exist", "create the folder")),
    Command("a semicolon-separated .csv", _semicolons,
            ("no feature columns", "separated by ';'", "comma-separated"), subprocess=False),
    Command("a CSV named .npy", _csv_named_npy, ("table.npy is not an NPY file", ".csv"),
            subprocess=False),
    Command("epochs = true in TOML", _toml_bool_epochs, ("train.epochs", "expected a number"),
            subprocess=False),
    Command("--hidden 100000000000", lambda ws: ["train", "--data", "data.csv", "--target",
            "label", "--hidden", "100000000000", "--out", "run"], ("GB", "smaller hidden"),
            subprocess=False),
    Command("--seed -1", lambda ws: ["train", "--seed", "-1", "--out", "run"],
            ("bad setting train.seed", "greater than or equal to 0"), subprocess=False),
]  # fmt: skip


def run_in_process(argv: list, cwd: Path, capsys, monkeypatch) -> subprocess.CompletedProcess:
    """The command's entry point, ``mlpkit.cli.main``, in this process."""
    from mlpkit.cli import main

    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["mlpkit", *map(str, argv)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(argv, exit_info.value.code, captured.out, captured.err)


@pytest.mark.parametrize("case", COMMAND_CASES, ids=lambda c: c.name)
def test_the_command_refuses_in_one_line_and_leaves_the_run_as_it_was(
    case, workspace, capsys, monkeypatch
):
    argv = case.prepare(workspace)
    before = snapshot(workspace / case.watched)
    if case.subprocess:
        result = mlpkit(*argv, cwd=workspace)
    else:
        result = run_in_process(argv, workspace, capsys, monkeypatch)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("warning:")]
    if case.stdout:  # what the command showed before it failed (evaluate's metrics table)
        lines = lines[-1:]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in case.words:
        assert word in lines[0], (word, lines[0])
    for word in case.stdout:
        assert word in result.stdout, (word, result.stdout)
    assert snapshot(workspace / case.watched) == before


# -- the library, in this process ----------------------------------------------------------------
@dataclass
class Library:
    name: str
    call: Callable[[Path], object]  # given a workspace (a copy of the trained run), raises
    error: type
    words: tuple[str, ...]


def _load(run: Path):
    from mlpkit.io.weights import load_model
    from mlpkit.runs.saved import saved_preprocessing

    _, metadata = load_model(run)
    return saved_preprocessing(metadata)


def _file(name: str, write: Callable[[Path], None], **settings) -> Callable[[Path], object]:
    """Train-time loading of a data file that ``write`` makes, with ``settings`` besides."""

    def call(ws: Path):
        from mlpkit.config import DataConfig
        from mlpkit.data.loading import load_data
        from mlpkit.data.prepare import prepare_data

        write(ws / name)
        if name.endswith((".npy", ".npz")):
            return load_data(DataConfig(name=str(ws / name)))
        return prepare_data(build_config({"data": str(ws / name), "target": "y", **settings}))

    return call


def _bomb(path: Path) -> None:
    """An NPZ file of a few hundred bytes whose array declares a petabyte."""
    header = io.BytesIO()
    np.lib.format.write_array_header_2_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**14, 2)}
    )
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("X.npy", header.getvalue() + b"\0" * 64)
        archive.writestr("y.npy", header.getvalue())


def _truncated(path: Path) -> None:
    X, y = classes()
    np.savez_compressed(path, X=X, y=y)
    path.write_bytes(path.read_bytes()[:-200])


def _checkpoint(ws: Path, change: Callable[[dict], None]):
    from mlpkit.io.checkpoint_file import load_checkpoint, save_checkpoint
    from mlpkit.runs.resume import resume_run

    last = ws / "run" / "checkpoints" / "last.pt"
    state = load_checkpoint(last)
    state.pop("format")
    change(state)
    save_checkpoint(last, state)
    return resume_run(ws / "run", epochs=3)


def _other_optimizer(ws: Path):
    """A checkpoint whose Adam state was saved for another architecture's parameters."""
    from mlpkit.io.checkpoint_file import load_checkpoint

    state = load_checkpoint(ws / "run" / "checkpoints" / "last.pt")
    other = MLP(6, [5], 3)
    optimizer = torch.optim.Adam(other.parameters())
    other(torch.zeros(2, 6)).sum().backward()
    optimizer.step()
    state["optimizer"] = optimizer.state_dict()
    model = MLP(6, [8], 3)
    return fit(model, "cross_entropy", classes(), epochs=3, resume_from=state)


def _nan_loss(ws: Path):
    X, y = classes()
    return fit(MLP(6, [8], 1), "mse", (X, y.astype(np.float32) * 1e30), epochs=2, lr=1e30,
               optimizer="sgd")  # fmt: skip


def _offline_mismatch(ws: Path):
    import dataclasses

    from mlpkit.data.downloads import DOWNLOADABLE, RemoteFile, load_downloadable

    remote = RemoteFile("covtype.data.gz", ("https://example.org/c.gz",), "sha256:" + "0" * 64)
    spec = dataclasses.replace(DOWNLOADABLE["covtype"], files=(remote,))
    (ws / "cache" / "covtype").mkdir(parents=True)
    (ws / "cache" / "covtype" / "covtype.data.gz").write_bytes(b"not it")
    return load_downloadable(spec, cache_dir=ws / "cache", download=False)


def _toml(text: str) -> Callable[[Path], object]:
    def call(ws: Path):
        (ws / "c.toml").write_text(text)
        return load_config(ws / "c.toml")

    return call


def _full_disk(ws: Path):
    from mlpkit.io.atomic import atomic_write

    def write(file):
        file.write(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    return atomic_write(ws / "run" / "metrics.json", write)


def _frame(**columns) -> Callable[[Path], None]:
    return lambda path: pd.DataFrame(columns).to_csv(path, index=False)


def _array(value) -> Callable[[Path], None]:
    return lambda path: np.save(path, value)


def _npz(**arrays) -> Callable[[Path], None]:
    return lambda path: np.savez(path, **arrays)


def _custom_module(ws: Path):
    from mlpkit import save_model

    return save_model(ws / "custom", torch.nn.Linear(2, 1), {})


ROWS = np.arange(8.0)
LIBRARY_CASES = [
    Library("a shortened scaling vector under the checksum",
            lambda ws: (edit_model_json(ws / "run", lambda d: d["preprocessing"]["standardize"]
                        .update(scale=[1.0]), keep_checksum=True), _load(ws / "run")),
            MlpkitError, ("model.json was changed since it was saved", "restore")),
    Library("a shortened scaling vector, no checksum",
            lambda ws: (edit_model_json(ws / "run", lambda d: d["preprocessing"]["standardize"]
                        .update(scale=[1.0])), _load(ws / "run")),
            MlpkitError, ("feature scaling has 1 scale value(s) for 6 column(s)",)),
    Library("model.json of random bytes",
            lambda ws: ((ws / "run" / "model.json").write_bytes(os.urandom(64)), _load(ws / "run")),
            MlpkitError, ("model.json is corrupted", "retrain")),
    Library("model.json without preprocessing",
            lambda ws: (edit_model_json(ws / "run", lambda d: d.pop("preprocessing")),
                        _load(ws / "run")),
            MlpkitError, ("no preprocessing statistics",)),
    Library("a column too large to standardise",
            _file("big.csv", _frame(a=[1e200, -1e200, 3.0, 4.0] * 4, y=ROWS.tolist() * 2),
                  numeric_scaling="standard"),  # robust scaling (the default) takes them
            MlpkitError, ("column 'a'", "too large to standardise")),
    Library("a constant regression target",
            _file("flat.csv", _frame(a=ROWS, y=[2.5] * 8)), MlpkitError,
            ("is 2.5 in every training row", "nothing to learn")),
    Library("an infinite target",
            _file("inf.csv", _frame(a=ROWS, y=[*ROWS[:7], np.inf])), MlpkitError,
            ("target", "infinite", "data row 8")),
    Library("a target beyond float32",
            _file("huge.csv", _frame(a=ROWS, y=[*ROWS[:7] + 0.5, 1e300])), MlpkitError,
            ("too large for float32",)),
    Library("two columns of one name",
            _file("dup.csv", lambda p: p.write_text("a,a,y\n" + "1,2,3\n4,5,6\n" * 4)),
            MlpkitError, ("more than one column 'a'", "its own name")),
    Library("ISO dates",
            _file("dates.csv", _frame(day=[f"2024-01-0{i + 1}" for i in range(8)], y=ROWS)),
            MlpkitError, ("column 'day'", "dates")),
    Library("a complex NPY", _file("c.npy", _array(np.ones((8, 3), dtype=complex))),
            MlpkitError, ("complex numbers",)),
    Library("a text NPY", _file("t.npy", _array(np.full((8, 3), "a"))), MlpkitError, ("text",)),
    Library("a bytes NPZ",
            _file("b.npz", _npz(X=np.full((8, 3), b"a"), y=np.arange(8) % 2)), MlpkitError,
            ("bytes",)),
    Library("a 2-D y", _file("y2.npz", _npz(X=np.ones((8, 3)), y=np.ones((8, 2)))),
            MlpkitError, ("shape (8, 2)", "one target per row")),
    Library("a truncated NPZ", _file("cut.npz", _truncated), MlpkitError,
            ("truncated or damaged",)),
    Library("an NPZ that unpacks beyond memory", _file("bomb.npz", _bomb), MlpkitError,
            ("once unpacked", "more than this machine's", "NPY")),
    Library("a hidden layer of 1e11 units", lambda ws: MLP(4, [100_000_000_000], 2), MlpkitError,
            ("GB for the weights alone", "smaller hidden widths")),
    Library("a seed beyond 64 bits", lambda ws: build_config({"seed": 2**70}), MlpkitError,
            ("bad setting train.seed", "less than 4294967296")),
    Library("epochs = true", _toml("epochs = true\n"), MlpkitError,
            ("bad setting train.epochs", "expected a number, got true")),
    Library("a checkpoint without random states",
            lambda ws: _checkpoint(ws, lambda s: s.pop("random")), MlpkitError,
            ("random states",)),
    Library("a checkpoint with epoch 'two'",
            lambda ws: _checkpoint(ws, lambda s: s.update(epoch="two")), MlpkitError,
            ("its epoch is 'two'",)),
    Library("a checkpoint with epoch -5",
            lambda ws: _checkpoint(ws, lambda s: s.update(epoch=-5)), MlpkitError,
            ("its epoch is -5",)),
    Library("another architecture's optimizer state", _other_optimizer, MlpkitError,
            ("optimizer state that does not fit", "(5, 6)")),
    Library("a nan loss in Python names the keyword", _nan_loss, MlpkitError,
            ("skip_nonfinite=True",)),
    Library("an offline checksum mismatch", _offline_mismatch, MlpkitError,
            ("does not match its checksum", "downloads are off")),
    Library("a full disk", _full_disk, MlpkitError,
            ("cannot write", "metrics.json", "No space left", "the disk is full")),
    Library("save_model of a custom module", _custom_module, MlpkitError,
            ("save_model saves mlpkit's models", "safetensors.torch.save_file")),
    Library("MLP with a list of the wrong length of activations",
            lambda ws: MLP(4, [8, 8], 2, activation=["relu"]), MlpkitError,
            ("1 activations for 2 hidden layers",)),
]  # fmt: skip


@pytest.mark.parametrize("case", LIBRARY_CASES, ids=lambda c: c.name)
def test_the_library_refuses_with_a_message_that_says_what_to_do(case, workspace):
    before = snapshot(workspace / "run" / "checkpoints")
    with pytest.raises(case.error) as info:
        case.call(workspace)
    message = str(info.value)
    assert len(message.splitlines()) == 1, message
    for word in case.words:
        assert word in message, (word, message)
    if not case.name.startswith("a checkpoint"):  # those cases rewrite last.pt themselves
        assert snapshot(workspace / "run" / "checkpoints") == before
    assert not (workspace / "runs").exists()  # no run folder was started


def test_a_full_disk_leaves_the_previous_file_intact(workspace):
    metrics = workspace / "run" / "metrics.json"
    before = metrics.read_bytes()
    with pytest.raises(OSError):  # a WriteError is an OSError too
        _full_disk(workspace)
    assert metrics.read_bytes() == before
    assert [p.name for p in metrics.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_the_model_json_checksum_covers_every_key(workspace):
    path = workspace / "run" / "model.json"
    document = json.loads(path.read_text())
    content = {k: v for k, v in document.items() if k != "metadata_sha256"}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    assert document["metadata_sha256"] == digest
