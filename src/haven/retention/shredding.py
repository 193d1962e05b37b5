"""After a purge: push the deleted rows' bytes out of the store's live files, as far as each store allows.

SQLite runs with secure_delete (db.py), so a deleted row is overwritten with zeros in the database file;
but the WAL still holds the page versions written before, sealed keys among them, until it is reused. A
TRUNCATE checkpoint copies the WAL into the database and cuts it to zero bytes. (The filesystem may keep
freed blocks on the device: that is what full-disk encryption is for.)

PostgreSQL keeps a deleted row's bytes in the table file until VACUUM frees the space and a later write
reuses it, and in its own WAL until the segment is recycled: VACUUM here makes the space reusable at once,
but nothing short of VACUUM FULL rewrites the files. README says so. What makes the purged cases
unreadable in every copy is that their sealed keys are gone from the live store (crypto-shredding).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from haven.db import Database
from haven.schema import metadata

log = logging.getLogger(__name__)

CHECKPOINT_ATTEMPTS = 5
CHECKPOINT_PAUSE_SECONDS = 0.5


@dataclass(frozen=True)
class ShredResult:
    done: bool  # False: the WAL stayed busy, or VACUUM failed (the next purge or a restart catches up)
    how: str  # what was done, for `haven purge` to print


def case_tables() -> list[str]:
    """`cases` and every table whose rows belong to a case (a foreign key to cases: deleted with it)."""
    cases = metadata.tables["cases"]
    owned = [t.name for t in metadata.sorted_tables if any(fk.column.table is cases for fk in t.foreign_keys)]
    return ["cases", *owned]


def shred_deleted(db: Database) -> ShredResult:
    """Make the space of deleted rows leave the store's files (SQLite) or free for reuse (PostgreSQL)."""
    if db.is_sqlite:
        if truncate_wal(db):
            return ShredResult(True, "the WAL was checkpointed and truncated to zero bytes")
        return ShredResult(
            False, "the WAL stayed busy: it is truncated at the next purge or when Haven stops"
        )
    tables = case_tables()
    try:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in tables:
                conn.exec_driver_sql(f'VACUUM "{table}"')
    except Exception as exc:  # the rows are gone either way; their space is freed by autovacuum later
        log.warning("VACUUM after a purge failed: %s", type(exc).__name__)
        return ShredResult(False, "VACUUM failed; autovacuum will free the space later")
    return ShredResult(True, f"VACUUM ran on {', '.join(tables)}")


def truncate_wal(db: Database) -> bool:
    """Checkpoint SQLite's WAL whole and cut it to zero bytes; False if readers kept it busy each time."""
    for attempt in range(CHECKPOINT_ATTEMPTS):
        if attempt:
            time.sleep(CHECKPOINT_PAUSE_SECONDS)
        try:
            with db.engine.connect() as conn:
                busy, _frames, _copied = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
        except Exception as exc:
            log.warning("WAL checkpoint after a purge failed: %s", type(exc).__name__)
            continue
        if not busy:
            return True
    return False
