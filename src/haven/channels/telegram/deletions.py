"""Deleting the conversation from the requester's phone some hours after each message, in memory only.

The chat id a deletion needs is not written anywhere; this process holds it until the deletion is due. A
restart forgets what was scheduled, so the bot also catches up whenever a chat writes again: the ids of the
messages still on the phone are sealed in the chat's state (chat_state.py), and those past their time are
deleted then (bot.py).
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from haven.background import BackgroundLoop

log = logging.getLogger(__name__)


class Deleter(Protocol):
    def delete(self, chat_id: int, message_ids: Sequence[int]) -> None: ...


class Deletions:
    """Messages to delete at a time on this process's monotonic clock, and the thread that does it."""

    def __init__(self, api: Deleter, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._api = api
        self._clock = clock
        self._lock = threading.Lock()
        self._due: list[tuple[float, int, int]] = []  # (when, chat id, message id)
        self._loop = BackgroundLoop(self._pass, interval=60.0, name="haven-telegram-deletions")

    def schedule(self, chat_id: int, message_id: int, *, after_seconds: float) -> None:
        with self._lock:
            heapq.heappush(self._due, (self._clock() + after_seconds, chat_id, message_id))
        self._loop.wake()

    def pending(self) -> int:
        with self._lock:
            return len(self._due)

    def delete_due(self, *, at: float | None = None) -> int:
        """Delete every message whose time has come (by `at`, a time on the same clock: tests look ahead);
        returns how many were asked for."""
        now = self._clock() if at is None else at
        by_chat: dict[int, list[int]] = {}
        with self._lock:
            while self._due and self._due[0][0] <= now:
                _when, chat_id, message_id = heapq.heappop(self._due)
                by_chat.setdefault(chat_id, []).append(message_id)
        for chat_id, ids in by_chat.items():
            try:
                self._api.delete(chat_id, ids)
            except Exception as exc:
                # Gone already, or Telegram unreachable: the next message from the chat catches up.
                log.warning("scheduled deletion failed: %s", type(exc).__name__)
        return sum(len(ids) for ids in by_chat.values())

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def _pass(self) -> float | None:
        """Delete what is due; the next pass comes when the next deletion is."""
        self.delete_due()
        with self._lock:
            return self._due[0][0] - self._clock() if self._due else None
