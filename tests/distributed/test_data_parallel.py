"""Data-parallel training on CPU processes (gloo): the same results as one process, runs that
end cleanly when a rank dies or Ctrl-C arrives, and torchrun launching what --nproc launches."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from data_parallel_worker import CASES, train
from torch.utils.data import DataLoader, TensorDataset

from mlpkit.data.batching import LoaderBatches, TensorBatcher
from mlpkit.distributed.group import Group
from mlpkit.distributed.launch import free_port, rank_environment
from mlpkit.errors import ConfigError
from mlpkit.io.checkpoint_file import load_checkpoint
from samples import SRC, run_command

WORKER = Path(__file__).with_name("data_parallel_worker.py")


def _environment(**more: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": SRC, **more}


def test_two_processes_train_as_one_on_the_whole_batch(tmp_path):
    # A last batch of 27 rows split 14 / 13 too: each rank's gradient is weighted by its rows.
    port = free_port()
    out = tmp_path / "two.pt"
    ranks = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(out)],
            cwd=tmp_path,
            env=_environment(**rank_environment(rank, 2, port)),
        )
        for rank in range(2)
    ]
    assert [r.wait(timeout=300) for r in ranks] == [0, 0]
    two = torch.load(out, weights_only=False)
    for case, (step, _) in CASES.items():
        weights, history = train(case)
        weights_2, history_2 = two[case]
        assert (history.attrs["processes"], history_2.attrs["processes"]) == (1, 2)
        assert history_2.attrs["step"] == step
        for name, tensor in weights.items():
            torch.testing.assert_close(weights_2[name], tensor, atol=1e-5, rtol=0, msg=case)
        columns = [c for c in history.columns if c != "total_time"]
        pd.testing.assert_frame_equal(history_2[columns], history[columns], atol=1e-5, rtol=0)
        assert history["val_loss"].iloc[-1] < history["val_loss"].iloc[0], case  # it learns
    # From a DataLoader, each rank reads its share through a DistributedSampler.
    _, history = two["loader"]
    assert history.attrs["processes"] == 2
    assert history["val_loss"].iloc[-1] < history["val_loss"].iloc[0]


def test_each_rank_takes_a_disjoint_part_of_every_batch():
    X, y = torch.arange(40.0).reshape(20, 2), torch.arange(20)
    whole = TensorBatcher(X, y, batch_size=8, shuffle=True, seed=3)
    parts = []
    for rank in range(3):
        batcher = TensorBatcher(X, y, batch_size=8, shuffle=True, seed=3)
        batcher.shard(Group(rank, 3, 3, "gloo", 60.0).part)
        parts.append([targets for _, targets in batcher])
    for index, (_, targets) in enumerate(whole):
        pieces = [part[index] for part in parts]
        assert torch.equal(torch.cat(pieces), targets)  # disjoint, in order, all of it
        assert max(map(len, pieces)) - min(map(len, pieces)) <= 1


def test_a_data_loader_is_shared_out_with_a_distributed_sampler():
    dataset = TensorDataset(torch.arange(24.0).reshape(12, 2), torch.arange(12))
    seen = []
    for rank in range(2):
        batches = LoaderBatches(DataLoader(dataset, batch_size=4, shuffle=True))
        batches.shard(rank, 2, seed=0)
        batches.set_epoch(1)
        labels = torch.cat([targets for _, targets in batches])
        assert [len(t) for _, t in batches] == [2, 2, 2]  # batch 4 shared by two ranks
        seen.append(set(labels.tolist()))
    assert seen[0].isdisjoint(seen[1]) and seen[0] | seen[1] == set(range(12))
    uneven = LoaderBatches(DataLoader(dataset, batch_size=5))
    with pytest.raises(ConfigError, match="divisible by 2"):
        uneven.shard(0, 2, seed=0)


def _start(tmp_path, *args) -> subprocess.Popen:
    code = "import sys\nsys.argv = ['mlpkit', *sys.argv[1:]]\nfrom mlpkit.cli import main\nmain()"
    return subprocess.Popen(
        [sys.executable, "-c", code, "train", *args],
        cwd=tmp_path,
        env=_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _rank_pids(launcher: subprocess.Popen) -> dict[int, int]:
    """The rank processes the launcher started: rank -> pid."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            env = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if parent == launcher.pid:
            rank = next((v for v in env if v.startswith(b"RANK=")), None)
            if rank is not None:
                found[int(rank[5:])] = int(entry.name)
    return found


def _wait_for_an_epoch(run: Path, launcher: subprocess.Popen) -> None:
    """Until the run has finished an epoch (its history file and checkpoint are written)."""
    deadline = time.monotonic() + 240
    while not (run / "history.csv").exists():
        assert launcher.poll() is None, launcher.communicate()[1]
        assert time.monotonic() < deadline, "no epoch finished after 240 s"
        time.sleep(0.2)


LONG_RUN = (
    "--data",
    "digits",
    "--epochs",
    "300",
    "--batch-size",
    "8",
    "--nproc",
    "2",
    "--no-report",
)


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads ranks from /proc")
def test_a_killed_rank_ends_the_run_and_the_last_checkpoint_resumes(tmp_path):
    launcher = _start(tmp_path, *LONG_RUN, "--out", "run")
    _wait_for_an_epoch(tmp_path / "run", launcher)
    ranks = _rank_pids(launcher)
    os.kill(ranks[1], signal.SIGKILL)
    killed_at = time.monotonic()
    _, stderr = launcher.communicate(timeout=90)
    assert time.monotonic() - killed_at < 60
    assert launcher.returncode not in (0, None)
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "rank 1 was killed by SIGKILL" in errors[0], stderr
    assert not Path(f"/proc/{ranks[0]}").exists()  # no rank is left behind
    done = int(load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["epoch"])
    resumed = run_command(
        "train", "--resume", "run", "--epochs", done + 1, cwd=tmp_path, timeout=300
    )
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert len(history) == done + 1
    assert "2 (data-parallel)" in resumed.stderr  # the summary: resumed on two processes


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads ranks from /proc")
def test_a_rank_that_hangs_ends_the_run_within_the_timeout(tmp_path):
    launcher = _start(tmp_path, *LONG_RUN, "--dist-timeout", "5", "--out", "run")
    _wait_for_an_epoch(tmp_path / "run", launcher)
    ranks = _rank_pids(launcher)
    os.kill(ranks[1], signal.SIGSTOP)  # alive, but answering nothing
    stopped_at = time.monotonic()
    _, stderr = launcher.communicate(timeout=90)
    assert time.monotonic() - stopped_at < 60
    assert launcher.returncode not in (0, None)
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert "lost contact" in errors[0] and "rank 1 did not answer" in errors[0]
    assert not any(Path(f"/proc/{pid}").exists() for pid in ranks.values())
    load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")  # it stays loadable


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads ranks from /proc")
def test_ctrl_c_stops_every_rank_and_leaves_a_resumable_run(tmp_path):
    launcher = _start(tmp_path, *LONG_RUN, "--out", "run")
    _wait_for_an_epoch(tmp_path / "run", launcher)
    ranks = _rank_pids(launcher)
    launcher.send_signal(signal.SIGINT)
    _, stderr = launcher.communicate(timeout=90)
    assert launcher.returncode == 130, stderr
    assert "resume with: mlpkit train --resume run" in stderr
    assert not any(Path(f"/proc/{pid}").exists() for pid in ranks.values())
    done = int(load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["epoch"])
    # On one process instead of two: it says what that changes, and goes on.
    resumed = run_command(
        "train", "--resume", "run", "--epochs", done + 1, "--nproc", 1, cwd=tmp_path
    )
    assert "written by a run of 2 processes and this one has 1" in resumed.stderr
    assert len(pd.read_csv(tmp_path / "run" / "history.csv")) == done + 1


def test_torchrun_launches_the_run_nproc_launches(tmp_path):
    run = ("--data", "iris", "--epochs", "3", "--batch-size", "16", "--no-report")
    subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
         "-m", "mlpkit", "train", *run, "--out", "torchrun"],
        cwd=tmp_path, env=_environment(), check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    run_command("train", *run, "--nproc", 2, "--out", "nproc", cwd=tmp_path)
    histories = [pd.read_csv(tmp_path / name / "history.csv") for name in ("torchrun", "nproc")]
    for history in histories:
        history.pop("total_time")
    pd.testing.assert_frame_equal(*histories)
    for name in ("torchrun", "nproc"):
        assert "nproc = 2" in (tmp_path / name / "config.toml").read_text()


def test_a_bad_input_ends_every_rank_with_one_line(tmp_path):
    result = run_command("train", "--data", "missing.csv", "--nproc", 2, cwd=tmp_path, check=False)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "missing.csv" in errors[0], result.stderr


def test_a_rank_part_differs_by_at_most_one_row():
    for world in (1, 2, 3, 5):
        for rows in (0, 1, 4, 27, 64):
            parts = [Group(r, world, world, "gloo", 1.0).part(rows) for r in range(world)]
            sizes = [p.stop - p.start for p in parts]
            assert sum(sizes) == rows and max(sizes) - min(sizes) <= 1
            assert all(a.stop == b.start for a, b in zip(parts, parts[1:], strict=False))
    assert np.array_equal([p.start for p in parts], [0, 13, 26, 39, 52])
