"""A message's files: checked and cleaned, sealed to the case beside the message that lists them, and
opened for an operator of one of the case's teams.

The message's own sealed record lists its files (the name the requester gave, type, size, pixels), so a
thread is shown without opening any file; each file's bytes are sealed under a fresh key of their own,
bound to the case and the file's id, and opened only when someone asks for that file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from haven.accounts.services import UnlockedOperator
from haven.attachments.forms import FileLimits, Upload
from haven.attachments.images import CleanFile, ImageRefused, clean_image, media_type_of
from haven.attachments.media import clean_media
from haven.attachments.models import Attachment
from haven.audit.services import record_event
from haven.cases.models import Case
from haven.cases.records import OpenedRecord, RecordKind, build_record, new_id
from haven.cases.services import CaseNotFound, case_private_key
from haven.clock import now_minute
from haven.crypto.envelope import SealedRecord, open_record, seal_record
from haven.db import Base, Database

LABEL = "attachment"


class FileNotFound(CaseNotFound):
    """No such file in this case: answered exactly like a case that does not exist."""


@dataclass(frozen=True)
class CheckedFile:
    name: str
    file: CleanFile


@dataclass(frozen=True)
class FileRef:
    """What a message's sealed record says about one of its files."""

    id: str
    name: str
    media_type: str
    size: int
    width: int
    height: int

    def content(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "type": self.media_type,
            "size": self.size,
            "width": self.width,
            "height": self.height,
        }


@dataclass(frozen=True)
class OpenedFile:
    data: bytes
    media_type: str
    # A name that says nothing about the file's content: the requester's own name for it stays sealed.
    filename: str


def check_files(
    uploads: Sequence[Upload], *, limits: FileLimits, voice_and_pdf: bool = False
) -> list[CheckedFile]:
    """Each upload decoded as a photo and re-encoded without metadata (see images.py); with
    `voice_and_pdf`, voice notes and PDF documents are let in as they are (see media.py). Raises
    ImageRefused, with the reason of the first file refused, for too many files, too large a file, or one
    that is not a JPEG, PNG or WebP picture (or a voice note or PDF, when those are allowed)."""
    if len(uploads) > limits.max_files:
        raise ImageRefused("too_many_files")
    if any(len(upload.data) > limits.max_file_bytes for upload in uploads):
        raise ImageRefused("file_too_large")
    clean = clean_media if voice_and_pdf else clean_image
    return [CheckedFile(u.name, clean(u.data, max_pixels=limits.max_pixels)) for u in uploads]


def message_rows(
    *,
    case: Case,
    kind: RecordKind,
    text: str,
    files: Sequence[CheckedFile] = (),
    author_id: int | None = None,
    now: datetime | None = None,
) -> list[Base]:
    """A message's record, listing its files, then each file sealed to the case: insert them in this
    order, in one transaction, so that a message is never stored without its files or the other way round.
    No secret is needed, no session touched."""
    ids = [new_id() for _ in files]
    content: dict[str, Any] = {"text": text}
    if files:
        content["files"] = [
            FileRef(i, f.name, f.file.media_type, len(f.file.data), f.file.width, f.file.height).content()
            for i, f in zip(ids, files, strict=True)
        ]
    record = build_record(case=case, kind=kind, content=content, author_id=author_id, now=now)
    rows: list[Base] = [record]
    for file_id, checked in zip(ids, files, strict=True):
        sealed = seal_record(
            checked.file.data,
            case_public_key=case.public_key,
            case_id=case.id,
            record_id=file_id,
            label=LABEL,
        )
        rows.append(
            Attachment(
                id=file_id,
                case_id=case.id,
                record_id=record.id,
                created_at=now_minute(now),
                sealed_key=sealed.sealed_key,
                ciphertext=sealed.ciphertext,
            )
        )
    return rows


def files_of(record: OpenedRecord) -> list[FileRef]:
    """The files a message came with, as its sealed record lists them."""
    listed = record.content.get("files", [])
    return [
        FileRef(f["id"], f["name"], f["type"], f["size"], f["width"], f["height"])
        for f in listed
        if isinstance(f, dict)
    ]


def open_for_operator(*, db: Database, operator: UnlockedOperator, case_id: str, file_id: str) -> OpenedFile:
    """Decrypt one file of a case for an operator of one of its teams, and note in the audit log that they
    opened it. Raises CaseNotFound, CaseForbidden or FileNotFound (a subclass of CaseNotFound)."""
    with db.read() as s:
        private_key = case_private_key(db_session=s, operator=operator, case_id=case_id)
        row = s.scalars(
            select(Attachment).where(Attachment.id == file_id, Attachment.case_id == case_id)
        ).first()
    if row is None:
        raise FileNotFound(case_id)
    data = open_record(
        SealedRecord(row.sealed_key, row.ciphertext),
        case_private_key=private_key,
        case_id=case_id,
        record_id=row.id,
        label=LABEL,
    )
    with db.write() as s:
        record_event(db_session=s, actor=operator.actor, action="case.file_opened", case_id=case_id)
    media_type, extension = media_type_of(data)
    return OpenedFile(data, media_type, f"haven-{case_id[:8]}-{file_id[:8]}.{extension}")
