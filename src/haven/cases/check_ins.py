"""Check-ins: in a step that asks for them (in transit, typically), the requester must write every N hours.

Any message from the requester is a check-in and sets the next deadline. A watch in the server marks the
cases whose deadline passed, once per deadline, with an audit event (so the case's timeline shows it); the
desk lists them at the top until the requester writes or the case leaves the step.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from haven.accounts.services import UnlockedOperator
from haven.audit.services import SYSTEM, record_event
from haven.background import BackgroundLoop
from haven.cases.models import OPEN_CASES, Case
from haven.cases.services import QueueRow, queue_rows
from haven.clock import now_minute
from haven.db import Database

BATCH = 500


def checked_in(case: Case, now: datetime | None = None) -> None:
    """The requester wrote: the next deadline runs from now (in a step that asks for check-ins)."""
    if case.check_in_hours:
        case.check_in_due_at = now_minute(now) + timedelta(hours=case.check_in_hours)
        case.check_in_missed = False


def mark_missed(*, db: Database, now: datetime | None = None) -> list[str]:
    """Mark every open case whose check-in deadline passed (once per deadline); returns their ids."""
    at = now_minute(now)
    marked: list[str] = []
    with db.write() as s:
        due = s.scalars(
            select(Case)
            .where(OPEN_CASES, Case.check_in_due_at < at, Case.check_in_missed.is_(False))
            .order_by(Case.check_in_due_at)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
        for case in due:
            case.check_in_missed = True
            record_event(
                db_session=s,
                actor=SYSTEM,
                action="case.check_in_missed",
                case_id=case.id,
                detail=case.step,
                now=now,
            )
            marked.append(case.id)
    return marked


def missed(*, db: Database, operator: UnlockedOperator) -> list[QueueRow]:
    """The open cases of the operator's teams whose requester missed a check-in, longest missed first."""
    with db.read() as s:
        ids = list(
            s.scalars(
                select(Case.id)
                .where(OPEN_CASES, Case.check_in_missed.is_(True))
                .order_by(Case.check_in_due_at)
                .limit(100)
            )
        )
    return queue_rows(db=db, operator=operator, case_ids=ids)


class CheckInWatch:
    """Marks missed check-ins every `interval` seconds, in a thread of its own (none for an interval of 0)."""

    def __init__(self, db: Database, *, interval: float = 60.0) -> None:
        self._db = db
        self._loop = BackgroundLoop(self._pass, interval=interval, name="haven-check-ins", wait_first=True)

    def start(self) -> CheckInWatch:
        self._loop.start()
        return self

    def stop(self) -> None:
        self._loop.stop()

    def _pass(self) -> None:
        mark_missed(db=self._db)
