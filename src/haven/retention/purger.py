"""The server's own purge: every `interval` seconds, in a background thread, off the request path.

The first run comes one interval after start (a server restarted more often than that leaves the purge to
`haven purge`, e.g. from cron). With several workers each runs one; they share the work without counting
a case twice (see services.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection

from haven.db import Database
from haven.retention.rules import RetentionRules
from haven.retention.services import PurgeReport, purge

log = logging.getLogger(__name__)


class Purger:
    def __init__(
        self,
        db: Database,
        rules: RetentionRules,
        *,
        interval: float,
        forget: Callable[[Collection[str]], None] | None = None,
    ) -> None:
        self._db = db
        self._rules = rules
        self._interval = interval
        self._forget = forget
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Purger:
        """Start the thread, unless the interval is 0 (purging left to `haven purge`)."""
        if self._interval > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="haven-retention-purge", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            self.run_once()

    def run_once(self) -> PurgeReport | None:
        """One purge now; None if it failed (logged by type only: a message could carry a statement)."""
        try:
            return purge(db=self._db, rules=self._rules, forget=self._forget, stop=self._stopped)
        except Exception as exc:  # nothing is half done: each batch is its own transaction
            log.warning("retention purge failed: %s", type(exc).__name__)
            return None

    def stop(self) -> None:
        """Stop after the batch in progress, if any."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None
