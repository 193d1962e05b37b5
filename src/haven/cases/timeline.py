"""A case's timeline: every event of the audit log about it (messages, notes, steps, states, hand-overs,
check-ins), oldest first. The audit log holds no content, so neither does the timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from haven.accounts.models import Operator
from haven.accounts.services import UnlockedOperator
from haven.audit.services import events_for_case
from haven.cases.services import accessible_case
from haven.db import Database


@dataclass(frozen=True)
class Moment:
    at: datetime
    who: str  # an operator's username, "requester" or "system"
    action: str  # the audit action without its "case." prefix: step, inbound, check_in_missed...
    detail: str


def timeline(*, db: Database, operator: UnlockedOperator, case_id: str) -> list[Moment]:
    """The case's events, for an operator of one of its teams (CaseNotFound or CaseForbidden otherwise)."""
    with db.read() as s:
        accessible_case(s, operator, case_id)
        events = events_for_case(db_session=s, case_id=case_id)
        ids = {e.actor_id for e in events if e.actor_kind == "operator" and e.actor_id is not None}
        names = {
            i: n for i, n in s.execute(select(Operator.id, Operator.username).where(Operator.id.in_(ids)))
        }
    return [
        Moment(
            at=e.at,
            who=names.get(e.actor_id, "?") if e.actor_kind == "operator" and e.actor_id else e.actor_kind,
            action=e.action.removeprefix("case."),
            detail=e.detail,
        )
        for e in events
    ]
