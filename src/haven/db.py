"""Engines, sessions and the one-writer rule.

SQLite is the embedded default: WAL, synchronous=FULL so an acknowledged request survives power loss,
secure_delete so deleted rows are overwritten, temp_store=MEMORY so no temp file holds a page, and one
writer at a time (a process-wide lock) so read-then-write transactions never race. A commit never
checkpoints the WAL itself (wal_autocheckpoint=0): a background thread does, so no request waits for it.
PostgreSQL needs none of that and gets plain sessions.
"""

from __future__ import annotations

import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, cast

from sqlalchemy import MetaData, Table, create_engine, event, insert, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from haven.background import BackgroundLoop

log = logging.getLogger(__name__)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def insert_rows(session: Session, rows: Sequence[Base]) -> None:
    """Insert rows built as ORM objects with Core statements, skipping the unit of work's bookkeeping."""
    connection = session.connection()  # the session's transaction, without the ORM's statement layer
    for row in rows:
        connection.execute(insert(cast(Table, row.__table__)), [values_of(row)])


def values_of(row: Base) -> dict[str, Any]:
    """An ORM object as the values a Core insert takes: an unset autoincrement key left to the database,
    an unset column with a default left to its default."""
    columns = row.__table__.columns
    values = {column.key: getattr(row, column.key) for column in columns}
    return {
        k: v
        for k, v in values.items()
        if not (v is None and (columns[k].primary_key or columns[k].default is not None))
    }


_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA secure_delete=ON",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA busy_timeout=10000",
    "PRAGMA wal_autocheckpoint=0",
)


def _on_sqlite_connect(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
    # Let SQLAlchemy issue BEGIN itself (pysqlite's own transaction handling is off).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in _SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


# The execution option that marks a connection of Database.write() (SQLite begins it IMMEDIATE).
_WRITES = "haven_writes"


def make_engine(url: str) -> Engine:
    # hide_parameters: a failing statement must never print its bound values (ciphertext or not).
    sqlite = url.startswith("sqlite")
    # A connection per request thread (anyio runs sync routes on up to 40): kept, not opened and closed
    # for each burst; PostgreSQL's are bounded by max_connections. Last in, first out, so that a quiet
    # server keeps using the same few connections and only their page caches (2 MiB each) stay warm.
    engine = create_engine(
        url,
        hide_parameters=True,
        pool_pre_ping=not sqlite,
        pool_size=40 if sqlite else 10,
        max_overflow=10 if sqlite else 20,
        pool_use_lifo=True,
    )
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _on_sqlite_connect)

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # A write takes SQLite's write lock at BEGIN, waiting (busy_timeout) for another process's
            # writer (`haven purge` beside the server). Begun deferred, a transaction that reads before it
            # writes fails at once with "database is locked" if another process wrote after its read.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITES) else "BEGIN")

    return engine


class Database:
    """The store: `read()` for queries, `write()` for a unit of work that commits or rolls back whole."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        writes = engine.execution_options(**{_WRITES: True})
        self._write_sessions = sessionmaker(writes, expire_on_commit=False)
        self._single_writer = engine.dialect.name == "sqlite"
        self._writer = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(make_engine(url))

    @property
    def is_sqlite(self) -> bool:
        return self._single_writer

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that is durably committed when the block ends, or rolled back on error."""
        if self._single_writer:
            with self._writer, self._write_sessions() as session, session.begin():
                yield session
        else:
            with self._sessions() as session, session.begin():
                yield session

    def dispose(self) -> None:
        self.engine.dispose()


class Checkpointer:
    """Moves SQLite's WAL into the database file off the request path.

    Every `interval` seconds it runs a PASSIVE checkpoint (never blocks a reader or the writer) once the
    WAL has grown past `wal_bytes`; `stop()` ends with a TRUNCATE checkpoint so a stopped server leaves a
    small WAL behind. On PostgreSQL there is nothing to do and it never starts.
    """

    def __init__(self, db: Database, *, interval: float = 1.0, wal_bytes: int = 4 * 1024 * 1024) -> None:
        self._db = db
        self._wal_bytes = wal_bytes
        self._loop = BackgroundLoop(
            self._pass, interval=interval, name="haven-wal-checkpoint", wait_first=True
        )
        self._started = False
        self.checkpoints = 0

    def start(self) -> Checkpointer:
        if self._db.is_sqlite and not self._started:
            self._started = True
            self._loop.start()
        return self

    def _wal_size(self) -> int:
        database = self._db.engine.url.database
        if not database:
            return 0
        try:
            return os.stat(f"{database}-wal").st_size
        except FileNotFoundError:
            return 0

    def _pass(self) -> None:
        if self._wal_size() >= self._wal_bytes:
            self.checkpoint("PASSIVE")

    def checkpoint(self, mode: Literal["PASSIVE", "TRUNCATE"] = "PASSIVE") -> None:
        try:
            with self._db.engine.connect() as conn:
                conn.execute(text(f"PRAGMA wal_checkpoint({mode})"))
            self.checkpoints += 1
        except Exception as exc:  # a failed checkpoint loses nothing; the next one catches up
            log.warning("WAL checkpoint failed: %s", type(exc).__name__)

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        self._loop.stop()
        self.checkpoint("TRUNCATE")


T = TypeVar("T")


@dataclass
class _Work(Generic[T]):
    run: Callable[[Session], T]
    done: threading.Event = field(default_factory=threading.Event)
    result: T | None = None
    error: BaseException | None = None


class GroupCommit:
    """Many small writes from many requests, one transaction and one fsync.

    A request hands its unit of work to `write` and waits. One thread takes every unit waiting at that
    moment (up to `max_batch`), runs each in its own savepoint (a failing unit fails alone), commits once
    and only then wakes the requests: an answer still means the write is durable, but under load one
    fsync carries dozens of them. Before `start()` (commands, tests) a unit runs in its own transaction.
    """

    def __init__(self, db: Database, *, max_batch: int = 64) -> None:
        self._db = db
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Work[Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.batches = 0

    def start(self) -> GroupCommit:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="haven-group-commit", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None

    def write(self, run: Callable[[Session], T]) -> T:
        """Run `run(session)` in a committed transaction and return its result (or raise its error)."""
        if self._thread is None:
            with self._db.write() as s:
                return run(s)
        work: _Work[T] = _Work(run)
        self._queue.put(work)
        work.done.wait()
        if work.error is not None:
            raise work.error
        return cast(T, work.result)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch: list[_Work[Any]] = [first]
            stopping = False
            while len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            self._commit(batch)
            if stopping:
                return

    def _commit(self, batch: list[_Work[Any]]) -> None:
        try:
            with self._db.write() as s:
                for work in batch:
                    try:
                        with s.begin_nested():
                            work.result = work.run(s)
                    except Exception as exc:
                        work.error = exc
        except Exception as exc:  # the commit itself failed: nothing of this batch is stored
            for work in batch:
                work.error = work.error or exc
        self.batches += 1
        for work in batch:
            work.done.set()
