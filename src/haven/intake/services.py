"""Taking a request in, and letting its requester back in with their receipt.

Intake uses public keys only: a fresh case keypair, its private half sealed to the intake team and locked
under a key derived from the receipt, then forgotten. The receipt is returned only after the commit,
so a receipt handed out always means the case is on disk.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.accounts.services import intake_team
from haven.attachments.forms import FileLimits, Upload
from haven.attachments.images import ImageRefused
from haven.attachments.services import CheckedFile, check_files, message_rows
from haven.audit.services import REQUESTER, record_event
from haven.cases.check_ins import checked_in
from haven.cases.models import Case, CaseKey
from haven.cases.procedure import Procedures, Stage
from haven.cases.records import REQUESTER_VISIBLE, OpenedRecord, RecordKind, build_record, read_records
from haven.cases.services import move
from haven.cases.states import CaseState, Priority
from haven.cases.steps import NO_PROCEDURE, Entry, entry
from haven.clock import now_minute
from haven.crypto import receipts
from haven.crypto.keys import DecryptionError, KeyPair, lock, seal, unlock
from haven.crypto.randomness import choices
from haven.db import Base, Database, GroupCommit, insert_rows
from haven.i18n import LANGUAGES
from haven.intake.questionnaires import Catalogue, InvalidAnswer
from haven.stats.languages import tally_row

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
    # Photos sent with the message, as they arrived (checked and cleaned by submit_request).
    files: Sequence[Upload] = ()


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
    return "".join(choices(CASE_ID_ALPHABET, CASE_ID_CHARS))


def _receipt_context(case_id: str) -> bytes:
    return f"haven/receipt-copy\x00{case_id}".encode()


def check_message(message: str, *, max_chars: int, field: str = "message", required: bool = True) -> str:
    """The message without surrounding space; raises IntakeError if it is empty (and `required`: a message
    that carries files may be empty) or too long."""
    text = message.strip()
    if not text and required:
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
    check_message(submission.message, max_chars=max_message_chars, required=not submission.files)
    return answers


def checked_files(
    files: Sequence[Upload], limits: FileLimits | None, *, voice_and_pdf: bool = False
) -> list[CheckedFile]:
    """The files decoded and cleaned (attachments/images.py; voice notes and PDFs too with `voice_and_pdf`,
    see attachments/media.py); raises IntakeError on field "files" for the first one refused. Without
    `limits` no file is accepted at all (the JSON API takes none)."""
    if not files:
        return []
    if limits is None:
        raise IntakeError("too_many_files", "files")
    try:
        return check_files(files, limits=limits, voice_and_pdf=voice_and_pdf)
    except ImageRefused as exc:
        raise IntakeError(exc.reason, "files") from None


@dataclass(frozen=True)
class SealedCase:
    """A new case sealed and ready to insert; the receipt and the key go to the requester alone."""

    case_id: str
    receipt: str
    case_private_key: bytes
    rows: list[Base]  # the case, its key sealed to the team, the answers, the first message and its files


def seal_new_case(
    *,
    request_type: str,
    language: str,
    answers: Mapping[str, str],
    message: str,
    priority: Priority,
    team_id: int,
    team_public_key: bytes,
    team_key_generation: int,
    pepper: bytes,
    files: Sequence[CheckedFile] = (),
    entry: Entry = NO_PROCEDURE,
    channel: str = "web",
    now: datetime | None = None,
) -> SealedCase:
    """Build the rows of a new case from checked input: public keys and the pepper only, no session.

    A fresh case keypair, its private half sealed to the team and locked under the receipt, and the
    answers and message each sealed to the case. Nothing is written here.
    """
    receipt = receipts.new_receipt()
    keys = receipts.receipt_keys(receipt, pepper=pepper)
    case_keys = KeyPair.generate()
    case_id = new_case_id()
    at = now_minute(now)
    case = Case(
        id=case_id,
        request_type=request_type,
        state=CaseState.NEW.value,
        priority=priority.value,
        team_id=team_id,
        created_at=at,
        updated_at=at,
        last_requester_at=at,
        needs_reply=True,
        public_key=case_keys.public,
        receipt_lookup=keys.lookup,
        receipt_locked_key=lock(case_keys.private, keys.wrapping_key, context=_receipt_context(case_id)),
        procedure=entry.procedure,
        step=entry.step,
        step_entered_at=at,
        due_at=at + timedelta(hours=entry.due_hours),
        check_in_hours=entry.check_in_hours,
        check_in_due_at=at + timedelta(hours=entry.check_in_hours) if entry.check_in_hours else None,
        channel=channel,
        reached=Stage.CONTACTED.value,
    )
    rows: list[Base] = [
        case,
        CaseKey(
            case_id=case_id,
            team_id=team_id,
            sealed_private_key=seal(case_keys.private, team_public_key),
            key_generation=team_key_generation,
        ),
        build_record(
            case=case,
            kind=RecordKind.ANSWERS,
            content={"language": language, "answers": dict(answers)},
            now=now,
        ),
        *message_rows(case=case, kind=RecordKind.INBOUND, text=message, files=files, now=now),
        tally_row(
            case=case, language=language, team_public_key=team_public_key, key_generation=team_key_generation
        ),
    ]
    return SealedCase(case_id, receipt, case_keys.private, rows)


def entry_for(request_type: str, catalogue: Catalogue, procedures: Procedures | None) -> Entry:
    """The first step of the procedure this request type follows (nowhere without procedures)."""
    kind = catalogue.types.get(request_type)
    if procedures is None or kind is None:
        return NO_PROCEDURE
    return entry(procedures.get(kind.procedure))


@dataclass(frozen=True)
class IntakeTarget:
    id: int
    public_key: bytes
    key_generation: int


class ReceivingTeam:
    """The team that receives new requests and its public key, read from the store at most every
    `seconds` (intake asks for it on every request). A new intake team, or a rotated team key, reaches new
    requests within that time; a case sealed to the previous key in between stays readable by that team."""

    def __init__(self, db: Database, *, seconds: float = 5.0) -> None:
        self._db = db
        self._seconds = seconds
        self._lock = threading.Lock()
        self._read_at = -math.inf
        self._target: IntakeTarget | None = None

    def forget(self) -> None:
        """Read the team again on the next request (this process has just rotated its key)."""
        with self._lock:
            self._read_at = -math.inf

    def current(self) -> IntakeTarget | None:
        with self._lock:
            if time.monotonic() - self._read_at >= self._seconds or self._target is None:
                with self._db.read() as s:
                    team = intake_team(db_session=s)
                self._target = IntakeTarget(team.id, team.public_key, team.key_generation) if team else None
                self._read_at = time.monotonic()
            return self._target


def submit_request(
    *,
    db: Database,
    submission: Submission,
    catalogue: Catalogue,
    pepper: bytes,
    max_message_chars: int,
    writer: GroupCommit | None = None,
    receiving: ReceivingTeam | None = None,
    file_limits: FileLimits | None = None,
    procedures: Procedures | None = None,
    now: datetime | None = None,
) -> IssuedReceipt:
    """Store a new request, encrypted, and return its receipt once the case is durably committed.

    With a `writer`, the insert joins other requests' in one transaction and one fsync (group commit);
    it still returns only after that commit. Files are accepted only within `file_limits`."""
    answers = check_submission(submission, catalogue=catalogue, max_message_chars=max_message_chars)
    files = checked_files(submission.files, file_limits)
    team = (receiving or ReceivingTeam(db, seconds=0)).current()
    if team is None:
        raise IntakeClosed
    # All the sealing happens before the write lock is taken: the single writer only inserts.
    sealed = seal_new_case(
        request_type=submission.request_type,
        language=submission.language,
        answers=answers,
        message=submission.message.strip(),
        priority=catalogue.priority(answers),
        team_id=team.id,
        team_public_key=team.public_key,
        team_key_generation=team.key_generation,
        pepper=pepper,
        files=files,
        entry=entry_for(submission.request_type, catalogue, procedures),
        now=now,
    )

    def insert_case(s: Session) -> None:
        insert_rows(s, sealed.rows)
        record_event(db_session=s, actor=REQUESTER, action="case.created", case_id=sealed.case_id, now=now)

    (writer or GroupCommit(db)).write(insert_case)
    return IssuedReceipt(sealed.receipt, RequesterAccess(sealed.case_id, sealed.case_private_key))


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
        # By time, then as stored: a merged duplicate's messages (cases/merge.py) keep their own minutes.
        messages=sorted((r for r in records if r.kind is not RecordKind.ANSWERS), key=lambda r: r.created_at),
    )


def add_follow_up(
    *,
    db: Database,
    access: RequesterAccess,
    message: str,
    max_message_chars: int,
    writer: GroupCommit | None = None,
    files: Sequence[Upload] = (),
    file_limits: FileLimits | None = None,
    now: datetime | None = None,
) -> None:
    """Add a requester's message, with any files; a case waiting on them, or closed, comes back to the
    queue. Files are accepted only within `file_limits`."""
    text = check_message(message, max_chars=max_message_chars, required=not files)
    checked = checked_files(files, file_limits)
    with db.read() as s:
        case = s.get(Case, access.case_id)
    if case is None:
        raise IntakeError("case_gone")
    rows = message_rows(case=case, kind=RecordKind.INBOUND, text=text, files=checked, now=now)
    (writer or GroupCommit(db)).write(lambda s: append_inbound(s, case_id=access.case_id, rows=rows, now=now))


def append_inbound(s: Session, *, case_id: str, rows: Sequence[Base], now: datetime | None = None) -> None:
    """Insert a requester's message (its record and files, from message_rows) into the case in this
    transaction: a case waiting on them, or closed, comes back to the queue. Raises IntakeError("case_gone")
    for a case purged meanwhile."""
    # Locked, so that a purge at the same moment waits or skips the case (cases.services does the same).
    case = s.get(Case, case_id, with_for_update=True)
    if case is None:
        raise IntakeError("case_gone")
    # In order, record before files: the files refer to it.
    insert_rows(s, rows)
    if case.state in (CaseState.WAITING, CaseState.CLOSED):
        move(db_session=s, case=case, target=CaseState.IN_PROGRESS, actor=REQUESTER, now=now)
    case.last_requester_at = case.updated_at = now_minute(now)
    case.needs_reply = True
    checked_in(case, now)
    record_event(db_session=s, actor=REQUESTER, action="case.inbound", case_id=case.id, now=now)
