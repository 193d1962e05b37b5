"""`haven backup`: a consistent snapshot of a running Haven, sealed to the offline recovery key, so a
seized backup reveals nothing, not even which tables or how many rows it holds.

A backup holds the database (SQLite's online backup of haven.db, or `pg_dump` in custom format) and
server.key, without which no receipt opens its case. Both go into one sealed stream (crypto/sealed_stream):
only the organisation's recovery key, kept offline, opens it; `haven restore` (restore.py) reads it back.
Inside the stream each message is an entry: the manifest, the start of a file, or a piece of that file.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from sqlalchemy import URL, make_url, select

from haven.accounts.models import Organisation
from haven.config import Settings
from haven.crypto.sealed_stream import CAPACITY, SealedStreamWriter
from haven.db import Database

MAGIC = b"HAVENBAK"
FORMAT = 1
SERVER_KEY = "server.key"
SQLITE_DATABASE = "haven.db"
POSTGRESQL_DUMP = "haven.pgdump"
DATABASE_FILE = {"sqlite": SQLITE_DATABASE, "postgresql": POSTGRESQL_DUMP}
# Each message of the stream is one of these, then its payload.
MANIFEST, FILE_START, FILE_DATA = b"M", b"F", b"D"
_READ_BYTES = CAPACITY - 1


class BackupError(Exception):
    """Backing up or restoring cannot go on; the message says why and what to do."""


def back_up(settings: Settings, out: Path) -> int:
    """Write a sealed backup of the data dir's organisation to `out`; returns its size in bytes."""
    store = store_of(settings)
    if not settings.server_key_path.is_file():
        raise BackupError(f"{settings.data_dir} has no server.key: is it a Haven data directory?")
    public_key = _recovery_public_key(settings)
    out = out.resolve()
    fd, partial = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as handle:
            stream = SealedStreamWriter(handle, public_key=public_key, magic=MAGIC)
            stream.write(MANIFEST + json.dumps({"format": FORMAT, "store": store}).encode())
            _add(stream, SERVER_KEY, iter([settings.server_key_path.read_bytes()]))
            if store == "sqlite":
                with _sqlite_snapshot(settings) as snapshot:
                    _add(stream, SQLITE_DATABASE, _chunks(snapshot))
            else:
                with _pg_dump(settings.resolved_database_url) as dump:
                    _add(stream, POSTGRESQL_DUMP, _chunks(dump))
            stream.close()
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, out)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return out.stat().st_size


def _add(stream: SealedStreamWriter, name: str, chunks: Iterator[bytes]) -> None:
    stream.write(FILE_START + name.encode())
    for chunk in chunks:
        stream.write(FILE_DATA + chunk)


def _chunks(source: IO[bytes]) -> Iterator[bytes]:
    while chunk := source.read(_READ_BYTES):
        yield chunk


def store_of(settings: Settings) -> str:
    """The kind of store the settings point at, as a backup's manifest names it."""
    return "sqlite" if settings.uses_sqlite else "postgresql"


def _recovery_public_key(settings: Settings) -> bytes:
    if settings.uses_sqlite and not (settings.data_dir / SQLITE_DATABASE).is_file():
        raise BackupError(f"{settings.data_dir} has no {SQLITE_DATABASE}: nothing to back up")
    db = Database.from_url(settings.resolved_database_url)
    try:
        with db.read() as s:
            key = s.scalar(select(Organisation.recovery_public_key))
    finally:
        db.dispose()
    if key is None:
        raise BackupError("this store holds no organisation: nothing to back up")
    return bytes(key)


@contextlib.contextmanager
def _sqlite_snapshot(settings: Settings) -> Iterator[IO[bytes]]:
    """A consistent copy of haven.db taken while the server writes, in a 0600 temp file beside it (never
    in /tmp, which may be another, unencrypted disk), deleted when done."""
    fd, name = tempfile.mkstemp(dir=settings.data_dir, prefix=".backup-", suffix=".tmp")
    os.close(fd)
    snapshot = Path(name)
    try:
        source = sqlite3.connect(settings.data_dir / SQLITE_DATABASE, timeout=30)
        target = sqlite3.connect(snapshot)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        with snapshot.open("rb") as handle:
            yield handle
    finally:
        for leftover in (snapshot, *(Path(f"{snapshot}{s}") for s in ("-journal", "-wal", "-shm"))):
            leftover.unlink(missing_ok=True)


def postgres_tool(name: str) -> str:
    """pg_dump or pg_restore: on the PATH, else the newest of Debian's versioned installs."""
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return found


def libpq_connection(url: str) -> tuple[str, dict[str, str]]:
    """The libpq form of a SQLAlchemy URL and the environment for a client tool: the password moves into
    the environment (PGPASSWORD), never onto a command line that `ps` shows to every user."""
    parsed = make_url(url)
    environment = dict(os.environ)
    if parsed.password is not None:
        environment["PGPASSWORD"] = str(parsed.password)
    conninfo = URL.create(
        "postgresql",
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=parsed.query,
    )
    return conninfo.render_as_string(hide_password=False), environment


class Tool:
    """A PostgreSQL client tool whose stderr is collected on the side, so it can never fill up and block."""

    def __init__(
        self, command: list[str], environment: dict[str, str], *, stdin: int | None, stdout: int | None
    ) -> None:
        # The command is pg_dump or pg_restore with our own arguments; nothing in it comes from a user.
        self.process = subprocess.Popen(  # noqa: S603
            command, env=environment, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE
        )
        self._errors: list[bytes] = []
        assert self.process.stderr is not None
        stderr = self.process.stderr
        self._drain = threading.Thread(target=lambda: self._errors.append(stderr.read()), daemon=True)
        self._drain.start()

    def finish(self, what: str) -> None:
        code = self.process.wait()
        self._drain.join()
        if code != 0:
            lines = b"".join(self._errors).decode(errors="replace").strip().splitlines()
            raise BackupError(f"{what} failed: {lines[-1] if lines else f'exit status {code}'}")

    def abort(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._drain.join()


@contextlib.contextmanager
def _pg_dump(url: str) -> Iterator[IO[bytes]]:
    """`pg_dump` of one consistent snapshot, read from its stdout: no dump file on any disk."""
    conninfo, environment = libpq_connection(url)
    command = [postgres_tool("pg_dump"), "--format=custom", "--no-owner", "--dbname", conninfo]
    tool = Tool(command, environment, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    assert tool.process.stdout is not None
    try:
        yield tool.process.stdout
    except BaseException:
        tool.abort()
        raise
    tool.finish("pg_dump")
