"""Bringing a database to the current schema with Alembic (`haven db upgrade`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from haven.db import Database

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


class MigrationBrokeReferences(RuntimeError):
    """A migration left rows pointing at rows that are gone; it was rolled back."""


def upgrade(db: Database, revision: str = "head") -> None:
    config = alembic_config()
    with db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite alters a table by copying it and dropping the old one, and dropping a table with
            # foreign keys on would cascade: every record of every case would go. So they are off while
            # migrating (they can only be switched outside a transaction), and checked before commit.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise MigrationBrokeReferences(f"migrating to {revision} broke a foreign key")
        finally:
            if sqlite:
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def is_current(db: Database) -> bool:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head
