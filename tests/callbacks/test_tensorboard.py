"""The TensorBoard callback and ``mlpkit train --tensorboard``: the event files are read back
with TensorBoard's own reader."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from mlpkit import TensorBoard
from mlpkit.cli import main
from mlpkit.config import build_config
from mlpkit.errors import MissingExtraError
from mlpkit.runs import train_run
from samples import fit_with_checkpoints as train

needs_tensorboard = pytest.mark.skipif(
    importlib.util.find_spec("tensorboard") is None, reason="needs mlpkit[tensorboard]"
)


def scalars(folder) -> dict[str, list[tuple[int, float]]]:
    """Every scalar series in ``folder``'s event files, as TensorBoard shows them."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return {
        tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]
    }


@needs_tensorboard
def test_each_epoch_row_becomes_scalars_at_its_epoch(tmp_path):
    _, history = train(tmp_path / "ckpt", epochs=3, callbacks=[TensorBoard(tmp_path / "tb")])

    found = scalars(tmp_path / "tb")
    assert set(found) == set(history.columns) - {"epoch"}
    for column in ("train_loss", "val_loss", "val_accuracy", "total_time"):
        steps, values = zip(*found[column], strict=True)
        assert list(steps) == [1, 2, 3]
        assert values == pytest.approx(history[column].tolist(), rel=1e-6)


@needs_tensorboard
def test_a_resumed_fit_continues_the_same_series_without_repeating_an_epoch(tmp_path):
    folder, board = tmp_path / "ckpt", tmp_path / "tb"
    train(folder, epochs=3, callbacks=[TensorBoard(board)], checkpoint_every=1)
    # Resumed from epoch 2: the first run's events of epoch 3 give way to the new ones.
    resume = folder / "epoch-0002.pt"
    _, history = train(folder, epochs=4, callbacks=[TensorBoard(board)], resume_from=resume)

    steps, values = zip(*scalars(board)["val_loss"], strict=True)
    assert list(steps) == [1, 2, 3, 4]
    assert values == pytest.approx(history["val_loss"].tolist(), rel=1e-6)


@needs_tensorboard
def test_a_run_with_tensorboard_writes_into_its_folder(tmp_path):
    settings = {"data": "iris", "epochs": 2, "tensorboard": True, "report": False}
    config = build_config({**settings, "out": str(tmp_path / "run")})
    result = train_run(config)

    found = scalars(result.run_dir / "tensorboard")
    assert [step for step, _ in found["val_accuracy"]] == [1, 2]
    assert found["val_loss"][-1][1] == pytest.approx(result.history["val_loss"].iloc[-1])


def test_without_the_package_the_flag_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard now fails
    with pytest.raises(MissingExtraError, match="mlpkit\\[tensorboard\\]"):
        TensorBoard(tmp_path / "tb")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["mlpkit", "train", "--data", "iris", "--tensorboard"])
    with pytest.raises(SystemExit) as stopped:
        main()

    assert stopped.value.code == 2
    assert capsys.readouterr().err == (
        "error: --tensorboard needs the tensorboard package: pip install 'mlpkit[tensorboard]'\n"
    )
    assert not (tmp_path / "runs").exists()  # checked before the run folder was made
