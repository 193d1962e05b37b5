"""The server's own purge: every `interval` seconds, in a background thread, off the request path.

The first run comes one interval after start (a server restarted more often than that leaves the purge to
`haven purge`, e.g. from cron). With several workers each runs one; they share the work without counting
a case twice (see services.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection

from haven.background import BackgroundLoop
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
        self._forget = forget
        # A purge of many cases takes a while: stop() waits for the batch in progress, up to a minute.
        self._loop = BackgroundLoop(
            self._pass, interval=interval, name="haven-retention-purge", wait_first=True, join_seconds=60
        )

    def start(self) -> Purger:
        """Start the thread, unless the interval is 0 (purging left to `haven purge`)."""
        self._loop.start()
        return self

    def run_once(self) -> PurgeReport | None:
        """One purge now; None if it failed (logged by type only: a message could carry a statement)."""
        try:
            return purge(db=self._db, rules=self._rules, forget=self._forget, stop=self._loop.stopping)
        except Exception as exc:  # nothing is half done: each batch is its own transaction
            log.warning("retention purge failed: %s", type(exc).__name__)
            return None

    def stop(self) -> None:
        """Stop after the batch in progress, if any."""
        self._loop.stop()

    def _pass(self) -> None:
        self.run_once()
