"""A BackgroundLoop repeats one piece of work in a thread of its own until stopped: at once or after a first
interval, sooner when a pass or `wake()` asks, never for an interval of 0; a failing pass is logged by its
exception's class only, and the loop goes on."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from haven.background import BackgroundLoop

LONG = 3600.0  # an interval no test waits for
PATIENCE = 10.0  # how long a test waits for what must happen


class Passes:
    """Counts the passes, and lets a test wait for the n-th."""

    def __init__(self, *, failing: int = 0, wanted_next: float | None = None) -> None:
        self.count = 0
        self._failing = failing
        self._wanted_next = wanted_next
        self._changed = threading.Condition()

    def __call__(self) -> float | None:
        with self._changed:
            self.count += 1
            self._changed.notify_all()
            if self.count <= self._failing:
                raise ValueError("what somebody wrote")
        return self._wanted_next

    def reached(self, count: int, *, within: float = PATIENCE) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.count >= count, timeout=within)


def _running(name: str) -> bool:
    return name in {thread.name for thread in threading.enumerate()}


def test_a_loop_runs_its_work_at_once_and_again_every_interval() -> None:
    passes = Passes()
    loop = BackgroundLoop(passes, interval=0.01, name="test-loop")
    loop.start()
    try:
        assert passes.reached(3)
    finally:
        loop.stop()


def test_the_first_pass_waits_one_interval_when_asked() -> None:
    passes = Passes()
    loop = BackgroundLoop(passes, interval=LONG, name="test-loop", wait_first=True)
    loop.start()
    try:
        assert not passes.reached(1, within=0.2)
    finally:
        loop.stop()
    assert passes.count == 0


def test_stop_ends_a_long_wait_at_once_and_the_thread_with_it() -> None:
    passes = Passes()
    loop = BackgroundLoop(passes, interval=LONG, name="test-stopping-loop")
    loop.start()
    assert passes.reached(1)

    started = time.monotonic()
    loop.stop()

    assert time.monotonic() - started < 2.0
    assert not _running("test-stopping-loop")
    assert loop.stopping.is_set()
    assert passes.count == 1


def test_wake_runs_the_next_pass_without_waiting_for_the_interval() -> None:
    passes = Passes()
    loop = BackgroundLoop(passes, interval=LONG, name="test-loop")
    loop.start()
    try:
        assert passes.reached(1)
        loop.wake()
        assert passes.reached(2)
    finally:
        loop.stop()


def test_a_pass_may_ask_for_the_next_one_sooner_than_the_interval() -> None:
    passes = Passes(wanted_next=0.01)
    loop = BackgroundLoop(passes, interval=LONG, name="test-loop")
    loop.start()
    try:
        assert passes.reached(3)
    finally:
        loop.stop()


def test_a_failing_pass_is_logged_by_its_class_only_and_the_loop_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    passes = Passes(failing=2)
    loop = BackgroundLoop(passes, interval=0.01, name="test-loop")
    with caplog.at_level(logging.WARNING, logger="haven.background"):
        loop.start()
        try:
            assert passes.reached(3)
        finally:
            loop.stop()

    logged = [r for r in caplog.records if r.name == "haven.background"]
    assert all(r.exc_info is None for r in logged)  # no traceback, which would show the words
    failures = [r.getMessage() for r in logged]
    assert len(failures) == 2
    assert all("ValueError" in message for message in failures)
    assert not any("what somebody wrote" in message for message in failures)


def test_an_interval_of_zero_starts_no_thread() -> None:
    passes = Passes()
    loop = BackgroundLoop(passes, interval=0, name="test-idle-loop")
    loop.start()
    try:
        assert not _running("test-idle-loop")
    finally:
        loop.stop()
    assert passes.count == 0
