"""Append-only, hash-chained events. Each event's hash covers the previous hash and its own fields, so a
removed or edited event breaks the chain from that point on."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session

from haven.audit.models import AuditEvent
from haven.clock import now_minute, to_minute

GENESIS = bytes(32)


@dataclass(frozen=True)
class Actor:
    kind: str  # "operator", "requester" or "system"
    id: int | None = None


REQUESTER = Actor("requester")
SYSTEM = Actor("system")


def _digest(
    prev_hash: bytes, *, at: datetime, actor: Actor, action: str, case_id: str | None, detail: str
) -> bytes:
    fields = "\x1f".join([at.isoformat(), actor.kind, str(actor.id or ""), action, case_id or "", detail])
    return hashlib.sha256(prev_hash + fields.encode("utf-8")).digest()


# Any fixed number: the advisory lock that lets one PostgreSQL transaction at a time extend the chain.
_CHAIN_LOCK = 0x6861_7665_6E00


def _chain_head(db_session: Session) -> bytes:
    """The last event's hash, with the right to append after it until the transaction ends.

    SQLite has one writer, so the head cannot move under us. PostgreSQL has many: a transaction-scoped
    advisory lock queues them, and each reads the head only once it holds the lock (read committed sees
    the previous holder's event). The UNIQUE prev_hash is the backstop that makes a fork impossible.
    """
    if db_session.get_bind().dialect.name == "postgresql":
        db_session.execute(select(func.pg_advisory_xact_lock(_CHAIN_LOCK)))
    last = db_session.scalars(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
    return last if last is not None else GENESIS


def record_event(
    *,
    db_session: Session,
    actor: Actor,
    action: str,
    case_id: str | None = None,
    detail: str = "",
    now: datetime | None = None,
) -> int:
    """Append one event in the caller's transaction; returns its id. (A Core insert: intake calls this for
    every request, and the unit of work's bookkeeping cost more than the insert.)"""
    at = now_minute(now)
    prev_hash = _chain_head(db_session)
    event_id: int = db_session.execute(
        insert(AuditEvent)
        .values(
            at=at,
            actor_kind=actor.kind,
            actor_id=actor.id,
            action=action,
            case_id=case_id,
            detail=detail,
            prev_hash=prev_hash,
            hash=_digest(prev_hash, at=at, actor=actor, action=action, case_id=case_id, detail=detail),
        )
        .returning(AuditEvent.id)
    ).scalar_one()
    return event_id


@dataclass(frozen=True)
class PastEvent:
    """An event to append in bulk, with the time it happened (an import or a seeded history)."""

    at: datetime
    actor: Actor
    action: str
    case_id: str | None = None
    detail: str = ""


def record_events(*, db_session: Session, events: Sequence[PastEvent]) -> None:
    """Append many events in one statement, chained exactly as `record_event` chains them one by one."""
    prev_hash = _chain_head(db_session)
    rows: list[dict[str, object]] = []
    for event in events:
        at = to_minute(event.at)
        digest = _digest(
            prev_hash,
            at=at,
            actor=event.actor,
            action=event.action,
            case_id=event.case_id,
            detail=event.detail,
        )
        rows.append(
            {
                "at": at,
                "actor_kind": event.actor.kind,
                "actor_id": event.actor.id,
                "action": event.action,
                "case_id": event.case_id,
                "detail": event.detail,
                "prev_hash": prev_hash,
                "hash": digest,
            }
        )
        prev_hash = digest
    if rows:
        # Core insert on the table: one executemany, no ids fetched back.
        db_session.execute(insert(cast(Table, AuditEvent.__table__)), rows)


def first_broken_link(*, db_session: Session) -> int | None:
    """The id of the first event whose hash does not follow from the chain before it, or None if intact."""
    prev_hash = GENESIS
    for event in db_session.scalars(select(AuditEvent).order_by(AuditEvent.id)):
        expected = _digest(
            prev_hash,
            at=event.at,
            actor=Actor(event.actor_kind, event.actor_id),
            action=event.action,
            case_id=event.case_id,
            detail=event.detail,
        )
        if event.prev_hash != prev_hash or event.hash != expected:
            return event.id
        prev_hash = event.hash
    return None


def events_for_case(*, db_session: Session, case_id: str) -> list[AuditEvent]:
    return list(
        db_session.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.id))
    )
