"""A worker process of ``mlpkit tune --workers K``: reads its share of the study as JSON on
standard input, runs those trials, and exits with 130 / 143 when a signal stopped it."""

from __future__ import annotations

import json
import os
import signal
import sys


def _stop_with_parent(parent: int) -> None:
    """Get SIGTERM when the parent ``mlpkit tune`` dies (Linux), so that a killed parent
    leaves no worker training on: the trial then ends as an interrupted one."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before that was set
        sys.exit(128 + signal.SIGTERM)


def main() -> None:
    import torch

    from .run import StudyInterrupted, optimize
    from .study import StudySpec

    job = json.loads(sys.stdin.read())
    _stop_with_parent(job["parent"])
    torch.set_num_threads(job["threads"])
    try:
        optimize(
            StudySpec(**job["spec"]),
            job["quota"],
            job["trials"],
            timeout=job["timeout"],
            worker=job["worker"],
            threads=job["threads"],
        )
    except StudyInterrupted as stop:
        sys.exit(stop.exit_code)


if __name__ == "__main__":
    main()
