"""Engines, sessions and the one-writer rule.

SQLite is the embedded default: WAL, synchronous=FULL so an acknowledged request survives power loss,
secure_delete so deleted rows are overwritten, temp_store=MEMORY so no temp file holds a page, and one
writer at a time (a process-wide lock) so read-then-write transactions never race. PostgreSQL needs none
of that and gets plain sessions.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA secure_delete=ON",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA busy_timeout=10000",
)


def _on_sqlite_connect(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
    # Let SQLAlchemy issue BEGIN itself (pysqlite's own transaction handling is off).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in _SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def make_engine(url: str) -> Engine:
    # hide_parameters: a failing statement must never print its bound values (ciphertext or not).
    engine = create_engine(url, hide_parameters=True, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _on_sqlite_connect)

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN")

    return engine


class Database:
    """The store: `read()` for queries, `write()` for a unit of work that commits or rolls back whole."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
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
            with self._writer, self._sessions() as session, session.begin():
                yield session
        else:
            with self._sessions() as session, session.begin():
                yield session

    def dispose(self) -> None:
        self.engine.dispose()
