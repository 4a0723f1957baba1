"""What a callback sees: the documented ``TrainingState``, kept up to date by the loop."""

from __future__ import annotations

from mlpkit import MLP, Callback, Checkpoint, TrainingState, fit
from samples import classes


class Recorder(Callback):
    """Writes down what the state says at each event."""

    def __init__(self) -> None:
        self.seen: list[tuple] = []

    def setup(self, state: TrainingState) -> None:
        self.seen.append(("setup", state.epoch, state.steps_per_epoch, tuple(state.columns)))

    def on_epoch_start(self, state: TrainingState) -> None:
        self.seen.append(("start", state.epoch, state.step))

    def on_batch_end(self, state: TrainingState) -> None:
        self.seen.append(("batch", state.epoch, state.step))

    def on_epoch_end(self, state: TrainingState) -> None:
        self.seen.append(("end", state.epoch, state.row["epoch"], state.checkpoint_path))


def test_the_state_counts_epochs_and_steps_and_holds_the_last_row(tmp_path):
    recorder = Recorder()
    fit(
        MLP(6, [8], 3), "cross_entropy", classes(n=40), classes(n=20, seed=1), epochs=2,
        batch_size=16, metrics=["accuracy"], callbacks=[recorder],
    )  # fmt: skip
    columns = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")
    steps = [("batch", epoch, step) for epoch in (0, 1) for step in (1, 2, 3)]
    assert recorder.seen == [
        ("setup", 0, 3, columns),  # 40 samples in batches of 16: 3 steps
        ("start", 0, 0), *steps[:3], ("end", 1, 1, None),
        ("start", 1, 0), *steps[3:], ("end", 2, 2, None),
    ]  # fmt: skip


def test_a_checkpoint_writer_says_in_the_state_where_a_resume_starts(tmp_path):
    recorder = Recorder()
    fit(
        MLP(6, [8], 3), "cross_entropy", classes(n=40), epochs=1, batch_size=16,
        callbacks=[recorder, Checkpoint(tmp_path)],
    )  # fmt: skip
    # The recorder runs before the checkpoint (order 0 < 100): at the epoch's end it sees the
    # checkpoint written when the run started.
    assert recorder.seen[-1] == ("end", 1, 1, tmp_path / "last.pt")
