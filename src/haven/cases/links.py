"""Linking related cases: a relative's request and the person's own, or a duplicate and the case it joined.

A link is two case ids, in the clear (metadata, like a case's team): it says two requests belong together,
never why. Only an operator who can open both cases links them, and each sees only the linked cases shared
with their own teams.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from haven.accounts.services import UnlockedOperator
from haven.audit.services import record_event
from haven.cases.models import Case, CaseLink
from haven.cases.services import QueueRow, accessible_case, queue_rows
from haven.clock import now_minute
from haven.db import Database

# How much of a case id the desk shows (as abcd-efgh).
SHOWN_CHARS = 8


class LinkRefused(ValueError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def add_link(
    s: Session, *, case: Case, other: Case, operator: UnlockedOperator, now: datetime | None
) -> None:
    """Link two cases the operator has opened in this transaction (no-op if already linked)."""
    first, second = _pair(case.id, other.id)
    if s.get(CaseLink, (first, second)) is None:
        s.add(CaseLink(case_id=first, linked_id=second, created_at=now_minute(now)))
        for one, two in ((case, other), (other, case)):
            record_event(
                db_session=s,
                actor=operator.actor,
                action="case.linked",
                case_id=one.id,
                detail=two.id,
                now=now,
            )


def link(
    *, db: Database, operator: UnlockedOperator, case_id: str, other_id: str, now: datetime | None = None
) -> None:
    """Link two cases; both must be shared with the operator's teams (CaseNotFound/CaseForbidden). The other
    case may be named by its full id or as the desk shows it (`abcd-efgh`, its first eight characters)."""
    with db.write() as s:
        other_id = resolve(s, other_id)
        if other_id == case_id:
            raise LinkRefused("A case cannot be linked to itself.")
        case, _ = accessible_case(s, operator, case_id, for_writing=True)
        other, _ = accessible_case(s, operator, other_id, for_writing=True)
        add_link(s, case=case, other=other, operator=operator, now=now)


def resolve(s: Session, typed: str) -> str:
    """A case id from what an operator typed: the full id, or the eight characters the desk shows (the one
    case they start, if exactly one). Anything else comes back as typed and is not found."""
    clean = typed.strip().lower().replace("-", "")
    if len(clean) == SHOWN_CHARS:
        found = list(s.scalars(select(Case.id).where(Case.id.startswith(clean, autoescape=True)).limit(2)))
        if len(found) == 1:
            return found[0]
    return clean


def unlink(
    *, db: Database, operator: UnlockedOperator, case_id: str, other_id: str, now: datetime | None = None
) -> None:
    with db.write() as s:
        accessible_case(s, operator, case_id, for_writing=True)
        first, second = _pair(case_id, other_id)
        gone = s.execute(delete(CaseLink).where(CaseLink.case_id == first, CaseLink.linked_id == second))
        if getattr(gone, "rowcount", 0):
            record_event(
                db_session=s,
                actor=operator.actor,
                action="case.unlinked",
                case_id=case_id,
                detail=other_id,
                now=now,
            )


def linked(*, db: Database, operator: UnlockedOperator, case_id: str) -> list[QueueRow]:
    """The cases linked to this one that the operator may see."""
    with db.read() as s:
        accessible_case(s, operator, case_id)
        pairs = s.execute(
            select(CaseLink.case_id, CaseLink.linked_id).where(
                or_(CaseLink.case_id == case_id, CaseLink.linked_id == case_id)
            )
        ).all()
    others = [b if a == case_id else a for a, b in pairs]
    return queue_rows(db=db, operator=operator, case_ids=sorted(others))
