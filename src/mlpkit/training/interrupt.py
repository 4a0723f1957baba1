"""Ctrl-C and SIGTERM during training: stop at a step boundary, never in the middle of a write.

While ``fit`` runs (and only then, and only in the main thread) SIGINT and SIGTERM set a flag
instead of killing the process. The loop finishes the step it is in, the ``Checkpoint`` callback
writes ``checkpoints/last.pt`` with the point reached (the epoch's progress: its batch order,
steps done, their losses and the outputs kept for metrics), then ``TrainingInterrupted`` is
raised. Resuming from there finishes that epoch and goes on, exactly as if it had not stopped.

A second signal while the first is being handled stops at once, as the signal normally would;
``last.pt`` is written atomically, so it then still holds the previous point.
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

    ``epoch`` is the number of completed epochs and ``step`` the steps done in the next one
    (``None`` between epochs), the point saved in ``checkpoint`` (``None`` if no checkpoint was
    being written); ``exit_code`` is the shell's code for the signal (130 for
    SIGINT, 143 for SIGTERM). It derives from ``KeyboardInterrupt`` so that ``except Exception``
    does not swallow it.
    """

    def __init__(
        self,
        signum: int,
        epoch: int,
        checkpoint: Path | None = None,
        step: int | None = None,
        steps: int | None = None,
    ) -> None:
        self.signum = int(signum)
        self.epoch = epoch
        self.checkpoint = checkpoint
        self.step, self.steps = step, steps
        self.run_dir: Path | None = None  # set by train_run
        super().__init__(str(self))

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def __str__(self) -> str:
        if self.step is None:
            when = f"after {self.epoch} complete epochs"
            saved = f"{self.checkpoint} holds epoch {self.epoch}"
        else:
            when = f"in epoch {self.epoch + 1}, after step {self.step} of {self.steps}"
            saved = f"{self.checkpoint} holds that point"
        if self.checkpoint is None:
            saved = "no checkpoint was being written"
        return f"training stopped by {self.signal_name} {when}; {saved}"


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
