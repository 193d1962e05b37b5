"""Triage by hand: a case's priority, whether it is verified, and whether only coordinators may open it.

Hostile services send fake requests to expose a hotline. A case can be marked suspicious (the reason sealed
in it, as an internal note) and restricted, so that only coordinators and admins open it; the queue flags
suspicious cases for everyone who still sees them. Each change is one audit event, naming the old and the
new value, never the reason.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import select

from haven.accounts.models import Membership, Operator
from haven.accounts.services import UnlockedOperator
from haven.audit.services import record_event
from haven.cases.procedure import Stage
from haven.cases.records import RecordKind, build_record
from haven.cases.services import accessible_case, sees_restricted
from haven.cases.states import Priority
from haven.cases.steps import reach
from haven.clock import now_minute
from haven.db import Database


class Verification(StrEnum):
    UNVERIFIED = "unverified"
    VERIFIED = "verified"
    SUSPICIOUS = "suspicious"


class TriageRefused(Exception):
    """A change the operator may not make, or one missing what it needs; `detail` says which (a 409)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class TriageForbidden(TriageRefused):
    """The operator's role does not allow this change (a 403)."""


def set_priority(
    *, db: Database, operator: UnlockedOperator, case_id: str, priority: Priority, now: datetime | None = None
) -> None:
    """Re-prioritise a case by hand (intake's rules set the first priority from the answers)."""
    with db.write() as s:
        case, _key = accessible_case(s, operator, case_id, for_writing=True)
        if case.priority == priority.value:
            return
        before = case.priority
        case.priority = priority.value
        case.updated_at = now_minute(now)
        record_event(
            db_session=s,
            actor=operator.actor,
            action="case.priority",
            case_id=case.id,
            detail=f"{before}->{priority.value}",
            now=now,
        )


def set_verification(
    *,
    db: Database,
    operator: UnlockedOperator,
    case_id: str,
    verification: Verification,
    reason: str = "",
    now: datetime | None = None,
) -> None:
    """Mark a case unverified, verified or suspicious. Suspicious needs a reason, sealed in the case as an
    internal note; it is never in the clear."""
    reason = reason.strip()
    if verification is Verification.SUSPICIOUS and not reason:
        raise TriageRefused("Say why the case looks suspicious: the reason is kept as an internal note.")
    with db.write() as s:
        case, _key = accessible_case(s, operator, case_id, for_writing=True)
        before = case.verification
        if before == verification.value and not reason:
            return
        case.verification = verification.value
        case.updated_at = now_minute(now)
        if verification is Verification.VERIFIED:
            reach(case, Stage.VERIFIED)
        if reason:
            s.add(
                build_record(
                    case=case,
                    kind=RecordKind.NOTE,
                    content={"text": f"Marked {verification.value}: {reason}"},
                    author_id=operator.id,
                    now=now,
                )
            )
        record_event(
            db_session=s,
            actor=operator.actor,
            action="case.verification",
            case_id=case.id,
            detail=f"{before}->{verification.value}",
            now=now,
        )


def set_restricted(
    *, db: Database, operator: UnlockedOperator, case_id: str, restricted: bool, now: datetime | None = None
) -> None:
    """Restrict a case to coordinators and admins, or lift that; only they may do either."""
    if not sees_restricted(operator):
        raise TriageForbidden("Only coordinators and admins restrict a case or lift a restriction.")
    with db.write() as s:
        case, _key = accessible_case(s, operator, case_id, for_writing=True)
        if case.restricted == restricted:
            return
        case.restricted = restricted
        case.updated_at = now_minute(now)
        record_event(
            db_session=s,
            actor=operator.actor,
            action="case.restricted" if restricted else "case.unrestricted",
            case_id=case.id,
            now=now,
        )


def assignable(*, db: Database, operator: UnlockedOperator, case_id: str) -> list[str]:
    """The usernames a case may be assigned to: active members of the team that owns it."""
    with db.read() as s:
        case, _key = accessible_case(s, operator, case_id)
        names = s.scalars(
            select(Operator.username)
            .join(Membership, Membership.operator_id == Operator.id)
            .where(Membership.team_id == case.team_id, Operator.revoked_at.is_(None))
            .order_by(Operator.username)
        )
        return list(names)


def assign(
    *,
    db: Database,
    operator: UnlockedOperator,
    case_id: str,
    username: str | None,
    now: datetime | None = None,
) -> None:
    """Assign the case to a member of its owning team (`username`), or to nobody (None). Taking a case is
    assigning it to oneself. One audit event, naming the new assignee's account."""
    with db.write() as s:
        case, _key = accessible_case(s, operator, case_id, for_writing=True)
        assignee_id = None
        if username is not None:
            assignee_id = s.scalar(
                select(Operator.id)
                .join(Membership, Membership.operator_id == Operator.id)
                .where(
                    Operator.username == username,
                    Operator.revoked_at.is_(None),
                    Membership.team_id == case.team_id,
                )
            )
            if assignee_id is None:
                raise TriageRefused("Only a member of the team that owns the case can be assigned to it.")
        if case.assignee_id == assignee_id:
            return
        case.assignee_id = assignee_id
        case.updated_at = now_minute(now)
        record_event(
            db_session=s,
            actor=operator.actor,
            action="case.assigned",
            case_id=case.id,
            detail=username or "nobody",
            now=now,
        )
