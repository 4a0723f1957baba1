"""CPU threads chosen while the run trains, by timing its own steps.

On an idle machine a step runs fastest on a number of threads that grows with the model's size
(``recommended_num_threads``). On a busy one, where other processes use the cores, every parallel
region waits for its slowest thread, and a thread that lost its core holds up the rest: the
default digits run took 8.9 s on 2 threads against 0.11 s on 1 while two other processes ran.
No count chosen before the run holds for the whole of it, since the load comes and goes.

``ThreadChooser`` therefore starts from the idle-machine recommendation and times the training
steps as they run. Now and then it tries the counts beside the current one (half and double, up
to the cores) for a short spell each, right after a spell of the current count, and keeps
whichever trained the most samples per second. While its choice holds, it waits twice as long
before the next trial, up to ten seconds, and at least twenty times the time the trial lost on
slower counts: under load a single step on too many threads can take a hundred times longer
than on one, so trials then stay about 5% of the run whatever a step costs.
"""

from __future__ import annotations

import collections
import math
import os
import time
from collections.abc import Callable
from typing import Any

import torch

# How long each count is timed in a trial, the first wait between trials, the longest wait.
TRIAL_SECONDS = 0.02
FIRST_HOLD_SECONDS = 0.2
LONGEST_HOLD_SECONDS = 10.0
# The wait after a trial is at least this many times the seconds it lost on slower counts.
HOLD_PER_SECOND_LOST = 20
# Another count is taken only when it trains this much faster: timing noise must not flip it.
CLEAR_GAIN = 0.9


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class ThreadChooser:
    """Sets ``torch.set_num_threads`` during training from the measured speed of the steps.

    The loop calls ``start_clock()`` when an epoch's steps begin (so validation is not timed)
    and ``step_done(samples)`` after each step.

    >>> chooser = ThreadChooser(start=1, cores=1)
    >>> chooser.threads, chooser.adapts
    (1, False)
    """

    def __init__(
        self,
        start: int,
        cores: int | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.clock = clock
        self.cores = cores if cores is not None else usable_cores()
        self.threads = max(1, min(start, self.cores))
        self.adapts = self.cores > 1
        self.changes = 0
        self._hold = FIRST_HOLD_SECONDS
        self._trial = self._trial_counts()  # counts still to time in this trial, the current first
        self._timed: dict[int, tuple[float, int]] = {}  # seconds, samples of each count tried
        # The spell that runs now: its seconds, samples and length. The first, of one step, is
        # the warm-up; a step only adds to the spell, whose end decides what comes next.
        self._spell_seconds, self._spell_samples = 0.0, 0
        self._spell_length = 0.0 if self.adapts else math.inf
        self._warming = True
        self._seconds_at: collections.Counter[int] = collections.Counter()  # finished spells
        self._samples_at: collections.Counter[int] = collections.Counter()
        self._clock = self.clock()

    def start_clock(self) -> None:
        self._clock = self.clock()

    def step_done(self, samples: int) -> None:
        now = self.clock()
        self._spell_seconds += now - self._clock
        self._spell_samples += samples
        self._clock = now
        if self._spell_seconds >= self._spell_length:
            self._spell_over()

    @property
    def seconds_at(self) -> collections.Counter[int]:
        """Seconds of training on each thread count so far."""
        return self._with_spell(self._seconds_at, self._spell_seconds)

    @property
    def samples_at(self) -> collections.Counter[int]:
        """Samples trained on each thread count so far."""
        return self._with_spell(self._samples_at, self._spell_samples)

    def _with_spell(self, done: collections.Counter[int], now: float) -> collections.Counter[int]:
        total = collections.Counter(done)
        if self._spell_samples:
            total[self.threads] += now
        return total

    def most_used(self) -> int:
        """The count that trained the most samples, for the run summary."""
        return max(self.samples_at, key=self.samples_at.get) if self.samples_at else self.threads

    def _trial_counts(self) -> list[int]:
        others = {max(1, self.threads // 2), min(self.cores, self.threads * 2)} - {self.threads}
        return [self.threads, *sorted(others)]

    def _spell_over(self) -> None:
        self._seconds_at[self.threads] += self._spell_seconds
        self._samples_at[self.threads] += self._spell_samples
        upcoming = self.threads
        if self._warming:
            self._warming = False
        elif self._trial:
            self._timed[self.threads] = (self._spell_seconds, self._spell_samples)
            self._trial.pop(0)
            upcoming = self._trial[0] if self._trial else self._keep_the_fastest()
        else:  # the hold is over: a new trial, the current count first
            self._trial = self._trial_counts()
            self._timed = {}
        self._set(upcoming)

    def _keep_the_fastest(self) -> int:
        """The count this trial keeps: the one timed first unless another is clearly faster."""
        speeds = {count: seconds / samples for count, (seconds, samples) in self._timed.items()}
        first, *others = speeds
        fastest = min(others, key=speeds.get, default=first)
        kept = fastest if speeds[fastest] < CLEAR_GAIN * speeds[first] else first
        lost = sum(seconds - samples * speeds[kept] for seconds, samples in self._timed.values())
        if kept == first:
            hold = 2 * self._hold
        else:
            self.changes += 1
            hold = FIRST_HOLD_SECONDS
        self._hold = min(max(hold, HOLD_PER_SECOND_LOST * lost), LONGEST_HOLD_SECONDS)
        return kept

    def _set(self, threads: int) -> None:
        """The next spell: on ``threads``, as long as a trial's or the hold."""
        self._spell_seconds, self._spell_samples = 0.0, 0
        self._spell_length = TRIAL_SECONDS if self._trial else self._hold
        self.threads = threads
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def threads_used(chooser: ThreadChooser | None, threads: int | None) -> dict[str, Any]:
    """The threads for a run's summary: those set, or the count that trained the most samples
    and how often the chooser changed it."""
    if chooser is None:
        return {"threads": threads, "threads_adaptive": False}
    return {
        "threads": chooser.most_used(),
        "threads_adaptive": True,
        "thread_changes": chooser.changes,
    }
