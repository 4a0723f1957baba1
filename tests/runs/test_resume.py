"""Exact resume: a run stopped and resumed is the run that would have happened.

Each test trains once in one go and once in two parts (stopped, then resumed from the checkpoint
into a freshly built model), and requires bit-identical weights and identical history rows
(training times aside).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from mlpkit import MLP, EarlyStopping, LRScheduler, fit, load_checkpoint, load_model, resume_run
from mlpkit.callbacks import Callback
from mlpkit.config import build_config
from mlpkit.errors import CheckpointError, ConfigError, DataError
from mlpkit.runs import train_run
from samples import Rows, StopAfter, classes

SRC = str(Path(__file__).resolve().parents[2] / "src")


def train(folder, epochs, callbacks=(), resume=False, model_args=None, data=None, **options):
    """Train an MLP on tiny data; a resumed run starts from a differently initialised model."""
    torch.manual_seed(0 if not resume else 12345)
    model = MLP(6, [16], 3, **(model_args or {}))
    settings = dict(
        batch_size=16,
        optimizer="sgd",
        lr=0.05,
        momentum=0.9,
        label_smoothing=0.0,
        seed=7,
        metrics=["accuracy"],
        threads=1,  # bit-identical runs need a fixed count: another count rounds differently
    )
    history = fit(
        model,
        "cross_entropy",
        classes() if data is None else data,
        classes(seed=1),
        epochs=epochs,
        checkpoint=folder,
        callbacks=callbacks,
        resume_from=folder if resume else None,
        **{**settings, **options},
    )
    return model, history


def assert_same_run(one, two):
    (model_a, history_a), (model_b, history_b) = one, two
    for (name, a), b in zip(
        model_a.state_dict().items(), model_b.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), f"{name} differs"
    assert history_b["epoch"].tolist() == list(range(1, len(history_a) + 1))
    columns = [c for c in history_a.columns if c != "total_time"]
    pd.testing.assert_frame_equal(history_a[columns], history_b[columns], check_exact=True)
    assert history_a.attrs["step"] == history_b.attrs["step"]


@pytest.mark.parametrize("step", ["autograd", "auto"])  # auto: the fused step where it applies
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize(
    "model_args", [{"dropout": 0.2}, {}, {"batch_norm": True, "dropout": 0.1}], ids=str
)
def test_two_epochs_then_resume_to_four_is_bit_identical(tmp_path, step, optimizer, model_args):
    settings = dict(optimizer=optimizer, model_args=model_args, step=step)
    one_go = train(tmp_path / "a", 4, **settings)
    train(tmp_path / "b", 2, **settings)
    resumed = train(tmp_path / "b", 4, resume=True, **settings)
    assert_same_run(one_go, resumed)
    a, b = load_checkpoint(tmp_path / "a"), load_checkpoint(tmp_path / "b")
    assert a["random"]["python"] == b["random"]["python"]
    assert torch.equal(a["random"]["torch"], b["random"]["torch"])
    assert torch.equal(a["batch_order"], b["batch_order"])
    for p, q in zip(
        a["optimizer"]["state"].values(), b["optimizer"]["state"].values(), strict=True
    ):
        assert all(torch.equal(p[k], q[k]) for k in p)


def test_a_streamed_dataset_resumes_exactly(tmp_path):
    data = Rows(*classes())
    one_go = train(tmp_path / "a", 4, data=data, model_args={"dropout": 0.2})
    train(tmp_path / "b", 4, [StopAfter(2)], data=data, model_args={"dropout": 0.2})
    resumed = train(tmp_path / "b", 4, resume=True, data=data, model_args={"dropout": 0.2})
    assert_same_run(one_go, resumed)


class LearningRates(Callback):
    def __init__(self) -> None:
        self.seen: list[float] = []

    def on_epoch_end(self, state) -> None:
        self.seen.append(state.optimizer.param_groups[0]["lr"])


@pytest.mark.parametrize(
    "scheduler",
    [
        {"scheduler": "step", "step_size": 2, "gamma": 0.5},
        {"scheduler": "cosine", "min_lr": 0.001},
        {"scheduler": "onecycle", "max_lr": 0.1},
        {"scheduler": "plateau", "patience": 0, "gamma": 0.5, "monitor": "train_accuracy"},
    ],
    ids=lambda s: s["scheduler"],
)
def test_resume_with_a_scheduler_follows_the_same_schedule(tmp_path, scheduler):
    rates = LearningRates()
    one_go = train(
        tmp_path / "a", 6, [LRScheduler(**scheduler), rates], model_args={"dropout": 0.2}
    )
    assert len(set(rates.seen)) > 1, "the schedule never changed the learning rate"
    train(tmp_path / "b", 6, [LRScheduler(**scheduler), StopAfter(3)], model_args={"dropout": 0.2})
    resumed = train(
        tmp_path / "b", 6, [LRScheduler(**scheduler)], resume=True, model_args={"dropout": 0.2}
    )
    assert_same_run(one_go, resumed)


def test_a_schedule_planned_for_the_run_length_cannot_be_stretched(tmp_path):
    train(tmp_path, 3, [LRScheduler("cosine")])
    with pytest.raises(ConfigError, match="cosine schedule.*spans 3 epochs.*--epochs 3"):
        train(tmp_path, 5, [LRScheduler("cosine")], resume=True)


@pytest.mark.parametrize("stop_at", [3, 7])  # before the best epoch, and while waiting after it
def test_resume_with_early_stopping_stops_where_the_one_go_run_did(tmp_path, stop_at):
    settings = dict(optimizer="adam", lr=0.02, model_args={"dropout": 0.2})
    one_go = train(tmp_path / "a", 40, [EarlyStopping(2)], **settings)
    assert 7 < len(one_go[1]) < 40, "the one-go run must stop early, after epoch 7"
    train(tmp_path / "b", 40, [EarlyStopping(2), StopAfter(stop_at)], **settings)
    resumed = train(tmp_path / "b", 40, [EarlyStopping(2)], resume=True, **settings)
    assert_same_run(one_go, resumed)  # including the best weights restored at the end
    assert resumed[1].attrs["stopped"] == one_go[1].attrs["stopped"]
    # Resuming a run that has stopped trains nothing more and ends with the same weights.
    again = train(tmp_path / "b", 40, [EarlyStopping(2)], resume=True, **settings)
    assert_same_run(one_go, again)


def test_resume_refuses_fewer_epochs_than_done(tmp_path):
    train(tmp_path, 3)
    with pytest.raises(ConfigError, match="3 epochs done"):
        train(tmp_path, 2, resume=True)


# -- runs: train_run, resume_run and the command ---------------------------------------------
def run_config(out, epochs, **settings):
    values = {"data": "iris", "hidden": [16], "batch_size": 16, "lr": 0.01, "seed": 5}
    return build_config({**values, **settings, "epochs": epochs, "out": str(out)})


@pytest.mark.parametrize("dropout", [0.2, 0.0])
def test_a_resumed_run_writes_the_folder_the_one_go_run_writes(tmp_path, dropout):
    one_go = train_run(
        run_config(tmp_path / "a", 4, dropout=dropout, scheduler="step", step_size=1)
    )
    train_run(run_config(tmp_path / "b", 2, dropout=dropout, scheduler="step", step_size=1))
    resumed = resume_run(tmp_path / "b", epochs=4)
    assert_same_run((one_go.model, one_go.history), (resumed.model, resumed.history))
    a, b = tmp_path / "a", tmp_path / "b"
    model_a, _ = load_model(a)
    model_b, _ = load_model(b)
    for x, y in zip(model_a.state_dict().values(), model_b.state_dict().values(), strict=True):
        assert torch.equal(x, y)
    history_b = pd.read_csv(b / "history.csv")
    assert history_b["epoch"].tolist() == [1, 2, 3, 4]
    assert (a / "metrics.json").read_text() == (b / "metrics.json").read_text()
    assert "epochs = 4" in (b / "config.toml").read_text()


def test_resume_refuses_a_data_file_that_changed_since_the_run_started(tmp_path):
    X, y = classes()
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]).assign(label=y)
    frame.to_csv(tmp_path / "data.csv", index=False)
    train_run(run_config(tmp_path / "run", 1, data=str(tmp_path / "data.csv"), target="label"))
    saved = (tmp_path / "run" / "checkpoints" / "last.pt").read_bytes()
    frame.loc[3, "x0"] += 1.0
    frame.to_csv(tmp_path / "data.csv", index=False)
    with pytest.raises(DataError, match=r"data\.csv changed since this run was trained"):
        resume_run(tmp_path / "run", epochs=2)
    assert (tmp_path / "run" / "checkpoints" / "last.pt").read_bytes() == saved
    frame.loc[3, "x0"] -= 1.0
    frame.to_csv(tmp_path / "data.csv", index=False)  # the same bytes as at the start
    assert resume_run(tmp_path / "run", epochs=2).history["epoch"].tolist() == [1, 2]


def test_large_files_are_fingerprinted_by_samples_and_small_ones_whole(tmp_path):
    from mlpkit.data import fingerprint as fp

    small = tmp_path / "small.bin"
    small.write_bytes(b"a" * 1000)
    before = fp.fingerprint(small)
    small.write_bytes(b"a" * 999 + b"b")
    assert fp.fingerprint(small) != before and before.startswith("sha256:")
    big = tmp_path / "big.bin"
    size = fp._WHOLE_FILE_LIMIT + 1
    with open(big, "wb") as file:
        file.truncate(size)  # sparse: no 256 MB written
    sampled = fp.fingerprint(big)
    assert sampled.startswith(f"size {size}, sampled sha256:")
    with open(big, "r+b") as file:
        file.seek(size - 10)
        file.write(b"x")  # in the last sample
    assert fp.fingerprint(big) != sampled


def test_resume_run_errors_say_what_to_do(tmp_path):
    train_run(run_config(tmp_path / "run", 3))
    with pytest.raises(ConfigError, match="3 epochs done already; give --epochs 3 or more"):
        resume_run(tmp_path / "run", epochs=2)
    fit(MLP(6, [4], 3), "cross_entropy", classes(), epochs=1, checkpoint=tmp_path / "checkpoints")
    with pytest.raises(
        CheckpointError, match="no run config.*fit\\(\\.\\.\\., resume_from=path\\)"
    ):
        resume_run(tmp_path)


def test_the_command_refuses_settings_besides_epochs_and_the_optimizers_with_resume(tmp_path):
    train_run(run_config(tmp_path / "run", 1))
    result = subprocess.run(
        [sys.executable, "-m", "mlpkit", "train", "--resume", "run", "--batch-size", "5"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: --resume continues a run with the settings it was started with, so "
        "--batch-size cannot be given with it; only --epochs (the new total), --nproc and "
        "--lr, --momentum, --weight-decay, --nesterov can"
    ]


def test_staged_training_resumes_with_a_new_learning_rate_recorded_in_the_history(tmp_path):
    train_run(run_config(tmp_path / "run", 2, optimizer="sgd", lr=0.5, momentum=0.9))
    resumed = resume_run(tmp_path / "run", epochs=4, lr=0.1, momentum=0.5)
    assert resumed.history["lr"].tolist()[2:] == [0.1, 0.1]
    state = load_checkpoint(tmp_path / "run")
    assert state["optimizer"]["param_groups"][0]["lr"] == 0.1
    assert state["optimizer"]["param_groups"][0]["momentum"] == 0.5
    assert "lr = 0.1" in (tmp_path / "run" / "config.toml").read_text()
    with pytest.raises(ConfigError, match="a resume can change .*, not batch_size"):
        resume_run(tmp_path / "run", epochs=5, batch_size=4)


def test_staged_training_refuses_what_the_optimizer_or_the_schedule_would_undo(tmp_path):
    train_run(run_config(tmp_path / "adam", 1))
    with pytest.raises(ConfigError, match="adam has no setting momentum"):
        resume_run(tmp_path / "adam", epochs=2, momentum=0.9)
    train_run(run_config(tmp_path / "cosine", 1, scheduler="cosine"))
    with pytest.raises(ConfigError, match="follows its cosine schedule"):
        resume_run(tmp_path / "cosine", epochs=2, lr=0.1)


def test_a_run_on_a_relative_data_path_resumes_from_another_directory(tmp_path, monkeypatch):
    X, y = classes()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]).assign(label=y)
    frame.to_csv(tmp_path / "a" / "data.csv", index=False)
    monkeypatch.chdir(tmp_path / "a")
    train_run(run_config("run", 1, data="data.csv", target="label"))
    monkeypatch.chdir(tmp_path / "b")
    assert resume_run(tmp_path / "a" / "run", epochs=2).history["epoch"].tolist() == [1, 2]
