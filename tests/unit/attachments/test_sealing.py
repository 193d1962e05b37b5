"""A message's files are sealed to the case beside the record that lists them, each under its own key,
bound to the case and to the file's id, and distinct from a message record."""

from __future__ import annotations

import pytest

from haven.attachments.forms import FileLimits, Upload
from haven.attachments.images import ImageRefused
from haven.attachments.models import Attachment
from haven.attachments.services import LABEL, check_files, files_of, message_rows
from haven.cases.models import Case, Record
from haven.cases.records import RecordKind, open_stored
from haven.crypto.envelope import SealedRecord, open_record
from haven.crypto.keys import DecryptionError, KeyPair
from tests.functional.photos import small_png

LIMITS = FileLimits(max_files=2, max_file_bytes=10_000, max_pixels=1_000_000, max_text_bytes=1000)
KEYS = KeyPair.generate()


def a_case() -> Case:
    return Case(id="c" * 16, public_key=KEYS.public)


def sealed_message(names: list[str]) -> tuple[Record, list[Attachment]]:
    files = check_files([Upload(name, small_png()) for name in names], limits=LIMITS)
    record, *attachments = message_rows(case=a_case(), kind=RecordKind.INBOUND, text="Hello", files=files)
    assert isinstance(record, Record)
    assert all(isinstance(a, Attachment) for a in attachments)
    return record, [a for a in attachments if isinstance(a, Attachment)]


def test_the_record_lists_each_file_and_each_file_points_at_the_record() -> None:
    record, attachments = sealed_message(["one.png", "two.png"])

    listed = files_of(open_stored(record, case_private_key=KEYS.private))

    assert [f.name for f in listed] == ["one.png", "two.png"]
    assert [f.id for f in listed] == [a.id for a in attachments]
    assert {a.record_id for a in attachments} == {record.id}
    assert all(f.media_type == "image/png" and (f.width, f.height) == (8, 8) for f in listed)


def test_a_file_opens_with_the_case_key_and_its_own_id_only() -> None:
    _record, (attachment,) = sealed_message(["one.png"])
    sealed = SealedRecord(attachment.sealed_key, attachment.ciphertext)

    data = open_record(
        sealed, case_private_key=KEYS.private, case_id="c" * 16, record_id=attachment.id, label=LABEL
    )

    assert data.startswith(b"\x89PNG")
    with pytest.raises(DecryptionError):
        open_record(
            sealed, case_private_key=KEYS.private, case_id="d" * 16, record_id=attachment.id, label=LABEL
        )
    with pytest.raises(DecryptionError):
        open_record(
            sealed,
            case_private_key=KeyPair.generate().private,
            case_id="c" * 16,
            record_id=attachment.id,
            label=LABEL,
        )


def test_a_files_ciphertext_does_not_open_as_a_message_record_with_the_same_id() -> None:
    _record, (attachment,) = sealed_message(["one.png"])

    with pytest.raises(DecryptionError):
        open_record(
            SealedRecord(attachment.sealed_key, attachment.ciphertext),
            case_private_key=KEYS.private,
            case_id="c" * 16,
            record_id=attachment.id,
        )


def test_the_file_name_is_in_no_column() -> None:
    record, (attachment,) = sealed_message(["zqsecretname.png"])

    columns = [getattr(row, c.key) for row in (record, attachment) for c in row.__table__.columns]

    assert not any(b"zqsecretname" in v for v in columns if isinstance(v, bytes))
    assert not any("zqsecretname" in v for v in columns if isinstance(v, str))


def test_a_message_without_files_lists_none() -> None:
    record, attachments = sealed_message([])

    assert attachments == []
    assert "files" not in open_stored(record, case_private_key=KEYS.private).content


def test_more_files_than_the_limit_are_refused_by_the_service_too() -> None:
    with pytest.raises(ImageRefused) as refused:
        check_files([Upload(f"{n}.png", small_png()) for n in range(3)], limits=LIMITS)
    assert refused.value.reason == "too_many_files"


def test_a_file_over_the_byte_limit_is_refused_by_the_service_too() -> None:
    with pytest.raises(ImageRefused) as refused:
        check_files([Upload("big.png", small_png() + bytes(LIMITS.max_file_bytes))], limits=LIMITS)
    assert refused.value.reason == "file_too_large"
