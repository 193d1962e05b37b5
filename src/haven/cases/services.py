"""The operator's side of a case: the queue, opening a case, replying, notes and state changes.

An operator reaches a case only through a team they belong to: the case key is sealed to the team, the
team key to the operator. Writing (a reply, a note) needs only the case's public key, but is still
refused to anyone outside the case's teams.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from haven.accounts.keyring import TeamKeys, held_team_keys
from haven.accounts.models import Membership, Operator, Role, Team
from haven.accounts.services import UnlockedOperator
from haven.audit.services import Actor, record_event
from haven.cases.models import CLOSED_CASES, OPEN_CASES, Case, CaseKey, Record
from haven.cases.records import THREAD, OpenedRecord, RecordKind, build_record, open_stored, read_records
from haven.cases.states import CaseState, check_transition
from haven.clock import now_minute
from haven.crypto.keys import DecryptionError
from haven.db import Database


class CaseNotFound(LookupError):
    pass


class CaseForbidden(PermissionError):
    """The case exists but belongs to no team of this operator."""


class NotInTeam(PermissionError):
    """The operator holds no copy of this team's key."""


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
    procedure: str = ""
    step: str = ""
    due_at: datetime | None = None
    verification: str = "unverified"
    restricted: bool = False
    check_in_missed: bool = False

    def overdue(self, now: datetime) -> bool:
        """Past the step's due time (an open case only)."""
        return self.state is not CaseState.CLOSED and self.due_at is not None and self.due_at < now


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
    procedure: str = ""
    step: str = ""
    step_entered_at: datetime | None = None
    due_at: datetime | None = None
    verification: str = "unverified"
    restricted: bool = False
    check_in_due_at: datetime | None = None
    check_in_missed: bool = False
    assignee: str | None = None  # the username of the operator it is assigned to

    @property
    def thread(self) -> list[OpenedRecord]:
        # By time, then as stored: a merged duplicate's messages (cases/merge.py) keep their own minutes.
        return sorted((r for r in self.records if r.kind in THREAD), key=lambda r: r.created_at)


def _team_ids(db_session: Session, operator_id: int) -> list[int]:
    return list(db_session.scalars(select(Membership.team_id).where(Membership.operator_id == operator_id)))


def team_ids(*, db_session: Session, operator: UnlockedOperator) -> list[int]:
    """The ids of the teams the operator belongs to."""
    return _team_ids(db_session, operator.id)


QUEUE_PAGE = 50
# A team holding at most this many cases gets its queue from its own cases, sorted; a bigger one from the
# queue index read in order (it finds a page of its cases long before the end).
_FEW_CASES = 5000


def queue(
    *,
    db: Database,
    operator: UnlockedOperator,
    closed: bool = False,
    limit: int = QUEUE_PAGE,
    offset: int = 0,
) -> list[QueueRow]:
    """The cases shared with the operator's teams: most urgent first, then (open cases) the nearest due
    time, then newest first. Restricted cases only for coordinators and admins.

    Two plans, both bounded whatever the number of cases: operators whose teams hold few cases start from
    those cases (an index on case_keys.team_id) and sort them; the others read a partial index (open or
    closed cases: see cases.models) in queue order, check each case's team by key lookup and stop after
    a page."""
    with db.read() as s:
        teams = _team_ids(s, operator.id)
        held = select(CaseKey.case_id).where(CaseKey.team_id.in_(teams))
        # Counted inside the database, on the index alone: cheap, and bounded by the limit.
        count = s.scalar(select(func.count()).select_from(held.limit(_FEW_CASES + 1).subquery()))
        if (count or 0) <= _FEW_CASES:
            few = list(s.scalars(held))
            if not few:
                return []
            shared: ColumnElement[bool] = Case.id.in_(few)
        else:
            shared = exists().where(CaseKey.case_id == Case.id, CaseKey.team_id.in_(teams))
        order = (
            (Case.priority_rank, Case.created_at.desc(), Case.id)
            if closed
            else (Case.priority_rank, Case.due_at, Case.created_at.desc(), Case.id)
        )
        visible = [] if sees_restricted(operator) else [Case.restricted.is_(False)]
        found = s.execute(
            select(Case, Team.slug, Operator.username)
            .join(Team, Team.id == Case.team_id)
            .outerjoin(Operator, Operator.id == Case.assignee_id)
            .where(CLOSED_CASES if closed else OPEN_CASES, shared, *visible)
            .order_by(*order)
            .limit(limit)
            .offset(offset)
        ).all()
    return [_queue_row(c, slug, username) for c, slug, username in found]


def queue_rows(*, db: Database, operator: UnlockedOperator, case_ids: Sequence[str]) -> list[QueueRow]:
    """Queue rows for these cases in the order given, leaving out any not shared with the operator's teams
    (or gone since)."""
    if not case_ids:
        return []
    with db.read() as s:
        # EXISTS, not IN (all the teams' cases): a key lookup per case asked for, however many are shared.
        shared = exists().where(CaseKey.case_id == Case.id, CaseKey.team_id.in_(_team_ids(s, operator.id)))
        visible = [] if sees_restricted(operator) else [Case.restricted.is_(False)]
        found = s.execute(
            select(Case, Team.slug, Operator.username)
            .join(Team, Team.id == Case.team_id)
            .outerjoin(Operator, Operator.id == Case.assignee_id)
            .where(Case.id.in_(case_ids), shared, *visible)
        ).all()
    rows = {c.id: _queue_row(c, slug, username) for c, slug, username in found}
    return [rows[i] for i in case_ids if i in rows]


def _queue_row(c: Case, team: str, assignee: str | None) -> QueueRow:
    return QueueRow(
        id=c.id,
        request_type=c.request_type,
        state=CaseState(c.state),
        priority=c.priority,
        team=team,
        assignee=assignee,
        created_at=c.created_at,
        updated_at=c.updated_at,
        last_requester_at=c.last_requester_at,
        needs_reply=c.needs_reply,
        procedure=c.procedure,
        step=c.step,
        due_at=c.due_at,
        verification=c.verification,
        restricted=c.restricted,
        check_in_missed=c.check_in_missed,
    )


def accessible_case(
    s: Session, operator: UnlockedOperator, case_id: str, *, for_writing: bool = False
) -> tuple[Case, CaseKey]:
    """The case and its key held by one of the operator's teams. Raises CaseNotFound, or CaseForbidden when
    no team of theirs holds it or it is restricted to coordinators and they are not one."""
    # Writing locks the case row (PostgreSQL; SQLite has one writer anyway), so that a purge running at
    # the same moment waits or skips it rather than deleting it under the new record.
    case = s.get(Case, case_id, with_for_update=for_writing)
    if case is None:
        raise CaseNotFound(case_id)
    key = s.scalars(
        select(CaseKey).where(CaseKey.case_id == case_id, CaseKey.team_id.in_(_team_ids(s, operator.id)))
    ).first()
    if key is None or (case.restricted and not sees_restricted(operator)):
        raise CaseForbidden(case_id)
    return case, key


def sees_restricted(operator: UnlockedOperator) -> bool:
    """Coordinators and admins open restricted cases (probable provocations); operators do not."""
    return operator.role in (Role.COORDINATOR, Role.ADMIN)


def team_keys(*, db_session: Session, operator: UnlockedOperator, team_id: int) -> TeamKeys:
    """The operator's keys of the team (current and retired). Raises NotInTeam."""
    keys = held_team_keys(db_session=db_session, operator=operator, team_id=team_id)
    if keys is None:
        raise NotInTeam(team_id)
    return keys


def case_private_key(*, db_session: Session, operator: UnlockedOperator, case_id: str) -> bytes:
    """Open the case key: operator key -> team key -> case key. Raises CaseNotFound or CaseForbidden."""
    _case, key = accessible_case(db_session, operator, case_id)
    keys = team_keys(db_session=db_session, operator=operator, team_id=key.team_id)
    return keys.open_case_key(key.sealed_private_key, key.key_generation)


def open_for_operator(*, db: Database, operator: UnlockedOperator, case_id: str) -> CaseView:
    """Decrypt a case for an operator of one of its teams, and note in the audit log that they read it."""
    with db.read() as s:
        private_key = case_private_key(db_session=s, operator=operator, case_id=case_id)
        case = s.get(Case, case_id)
        assert case is not None
        team = s.get(Team, case.team_id)
        records = read_records(db_session=s, case_id=case_id, case_private_key=private_key)
        author_ids = {r.author_id for r in records if r.author_id is not None}
        if case.assignee_id is not None:
            author_ids.add(case.assignee_id)
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
        procedure=case.procedure,
        step=case.step,
        step_entered_at=case.step_entered_at,
        due_at=case.due_at,
        verification=case.verification,
        restricted=case.restricted,
        check_in_due_at=case.check_in_due_at,
        check_in_missed=case.check_in_missed,
        assignee=authors.get(case.assignee_id) if case.assignee_id is not None else None,
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
        case, _key = accessible_case(s, operator, case_id, for_writing=True)
        move(db_session=s, case=case, target=target, actor=operator.actor, now=now)


def _write(
    *,
    db: Database,
    operator: UnlockedOperator,
    case_id: str,
    kind: RecordKind,
    text: str,
    now: datetime | None,
    also: Callable[[Session, Record], None] | None = None,
) -> str:
    with db.read() as s:
        case, _key = accessible_case(s, operator, case_id)
    record = build_record(case=case, kind=kind, content={"text": text}, author_id=operator.id, now=now)
    with db.write() as s:
        case, _key = accessible_case(s, operator, case_id, for_writing=True)
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
        if also is not None:
            s.flush()
            also(s, record)
    return record.id


def reply(
    *,
    db: Database,
    operator: UnlockedOperator,
    case_id: str,
    text: str,
    now: datetime | None = None,
    also: Callable[[Session, Record], None] | None = None,
) -> str:
    """Store a reply the requester will read with their receipt; the first reply takes the case. `also`
    runs in the same transaction (channels/replies.py queues the reply's delivery there). Returns the
    reply's record id."""
    return _write(
        db=db, operator=operator, case_id=case_id, kind=RecordKind.OUTBOUND, text=text, now=now, also=also
    )


def add_note(
    *, db: Database, operator: UnlockedOperator, case_id: str, text: str, now: datetime | None = None
) -> None:
    """Add an internal note, visible to the case's teams and never to the requester."""
    _write(db=db, operator=operator, case_id=case_id, kind=RecordKind.NOTE, text=text, now=now)


@dataclass(frozen=True)
class SharedRecord:
    seq: int
    case_id: str
    record: OpenedRecord


# Bound parameters per IN (...) list, well under SQLite's and PostgreSQL's limits.
_IN_CHUNK = 500


def shared_case_ids(*, db_session: Session, team_id: int) -> set[str]:
    """The ids of every case shared with the team."""
    return set(db_session.scalars(select(CaseKey.case_id).where(CaseKey.team_id == team_id)))


def shared_case_count(*, db_session: Session, team_id: int) -> int:
    """How many cases are shared with the team."""
    count = db_session.scalar(select(func.count()).select_from(CaseKey).where(CaseKey.team_id == team_id))
    return count or 0


def shared_record_seqs(*, db_session: Session, team_id: int, after_seq: int) -> list[tuple[int, str, str]]:
    """(seq, record id, case id) of each record numbered above `after_seq` in a case shared with the team."""
    query = (
        select(Record.seq, Record.id, Record.case_id)
        .join(CaseKey, and_(CaseKey.case_id == Record.case_id, CaseKey.team_id == team_id))
        .where(Record.seq > after_seq)
    )
    return list(db_session.execute(query))


def last_record_seq(*, db_session: Session) -> int:
    """The highest record number in the store (0 when there is none)."""
    return db_session.scalar(select(func.max(Record.seq))) or 0


def _shared_records(team_id: int) -> Select[Record, bytes, int]:
    return select(Record, CaseKey.sealed_private_key, CaseKey.key_generation).join(
        CaseKey, and_(CaseKey.case_id == Record.case_id, CaseKey.team_id == team_id)
    )


def open_shared_records(
    *, db_session: Session, operator: UnlockedOperator, team_id: int, after_seq: int, up_to_seq: int
) -> Iterator[SharedRecord]:
    """Decrypt, oldest first, the records numbered after `after_seq` up to `up_to_seq` in the cases shared
    with a team. Raises NotInTeam. A record that does not open (damaged in the store) is left out."""
    query = (
        _shared_records(team_id)
        .where(Record.seq > after_seq, Record.seq <= up_to_seq)
        .order_by(Record.seq)
        .execution_options(yield_per=1000)
    )
    keys = team_keys(db_session=db_session, operator=operator, team_id=team_id)
    return _opened(((r, k, g) for r, k, g in db_session.execute(query)), keys)


def open_picked_records(
    *,
    db_session: Session,
    operator: UnlockedOperator,
    team_id: int,
    case_ids: Collection[str] = (),
    seqs: Collection[int] = (),
) -> Iterator[SharedRecord]:
    """Decrypt, oldest first, every record of `case_ids` and the records numbered in `seqs`, of the cases
    shared with a team. Raises NotInTeam. A record that does not open is left out."""
    keys = team_keys(db_session=db_session, operator=operator, team_id=team_id)
    ids, numbers = list(case_ids), list(seqs)
    found: dict[int, tuple[Record, bytes, int]] = {}
    for start in range(0, max(len(ids), len(numbers)), _IN_CHUNK):
        wanted = or_(
            Record.case_id.in_(ids[start : start + _IN_CHUNK]),
            Record.seq.in_(numbers[start : start + _IN_CHUNK]),
        )
        found.update(
            (r.seq, (r, k, g)) for r, k, g in db_session.execute(_shared_records(team_id).where(wanted))
        )
    return _opened((found[seq] for seq in sorted(found)), keys)


def _opened(rows: Iterator[tuple[Record, bytes, int]], keys: TeamKeys) -> Iterator[SharedRecord]:
    case_keys: dict[str, bytes] = {}
    for row, sealed_case_key, generation in rows:
        try:
            key = case_keys.get(row.case_id)
            if key is None:
                key = case_keys[row.case_id] = keys.open_case_key(sealed_case_key, generation)
            opened = open_stored(row, case_private_key=key)
        except DecryptionError:
            continue
        yield SharedRecord(seq=row.seq, case_id=row.case_id, record=opened)
