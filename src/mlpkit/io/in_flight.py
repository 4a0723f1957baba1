"""A write that runs on a thread while training goes on: one at a time, its error kept.

Writing a checkpoint is mostly waiting for the disk (fsync, rename, the folder's fsync): about 6
of the 10 ms a small model's checkpoint took each epoch on a 2-core machine, as long as an epoch
of a small table's training. The caller prepares the bytes (the state as it is now), hands the
writing over, and goes on; the next write, or ``wait()``, first waits for this one and raises
what it raised. The thread is not a daemon: a process that ends normally finishes the write.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class InFlight:
    """At most one write running; ``start`` and ``wait`` raise the error of the one before.

    >>> writes = InFlight()
    >>> writes.start(lambda: None)
    >>> writes.wait()
    """

    def __init__(self, name: str = "mlpkit-write") -> None:
        self.name = name
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self, write: Callable[[], object]) -> None:
        self.wait()
        self._thread = threading.Thread(target=self._run, args=(write,), name=self.name)
        self._thread.start()

    def wait(self) -> None:
        """Until the running write is done; then raise its error, if it had one."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _run(self, write: Callable[[], object]) -> None:
        try:
            write()
        except BaseException as exc:  # handed to the caller's next start() or wait()
            self._error = exc
