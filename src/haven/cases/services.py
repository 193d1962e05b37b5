"""The operator's side of a case: the queue, opening a case, replying, notes and state changes.

An operator reaches a case only through a team they belong to: the case key is sealed to the team, the
team key to the operator. Writing (a reply, a note) needs only the case's public key, but is still
refused to anyone outside the case's teams.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case as sql_case
from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.accounts.models import Membership, Operator, Team
from haven.accounts.services import UnlockedOperator
from haven.audit.services import Actor, record_event
from haven.cases.models import Case, CaseKey
from haven.cases.records import OpenedRecord, RecordKind, build_record, read_records
from haven.cases.states import PRIORITY_RANK, CaseState, check_transition
from haven.clock import now_minute
from haven.crypto.keys import unseal
from haven.db import Database


class CaseNotFound(LookupError):
    pass


class CaseForbidden(PermissionError):
    """The case exists but belongs to no team of this operator."""


@dataclass(frozen=True)
class QueueRow:
    id: str
    request_type: str
    state: CaseState
    priority: str
    team: str
    assignee: str | None
    created_at: datetime
    updated_at: datetime
    last_requester_at: datetime | None
    needs_reply: bool


@dataclass(frozen=True)
class CaseView:
    id: str
    request_type: str
    state: CaseState
    priority: str
    team: str
    created_at: datetime
    language: str
    answers: dict[str, Any]
    records: list[OpenedRecord]
    authors: dict[int, str]

    @property
    def thread(self) -> list[OpenedRecord]:
        return [r for r in self.records if r.kind is not RecordKind.ANSWERS]


_OPEN_STATES = (CaseState.NEW, CaseState.IN_PROGRESS, CaseState.WAITING)


def _team_ids(db_session: Session, operator_id: int) -> list[int]:
    return list(db_session.scalars(select(Membership.team_id).where(Membership.operator_id == operator_id)))


def queue(
    *, db: Database, operator: UnlockedOperator, closed: bool = False, limit: int = 200
) -> list[QueueRow]:
    """The cases shared with the operator's teams, most urgent first and newest first within a priority."""
    rank = sql_case({p.value: r for p, r in PRIORITY_RANK.items()}, value=Case.priority, else_=9)
    states = [CaseState.CLOSED] if closed else list(_OPEN_STATES)
    with db.read() as s:
        team_ids = _team_ids(s, operator.id)
        shared = select(CaseKey.case_id).where(CaseKey.team_id.in_(team_ids))
        rows = s.execute(
            select(Case, Team.slug, Operator.username)
            .join(Team, Team.id == Case.team_id)
            .outerjoin(Operator, Operator.id == Case.assignee_id)
            .where(Case.id.in_(shared), Case.state.in_([st.value for st in states]))
            .order_by(rank, Case.created_at.desc(), Case.id)
            .limit(limit)
        ).all()
    return [
        QueueRow(
            id=c.id,
            request_type=c.request_type,
            state=CaseState(c.state),
            priority=c.priority,
            team=slug,
            assignee=username,
            created_at=c.created_at,
            updated_at=c.updated_at,
            last_requester_at=c.last_requester_at,
            needs_reply=c.needs_reply,
        )
        for c, slug, username in rows
    ]


def _accessible_case(s: Session, operator: UnlockedOperator, case_id: str) -> tuple[Case, CaseKey]:
    case = s.get(Case, case_id)
    if case is None:
        raise CaseNotFound(case_id)
    key = s.scalars(
        select(CaseKey).where(CaseKey.case_id == case_id, CaseKey.team_id.in_(_team_ids(s, operator.id)))
    ).first()
    if key is None:
        raise CaseForbidden(case_id)
    return case, key


def case_private_key(*, db_session: Session, operator: UnlockedOperator, case_id: str) -> bytes:
    """Open the case key: operator key -> team key -> case key. Raises CaseNotFound or CaseForbidden."""
    _case, key = _accessible_case(db_session, operator, case_id)
    membership = db_session.get(Membership, (operator.id, key.team_id))
    assert membership is not None  # _accessible_case found the key through this membership
    team_key = unseal(membership.sealed_team_key, operator.private_key)
    return unseal(key.sealed_private_key, team_key)


def open_for_operator(*, db: Database, operator: UnlockedOperator, case_id: str) -> CaseView:
    """Decrypt a case for an operator of one of its teams, and note in the audit log that they read it."""
    with db.read() as s:
        private_key = case_private_key(db_session=s, operator=operator, case_id=case_id)
        case = s.get(Case, case_id)
        assert case is not None
        team = s.get(Team, case.team_id)
        records = read_records(db_session=s, case_id=case_id, case_private_key=private_key)
        author_ids = {r.author_id for r in records if r.author_id is not None}
        authors = {
            i: name
            for i, name in s.execute(
                select(Operator.id, Operator.username).where(Operator.id.in_(author_ids))
            )
        }
    answers = next((r.content for r in records if r.kind is RecordKind.ANSWERS), {})
    with db.write() as s:
        record_event(db_session=s, actor=operator.actor, action="case.opened", case_id=case_id)
    return CaseView(
        id=case.id,
        request_type=case.request_type,
        state=CaseState(case.state),
        priority=case.priority,
        team=team.slug if team else "",
        created_at=case.created_at,
        language=str(answers.get("language", "en")),
        answers=dict(answers.get("answers", {})),
        records=records,
        authors=authors,
    )


def move(
    *, db_session: Session, case: Case, target: CaseState, actor: Actor, now: datetime | None = None
) -> None:
    """The one way a case changes state: checked against the transition table, one audit event each."""
    current = CaseState(case.state)
    if current is target:
        return
    check_transition(current, target)
    case.state = target.value
    case.updated_at = now_minute(now)
    record_event(
        db_session=db_session,
        actor=actor,
        action="case.state",
        case_id=case.id,
        detail=f"{current}->{target}",
        now=now,
    )


def change_state(
    *, db: Database, operator: UnlockedOperator, case_id: str, target: CaseState, now: datetime | None = None
) -> None:
    with db.write() as s:
        case, _key = _accessible_case(s, operator, case_id)
        move(db_session=s, case=case, target=target, actor=operator.actor, now=now)


def _write(
    *,
    db: Database,
    operator: UnlockedOperator,
    case_id: str,
    kind: RecordKind,
    text: str,
    now: datetime | None,
) -> None:
    with db.read() as s:
        case, _key = _accessible_case(s, operator, case_id)
    record = build_record(case=case, kind=kind, content={"text": text}, author_id=operator.id, now=now)
    with db.write() as s:
        case, _key = _accessible_case(s, operator, case_id)
        s.add(record)
        if kind is RecordKind.OUTBOUND:
            if case.state in (CaseState.NEW, CaseState.CLOSED):
                move(db_session=s, case=case, target=CaseState.IN_PROGRESS, actor=operator.actor, now=now)
            if case.assignee_id is None:
                case.assignee_id = operator.id
            case.needs_reply = False
        case.updated_at = now_minute(now)
        record_event(
            db_session=s, actor=operator.actor, action=f"case.{kind.value}", case_id=case_id, now=now
        )


def reply(
    *, db: Database, operator: UnlockedOperator, case_id: str, text: str, now: datetime | None = None
) -> None:
    """Send a reply the requester will read with their receipt; the first reply takes the case."""
    _write(db=db, operator=operator, case_id=case_id, kind=RecordKind.OUTBOUND, text=text, now=now)


def add_note(
    *, db: Database, operator: UnlockedOperator, case_id: str, text: str, now: datetime | None = None
) -> None:
    """Add an internal note, visible to the case's teams and never to the requester."""
    _write(db=db, operator=operator, case_id=case_id, kind=RecordKind.NOTE, text=text, now=now)
