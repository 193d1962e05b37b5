"""Locking an account after too many failed logins, for longer each time, until it expires or an admin
lifts it.

Failures are counted on the operator's row: how many in a row, and until when the account is locked (to the
minute). Nothing about who tried is kept. A username that does not exist is "locked" the same way, but in
this process's memory only, under a keyed hash: otherwise a sixth attempt would tell who has an account.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.accounts.models import Operator
from haven.audit.services import SYSTEM, Actor, record_event
from haven.clock import now_minute
from haven.crypto.kdf import keyed_hash

LOCK_AFTER = 5
FIRST_LOCK_MINUTES = 15
LONGEST_LOCK_MINUTES = 24 * 60
MAX_UNKNOWN_NAMES = 10_000


class AccountLocked(Exception):
    """Too many failed logins; refused whatever was typed, until `until` (naive UTC, to the minute)."""

    def __init__(self, until: datetime) -> None:
        super().__init__("account locked")
        self.until = until

    def message(self, now: datetime | None = None) -> str:
        """The message for the person logging in: when to try again; nothing about what they typed."""
        today = now_minute(now).date()
        at = f"{self.until:%H:%M} UTC" if self.until.date() == today else f"{self.until:%Y-%m-%d %H:%M} UTC"
        return (
            f"This account is locked after too many failed attempts; try again at {at} "
            "or ask an admin to unlock it."
        )


def lock_minutes(failures: int) -> int:
    """How long the account stays locked after this many failures in a row (0: not locked)."""
    if failures < LOCK_AFTER:
        return 0
    return int(min(LONGEST_LOCK_MINUTES, FIRST_LOCK_MINUTES * 2 ** min(failures - LOCK_AFTER, 16)))


def _now(now: datetime | None) -> datetime:
    """Naive UTC, to the microsecond (the form locked_until is compared in)."""
    moment = now if now is not None else datetime.now(UTC)
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment


def is_locked(operator: Operator, *, now: datetime | None = None) -> bool:
    return operator.locked_until is not None and _now(now) < operator.locked_until


def refuse_if_locked(operator: Operator, *, now: datetime | None = None) -> None:
    """Raise AccountLocked while the operator's lock lasts (before any passphrase is tried)."""
    if operator.locked_until is not None and is_locked(operator, now=now):
        raise AccountLocked(operator.locked_until)


def clear_failures(operator: Operator) -> None:
    operator.failed_logins = 0
    operator.locked_until = None


def record_failed_login(
    *, db_session: Session, username: str, now: datetime | None = None
) -> datetime | None:
    """Count one more failed login for this username; returns the end of the lock it starts, if any.

    The caller commits this even though the login failed, in a transaction of its own.
    """
    operator = db_session.scalar(
        select(Operator).where(Operator.username == username.strip().lower()).with_for_update()
    )
    if operator is None:
        return None
    operator.failed_logins += 1
    minutes = lock_minutes(operator.failed_logins)
    if not minutes:
        return None
    operator.locked_until = now_minute(now) + timedelta(minutes=minutes)
    record_event(
        db_session=db_session,
        actor=SYSTEM,
        action="operator.locked",
        detail=f"operator={operator.id} minutes={minutes}",
        now=now,
    )
    return operator.locked_until


def unlock_operator(*, db_session: Session, operator_id: int, by: Actor, now: datetime | None = None) -> bool:
    """Lift an operator's lockout and forget their failed logins; False if there is no such operator."""
    operator = db_session.get(Operator, operator_id)
    if operator is None:
        return False
    clear_failures(operator)
    record_event(
        db_session=db_session, actor=by, action="operator.unlocked", detail=f"operator={operator.id}", now=now
    )
    return True


class UnknownNames:
    """Failed logins for usernames that do not exist, locked like real ones, in this process's memory.

    Names are held only as keyed hashes under a random per-process key; the oldest are forgotten past
    MAX_UNKNOWN_NAMES. With several workers each counts its own.
    """

    def __init__(self, *, max_names: int = MAX_UNKNOWN_NAMES) -> None:
        self._key = secrets.token_bytes(32)
        self._max_names = max_names
        self._held: OrderedDict[bytes, tuple[int, datetime | None]] = OrderedDict()
        self._lock = threading.Lock()

    def _index(self, username: str) -> bytes:
        name = username.strip().lower().encode("utf-8", "replace")
        return keyed_hash(name, key=self._key, purpose=b"haven/unknown-nm", size=16)

    def refuse_if_locked(self, username: str, *, now: datetime | None = None) -> None:
        with self._lock:
            _failures, until = self._held.get(self._index(username), (0, None))
        if until is not None and _now(now) < until:
            raise AccountLocked(until)

    def failed(self, username: str, *, now: datetime | None = None) -> datetime | None:
        """Count a failure; returns the end of the lock it starts, if any (as record_failed_login does)."""
        index = self._index(username)
        with self._lock:
            failures = self._held.pop(index, (0, None))[0] + 1
            minutes = lock_minutes(failures)
            until = now_minute(now) + timedelta(minutes=minutes) if minutes else None
            self._held[index] = (failures, until)
            while len(self._held) > self._max_names:
                self._held.popitem(last=False)
        return until

    def held_keys(self) -> list[bytes]:
        """Every key held (for tests that check no username is held in the clear)."""
        with self._lock:
            return list(self._held)
