"""One piece of work repeated in a thread of its own, off the request path, until the server stops.

The outbox, the Telegram deletions, the check-in watch and the retention purge all run this way. A pass
that fails is logged by its exception's class only (its words could quote what someone wrote, a statement
or a token) and the loop goes on: the next pass may find the store reachable again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

# A pass may say how soon it wants the next one (a reply due in 2 s); None means a whole interval.
Pass = Callable[[], float | None]


class BackgroundLoop:
    """Calls `run_once` every `interval` seconds (or sooner, when a pass or `wake()` asks) in a daemon
    thread named `name`. With `wait_first`, the first pass comes one interval after start rather than at
    once. An interval of 0 or less runs nothing: the work is left to someone else (a cron job)."""

    def __init__(
        self,
        run_once: Pass,
        *,
        interval: float,
        name: str,
        wait_first: bool = False,
        join_seconds: float = 10.0,
    ) -> None:
        self._run_once = run_once
        self._interval = interval
        self._wait_first = wait_first
        self._join_seconds = join_seconds
        self.name = name
        # Set once by stop(): a long pass may watch it to end early (the purge stops between batches).
        self.stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None and self._interval > 0:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Run the next pass now rather than at the end of the current wait."""
        self._wake.set()

    def stop(self) -> None:
        """Stop after the pass in progress, if any (waiting for it at most `join_seconds`)."""
        self.stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self._join_seconds)
            self._thread = None

    def _run(self) -> None:
        wait = self._interval if self._wait_first else 0.0
        while not self._stopped_while_waiting(wait):
            wait = self._one_pass()

    def _one_pass(self) -> float:
        try:
            wanted = self._run_once()
        except Exception as exc:
            log.warning("%s: a pass failed: %s", self.name, type(exc).__name__)
            wanted = None
        return self._interval if wanted is None else min(max(wanted, 0.0), self._interval)

    def _stopped_while_waiting(self, seconds: float) -> bool:
        self._wake.wait(timeout=seconds)
        self._wake.clear()
        return self.stopping.is_set()
