"""The store as Haven configures it: SQLite's durable commits and its WAL checkpointed off the request
path; and group commit, on both stores."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from haven.audit.models import AuditEvent
from haven.audit.services import SYSTEM, first_broken_link, record_event
from haven.db import Checkpointer, Database, GroupCommit


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    database = Database.from_url(f"sqlite:///{tmp_path / 'haven.db'}")
    with database.write() as s:
        s.execute(text("CREATE TABLE filler (body BLOB)"))
    yield database
    database.dispose()


def _pragma(db: Database, name: str) -> object:
    with db.engine.connect() as conn:
        return conn.execute(text(f"PRAGMA {name}")).scalar()


def _fill(db: Database, *, rows: int) -> None:
    for _ in range(rows):
        with db.write() as s:
            s.execute(text("INSERT INTO filler VALUES (randomblob(8192))"))


def _wal_bytes(tmp_path: Path) -> int:
    return (tmp_path / "haven.db-wal").stat().st_size


def test_every_connection_is_durable_and_private(sqlite_db: Database) -> None:
    assert _pragma(sqlite_db, "journal_mode") == "wal"
    assert _pragma(sqlite_db, "synchronous") == 2  # FULL: the WAL is synced at every commit
    assert _pragma(sqlite_db, "secure_delete") == 1
    assert _pragma(sqlite_db, "temp_store") == 2  # MEMORY: no temp file ever holds a page


def test_a_commit_never_checkpoints_by_itself(sqlite_db: Database, tmp_path: Path) -> None:
    assert _pragma(sqlite_db, "wal_autocheckpoint") == 0
    _fill(sqlite_db, rows=600)  # past SQLite's default of a checkpoint every 1,000 pages
    assert _wal_bytes(tmp_path) > 4 * 1024 * 1024


def test_the_checkpointer_moves_a_grown_wal_into_the_database(sqlite_db: Database, tmp_path: Path) -> None:
    checkpointer = Checkpointer(sqlite_db, interval=0.05, wal_bytes=64 * 1024).start()
    try:
        _fill(sqlite_db, rows=20)
        deadline = time.monotonic() + 10
        while checkpointer.checkpoints == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert checkpointer.checkpoints >= 1
    finally:
        checkpointer.stop()
    # Stopping truncates the WAL: the pages are in the database file, the WAL is empty.
    assert _wal_bytes(tmp_path) == 0
    with sqlite_db.read() as s:
        assert s.execute(text("SELECT count(*) FROM filler")).scalar() == 20


def test_a_write_that_reads_first_waits_for_another_processes_writer(
    sqlite_db: Database, tmp_path: Path
) -> None:
    # `haven purge` writes beside the server: a server transaction that read before another process
    # wrote must wait for that writer, not fail with "database is locked".
    other_process = Database.from_url(f"sqlite:///{tmp_path / 'haven.db'}")
    try:
        with sqlite_db.write() as s:
            s.execute(text("SELECT count(*) FROM filler")).scalar()
            other = threading.Thread(target=_fill, args=(other_process,), kwargs={"rows": 1})
            other.start()
            time.sleep(0.3)
            s.execute(text("INSERT INTO filler VALUES (x'00')"))
        other.join(timeout=20)
        assert not other.is_alive()
    finally:
        other_process.dispose()
    with sqlite_db.read() as s:
        assert s.execute(text("SELECT count(*) FROM filler")).scalar() == 2


def _event(db_session: Session, detail: str) -> int:
    return record_event(db_session=db_session, actor=SYSTEM, action="test.write", detail=detail)


def _details(db: Database) -> list[str]:
    with db.read() as s:
        return list(s.scalars(select(AuditEvent.detail).where(AuditEvent.action == "test.write")))


def test_group_commit_answers_every_writer_after_a_shared_commit(db: Database) -> None:
    writer = GroupCommit(db).start()
    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            ids = list(pool.map(lambda n: writer.write(lambda s: _event(s, str(n))), range(200)))
    finally:
        writer.stop()
    assert len(set(ids)) == 200
    assert sorted(_details(db), key=int) == [str(n) for n in range(200)]
    assert writer.batches < 200  # some commits carried several writes
    with db.read() as s:
        assert first_broken_link(db_session=s) is None


def test_a_failing_write_fails_alone_and_its_neighbours_commit(db: Database) -> None:
    writer = GroupCommit(db).start()
    hold = threading.Event()

    def held(s: Session) -> int:
        hold.wait(10)  # keeps the writer busy while the next two queue up into one batch
        return _event(s, "first")

    def broken(s: Session) -> int:
        _event(s, "broken")
        raise ValueError("refused")

    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            first = pool.submit(writer.write, held)
            time.sleep(0.1)
            failing = pool.submit(writer.write, broken)
            good = pool.submit(writer.write, lambda s: _event(s, "good"))
            time.sleep(0.1)
            hold.set()
            assert first.result(10)
            assert good.result(10)
            with pytest.raises(ValueError, match="refused"):
                failing.result(10)
    finally:
        writer.stop()
    assert sorted(_details(db)) == ["first", "good"]


def test_without_its_thread_a_write_commits_on_its_own(db: Database) -> None:
    assert GroupCommit(db).write(lambda s: _event(s, "alone"))
    assert _details(db) == ["alone"]
