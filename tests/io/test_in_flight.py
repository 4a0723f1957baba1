"""InFlight: one write at a time on a thread; its error reaches the caller."""

from __future__ import annotations

import threading

import pytest

from mlpkit.io.in_flight import InFlight


def test_the_next_write_starts_only_when_the_one_before_is_done():
    order, release = [], threading.Event()

    def slow():
        release.wait(5)
        order.append("first")

    writes = InFlight()
    writes.start(slow)
    threading.Timer(0.05, release.set).start()
    writes.start(lambda: order.append("second"))
    writes.wait()
    assert order == ["first", "second"]


def test_an_error_on_the_thread_is_raised_by_the_next_call_once():
    def fail():
        raise OSError("disk gone")

    writes = InFlight()
    writes.start(fail)
    with pytest.raises(OSError, match="disk gone"):
        writes.start(lambda: None)  # the failed write's error, before a new one starts
    writes.wait()  # raised once, not again
