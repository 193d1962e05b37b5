"""Crypto-shredding on SQLite, seizure-style: the exact bytes of a purged case's sealed keys and content are
on disk before the purge, and in no file of the data dir after it, neither while the store is open nor
once it is closed; the cases kept are still there.

SQLite only: PostgreSQL keeps a deleted row's bytes in its table and WAL files until they are reused
(README, "Retention"); what this test proves there would be false."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from sqlalchemy import select

from haven.attachments.models import Attachment
from haven.cases.models import Case, CaseKey, Record
from haven.db import Checkpointer
from haven.retention.services import purge
from haven.runtime import Runtime
from tests.conftest import Org
from tests.functional.seizure_scan import files_under
from tests.functional.test_retention import NOW, RULES, ago, closed_case, take_in


def sealed_bytes(runtime: Runtime, case_ids: list[str]) -> list[bytes]:
    """Everything of these cases that opens or finds something: the case key locked under the receipt,
    the receipt's lookup hash, the case key sealed to each team, each record's sealed key and ciphertext."""
    with runtime.db.read() as s:
        cases = list(s.scalars(select(Case).where(Case.id.in_(case_ids))))
        keys = list(s.scalars(select(CaseKey.sealed_private_key).where(CaseKey.case_id.in_(case_ids))))
        records = list(s.scalars(select(Record).where(Record.case_id.in_(case_ids))))
    found = [c.receipt_locked_key for c in cases] + [c.receipt_lookup for c in cases] + keys
    found += [r.sealed_key for r in records] + [r.ciphertext for r in records]
    assert len(found) >= len(case_ids) * 7  # two records at least per case: the answers and a message
    return found


def attach_a_file(runtime: Runtime, case_id: str) -> list[bytes]:
    """A sealed file of 64 KiB on the case's first record, returned in slices of 256 bytes: far larger than a
    page, it lies in pieces on overflow pages, which are freed (and must be overwritten) apart from the
    rows inside a page."""
    blob = secrets.token_bytes(64 * 1024)
    with runtime.db.write() as s:
        record_id = s.scalars(select(Record.id).where(Record.case_id == case_id)).first()
        assert record_id is not None
        s.add(
            Attachment(
                id=f"f{secrets.token_hex(8)}",
                case_id=case_id,
                record_id=record_id,
                created_at=ago(100),
                sealed_key=secrets.token_bytes(80),
                ciphertext=blob,
            )
        )
    return [blob[i : i + 256] for i in range(0, len(blob), 256)]


def on_disk(data_dir: Path, blobs: list[bytes]) -> list[tuple[str, int]]:
    """(file name, index of the blob) for every blob found in any file of the data dir."""
    contents = {path.name: path.read_bytes() for path in files_under(data_dir)}
    return [
        (name, i) for name, content in contents.items() for i, blob in enumerate(blobs) if blob in content
    ]


@pytest.fixture
def on_sqlite(store: str) -> None:
    if store != "sqlite":
        pytest.skip("PostgreSQL keeps deleted rows' bytes until reused: README says so; nothing to prove")


@pytest.mark.usefixtures("on_sqlite")
def test_a_purged_case_leaves_no_byte_of_its_keys_or_content_on_disk(runtime: Runtime, org: Org) -> None:
    data_dir = runtime.settings.data_dir
    doomed = [closed_case(runtime, org, ago(100)) for _ in range(15)]
    # Half of it checkpointed into haven.db, then more written on top: the bytes are in both files.
    Checkpointer(runtime.db).checkpoint("PASSIVE")
    kept = [closed_case(runtime, org, ago(5)) for _ in range(15)]
    doomed += [take_in(runtime, ago(400)).access.case_id for _ in range(5)]
    doomed_bytes = sealed_bytes(runtime, doomed)
    file_pieces = attach_a_file(runtime, doomed[0])
    kept_bytes = sealed_bytes(runtime, kept)
    assert {i for _name, i in on_disk(data_dir, doomed_bytes)} == set(range(len(doomed_bytes)))
    # A piece that straddles two overflow pages is not on disk in one run: most are.
    assert len({i for _name, i in on_disk(data_dir, file_pieces)}) > 0.8 * len(file_pieces)

    report = purge(db=runtime.db, rules=RULES, now=NOW)

    assert report.cases == 20
    assert report.shredded is not None
    assert report.shredded.done
    assert on_disk(data_dir, doomed_bytes + file_pieces) == [], "the store is open: haven.db and its WAL"
    runtime.db.dispose()
    assert on_disk(data_dir, doomed_bytes + file_pieces) == [], "the store is closed"
    assert {i for _name, i in on_disk(data_dir, kept_bytes)} == set(range(len(kept_bytes)))
