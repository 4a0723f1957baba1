"""``mlpkit train --nproc N``: start N ranks of the same command on this machine, as torchrun does.

Each rank is the same command line in a new process, with the environment torchrun would give it
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR``,
``MASTER_PORT``). The launcher watches them: when one fails (an error, or killed), the others
get a few seconds to end on their own (their collectives fail once the peer's connection
closes), are then terminated, and the launcher says which rank failed first and how, and exits
non-zero. SIGINT / SIGTERM to the launcher reach every rank once; the ranks agree on a step to
stop after, and rank 0 leaves a run that ``--resume`` continues from its last checkpoint.

Ranks other than 0 print nothing unless they fail: their output goes to a log file that the
launcher shows the end of for the rank that failed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

# Seconds the other ranks get to end by themselves after one failed, then after SIGTERM.
GRACE = 5.0
# Where the ranks of a launch leave the error that ended them, for the launcher to report once.
ERRORS_FOLDER = "MLPKIT_RANK_ERRORS"


def hand_to_launcher(message: str) -> bool:
    """Leave a rank's error for the launcher (which says once what ended the run) instead of
    printing it; False outside a launch by ``mlpkit train --nproc``."""
    folder = os.environ.get(ERRORS_FOLDER)
    if not folder or not Path(folder).is_dir():
        return False
    (Path(folder) / f"rank-{os.environ.get('RANK', '0')}.txt").write_text(message)
    return True


def free_port() -> int:
    """A TCP port free on the loopback interface now, for rank 0's rendezvous."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rank_environment(rank: int, nproc: int, port: int) -> dict[str, str]:
    """The variables torchrun sets for ``rank`` of a one-machine run of ``nproc`` processes."""
    return {
        "RANK": str(rank),
        "LOCAL_RANK": str(rank),
        "WORLD_SIZE": str(nproc),
        "LOCAL_WORLD_SIZE": str(nproc),
        "GROUP_RANK": "0",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
    }


class _Rank:
    def __init__(self, rank: int, process: subprocess.Popen, log_path: Path | None) -> None:
        self.rank, self.process, self.log_path = rank, process, log_path
        self.ended_by_launcher = False

    def describe_end(self) -> str:
        code = self.process.returncode
        if code is not None and code < 0:
            return f"was killed by {signal.Signals(-code).name}"
        return f"ended with exit code {code}"

    def last_lines(self, count: int = 3) -> list[str]:
        if self.log_path is None or not self.log_path.exists():
            return []
        lines = self.log_path.read_text(errors="replace").strip().splitlines()
        return lines[-count:]


def launch(arguments: Sequence[str], nproc: int) -> int:
    """Run ``python -m mlpkit *arguments`` as ``nproc`` ranks; return the exit code for the
    whole run (0 when every rank succeeded)."""
    port = free_port()
    logs = Path(tempfile.mkdtemp(prefix="mlpkit-ranks-"))
    ranks: list[_Rank] = []
    for rank in range(nproc):
        env = {**os.environ, **rank_environment(rank, nproc, port), ERRORS_FOLDER: str(logs)}
        log_path = None if rank == 0 else logs / f"rank-{rank}.log"
        out = None if log_path is None else log_path.open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "mlpkit", *arguments],
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,  # a terminal's Ctrl-C reaches the launcher alone
        )
        if out is not None:
            out.close()
        ranks.append(_Rank(rank, process, log_path))
    signalled: list[int] = []

    def forward(signum: int, frame) -> None:
        signalled.append(signum)
        for r in ranks:  # a second signal is forwarded too: the ranks then stop at once
            if r.process.poll() is None:
                r.process.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return _watch(ranks, signalled, logs)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for r in ranks:
            if r.process.poll() is None:
                r.process.kill()
                r.process.wait()
        shutil.rmtree(logs, ignore_errors=True)


def _watch(ranks: list[_Rank], signalled: list[int], logs: Path) -> int:
    """Wait for every rank; after the first failure, end the rest within a bounded time."""
    failed: _Rank | None = None
    ending = [signal.SIGTERM, signal.SIGKILL]  # sent in turn to ranks still running
    deadline = None
    while True:
        running = [r for r in ranks if r.process.poll() is None]
        if failed is None:
            failed = next((r for r in ranks if r.process.returncode not in (None, 0)), None)
            if failed is not None:
                deadline = time.monotonic() + GRACE
        if not running:
            break
        if deadline is not None and time.monotonic() > deadline and ending:
            how = ending.pop(0)
            for r in running:
                r.ended_by_launcher = True
                r.process.send_signal(how)
            deadline = time.monotonic() + GRACE
        time.sleep(0.05)
    if failed is None:
        return 0
    code = failed.process.returncode
    if signalled and code in (128 + signalled[0], -signalled[0]):
        return 128 + signalled[0]  # stopped as asked: rank 0 said how to resume
    # A rank killed from outside is the cause (the others' lost contact follows from it); then
    # rank 0's own error (a bad input fails every rank alike), then the first rank that failed.
    killed = [r for r in ranks if r.process.returncode < 0 and not r.ended_by_launcher]
    main = ranks[0]
    if killed:
        first = killed[0]
    elif main.process.returncode > 0 and not main.ended_by_launcher:
        first = main
    else:
        first = failed
    code = first.process.returncode
    message = _what_ended(first, logs)
    stuck = [str(r.rank) for r in ranks if r.ended_by_launcher and r.process.returncode < 0]
    if message is not None and stuck and not killed:  # a rank that hung: named here
        message += f"; rank {', '.join(stuck)} did not answer and was stopped"
    if message is not None:
        print(message, file=sys.stderr)
    return code if code > 0 else 1


def _what_ended(rank: _Rank, logs: Path) -> str | None:
    """One line on what ended the run, or None where rank 0 has said it already."""
    left = logs / f"rank-{rank.rank}.txt"  # an error a rank handed over (hand_to_launcher)
    if left.exists():
        return f"error: {left.read_text().strip()}"
    if rank.rank == 0 and rank.process.returncode > 0:
        return None  # rank 0 printed its own error
    detail = "; ".join(line.strip() for line in rank.last_lines(2) if line.strip())
    message = f"error: rank {rank.rank} {rank.describe_end()}"
    if detail and rank.rank != 0:
        message += f" ({detail[-400:]})"
    return (
        f"{message}; the other ranks were stopped; the run's last checkpoint resumes it "
        "(mlpkit train --resume RUN_DIR)"
    )
