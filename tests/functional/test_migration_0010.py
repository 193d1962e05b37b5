"""Migration 0010 (the funnel's stages, channels and weeks), on SQLite and PostgreSQL: existing cases take
their channel from the audit log and the furthest stage that shows now; the counters of cases purged
before it keep their counts, as web requests that reached "contacted", in the week holding their month's
first day."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from haven.cases.models import Case
from haven.db import Database
from haven.migrate import upgrade
from haven.retention.models import CaseCount

CREATED = datetime(2025, 2, 10, 14, 37)


@pytest.fixture
def at_0009(empty_database_url: str, tmp_path: Path) -> Iterator[Database]:
    """An empty database migrated to 0009, the revision before this one."""
    database = Database.from_url(empty_database_url or f"sqlite:///{tmp_path / 'at-0009.db'}")
    upgrade(database, "0009")
    yield database
    database.dispose()


def insert_case(db: Database, case_id: str, *, step: str, verification: str = "unverified") -> None:
    """A case row as revision 0009 stores it (its keys and content do not matter to this migration)."""
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO cases (id, request_type, state, priority, priority_rank, team_id, created_at,"
                " updated_at, last_requester_at, needs_reply, public_key, receipt_lookup, receipt_locked_key,"
                " procedure, step, step_entered_at, due_at, check_in_missed, verification, restricted)"
                " VALUES (:id, 'legal', 'in_progress', 'normal', 2, 1, :created, :created, :created, true,"
                " :key, :lookup, :locked, 'legal_consultation', :step, :created, :created, false,"
                " :verification, false)"
            ),
            {
                "id": case_id,
                "created": CREATED,
                "key": b"k" * 32,
                "lookup": case_id.encode().ljust(32, b"-"),
                "locked": b"l" * 72,
                "step": step,
                "verification": verification,
            },
        )


def created_event(db: Database, case_id: str, channel: str, n: int) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_events (at, actor_kind, action, case_id, detail, prev_hash, hash)"
                " VALUES (:at, 'requester', 'case.created', :case_id, :detail, :prev, :hash)"
            ),
            {
                "at": CREATED,
                "case_id": case_id,
                "detail": channel,
                "prev": bytes([n]) * 32,
                "hash": b"h" * 32,
            },
        )


@pytest.fixture
def upgraded(at_0009: Database) -> Database:
    with at_0009.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO teams (id, slug, name, public_key, recovery_sealed_key, receives_intake,"
                " created_at, key_generation) VALUES (1, 'intake', 'Intake', :key, :sealed, true, :at, 1)"
            ),
            {"key": b"p" * 32, "sealed": b"s" * 80, "at": CREATED - timedelta(days=30)},
        )
        conn.execute(
            text(
                "INSERT INTO case_counts (month, request_type, final_state, count)"
                " VALUES (:month, 'legal', 'completed', 7)"
            ),
            {"month": date(2025, 1, 1)},
        )
    insert_case(at_0009, "fromtelegram00001", step="screening")
    created_event(at_0009, "fromtelegram00001", "telegram", 1)
    insert_case(at_0009, "fromtheweb0000001", step="screening", verification="verified")
    created_event(at_0009, "fromtheweb0000001", "", 2)
    insert_case(at_0009, "completed00000001", step="completed")
    upgrade(at_0009)
    return at_0009


def test_existing_cases_take_their_channel_from_the_audit_log(upgraded: Database) -> None:
    with upgraded.read() as s:
        channels = {i: c for i, c in s.execute(select(Case.id, Case.channel))}
    assert channels == {
        "fromtelegram00001": "telegram",
        "fromtheweb0000001": "web",
        "completed00000001": "web",
    }


def test_existing_cases_reach_the_stage_that_shows_now(upgraded: Database) -> None:
    with upgraded.read() as s:
        stages = {i: r for i, r in s.execute(select(Case.id, Case.reached))}
    assert stages == {
        "fromtelegram00001": "contacted",
        "fromtheweb0000001": "verified",
        "completed00000001": "in_progress",
    }


def test_the_counters_of_cases_purged_before_keep_their_counts(upgraded: Database) -> None:
    with upgraded.read() as s:
        (row,) = s.scalars(select(CaseCount))
        counted = (
            row.month,
            row.week,
            row.request_type,
            row.channel,
            row.reached,
            row.final_state,
            row.count,
        )
    # 1 January 2025 was a Wednesday: its week began on Monday 30 December 2024.
    assert counted == (date(2025, 1, 1), date(2024, 12, 30), "legal", "web", "contacted", "completed", 7)
