"""The ``TensorBoard`` callback: each epoch's history row as TensorBoard scalars
(``mlpkit train --tensorboard`` writes them into ``RUN_DIR/tensorboard``).

It needs the ``tensorboard`` package (``pip install 'mlpkit[tensorboard]'``), imported when the
callback is made, so that a missing package is reported before training starts.
"""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Any

from ..errors import MissingExtraError
from .base import Callback, TrainingState

FOLDER = "tensorboard"  # in a run folder


class TensorBoard(Callback):
    """Writes every number of each epoch's history row (losses, metrics, ``lr``,
    ``total_time``) as a scalar named after its column, at step ``epoch``, into ``log_dir``.

    Events are flushed after every epoch, so a stopped run shows how far it got; a resumed run
    appends to the same folder, and TensorBoard discards the events of epochs it trains again.

    >>> fit(model, "mse", (X, y), callbacks=[TensorBoard("logs/run1")])  # doctest: +SKIP
    >>> # then: tensorboard --logdir logs
    """

    order = 110  # after the checkpoint: an epoch written here is one a resume will not redo
    writes = True

    def __init__(self, log_dir: str | Path, *, needed_by: str = "the TensorBoard callback"):
        self.log_dir = Path(log_dir)
        self._writer_class = _summary_writer(needed_by)
        self._writer: Any = None

    @classmethod
    def for_run(cls, run_dir: str | Path) -> TensorBoard:
        """The callback of ``mlpkit train --tensorboard``: events in ``RUN_DIR/tensorboard``."""
        return cls(Path(run_dir) / FOLDER, needed_by="--tensorboard")

    def on_fit_start(self, state: TrainingState) -> None:
        # On resume, events of epochs after the checkpoint (a run stopped part-way left them)
        # are purged by TensorBoard when it reads the folder.
        purge = state.epoch + 1 if state.epoch else None
        self._writer = self._writer_class(log_dir=str(self.log_dir), purge_step=purge)

    def on_epoch_end(self, state: TrainingState) -> None:
        if self._writer is None:
            return
        for name, value in state.row.items():
            if name != "epoch" and _is_number(value):
                self._writer.add_scalar(name, float(value), state.epoch)
        self._writer.flush()

    def on_interrupt(self, state: TrainingState) -> None:
        self._close()

    def on_fit_end(self, state: TrainingState) -> None:
        self._close()

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _summary_writer(needed_by: str):
    try:
        import tensorboard  # noqa: F401 (torch's writer needs it, and says so less plainly)
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise MissingExtraError(
            f"{needed_by} needs the tensorboard package: pip install 'mlpkit[tensorboard]'"
        ) from None
    return SummaryWriter
