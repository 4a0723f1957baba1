"""Checkpoint and model files: atomic writes (a killed or failing write loses nothing), and safe,
checked loading (pickled code, truncated and corrupted files, another architecture)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from mlpkit import (
    MLP,
    fit,
    load_checkpoint,
    load_model,
    save_checkpoint,
    save_model,
)
from mlpkit.errors import CheckpointError
from mlpkit.io.atomic import atomic_write
from samples import classes
from samples import fit_with_checkpoints as train

SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"model": {"w": torch.ones(3)}})

    def write_half_then_fail(file):
        file.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, write_half_then_fail)
    assert torch.equal(load_checkpoint(path)["model"]["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


SAVER = """
import sys, torch
from mlpkit.io.checkpoint_file import save_checkpoint
path, round, weights = sys.argv[1], int(sys.argv[2]), torch.zeros(4_000_000)  # 16 MB
for count in range(1, 10**6):
    weights[0] = count
    save_checkpoint(path, {"model": {"w": weights}, "round": round, "count": count})
"""


def test_sigkill_during_saves_always_leaves_a_loadable_last_checkpoint(tmp_path):
    path = tmp_path / "last.pt"
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    rng = np.random.default_rng(0)
    leftovers = 0
    for round in range(3):
        child = subprocess.Popen([sys.executable, "-c", SAVER, str(path), str(round)], env=env)
        try:
            before = _first_save_of(path, round)
            time.sleep(rng.uniform(0.0, 0.3))  # saves take ~20 ms each: kill one part-way
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
        state = load_checkpoint(path)  # never a half-written file
        assert state["round"] == round and state["count"] >= before
        assert state["model"]["w"][0] == state["count"]
        leftovers += len([p for p in tmp_path.iterdir() if p.name.endswith(".tmp")])
    assert leftovers > 0, "no kill landed during a write; the test proved nothing"
    # A new run writing into the folder removes what killed writes left behind.
    train(tmp_path, epochs=1)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def _first_save_of(path: Path, round: int) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if path.exists():
            state = load_checkpoint(path)
            if state["round"] == round:
                return int(state["count"])
        time.sleep(0.01)
    raise AssertionError("the saving process wrote nothing in 60 s")


# -- safe, checked loading -------------------------------------------------------------------
class Payload:
    """Stands for any pickled object; unpickling one can run arbitrary code."""


def test_a_checkpoint_needing_pickled_code_is_refused_with_the_way_out(tmp_path):
    path = tmp_path / "suspicious.pt"
    torch.save({"model": {}, "extra": Payload()}, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert str(path) in message
    assert "runs code" in message and "weights_only=False" in message and "trust" in message


def test_saving_refuses_values_a_safe_load_would_refuse(tmp_path):
    for value, kind in ((np.float64(0.5), "numpy.float64"), (torch.__version__, "TorchVersion")):
        with pytest.raises(CheckpointError, match=f"best.*{kind}"):
            save_checkpoint(tmp_path / "last.pt", {"model": {}, "callbacks": {"best": value}})
    assert not list(tmp_path.iterdir())


def test_truncated_and_corrupted_checkpoints_are_named(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"model": {"w": torch.arange(10_000.0)}})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=f"{path}.*truncated or corrupted"):
        load_checkpoint(path)
    # One weight changed on disk: torch.load would read it silently, the CRC check does not.
    flipped = bytearray(data)
    at = data.find(np.float32(1234.0).tobytes())
    flipped[at : at + 4] = np.float32(-1.0).tobytes()
    path.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match=f"{path} is corrupted.*checksum"):
        load_checkpoint(path)
    path.write_text("junk\n")  # overwritten by something else entirely
    with pytest.raises(CheckpointError, match=f"{path} is truncated or corrupted"):
        load_checkpoint(path)


def test_damaged_model_files_are_named(tmp_path):
    torch.manual_seed(0)
    save_model(tmp_path, MLP(4, [8], 3), {"task": "classification"})
    weights = tmp_path / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[:-100])
    with pytest.raises(CheckpointError, match=f"{weights}.*corrupted"):
        load_model(tmp_path)
    flipped = bytearray(data)
    flipped[-5] ^= 0xFF  # a weight's bytes: safetensors itself cannot tell
    weights.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match=f"{weights} is corrupted.*SHA-256"):
        load_model(tmp_path)


def test_weights_of_another_architecture_list_every_mismatch(tmp_path):
    torch.manual_seed(0)
    save_model(tmp_path, MLP(4, [8], 3), {"task": "classification"})
    document = json.loads((tmp_path / "model.json").read_text())
    document["architecture"]["hidden"] = [5]
    document.pop("metadata_sha256")  # else the edit itself is refused first
    (tmp_path / "model.json").write_text(json.dumps(document))
    with pytest.raises(CheckpointError) as info:
        load_model(tmp_path)
    message = str(info.value)
    assert "0.weight is (8, 4) but the model has (5, 4)" in message
    assert "2.weight is (3, 8) but the model has (3, 5)" in message


def test_resuming_into_another_architecture_lists_every_mismatch(tmp_path):
    train(tmp_path, epochs=1)
    torch.manual_seed(0)
    with pytest.raises(CheckpointError) as info:
        fit(MLP(6, [8, 4], 3), "cross_entropy", classes(), epochs=2, resume_from=tmp_path)
    message = str(info.value)
    assert "missing 4.weight" in message
    assert "2.weight is (3, 8) but the model has (4, 8)" in message
