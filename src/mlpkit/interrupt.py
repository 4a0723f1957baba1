"""Ctrl-C and SIGTERM during training: stop at a step boundary, never in the middle of a write.

While ``fit`` runs (and only then, and only in the main thread) SIGINT and SIGTERM set a flag
instead of killing the process. The loop finishes the step it is in, then raises
``TrainingInterrupted``. The partly trained epoch is dropped: ``checkpoints/last.pt`` already holds
the state at the end of the last completed epoch (it is rewritten atomically after every epoch,
and at the start of a run), and resuming from there is exact. A resume from the middle of an epoch
would also need the epoch's batch order position and its partial losses and outputs; epoch
boundaries keep the checkpoint simple and the cost of an interruption under one epoch.

A second signal while the first is being handled stops at once, as the signal normally would.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on SIGINT or SIGTERM at a step boundary.

    ``epoch`` is the number of completed epochs, the state saved in ``checkpoint`` (``None`` if no
    checkpoint was being written); ``exit_code`` is the shell's code for the signal (130 for
    SIGINT, 143 for SIGTERM). It derives from ``KeyboardInterrupt`` so that ``except Exception``
    does not swallow it.
    """

    def __init__(self, signum: int, epoch: int, checkpoint: Path | None = None) -> None:
        self.signum = int(signum)
        self.epoch = epoch
        self.checkpoint = checkpoint
        self.run_dir: Path | None = None  # set by train_run
        super().__init__(str(self))

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def __str__(self) -> str:
        where = (
            f"{self.checkpoint} holds epoch {self.epoch}"
            if self.checkpoint is not None
            else "no checkpoint was being written"
        )
        return f"training stopped by {self.signal_name} after {self.epoch} complete epochs; {where}"


@contextmanager
def catch_signals(on_signal: Callable[[int], None]) -> Iterator[None]:
    """Call ``on_signal(signum)`` on the first SIGINT / SIGTERM; restore the handlers afterwards.

    Outside the main thread (where Python cannot set handlers) this does nothing.

    >>> with catch_signals(lambda signum: print("stopping")):  # doctest: +SKIP
    ...     train()
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # None means a handler not set from Python; the default is the closest we can restore.
    previous = {s: signal.getsignal(s) or signal.SIG_DFL for s in SIGNALS}
    received: list[int] = []

    def restore() -> None:
        for s, handler in previous.items():
            signal.signal(s, handler)

    def handle(signum: int, frame) -> None:
        if received:  # the second signal: do what it would have done without us
            restore()
            handler = previous[signum]
            if callable(handler):
                handler(signum, frame)
            elif handler != signal.SIG_IGN:
                os.kill(os.getpid(), signum)
            return
        received.append(signum)
        log.warning(
            "%s received: stopping after the current step (send it again to stop at once)",
            signal.Signals(signum).name,
        )
        on_signal(signum)

    for s in SIGNALS:
        signal.signal(s, handle)
    try:
        yield
    finally:
        restore()
