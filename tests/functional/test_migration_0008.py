"""Migration 0008 (procedures), on SQLite and PostgreSQL: the cases of a database from before procedures are
placed in their request type's procedure: an open one at its first step, due a day after its last
activity; a closed one with no step, since nobody recorded how it ended."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from haven.cases.models import Case
from haven.cases.procedure_files import SHIPPED, load_all
from haven.db import Database
from haven.migrate import upgrade

LAST_ACTIVITY = datetime(2025, 2, 10, 14, 37)


@pytest.fixture
def at_0007(empty_database_url: str, tmp_path: Path) -> Iterator[Database]:
    """An empty database migrated to 0007, the revision before procedures."""
    database = Database.from_url(empty_database_url or f"sqlite:///{tmp_path / 'at-0007.db'}")
    upgrade(database, "0007")
    yield database
    database.dispose()


def insert_case(db: Database, case_id: str, *, request_type: str, state: str) -> None:
    """A case row as revision 0007 stores it (its keys and content do not matter to this migration)."""
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO cases (id, request_type, state, priority, priority_rank, team_id, created_at,"
                " updated_at, last_requester_at, needs_reply, public_key, receipt_lookup, receipt_locked_key)"
                " VALUES (:id, :type, :state, 'normal', 2, 1, :created, :updated, :updated, true,"
                " :key, :lookup, :locked)"
            ),
            {
                "id": case_id,
                "type": request_type,
                "state": state,
                "created": LAST_ACTIVITY - timedelta(days=3),
                "updated": LAST_ACTIVITY,
                "key": b"k" * 32,
                "lookup": case_id.encode().ljust(32, b"-"),
                "locked": b"l" * 72,
            },
        )


@pytest.fixture
def upgraded(at_0007: Database) -> Database:
    with at_0007.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO teams (id, slug, name, public_key, recovery_sealed_key, receives_intake,"
                " created_at, key_generation) VALUES (1, 'intake', 'Intake', :key, :sealed, true, :at, 1)"
            ),
            {"key": b"p" * 32, "sealed": b"s" * 80, "at": LAST_ACTIVITY - timedelta(days=30)},
        )
    insert_case(at_0007, "opencase000000001", request_type="leave_service", state="in_progress")
    insert_case(at_0007, "closedcase0000001", request_type="relative", state="closed")
    insert_case(at_0007, "newcase0000000001", request_type="legal", state="new")
    upgrade(at_0007)
    return at_0007


def cases(db: Database) -> dict[str, Case]:
    with db.read() as s:
        return {c.id: c for c in s.scalars(select(Case))}


def test_an_open_case_is_placed_at_the_first_step_of_its_types_procedure(upgraded: Database) -> None:
    case = cases(upgraded)["opencase000000001"]
    assert (case.procedure, case.step) == ("leave_service", "first_contact")
    assert case.step_entered_at == LAST_ACTIVITY
    assert case.due_at == LAST_ACTIVITY + timedelta(days=1)
    assert case.state == "in_progress"


def test_a_closed_case_gets_its_procedure_and_no_step(upgraded: Database) -> None:
    case = cases(upgraded)["closedcase0000001"]
    assert (case.procedure, case.step, case.state) == ("relative_request", "", "closed")


def test_migrated_cases_start_unverified_unrestricted_and_without_check_ins(upgraded: Database) -> None:
    for case in cases(upgraded).values():
        assert (case.verification, case.restricted) == ("unverified", False)
        assert (case.check_in_hours, case.check_in_due_at, case.check_in_missed) == (None, None, False)


def test_every_open_case_is_placed_at_the_first_step_its_procedure_has(upgraded: Database) -> None:
    procedures = load_all([SHIPPED])
    for case in cases(upgraded).values():
        if case.state == "closed":
            continue
        procedure = procedures.get(case.procedure)
        assert procedure is not None, case.procedure
        assert case.step == procedure.first.id, f"{case.id} of {case.procedure} stands at {case.step}"
