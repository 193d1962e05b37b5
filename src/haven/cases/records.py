"""Writing and reading a case's sealed records. Writing needs only the case's public key."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.cases.models import Case, Record
from haven.clock import now_minute
from haven.crypto.envelope import SealedRecord, open_record, seal_record


class RecordKind(StrEnum):
    ANSWERS = "answers"  # the questionnaire, with the language the requester chose
    INBOUND = "inbound"  # a message from the requester
    OUTBOUND = "outbound"  # a reply to the requester
    NOTE = "note"  # internal; the requester never sees it
    # How to reach the requester outside the web (a Telegram chat id): read only to deliver a reply.
    CHANNEL = "channel"
    # What was done in a procedure step: checklist items ticked, fields filled (cases/steps.py).
    STEP = "step"
    # The case's tags, chosen by operators (cases/tags.py); the last one counts.
    TAGS = "tags"
    # The requester's answer to "Did we help?" once the case ended (intake/feedback.py).
    FEEDBACK = "feedback"


REQUESTER_VISIBLE = (RecordKind.INBOUND, RecordKind.OUTBOUND)
THREAD = (*REQUESTER_VISIBLE, RecordKind.NOTE)


@dataclass(frozen=True)
class OpenedRecord:
    id: str
    kind: RecordKind
    author_id: int | None
    created_at: datetime
    content: dict[str, Any]


def new_id() -> str:
    return secrets.token_urlsafe(15)


def build_record(
    *,
    case: Case,
    kind: RecordKind,
    content: dict[str, Any],
    author_id: int | None = None,
    now: datetime | None = None,
) -> Record:
    """Seal `content` (JSON) to the case's public key; no secret is needed, no session touched."""
    record_id = new_id()
    sealed = seal_record(
        json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
        case_public_key=case.public_key,
        case_id=case.id,
        record_id=record_id,
    )
    return Record(
        id=record_id,
        case_id=case.id,
        kind=kind.value,
        author_id=author_id,
        created_at=now_minute(now),
        sealed_key=sealed.sealed_key,
        ciphertext=sealed.ciphertext,
    )


def open_stored(row: Record, *, case_private_key: bytes) -> OpenedRecord:
    """Decrypt one stored record with its case's private key."""
    plaintext = open_record(
        SealedRecord(row.sealed_key, row.ciphertext),
        case_private_key=case_private_key,
        case_id=row.case_id,
        record_id=row.id,
    )
    return OpenedRecord(
        id=row.id,
        kind=RecordKind(row.kind),
        author_id=row.author_id,
        created_at=row.created_at,
        content=json.loads(plaintext),
    )


def read_records(
    *,
    db_session: Session,
    case_id: str,
    case_private_key: bytes,
    kinds: tuple[RecordKind, ...] = tuple(RecordKind),
) -> list[OpenedRecord]:
    """Open the case's records of the given kinds, oldest first."""
    rows = db_session.scalars(
        select(Record)
        .where(Record.case_id == case_id, Record.kind.in_([k.value for k in kinds]))
        .order_by(Record.seq)
    )
    return [open_stored(row, case_private_key=case_private_key) for row in rows]
