"""Append-only, hash-chained events. Each event's hash covers the previous hash and its own fields, so a
removed or edited event breaks the chain from that point on."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.audit.models import AuditEvent
from haven.clock import now_minute

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


def record_event(
    *,
    db_session: Session,
    actor: Actor,
    action: str,
    case_id: str | None = None,
    detail: str = "",
    now: datetime | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction (the single writer keeps the chain linear)."""
    at = now_minute(now)
    last = db_session.scalars(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
    prev_hash = last if last is not None else GENESIS
    event = AuditEvent(
        at=at,
        actor_kind=actor.kind,
        actor_id=actor.id,
        action=action,
        case_id=case_id,
        detail=detail,
        prev_hash=prev_hash,
        hash=_digest(prev_hash, at=at, actor=actor, action=action, case_id=case_id, detail=detail),
    )
    db_session.add(event)
    db_session.flush()
    return event


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
