"""Shared fixtures: a real store (SQLite in a temp dir), real crypto with weak Argon2id costs (only here),
an organisation with two teams and operators of each role, and an HTTPS test client."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from haven.accounts import totp
from haven.accounts.models import Operator, Role
from haven.accounts.services import UnlockedOperator, create_operator, create_organisation, create_team
from haven.app import create_app
from haven.config import Settings
from haven.crypto.kdf import KdfParams
from haven.crypto.keys import unlock_with_passphrase
from haven.db import Database
from haven.migrate import upgrade
from haven.runtime import Runtime

PROBLEM = "application/problem+json"

# The weakest Argon2id libsodium allows: tests only. Production costs live in Settings' defaults.
WEAK_KDF = KdfParams(opslimit=1, memlimit=8192)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", kdf_opslimit=WEAK_KDF.opslimit, kdf_memlimit=WEAK_KDF.memlimit
    )


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database.from_url(settings.resolved_database_url)
    upgrade(database)
    yield database
    database.dispose()


@pytest.fixture
def app(settings: Settings, db: Database) -> FastAPI:
    return create_app(settings, db=db)


@pytest.fixture
def runtime(app: FastAPI) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime


@dataclass
class Person:
    """A test operator: their credentials and their unlocked key."""

    username: str
    passphrase: str
    totp_secret: str
    role: Role
    id: int
    unlocked: UnlockedOperator

    def code(self, steps_ahead: int = 0) -> str:
        """A valid one-time code; each is accepted once, so a second login in a test uses steps_ahead=1."""
        return totp.current_code(self.totp_secret, datetime.now(UTC) + timedelta(seconds=30 * steps_ahead))


@dataclass
class Org:
    admin: Person
    coordinator: Person
    intake: Person  # an operator of the intake team
    legal: Person  # an operator of the legal team only
    recovery_key: bytes


PEOPLE = (
    ("admin", Role.ADMIN, ("intake", "legal")),
    ("coordinator", Role.COORDINATOR, ("intake", "legal")),
    ("olena", Role.OPERATOR, ("intake",)),
    ("lawyer", Role.OPERATOR, ("legal",)),
)


@pytest.fixture
def org(runtime: Runtime) -> Org:
    people: dict[str, Person] = {}
    rows: dict[str, Operator] = {}
    with runtime.db.write() as s:
        recovery = create_organisation(db_session=s, name="Test helpline")
        for username, role, _teams in PEOPLE:
            passphrase = f"correct horse battery {username}"
            new = create_operator(
                db_session=s,
                username=username,
                passphrase=passphrase,
                role=role,
                kdf=WEAK_KDF,
                totp_key=runtime.secrets.totp_key,
            )
            rows[username] = new.operator
            key = unlock_with_passphrase(new.operator.locked_private_key, passphrase, WEAK_KDF)
            people[username] = Person(
                username,
                passphrase,
                new.totp_secret,
                role,
                new.operator.id,
                UnlockedOperator(new.operator.id, username, role, key),
            )
        for slug in ("intake", "legal"):
            members = [rows[u] for u, _r, teams in PEOPLE if slug in teams]
            create_team(
                db_session=s, slug=slug, name=slug.title(), members=members, receives_intake=slug == "intake"
            )
    return Org(people["admin"], people["coordinator"], people["olena"], people["lawyer"], recovery)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # https, because outside demo mode the session cookies are Secure.
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client


def api_login(client: TestClient, person: Person, steps_ahead: int = 0) -> dict[str, str]:
    """Log in over the API; returns the headers a state-changing call needs."""
    response = client.post(
        "/api/v1/session",
        json={"username": person.username, "passphrase": person.passphrase, "totp": person.code(steps_ahead)},
    )
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": response.json()["csrf_token"]}


def assert_problem(response: Any, status: int, *, not_echoing: str) -> dict[str, Any]:
    """An API error as promised: the status, problem+json with a `detail`, and nothing the caller sent."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["detail"]
    assert not_echoing not in response.text
    return body
