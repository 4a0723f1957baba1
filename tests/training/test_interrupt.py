"""SIGINT and SIGTERM during training: stop at a step boundary, keep the last complete epoch in
``last.pt``, exit 130 / 143 with the resume command, and resume to the run that would have been."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from mlpkit import MLP, LRScheduler, TrainingInterrupted, fit, load_checkpoint, load_model
from mlpkit.callbacks import Callback
from mlpkit.config import build_config
from mlpkit.errors import CheckpointError, TrainingError
from mlpkit.runs import train_run
from samples import Rows, classes

SRC = str(Path(__file__).resolve().parents[2] / "src")
ENV = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}


@pytest.fixture(autouse=True)
def python_default_sigint():
    """SIGINT as in an interactive Python: raising KeyboardInterrupt. A shell script that starts
    pytest in the background leaves SIGINT ignored instead (and so do the subprocesses)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


class SendSignal(Callback):
    """Sends the main thread ``signum`` (``times`` times) after a step of epoch ``epoch + 1``.

    Each signal is handled before the next is sent: two signals sent at once can reach Python
    as one, and a signal sent to the process may be taken by one of torch's threads and reach
    the main thread's handler only later.
    """

    def __init__(self, signum: int, epoch: int, batch: int, times: int = 1) -> None:
        self.signum, self.epoch, self.batch, self.times = signum, epoch, batch, times

    def on_batch_end(self, state) -> None:
        if state.epoch == self.epoch and state.step == self.batch:
            for _ in range(self.times):
                signal.pthread_kill(threading.main_thread().ident, self.signum)
                deadline = time.monotonic() + 10
                while state.signal is None and time.monotonic() < deadline:
                    time.sleep(0.001)  # Python runs signal handlers between bytecodes
            time.sleep(0.05)  # where a second signal's KeyboardInterrupt is raised


def train(folder, epochs=5, callbacks=(), resume=False, data=None):
    torch.manual_seed(0 if not resume else 99)
    model = MLP(6, [16], 3, dropout=0.2)
    history = fit(
        model,
        "cross_entropy",
        data or classes(),
        classes(seed=1),
        epochs=epochs,
        batch_size=16,
        lr=0.05,
        momentum=0.9,
        metrics=["accuracy", "f1"],
        checkpoint=folder,
        callbacks=callbacks,
        resume_from=folder if resume else None,
    )
    return model, history


@pytest.mark.parametrize("data", ["in memory", "streamed"])
@pytest.mark.parametrize(
    ("signum", "epoch"), [(signal.SIGINT, 2), (signal.SIGTERM, 0)], ids=["SIGINT", "SIGTERM"]
)
def test_a_signal_saves_the_point_reached_and_the_resume_finishes_the_run_exactly(
    tmp_path, signum, epoch, data
):
    data = classes() if data == "in memory" else Rows(*classes())
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with pytest.raises(TrainingInterrupted) as info:
        train(tmp_path / "b", callbacks=[SendSignal(signum, epoch=epoch, batch=3)], data=data)
    stop = info.value
    assert stop.exit_code == {signal.SIGINT: 130, signal.SIGTERM: 143}[signum]
    assert (stop.epoch, stop.step, stop.steps) == (epoch, 3, 6)
    assert stop.checkpoint == tmp_path / "b" / "last.pt"
    name = signal.Signals(signum).name
    assert f"{name} in epoch {epoch + 1}, after step 3 of 6; {stop.checkpoint} holds" in str(stop)
    assert {s: signal.getsignal(s) for s in handlers} == handlers  # restored after fit
    state = load_checkpoint(tmp_path / "b")
    assert state["epoch"] == epoch and state["epoch_progress"]["sizes"] == [16, 16, 16]
    assert len(state["callbacks"]["History"]["rows"]) == epoch

    # Resumed into a differently initialised model: the run that would have been, metrics too.
    model, history = train(tmp_path / "b", resume=True, data=data)
    one_model, one_history = train(tmp_path / "a", data=data)
    for a, b in zip(one_model.state_dict().values(), model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert history["epoch"].tolist() == [1, 2, 3, 4, 5]
    columns = [c for c in history.columns if c != "total_time"]
    pd.testing.assert_frame_equal(history[columns], one_history[columns], check_exact=True)


def test_a_per_step_schedule_resumes_mid_epoch_where_it_was(tmp_path):
    def schedule():
        return LRScheduler("onecycle", max_lr=0.1)

    with pytest.raises(TrainingInterrupted):
        train(tmp_path / "b", callbacks=[schedule(), SendSignal(signal.SIGINT, epoch=1, batch=4)])
    model, history = train(tmp_path / "b", callbacks=[schedule()], resume=True)
    one_model, one_history = train(tmp_path / "a", callbacks=[schedule()])
    for a, b in zip(one_model.state_dict().values(), model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    columns = [c for c in history.columns if c != "total_time"]
    pd.testing.assert_frame_equal(history[columns], one_history[columns], check_exact=True)


def test_a_loader_shuffling_from_the_global_random_state_restarts_its_epoch(tmp_path):
    from torch.utils.data import DataLoader

    X, y = classes()
    loader = DataLoader(Rows(X, y), batch_size=16, shuffle=True)  # no generator of its own
    with pytest.raises(TrainingInterrupted) as info:
        train(tmp_path / "b", callbacks=[SendSignal(signal.SIGINT, epoch=1, batch=3)], data=loader)
    assert info.value.step is None and "after 1 complete epochs" in str(info.value)
    assert load_checkpoint(tmp_path / "b")["epoch_progress"] is None
    _, history = train(tmp_path / "b", resume=True, data=loader)  # from the end of epoch 1
    assert history["epoch"].tolist() == [1, 2, 3, 4, 5]


def test_a_checkpoint_stopped_mid_epoch_needs_the_same_batches(tmp_path):
    with pytest.raises(TrainingInterrupted):
        train(tmp_path, callbacks=[SendSignal(signal.SIGINT, epoch=1, batch=2)])
    with pytest.raises(CheckpointError, match="an epoch of 6 steps, this data gives 3"):
        X, y = classes()
        train(tmp_path, resume=True, data=(X[:48], y[:48]))


def test_a_second_ctrl_c_stops_at_once(tmp_path):
    with pytest.raises(KeyboardInterrupt) as info:
        train(tmp_path, callbacks=[SendSignal(signal.SIGINT, epoch=1, batch=2, times=2)])
    assert not isinstance(info.value, TrainingInterrupted)  # Python's own, mid-step
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert load_checkpoint(tmp_path)["epoch"] == 1


def test_handlers_are_restored_when_training_fails(tmp_path):
    X, y = classes()
    X[3, 0] = np.nan
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(TrainingError):
        train(tmp_path, data=(X, y))
    assert signal.getsignal(signal.SIGTERM) is before


def test_fit_outside_the_main_thread_trains_and_leaves_handlers_alone(tmp_path):
    before = signal.getsignal(signal.SIGINT)
    results = []
    worker = threading.Thread(target=lambda: results.append(train(tmp_path, epochs=2)))
    worker.start()
    worker.join()
    assert len(results[0][1]) == 2
    assert signal.getsignal(signal.SIGINT) is before


ARGS = "--data iris --hidden 16 --batch-size 8 --epochs 60 --dropout 0.2 --lr 0.01 --seed 3"


def test_ctrl_c_in_the_command_then_the_printed_resume_command_finishes_the_run(tmp_path):
    child = subprocess.Popen(
        [sys.executable, "-m", "mlpkit", "train", *ARGS.split(), "--out", "run"],
        cwd=tmp_path,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_epoch(tmp_path / "run" / "checkpoints" / "last.pt", 2, child)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=120)
    finally:
        child.kill()
    assert child.returncode == 130, err
    state = load_checkpoint(tmp_path / "run")
    stopped, progress = state["epoch"], state["epoch_progress"]
    assert 2 <= stopped < 60
    if progress is None:  # the signal came between two epochs
        assert f"run/checkpoints/last.pt holds epoch {stopped}" in err
    else:
        step, steps = len(progress["sizes"]), progress["steps"]
        assert f"in epoch {stopped + 1}, after step {step} of {steps}; run/checkpoints" in err
    command = shlex.split(err.strip().splitlines()[-1].removeprefix("resume with: "))
    assert command == ["mlpkit", "train", "--resume", "run"]

    resumed = subprocess.run(
        [sys.executable, "-m", *command], cwd=tmp_path, env=ENV, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert history["epoch"].tolist() == list(range(1, 61))  # every epoch, once

    config = build_config({**_flags(ARGS), "out": str(tmp_path / "one-go")})
    one_go = train_run(config)
    model, _ = load_model(tmp_path / "run")
    for a, b in zip(one_go.model.state_dict().values(), model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    columns = [c for c in history.columns if c != "total_time"]
    expected = pd.read_csv(tmp_path / "one-go" / "history.csv")
    pd.testing.assert_frame_equal(history[columns], expected[columns], check_exact=True)


def _wait_for_epoch(path: Path, epoch: int, child: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        if path.exists() and load_checkpoint(path)["epoch"] >= epoch:
            return
        time.sleep(0.01)
    raise AssertionError(f"training never reached epoch {epoch}: {child.communicate()[1]}")


def _flags(args: str) -> dict:
    words = args.split()
    values = dict(zip(words[::2], words[1::2], strict=True))
    flags = {k.removeprefix("--").replace("-", "_"): v for k, v in values.items()}
    flags["hidden"] = [int(flags["hidden"])]
    return flags
