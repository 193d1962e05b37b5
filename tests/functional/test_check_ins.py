"""Check-in deadlines and step SLAs, on a clock the tests set (`now=`): a step that asks for check-ins sets
a deadline, a missed one is marked once (with one audit event, on the case's timeline) until the requester
writes or the case leaves the step, and each operator hears only of their teams' cases. A case past its
step's due time is overdue in the queue and the API; the queue puts the nearest due time first.

The cases follow tests/fixtures/procedures/escort.yaml: `waiting` (intake) asks for a check-in every 24
hours, `travel` (legal) every 12; `hiding` (legal, compartmentalised) asks for none.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from haven.audit.models import AuditEvent
from haven.cases import check_ins, services, steps
from haven.cases.models import Case
from haven.cases.procedure import Procedures
from haven.intake import services as intake
from haven.runtime import Runtime
from tests.conftest import Org, Person
from tests.functional.test_procedure_steps import ANSWERS, desk
from tests.unit.cases.test_procedure_moves import complete_work, load_with_escort, new_case

START = datetime(2025, 3, 3, 9, 0)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def procedures(tmp_path: Path) -> Procedures:
    return load_with_escort(tmp_path / "org-procedures")


class Walker:
    """Moves escort cases as the coordinator (in every team), doing each step's work, at given times."""

    def __init__(self, runtime: Runtime, procedures: Procedures, coordinator: Person) -> None:
        self.runtime = runtime
        self.procedures = procedures
        self.coordinator = coordinator
        escort = procedures.get("escort")
        assert escort is not None
        self.escort = escort

    def new(self, now: datetime) -> intake.SealedCase:
        return new_case(self.runtime, self.escort, now=now)

    def move(self, case_id: str, *targets: str, now: datetime) -> None:
        for target in targets:
            step = self.escort.step(self.case(case_id).step)
            steps.move_to_step(
                db=self.runtime.db,
                operator=self.coordinator.unlocked,
                case_id=case_id,
                procedures=self.procedures,
                target=target,
                work=complete_work(step) if step is not None else None,
                now=now,
            )

    def case(self, case_id: str) -> Case:
        with self.runtime.db.read() as s:
            case = s.get(Case, case_id)
            assert case is not None
            return case


@pytest.fixture
def walker(runtime: Runtime, procedures: Procedures, org: Org) -> Walker:
    return Walker(runtime, procedures, org.coordinator)


def missed_events(runtime: Runtime, case_id: str) -> int:
    with runtime.db.read() as s:
        count = s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.case_id == case_id, AuditEvent.action == "case.check_in_missed")
        )
    return count or 0


def waiting_case(walker: Walker, at: datetime) -> str:
    """A case that entered `waiting` (a check-in every 24 hours) at `at`."""
    case_id = walker.new(at - timedelta(hours=1)).case_id
    walker.move(case_id, "waiting", now=at)
    return case_id


def test_a_step_without_check_ins_sets_no_deadline(walker: Walker) -> None:
    case = walker.case(walker.new(START).case_id)
    assert (case.check_in_hours, case.check_in_due_at, case.check_in_missed) == (None, None, False)


def test_entering_a_step_that_asks_for_check_ins_sets_the_deadline(walker: Walker) -> None:
    case = walker.case(waiting_case(walker, START))
    assert (case.check_in_hours, case.check_in_due_at) == (24, START + timedelta(hours=24))


def test_no_check_in_is_missed_before_the_deadline(runtime: Runtime, walker: Walker) -> None:
    case_id = waiting_case(walker, START)
    deadline = START + timedelta(hours=24)
    assert check_ins.mark_missed(db=runtime.db, now=deadline - MINUTE) == []
    assert check_ins.mark_missed(db=runtime.db, now=deadline) == []
    assert walker.case(case_id).check_in_missed is False
    assert missed_events(runtime, case_id) == 0


def test_a_missed_check_in_is_marked_once_with_one_audit_event(runtime: Runtime, walker: Walker) -> None:
    case_id = waiting_case(walker, START)
    deadline = START + timedelta(hours=24)
    assert check_ins.mark_missed(db=runtime.db, now=deadline + MINUTE) == [case_id]
    assert check_ins.mark_missed(db=runtime.db, now=deadline + timedelta(hours=5)) == []
    assert walker.case(case_id).check_in_missed is True
    assert missed_events(runtime, case_id) == 1


def test_a_requester_message_clears_a_missed_check_in_and_sets_the_next_deadline(
    runtime: Runtime, walker: Walker
) -> None:
    sealed = walker.new(START - timedelta(hours=1))
    walker.move(sealed.case_id, "waiting", now=START)
    check_ins.mark_missed(db=runtime.db, now=START + timedelta(hours=30))
    wrote_at = START + timedelta(hours=31)
    intake.add_follow_up(
        db=runtime.db,
        access=intake.RequesterAccess(sealed.case_id, sealed.case_private_key),
        message="I am still here",
        max_message_chars=runtime.settings.max_message_chars,
        now=wrote_at,
    )
    case = walker.case(sealed.case_id)
    assert (case.check_in_missed, case.check_in_due_at) == (False, wrote_at + timedelta(hours=24))
    assert check_ins.mark_missed(db=runtime.db, now=wrote_at + timedelta(hours=23)) == []
    assert check_ins.mark_missed(db=runtime.db, now=wrote_at + timedelta(hours=25)) == [sealed.case_id]
    assert missed_events(runtime, sealed.case_id) == 2


def test_leaving_the_step_clears_the_deadline(runtime: Runtime, walker: Walker) -> None:
    case_id = waiting_case(walker, START)
    check_ins.mark_missed(db=runtime.db, now=START + timedelta(hours=25))
    walker.move(case_id, "hiding", now=START + timedelta(hours=26))
    case = walker.case(case_id)
    assert (case.check_in_hours, case.check_in_due_at, case.check_in_missed) == (None, None, False)
    assert check_ins.mark_missed(db=runtime.db, now=START + timedelta(days=30)) == []


def test_the_next_step_that_asks_sets_its_own_rhythm(walker: Walker) -> None:
    case_id = waiting_case(walker, START)
    moved_at = START + timedelta(hours=2)
    walker.move(case_id, "hiding", "travel", now=moved_at)
    case = walker.case(case_id)
    assert (case.check_in_hours, case.check_in_due_at) == (12, moved_at + timedelta(hours=12))


def test_an_ended_case_misses_no_check_in(runtime: Runtime, walker: Walker) -> None:
    case_id = waiting_case(walker, START)
    walker.move(case_id, "withdrawn", now=START + timedelta(hours=1))
    assert check_ins.mark_missed(db=runtime.db, now=START + timedelta(days=3)) == []


def test_each_operator_hears_only_of_their_teams_missed_check_ins(
    runtime: Runtime, walker: Walker, org: Org
) -> None:
    with_intake = waiting_case(walker, START)
    with_legal = walker.new(START - timedelta(hours=1)).case_id
    walker.move(with_legal, "waiting", "hiding", "travel", now=START)
    marked = check_ins.mark_missed(db=runtime.db, now=START + timedelta(days=2))
    assert sorted(marked) == sorted([with_intake, with_legal])

    def missed_for(person: Person) -> list[str]:
        return [row.id for row in check_ins.missed(db=runtime.db, operator=person.unlocked)]

    assert missed_for(org.intake) == [with_intake]
    assert missed_for(org.legal) == [with_legal]
    # Longest missed first: travel's deadline (12 hours) passed before waiting's (24).
    assert missed_for(org.coordinator) == [with_legal, with_intake]


def test_a_missed_check_in_shows_on_the_case_the_queue_and_the_timeline(
    app: FastAPI, runtime: Runtime, walker: Walker, org: Org
) -> None:
    case_id = waiting_case(walker, START)
    check_ins.mark_missed(db=runtime.db, now=START + timedelta(hours=25))
    olena = desk(app, org.intake)
    case = olena.opened(case_id)
    assert (case["check_in_missed"], case["check_in_due_at"]) == (True, "2025-03-04T09:00:00")
    [item] = olena.client.get("/api/v1/cases").json()
    assert item["check_in_missed"] is True
    moments = olena.client.get(f"/api/v1/cases/{case_id}/timeline").json()
    assert ("system", "check_in_missed", "waiting") in [(m["who"], m["action"], m["detail"]) for m in moments]


# -- SLAs: a step's due time ------------------------------------------------------------------------


def submitted_at(runtime: Runtime, when: datetime, request_type: str = "leave_service") -> str:
    issued = intake.submit_request(
        db=runtime.db,
        submission=intake.Submission(request_type, "en", ANSWERS[request_type], "Please help"),
        catalogue=runtime.catalogue,
        pepper=runtime.secrets.receipt_pepper,
        max_message_chars=runtime.settings.max_message_chars,
        procedures=runtime.procedures,
        now=when,
    )
    return issued.access.case_id


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def test_a_case_is_overdue_only_after_its_step_is_due(runtime: Runtime, org: Org) -> None:
    submitted_at(runtime, START)
    [row] = services.queue(db=runtime.db, operator=org.intake.unlocked)
    assert row.due_at is not None
    assert row.overdue(row.due_at) is False
    assert row.overdue(row.due_at + MINUTE) is True


def test_an_old_case_is_overdue_in_the_queue_and_the_api_and_a_new_one_is_not(
    app: FastAPI, runtime: Runtime, org: Org
) -> None:
    old = submitted_at(runtime, now() - timedelta(days=2))
    new = submitted_at(runtime, now())
    olena = desk(app, org.intake)
    overdue = {item["id"]: item["overdue"] for item in olena.client.get("/api/v1/cases").json()}
    assert overdue == {old: True, new: False}
    assert olena.opened(old)["overdue"] is True
    assert olena.opened(new)["overdue"] is False


def test_an_ended_case_is_never_overdue(app: FastAPI, runtime: Runtime, org: Org) -> None:
    old = submitted_at(runtime, now() - timedelta(days=2))
    olena = desk(app, org.intake)
    assert olena.move(old, "withdrawn").status_code == 200
    assert olena.opened(old)["overdue"] is False
    [item] = olena.client.get("/api/v1/cases", params={"closed": True}).json()
    assert item["overdue"] is False


def test_within_a_priority_the_queue_puts_the_nearest_due_time_first(runtime: Runtime, org: Org) -> None:
    # The older request is due sooner: newest first would put it last.
    older = submitted_at(runtime, START)
    newer = submitted_at(runtime, START + timedelta(hours=1))
    assert [r.id for r in services.queue(db=runtime.db, operator=org.intake.unlocked)] == [older, newer]
