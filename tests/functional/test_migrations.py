"""Migrations, on SQLite and on PostgreSQL: an empty database reaches exactly the schema of the models, and
a populated database at every earlier revision upgrades without losing a case, a receipt or a reply."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, Integer, MetaData, select, text

from haven.app import create_app
from haven.cases.models import Case
from haven.cases.states import PRIORITY_RANK, Priority
from haven.config import Settings
from haven.db import Database
from haven.migrate import alembic_config, is_current, upgrade
from haven.schema import metadata
from tests.conftest import Org, api_login

REVISIONS = [r.revision for r in ScriptDirectory.from_config(alembic_config()).walk_revisions()][::-1]
EARLIER = REVISIONS[:-1]


@pytest.fixture
def target(empty_database_url: str, tmp_path: Path) -> Iterator[Database]:
    """A second, empty database on the store under test."""
    database = Database.from_url(empty_database_url or f"sqlite:///{tmp_path / 'target.db'}")
    yield database
    database.dispose()


def test_there_is_more_than_one_revision_to_upgrade_through() -> None:
    assert REVISIONS[0] == "0001"
    assert len(REVISIONS) >= 2


def test_an_empty_database_upgrades_to_exactly_the_models(target: Database) -> None:
    upgrade(target)
    assert is_current(target)
    with target.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def copy_rows(source: Engine, target: Engine) -> None:
    """Copy every row the older schema has room for (a database as it stood at that revision)."""
    old, new = MetaData(), MetaData()
    new.reflect(source)
    old.reflect(target)
    with source.connect() as reading, target.begin() as writing:
        for table in old.sorted_tables:
            if table.name == "alembic_version":
                continue
            there = new.tables[table.name]
            columns = [c.name for c in table.columns if c.name in there.c]
            rows = [dict(r) for r in reading.execute(select(*(there.c[c] for c in columns))).mappings()]
            if rows:
                writing.execute(table.insert(), rows)
            serial = [c for c in table.primary_key.columns if isinstance(c.type, Integer)]
            if target.dialect.name == "postgresql" and len(serial) == 1 and rows:
                # Rows came with their ids: move the sequence past them, as a real database's would be.
                writing.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table.name}', '{serial[0].name}'), :n)"),
                    {"n": max(r[serial[0].name] for r in rows)},
                )


def populate(client: TestClient, org: Org) -> list[str]:
    """Three requests (one urgent), each with a reply and a note; returns their receipts."""
    made = []
    for danger in ("yes", "no", "no"):
        created = client.post(
            "/api/v1/requests",
            json={
                "type": "leave_service",
                "language": "ru",
                "answers": {"danger_now": danger, "where_now": "front"},
                "message": f"help, danger {danger}",
            },
        )
        assert created.status_code == 201, created.text
        made.append(created.json()["receipt"])
    desk = api_login(client, org.intake)
    queue = client.get("/api/v1/cases").json()
    assert len(queue) == 3
    for item in queue:
        replied = client.post(
            f"/api/v1/cases/{item['id']}/messages", json={"text": "we read you"}, headers=desk
        )
        assert replied.status_code == 201, replied.text
        noted = client.post(f"/api/v1/cases/{item['id']}/notes", json={"text": "internal"}, headers=desk)
        assert noted.status_code == 201, noted.text
    return made


@pytest.mark.parametrize("revision", EARLIER)
def test_a_populated_database_upgrades_without_losing_anything(
    revision: str, client: TestClient, org: Org, db: Database, target: Database, settings: Settings
) -> None:
    receipts = populate(client, org)
    upgrade(target, revision)
    copy_rows(db.engine, target.engine)

    upgrade(target)

    with target.read() as s:
        cases = s.scalars(select(Case)).all()
        assert len(cases) == 3
        assert all(c.priority_rank == PRIORITY_RANK[Priority(c.priority)] for c in cases)
    upgraded: FastAPI = create_app(settings, db=target)
    with TestClient(upgraded, base_url="https://testserver") as after:
        for receipt in receipts:
            thread = after.get("/api/v1/requests/me", headers={"Authorization": f"Receipt {receipt}"})
            assert thread.status_code == 200, thread.text
            assert "we read you" in [m["text"] for m in thread.json()["messages"]]
        api_login(after, org.intake, steps_ahead=1)
        queue = after.get("/api/v1/cases").json()
        assert queue[0]["priority"] == "urgent"
        opened = after.get(f"/api/v1/cases/{queue[0]['id']}").json()
        assert {"help, danger yes", "we read you", "internal"} <= {r["text"] for r in opened["thread"]}
