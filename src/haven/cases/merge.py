"""Merging a duplicate into the case it repeats: one person, one case, one thread for the desk.

Every message, reply and note of the duplicate (with its files) is opened with the operator's key and sealed
again into the other case, bound to that case's id like everything written there; the two are linked, and
the duplicate ends as `merged`. The duplicate is not deleted: its requester's receipt still opens their
thread there, and a message they send reopens it, where the link shows where the rest is.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.accounts.services import UnlockedOperator
from haven.attachments.models import Attachment
from haven.attachments.services import LABEL as FILE_LABEL
from haven.audit.services import record_event
from haven.cases.links import add_link, resolve
from haven.cases.models import Case, CaseLink, Record
from haven.cases.procedure import Outcome
from haven.cases.records import THREAD, RecordKind, build_record, new_id, open_stored
from haven.cases.services import accessible_case, case_private_key
from haven.cases.states import CaseState
from haven.cases.steps import enter
from haven.clock import now_minute
from haven.crypto.envelope import SealedRecord, open_record, seal_record
from haven.db import Database


class MergeRefused(ValueError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def merge(
    *,
    db: Database,
    operator: UnlockedOperator,
    duplicate_id: str,
    into_id: str,
    now: datetime | None = None,
) -> int:
    """Copy the duplicate's thread into `into_id`, link them and end the duplicate as merged. Both must be
    shared with the operator's teams (CaseNotFound/CaseForbidden). Returns how many records were copied
    (0 when it was merged into that case before)."""
    with db.read() as s:
        into_id = resolve(s, into_id)
    if into_id == duplicate_id:
        raise MergeRefused("A case cannot be merged into itself.")
    with db.read() as s:
        duplicate_key = case_private_key(db_session=s, operator=operator, case_id=duplicate_id)
        case_private_key(db_session=s, operator=operator, case_id=into_id)
        rows = list(
            s.scalars(
                select(Record)
                .where(Record.case_id == duplicate_id, Record.kind.in_([k.value for k in THREAD]))
                .order_by(Record.seq)
            )
        )
        files = {a.id: a for a in s.scalars(select(Attachment).where(Attachment.case_id == duplicate_id))}
    with db.write() as s:
        duplicate, _ = accessible_case(s, operator, duplicate_id, for_writing=True)
        into, _ = accessible_case(s, operator, into_id, for_writing=True)
        if duplicate.step == Outcome.MERGED.value:
            if s.get(CaseLink, tuple(sorted((duplicate.id, into.id)))) is not None:
                return 0  # merged into this one already: asking again changes nothing
            raise MergeRefused("That case was already merged into another.")
        if into.step == Outcome.MERGED.value:
            raise MergeRefused("The case to merge into was itself merged: merge into the case it joined.")
        for row in rows:
            _copy(s, row, duplicate_key, files, into, duplicate_id)
        summary = f"Merged from case {duplicate_id[:4]}-{duplicate_id[4:8]}: {len(rows)} messages and notes."
        s.add(
            build_record(
                case=into, kind=RecordKind.NOTE, content={"text": summary}, author_id=operator.id, now=now
            )
        )
        enter(duplicate, position=Outcome.MERGED.value, step=None, now=now)
        duplicate.state = CaseState.CLOSED.value
        duplicate.updated_at = into.updated_at = now_minute(now)
        add_link(s, case=duplicate, other=into, operator=operator, now=now)
        record_event(
            db_session=s,
            actor=operator.actor,
            action="case.merged",
            case_id=duplicate.id,
            detail=into.id,
            now=now,
        )
    return len(rows)


def _copy(
    s: Session, row: Record, duplicate_key: bytes, files: dict[str, Attachment], into: Case, duplicate_id: str
) -> None:
    opened = open_stored(row, case_private_key=duplicate_key)
    content = dict(opened.content)
    content["merged_from"] = duplicate_id
    copies: list[tuple[str, bytes]] = []
    listed = []
    for f in content.get("files", []):
        stored = files.get(str(f.get("id"))) if isinstance(f, dict) else None
        if stored is None:
            continue
        data = open_record(
            SealedRecord(stored.sealed_key, stored.ciphertext),
            case_private_key=duplicate_key,
            case_id=duplicate_id,
            record_id=stored.id,
            label=FILE_LABEL,
        )
        file_id = new_id()
        copies.append((file_id, data))
        listed.append({**f, "id": file_id})
    if "files" in content:
        content["files"] = listed
    # Written at the minute the original was: the thread keeps its times.
    record = build_record(
        case=into, kind=opened.kind, content=content, author_id=opened.author_id, now=opened.created_at
    )
    s.add(record)
    s.flush()
    for file_id, data in copies:
        sealed = seal_record(
            data, case_public_key=into.public_key, case_id=into.id, record_id=file_id, label=FILE_LABEL
        )
        s.add(
            Attachment(
                id=file_id,
                case_id=into.id,
                record_id=record.id,
                created_at=opened.created_at,
                sealed_key=sealed.sealed_key,
                ciphertext=sealed.ciphertext,
            )
        )
