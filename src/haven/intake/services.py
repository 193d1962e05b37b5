"""Taking a request in, and letting its requester back in with their receipt.

Intake uses public keys only: a fresh case keypair, its private half sealed to the intake team and locked
under a key derived from the receipt, then forgotten. The receipt is returned only after the commit,
so a receipt handed out always means the case is on disk.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from haven.accounts.services import intake_team
from haven.audit.services import REQUESTER, record_event
from haven.cases.models import Case, CaseKey
from haven.cases.records import REQUESTER_VISIBLE, OpenedRecord, RecordKind, build_record, read_records
from haven.cases.services import move
from haven.cases.states import CaseState
from haven.clock import now_minute
from haven.crypto import receipts
from haven.crypto.keys import DecryptionError, KeyPair, lock, seal, unlock
from haven.db import Database
from haven.i18n import LANGUAGES
from haven.intake.questionnaires import Catalogue, InvalidAnswer

CASE_ID_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
CASE_ID_CHARS = 16


class IntakeError(ValueError):
    """A request that cannot be accepted. `reason` is a message key; `field` names the input at fault."""

    def __init__(self, reason: str, field: str = "") -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.reason = reason
        self.field = field


class IntakeClosed(RuntimeError):
    """No team receives intake yet (the organisation is not set up)."""


@dataclass(frozen=True)
class Submission:
    request_type: str
    language: str
    answers: Mapping[str, str]
    message: str


@dataclass(frozen=True)
class RequesterAccess:
    """What a correct receipt opens: the case id and its private key, held for one requester session."""

    case_id: str
    case_private_key: bytes


@dataclass(frozen=True)
class IssuedReceipt:
    receipt: str
    access: RequesterAccess


@dataclass(frozen=True)
class RequesterThread:
    case_id: str
    state: CaseState
    language: str
    messages: list[OpenedRecord]


def new_case_id() -> str:
    return "".join(secrets.choice(CASE_ID_ALPHABET) for _ in range(CASE_ID_CHARS))


def _receipt_context(case_id: str) -> bytes:
    return f"haven/receipt-copy\x00{case_id}".encode()


def check_message(message: str, *, max_chars: int, field: str = "message") -> str:
    text = message.strip()
    if not text:
        raise IntakeError("message_required", field)
    if len(text) > max_chars:
        raise IntakeError("message_too_long", field)
    return text


def check_submission(
    submission: Submission, *, catalogue: Catalogue, max_message_chars: int
) -> dict[str, str]:
    """Validate a submission; returns the clean answers or raises IntakeError."""
    if submission.language not in LANGUAGES:
        raise IntakeError("language_unknown", "language")
    if submission.request_type not in catalogue.types:
        raise IntakeError("type_unknown", "type")
    try:
        answers = catalogue.validate(submission.request_type, submission.answers)
    except InvalidAnswer as exc:
        raise IntakeError(exc.reason, exc.question) from None
    check_message(submission.message, max_chars=max_message_chars)
    return answers


def submit_request(
    *,
    db: Database,
    submission: Submission,
    catalogue: Catalogue,
    pepper: bytes,
    max_message_chars: int,
    now: datetime | None = None,
) -> IssuedReceipt:
    """Store a new request, encrypted, and return its receipt once the case is durably committed."""
    answers = check_submission(submission, catalogue=catalogue, max_message_chars=max_message_chars)
    with db.read() as s:
        team = intake_team(db_session=s)
    if team is None:
        raise IntakeClosed
    # All the sealing happens before the write lock is taken: the single writer only inserts.
    receipt = receipts.new_receipt()
    keys = receipts.receipt_keys(receipt, pepper=pepper)
    case_keys = KeyPair.generate()
    case_id = new_case_id()
    at = now_minute(now)
    case = Case(
        id=case_id,
        request_type=submission.request_type,
        state=CaseState.NEW.value,
        priority=catalogue.priority(answers).value,
        team_id=team.id,
        created_at=at,
        updated_at=at,
        last_requester_at=at,
        public_key=case_keys.public,
        receipt_lookup=keys.lookup,
        receipt_locked_key=lock(case_keys.private, keys.wrapping_key, context=_receipt_context(case_id)),
    )
    rows = [
        case,
        CaseKey(
            case_id=case_id, team_id=team.id, sealed_private_key=seal(case_keys.private, team.public_key)
        ),
        build_record(
            case=case,
            kind=RecordKind.ANSWERS,
            content={"language": submission.language, "answers": answers},
            now=now,
        ),
        build_record(
            case=case, kind=RecordKind.INBOUND, content={"text": submission.message.strip()}, now=now
        ),
    ]
    with db.write() as s:
        s.add_all(rows)
        s.flush()
        record_event(db_session=s, actor=REQUESTER, action="case.created", case_id=case_id, now=now)
    return IssuedReceipt(receipt, RequesterAccess(case_id, case_keys.private))


def open_with_receipt(*, db: Database, receipt_text: str, pepper: bytes) -> RequesterAccess | None:
    """The case this receipt opens, with its key; None for anything that is not a valid receipt."""
    receipt = receipts.normalise(receipt_text)
    if receipt is None:
        return None
    keys = receipts.receipt_keys(receipt, pepper=pepper)
    with db.read() as s:
        case = s.scalars(select(Case).where(Case.receipt_lookup == keys.lookup)).first()
    if case is None:
        return None
    try:
        private_key = unlock(case.receipt_locked_key, keys.wrapping_key, context=_receipt_context(case.id))
    except DecryptionError:
        return None
    return RequesterAccess(case_id=case.id, case_private_key=private_key)


def read_thread(*, db: Database, access: RequesterAccess) -> RequesterThread | None:
    """The messages the requester may see (theirs and the replies), never internal notes."""
    with db.read() as s:
        case = s.get(Case, access.case_id)
        if case is None:
            return None
        records = read_records(
            db_session=s,
            case_id=case.id,
            case_private_key=access.case_private_key,
            kinds=(RecordKind.ANSWERS, *REQUESTER_VISIBLE),
        )
    answers = next((r for r in records if r.kind is RecordKind.ANSWERS), None)
    return RequesterThread(
        case_id=case.id,
        state=CaseState(case.state),
        language=str(answers.content.get("language", "en")) if answers else "en",
        messages=[r for r in records if r.kind is not RecordKind.ANSWERS],
    )


def add_follow_up(
    *,
    db: Database,
    access: RequesterAccess,
    message: str,
    max_message_chars: int,
    now: datetime | None = None,
) -> None:
    """Add a requester's message; a case waiting on them, or closed, comes back to the queue."""
    text = check_message(message, max_chars=max_message_chars)
    with db.read() as s:
        case = s.get(Case, access.case_id)
    if case is None:
        raise IntakeError("case_gone")
    record = build_record(case=case, kind=RecordKind.INBOUND, content={"text": text}, now=now)
    with db.write() as s:
        case = s.get(Case, access.case_id)
        if case is None:
            raise IntakeError("case_gone")
        s.add(record)
        if case.state in (CaseState.WAITING, CaseState.CLOSED):
            move(db_session=s, case=case, target=CaseState.IN_PROGRESS, actor=REQUESTER, now=now)
        case.last_requester_at = case.updated_at = now_minute(now)
        case.needs_reply = True
        record_event(db_session=s, actor=REQUESTER, action="case.inbound", case_id=case.id, now=now)
