"""The ``Checkpoint`` callback: ``last.pt`` after every epoch (and at the start of a run),
``epoch-NNNN.pt`` every N epochs and ``best.pt`` when the monitored metric improves.

The file format (and safe loading) is ``mlpkit.io.checkpoint_file``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..config import TrainConfig
from ..errors import ConfigError
from ..io.atomic import atomic_copy, atomic_write, fsync_directory
from ..io.checkpoint_file import BEST, EPOCH_FILE, LAST, TEMPORARY, checkpoint_bytes
from ..io.in_flight import InFlight
from .base import Callback, TrainingState
from .monitor import Monitor

log = logging.getLogger(__name__)


class Checkpoint(Callback):
    """Writes checkpoints into ``folder`` (what ``fit(checkpoint=folder)`` installs).

    - ``last.pt`` at the start of a run, after every epoch and when a signal stops training
      part-way through an epoch: what a resume starts from;
    - ``epoch-NNNN.pt`` every ``every`` epochs, the newest ``keep_last`` of them kept;
    - ``best.pt`` whenever ``monitor`` improves (``val_loss`` by default, ``train_loss`` without
      validation data; ``mode`` min or max, inferred from the name), unless ``best=False``.

    ``extra`` is added to every checkpoint (for example the run's config and architecture).

    The state is captured when the epoch ends and written on a thread while the next epoch
    trains (``mlpkit.io.in_flight``); every write is finished when ``fit`` returns or fails,
    and at a signal before the message that names the checkpoint.

    >>> checkpoint = Checkpoint("ckpt", every=5, keep_last=2, monitor="val_accuracy")
    >>> fit(model, "mse", (X, y), (X_val, y_val), checkpoint=checkpoint)  # doctest: +SKIP
    """

    order = 100  # after the callbacks whose state it saves
    writes = True

    def __init__(
        self,
        folder: str | Path,
        *,
        every: int | None = None,
        keep_last: int | None = None,
        best: bool = True,
        monitor: str | None = None,
        mode: str = "auto",
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.folder = Path(folder)
        if self.folder.suffix == ".pt":
            raise ConfigError(
                f"Checkpoint takes a folder (it writes {LAST}, {BEST} and epoch-NNNN.pt in it), "
                f"got the file name {self.folder}; give {self.folder.parent}"
            )
        for name, value in (("every", every), ("keep_last", keep_last)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name} must be a whole number >= 1, got {value!r}")
        if keep_last is not None and every is None:
            raise ConfigError("keep_last prunes epoch-NNNN.pt files; give every=N as well")
        self.every = every
        self.keep_last = keep_last
        self.monitor = Monitor(monitor, mode) if best else None
        self.extra = dict(extra or {})
        self._writes = InFlight("mlpkit-checkpoint")

    @classmethod
    def from_settings(
        cls, folder: str | Path, train: TrainConfig, extra: dict[str, Any] | None = None
    ) -> Checkpoint:
        """The checkpoints that the training settings ask for, written into ``folder``."""
        return cls(
            folder,
            every=train.checkpoint_every,
            keep_last=train.keep_last,
            monitor=train.monitor,
            mode=train.monitor_mode,
            extra=extra,
        )

    @property
    def last_path(self) -> Path:
        return self.folder / LAST

    @property
    def best_path(self) -> Path:
        return self.folder / BEST

    def epoch_path(self, epoch: int) -> Path:
        return self.folder / f"epoch-{epoch:04d}.pt"

    @property
    def best_value(self) -> float | None:
        return None if self.monitor is None else self.monitor.best

    @property
    def best_epoch(self) -> int | None:
        return None if self.monitor is None else self.monitor.best_epoch

    def setup(self, state: TrainingState) -> None:
        if self.monitor is not None:
            self.monitor.resolve(state)

    def on_fit_start(self, state: TrainingState) -> None:
        self._remove_temporaries()
        if state.epoch == 0:
            # So that a run interrupted in its first epoch can be resumed like any other.
            self._save(state, [])

    def on_epoch_end(self, state: TrainingState) -> None:
        copies = []
        if self.every is not None and state.epoch % self.every == 0:
            copies.append(self.epoch_path(state.epoch))
        if self.monitor is not None and self.monitor.update(state.row):
            copies.append(self.best_path)
        self._save(state, copies, prune=self.keep_last is not None)

    def on_interrupt(self, state: TrainingState) -> None:
        # Only last.pt: the epoch is not finished, so it is neither numbered nor compared.
        self._save(state, [])
        self._writes.wait()

    def teardown(self, state: TrainingState) -> None:
        self._writes.wait()

    def _save(self, state: TrainingState, copies: list[Path], prune: bool = False) -> None:
        contents = checkpoint_bytes({**self.extra, **state.snapshot()})  # the state as it is now
        epoch = state.epoch
        self._writes.start(lambda: self._write(contents, copies, epoch if prune else None))
        state.checkpoint_path = self.last_path

    def _write(self, contents: memoryview, copies: list[Path], prune_at: int | None) -> None:
        atomic_write(self.last_path, lambda file: file.write(contents))
        for path in copies:
            atomic_copy(self.last_path, path, sync=False)
        if copies:
            fsync_directory(self.folder)
        if prune_at is not None:
            self._prune(prune_at)

    def _prune(self, epoch: int) -> None:
        # Files of later epochs (left by a run resumed from an earlier checkpoint) are not ours
        # to judge yet; they are overwritten as training reaches them.
        numbered = sorted(
            (int(match.group(1)), path)
            for path in self.folder.iterdir()
            if (match := EPOCH_FILE.match(path.name)) and int(match.group(1)) <= epoch
        )
        for _, path in numbered[: -self.keep_last]:
            path.unlink(missing_ok=True)

    def _remove_temporaries(self) -> None:
        if not self.folder.is_dir():
            return
        for path in self.folder.iterdir():
            if TEMPORARY.match(path.name):
                log.info("removing %s, left by a process killed while saving", path)
                path.unlink(missing_ok=True)

    def state_dict(self) -> dict[str, Any]:
        return {} if self.monitor is None else self.monitor.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.monitor is not None and state.get("monitor") is not None:
            self.monitor.load_state_dict(state)
