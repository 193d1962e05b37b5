"""Account lockout: after five failed logins in a row, locked for longer each time; then it expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from haven.accounts.lockout import (
    LOCK_AFTER,
    LONGEST_LOCK_MINUTES,
    AccountLocked,
    UnknownNames,
    is_locked,
    lock_minutes,
    record_failed_login,
    refuse_if_locked,
)
from haven.accounts.models import Operator
from haven.runtime import Runtime
from tests.conftest import Org

START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_five_failures_lock_and_each_further_failure_locks_twice_as_long() -> None:
    assert [lock_minutes(n) for n in range(1, 9)] == [0, 0, 0, 0, 15, 30, 60, 120]


def test_no_lock_lasts_longer_than_a_day() -> None:
    assert lock_minutes(10_000) == LONGEST_LOCK_MINUTES == 24 * 60


def _fail(runtime: Runtime, username: str, times: int, now: datetime) -> datetime | None:
    until = None
    for _ in range(times):
        with runtime.db.write() as s:
            until = record_failed_login(db_session=s, username=username, now=now)
    return until


def test_the_fifth_failure_locks_the_account_for_fifteen_minutes(runtime: Runtime, org: Org) -> None:
    assert _fail(runtime, "olena", LOCK_AFTER - 1, START) is None
    until = _fail(runtime, "olena", 1, START)
    assert until == START.replace(tzinfo=None) + timedelta(minutes=15)
    with runtime.db.read() as s:
        operator = s.get(Operator, org.intake.id)
        assert operator is not None
        with pytest.raises(AccountLocked):
            refuse_if_locked(operator, now=START + timedelta(minutes=14))


def test_a_lock_expires_by_itself(runtime: Runtime, org: Org) -> None:
    _fail(runtime, "olena", LOCK_AFTER, START)
    with runtime.db.read() as s:
        operator = s.get(Operator, org.intake.id)
        assert operator is not None
        assert is_locked(operator, now=START + timedelta(minutes=14, seconds=59))
        assert not is_locked(operator, now=START + timedelta(minutes=15))


def test_a_failure_after_a_lock_expires_locks_for_longer(runtime: Runtime, org: Org) -> None:
    _fail(runtime, "olena", LOCK_AFTER, START)
    later = START + timedelta(minutes=20)
    assert _fail(runtime, "olena", 1, later) == later.replace(tzinfo=None) + timedelta(minutes=30)


def test_a_failure_for_a_name_nobody_has_writes_nothing(runtime: Runtime, org: Org) -> None:
    assert _fail(runtime, "nobody", LOCK_AFTER, START) is None


def test_a_name_nobody_has_locks_in_memory_like_a_real_one() -> None:
    names = UnknownNames()
    until = None
    for _ in range(LOCK_AFTER):
        until = names.failed("nobody", now=START)
    assert until == START.replace(tzinfo=None) + timedelta(minutes=15)
    with pytest.raises(AccountLocked):
        names.refuse_if_locked("Nobody ", now=START + timedelta(minutes=1))
    names.refuse_if_locked("nobody", now=START + timedelta(minutes=15))


def test_names_nobody_has_are_held_only_as_keyed_hashes() -> None:
    names = UnknownNames(max_names=3)
    for n in range(10):
        names.failed(f"guess{n}", now=START)
    held = names.held_keys()
    assert len(held) == 3
    assert not any(b"guess" in key for key in held)


def test_the_locked_message_says_when_to_try_again_and_nothing_else() -> None:
    locked = AccountLocked(datetime(2025, 3, 1, 12, 15))
    message = locked.message(now=START)
    assert "12:15 UTC" in message
    assert "ask an admin" in message
    assert "passphrase" not in message.lower()
