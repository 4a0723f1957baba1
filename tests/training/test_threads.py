"""The thread chooser: it keeps the count that trains fastest as the load on the machine changes.

The steps here are timed on a clock the test moves, by what a step costs on each thread count,
so that each scenario (an idle machine, a busy one, load that comes and goes) is exact.
"""

from __future__ import annotations

import pytest
import torch

from mlpkit.training.threads import ThreadChooser


class Machine:
    """A clock, and the seconds a step of 32 samples takes on each thread count."""

    def __init__(self, costs: dict[int, float]) -> None:
        self.costs = costs
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def train(self, chooser: ThreadChooser, seconds: float) -> None:
        """Steps until ``seconds`` of training have passed."""
        end = self.now + seconds
        while self.now < end:
            self.now += self.costs[chooser.threads]
            chooser.step_done(32)


@pytest.fixture(autouse=True)
def _threads_put_back():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_on_a_busy_machine_it_leaves_two_threads_for_one_and_seldom_tries_two_again():
    # Measured with two other processes on both cores: 2 threads 80x slower than 1.
    machine = Machine({1: 0.0001, 2: 0.008})
    chooser = ThreadChooser(start=2, cores=2, clock=machine.clock)
    machine.train(chooser, 60.0)
    assert chooser.threads == 1 and torch.get_num_threads() == 1
    assert chooser.most_used() == 1
    # Trials of 2 threads, each at least one slow step, cost a small share of the run.
    assert chooser.seconds_at[2] < 0.06 * 60.0


def test_on_an_idle_machine_it_keeps_the_faster_count_and_tries_others_rarely():
    machine = Machine({1: 0.0005, 2: 0.0003})
    chooser = ThreadChooser(start=1, cores=2, clock=machine.clock)
    machine.train(chooser, 60.0)
    assert chooser.threads == 2 and chooser.changes == 1
    assert chooser.seconds_at[1] < 0.02 * 60.0


def test_it_follows_the_load_as_it_comes_and_goes():
    idle, busy = {1: 0.0005, 2: 0.0003}, {1: 0.0006, 2: 0.02}
    machine = Machine(idle)
    chooser = ThreadChooser(start=1, cores=2, clock=machine.clock)
    machine.train(chooser, 20.0)
    assert chooser.threads == 2
    machine.costs = busy
    machine.train(chooser, 30.0)
    assert chooser.threads == 1
    machine.costs = idle
    machine.train(chooser, 30.0)
    assert chooser.threads == 2


def test_a_count_only_a_little_faster_does_not_make_it_switch():
    machine = Machine({1: 0.00050, 2: 0.00048})  # 4% apart: within timing noise
    chooser = ThreadChooser(start=1, cores=2, clock=machine.clock)
    machine.train(chooser, 30.0)
    assert chooser.threads == 1 and chooser.changes == 0


def test_it_tries_only_the_counts_beside_its_own_within_the_cores():
    machine = Machine({1: 0.004, 2: 0.002, 4: 0.001, 8: 0.0006, 16: 0.0009})
    chooser = ThreadChooser(start=4, cores=16, clock=machine.clock)
    machine.train(chooser, 30.0)
    assert chooser.threads == 8
    assert set(chooser.seconds_at) == {2, 4, 8, 16}  # 1 was never beside the count in use


def test_with_one_core_it_never_changes_the_count():
    machine = Machine({1: 0.001})
    chooser = ThreadChooser(start=4, cores=1, clock=machine.clock)
    machine.train(chooser, 5.0)
    assert (chooser.threads, chooser.adapts, chooser.changes) == (1, False, 0)


def test_time_between_epochs_is_not_counted_against_a_count():
    machine = Machine({1: 0.0001, 2: 0.0001})
    chooser = ThreadChooser(start=1, cores=2, clock=machine.clock)
    for _ in range(200):  # epochs of 10 steps, each followed by a long validation
        chooser.start_clock()
        for _ in range(10):
            machine.now += machine.costs[chooser.threads]
            chooser.step_done(32)
        machine.now += 1.0
    assert sum(chooser.seconds_at.values()) == pytest.approx(200 * 10 * 0.0001)
