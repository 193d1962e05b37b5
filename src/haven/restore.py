"""`haven restore`: a backup back into an empty data dir (SQLite) or database (PostgreSQL), all or nothing.

The whole archive is decrypted and checked first, with nothing written; only then is it decrypted again
into files staged beside their place (or into `pg_restore`, one transaction) and moved in. So a wrong
recovery key or an altered archive restores nothing, and an organisation is never overwritten.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from sqlalchemy import inspect, make_url, text

from haven.backup import (
    DATABASE_FILE,
    FILE_DATA,
    FILE_START,
    FORMAT,
    MAGIC,
    MANIFEST,
    POSTGRESQL_DUMP,
    SERVER_KEY,
    SQLITE_DATABASE,
    BackupError,
    Tool,
    libpq_connection,
    postgres_tool,
    store_of,
)
from haven.config import Settings
from haven.crypto.sealed_stream import NotASealedStream, StreamAltered, WrongKey, read_sealed_stream
from haven.crypto.server_secret import SERVER_KEY_BYTES
from haven.db import Database


@dataclass(frozen=True)
class Restored:
    store: str
    where: str


def parse_recovery_key(typed: str) -> bytes:
    """The recovery private key from what `haven init` printed (groups of four, any case or spacing)."""
    letters = "".join(ch for ch in typed.upper() if ch.isalnum())
    try:
        key = base64.b32decode(letters + "=" * (-len(letters) % 8))
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise BackupError(
            "that is not a recovery key: it is 52 letters and digits in groups of four, as `haven init` "
            "printed it"
        )
    return key


class _Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


def restore(settings: Settings, archive: Path, recovery_key: bytes) -> Restored:
    """Restore a backup into an empty data dir (SQLite) or database (PostgreSQL), all or nothing."""
    store = store_of(settings)
    _refuse_unless_empty(settings)
    manifest = _unpack(archive, recovery_key, lambda _m, _name: _Discard())  # every byte opens first
    if manifest["store"] != store:
        raise BackupError(
            f"this is a backup of a {manifest['store']} store; set HAVEN_DATABASE_URL to match "
            f"({'empty for SQLite' if manifest['store'] == 'sqlite' else 'a PostgreSQL database'})"
        )
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _Staged(settings.data_dir) as staged:
        pg_restore: Tool | None = None
        try:

            def sink(_manifest: dict[str, str], name: str) -> _Sink:
                nonlocal pg_restore
                if name == POSTGRESQL_DUMP:
                    pg_restore = _pg_restore(settings.resolved_database_url)
                    assert pg_restore.process.stdin is not None
                    return pg_restore.process.stdin
                return staged.file(name)

            try:
                _unpack(archive, recovery_key, sink)
                if pg_restore is not None:
                    assert pg_restore.process.stdin is not None
                    pg_restore.process.stdin.close()
            except BrokenPipeError:
                pass  # pg_restore stopped reading: its own error says why, just below
            if pg_restore is not None:
                pg_restore.finish("pg_restore")
        except BaseException:
            if pg_restore is not None:
                pg_restore.abort()  # one transaction: nothing of it stays
            raise
        staged.commit()
    if store == "sqlite":
        return Restored(store, str(settings.data_dir / SQLITE_DATABASE))
    return Restored(store, make_url(settings.resolved_database_url).render_as_string(hide_password=True))


def _pg_restore(url: str) -> Tool:
    conninfo, environment = libpq_connection(url)
    command = [
        postgres_tool("pg_restore"),
        *("--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error"),
        *("--clean", "--if-exists", "--dbname", conninfo),
    ]
    return Tool(command, environment, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)


def _refuse_unless_empty(settings: Settings) -> None:
    """A restore never overwrites anything: the target may hold at most an empty schema."""
    if settings.uses_sqlite and not (settings.data_dir / SQLITE_DATABASE).exists():
        return
    db = Database.from_url(settings.resolved_database_url)
    try:
        with db.engine.connect() as conn:
            names = set(inspect(conn).get_table_names()) - {"alembic_version"}
            quote = conn.dialect.identifier_preparer.quote
            # Table names from the database's own catalogue, quoted as identifiers.
            holding = {
                n
                for n in names
                if conn.execute(text(f"SELECT 1 FROM {quote(n)} LIMIT 1")).first()  # noqa: S608
            }
    finally:
        db.dispose()
    where = settings.data_dir if settings.uses_sqlite else "the database of HAVEN_DATABASE_URL"
    if "organisation" in holding:
        raise BackupError(f"{where} already holds an organisation; restore only into an empty one")
    if holding:
        raise BackupError(f"{where} is not empty; restore only into an empty one")


def _unpack(
    archive: Path, recovery_key: bytes, sink_for: Callable[[dict[str, str], str], _Sink]
) -> dict[str, str]:
    """Decrypt the archive, handing each file's bytes to the sink made for it; returns the manifest."""
    try:
        with archive.open("rb") as source:
            messages = read_sealed_stream(source, private_key=recovery_key, magic=MAGIC)
            first = next(messages, b"")
            if first[:1] != MANIFEST:
                raise StreamAltered("no manifest")
            manifest = json.loads(first[1:])
            if manifest.get("format") != FORMAT or manifest.get("store") not in DATABASE_FILE:
                raise StreamAltered("an unknown manifest")
            expected = {SERVER_KEY: SERVER_KEY_BYTES, DATABASE_FILE[manifest["store"]]: None}
            sizes: dict[str, int] = {}
            sink: _Sink | None = None
            name = ""
            for message in messages:
                kind, payload = message[:1], message[1:]
                if kind == FILE_START and payload.decode() in expected.keys() - sizes.keys():
                    name = payload.decode()
                    sizes[name] = 0
                    sink = sink_for(manifest, name)
                elif kind == FILE_DATA and sink is not None:
                    sizes[name] += len(payload)
                    sink.write(payload)
                else:
                    raise StreamAltered("an unexpected entry")
            if sizes.keys() != expected.keys() or sizes[SERVER_KEY] != SERVER_KEY_BYTES:
                raise StreamAltered("an entry is missing")
    except FileNotFoundError:
        raise BackupError(f"there is no {archive}") from None
    except NotASealedStream:
        raise BackupError(f"{archive} is not a Haven backup (or one this version cannot read)") from None
    except WrongKey:
        raise BackupError("this recovery key does not open this backup; nothing was restored") from None
    except (StreamAltered, ValueError, UnicodeDecodeError):
        raise BackupError(
            f"{archive} is damaged or was altered (it does not authenticate); nothing was restored"
        ) from None
    return dict(manifest)


class _Discard:
    def write(self, data: bytes, /) -> int:
        return len(data)


class _Staged:
    """Files written beside their final place (0600, in the data dir) and moved in only on commit."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._files: dict[str, tuple[Path, BinaryIO]] = {}

    def __enter__(self) -> _Staged:
        return self

    def file(self, name: str) -> BinaryIO:
        fd, path = tempfile.mkstemp(dir=self._directory, prefix=f".restore-{name}-", suffix=".tmp")
        handle = os.fdopen(fd, "wb")
        self._files[name] = (Path(path), handle)
        return handle

    def commit(self) -> None:
        for name, (path, handle) in self._files.items():
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            if name == SQLITE_DATABASE:
                # An empty database may have been there (a schema, no rows): its WAL must not replay.
                for suffix in ("-wal", "-shm"):
                    (self._directory / f"{name}{suffix}").unlink(missing_ok=True)
            os.replace(path, self._directory / name)
        self._files.clear()
        directory = os.open(self._directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def __exit__(self, *_exc: object) -> None:
        for path, handle in self._files.values():
            handle.close()
            path.unlink(missing_ok=True)
