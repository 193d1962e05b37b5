"""Shared fixtures: a real store, real crypto with weak Argon2id costs (only here), an organisation with two
teams and operators of each role, and an HTTPS test client.

Every test that touches the store runs twice: on SQLite (a file in a temp dir) with sessions in process
memory, and on PostgreSQL with sessions in Redis, as several workers run (the private cluster and Redis
that `scripts/with-services` starts; `make test` runs the suite through it). Run pytest directly and the
PostgreSQL half is skipped, saying why.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text

from haven.accounts import totp
from haven.accounts.models import Operator, Role
from haven.accounts.services import UnlockedOperator, create_operator, create_organisation, create_team
from haven.app import create_app
from haven.config import Settings
from haven.crypto.kdf import KdfParams
from haven.crypto.keys import unlock_with_passphrase
from haven.db import Base, Database
from haven.migrate import upgrade
from haven.runtime import Runtime
from tests.fake_bot_api import TEST_TOKEN, FakeBotApi

PROBLEM = "application/problem+json"

# The weakest Argon2id libsodium allows: tests only. Production costs live in Settings' defaults.
WEAK_KDF = KdfParams(opslimit=1, memlimit=8192)


STORES = ("sqlite", "postgresql")


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "postgresql" and not os.environ.get("HAVEN_TEST_POSTGRES_URL"):
        pytest.skip("no PostgreSQL here: `make test` runs the suite through scripts/with-services")
    return name


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """A superuser URL on the test cluster (HAVEN_TEST_POSTGRES_URL, set by scripts/with-services)."""
    return os.environ["HAVEN_TEST_POSTGRES_URL"]


@pytest.fixture(scope="session")
def postgres_suite_database(postgres_server: str) -> Iterator[str]:
    """One migrated database for the run; each test empties its tables first (quicker than a new one)."""
    with new_postgres_database(postgres_server) as url:
        database = Database.from_url(url)
        upgrade(database)
        database.dispose()
        yield url


@contextmanager
def new_postgres_database(server_url: str) -> Iterator[str]:
    """An empty database on the test cluster, dropped afterwards."""
    name = f"haven_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def empty_database_url(store: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """For a test that runs `haven` itself: "" (SQLite in the data dir) or a new PostgreSQL database."""
    if store == "sqlite":
        yield ""
        return
    with new_postgres_database(request.getfixturevalue("postgres_server")) as url:
        yield url


@pytest.fixture
def database_url(store: str, request: pytest.FixtureRequest) -> str:
    if store == "sqlite":
        return ""  # the default: haven.db in the data dir
    url: str = request.getfixturevalue("postgres_suite_database")
    return url


@pytest.fixture
def settings(tmp_path: Path, store: str, database_url: str) -> Settings:
    # On PostgreSQL, sessions live in Redis as they do when several workers serve one database.
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        redis_url=os.environ.get("HAVEN_TEST_REDIS_URL", "") if store == "postgresql" else "",
        kdf_opslimit=WEAK_KDF.opslimit,
        kdf_memlimit=WEAK_KDF.memlimit,
        # Proof of work is for floods, and has tests of its own (HAVEN_POW=off: tests and benchmarks only).
        pow=False,
    )


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database.from_url(settings.resolved_database_url)
    if database.is_sqlite:
        upgrade(database)
    else:
        empty_all_tables(database)
    yield database
    database.dispose()


def module_app(data_dir: Path) -> FastAPI:
    """An app of its own on SQLite, for a module that sends hundreds of calls from one address (the route
    matrix, the fuzzers): rate limits and proof of work are off there, each has tests of its own."""
    settings = Settings(
        data_dir=data_dir,
        kdf_opslimit=WEAK_KDF.opslimit,
        kdf_memlimit=WEAK_KDF.memlimit,
        rate_limits=False,
        pow=False,
    )
    data_dir.mkdir(parents=True)
    database = Database.from_url(settings.resolved_database_url)
    upgrade(database)
    return create_app(settings, db=database)


def empty_all_tables(database: Database) -> None:
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with database.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def app(settings: Settings, db: Database) -> Iterator[FastAPI]:
    application = create_app(settings, db=db)
    yield application
    # Stops what the app runs in the background (a re-wrap after a revocation) before the store goes.
    application.state.runtime.close()


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

    def by_username(self) -> dict[str, Person]:
        return {p.username: p for p in (self.admin, self.coordinator, self.intake, self.legal)}


PEOPLE = (
    ("admin", Role.ADMIN, ("intake", "legal")),
    ("coordinator", Role.COORDINATOR, ("intake", "legal")),
    ("olena", Role.OPERATOR, ("intake",)),
    ("lawyer", Role.OPERATOR, ("legal",)),
)


def add_operator(runtime: Runtime, username: str, role: Role) -> Person:
    """A new operator (no team yet), with their credentials and unlocked key."""
    passphrase = f"correct horse battery {username}"
    with runtime.db.write() as s:
        new = create_operator(
            db_session=s,
            username=username,
            passphrase=passphrase,
            role=role,
            kdf=WEAK_KDF,
            totp_key=runtime.secrets.totp_key,
        )
        operator_id = new.operator.id
        key = unlock_with_passphrase(new.operator.locked_private_key, passphrase, WEAK_KDF)
    unlocked = UnlockedOperator(operator_id, username, role, key)
    return Person(username, passphrase, new.totp_secret, role, operator_id, unlocked)


def make_organisation(runtime: Runtime) -> Org:
    """Admin and coordinator in both teams, olena in intake (which receives requests), lawyer in legal."""
    with runtime.db.write() as s:
        recovery = create_organisation(db_session=s, name="Test helpline")
    people = {username: add_operator(runtime, username, role) for username, role, _teams in PEOPLE}
    with runtime.db.write() as s:
        for slug in ("intake", "legal"):
            members = [s.get(Operator, people[u].id) for u, _r, teams in PEOPLE if slug in teams]
            create_team(
                db_session=s,
                slug=slug,
                name=slug.title(),
                members=[m for m in members if m is not None],
                receives_intake=slug == "intake",
            )
    return Org(people["admin"], people["coordinator"], people["olena"], people["lawyer"], recovery)


@pytest.fixture
def org(runtime: Runtime) -> Org:
    return make_organisation(runtime)


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


# -- the Telegram bot, against a fake Bot API server on loopback (tests/fake_bot_api.py) ------------------

TELEGRAM_SECRET = "test-webhook-secret-0123456789"


@pytest.fixture
def bot_api() -> Iterator[FakeBotApi]:
    with FakeBotApi() as api:
        yield api


@pytest.fixture
def telegram_settings(settings: Settings, bot_api: FakeBotApi) -> Settings:
    """The settings of a server running the bot against the fake Bot API, with a weak chat-id hash."""
    return settings.with_changes(
        telegram_token=TEST_TOKEN,
        telegram_webhook_secret=TELEGRAM_SECRET,
        telegram_api_url=bot_api.url,
        telegram_hash_opslimit=WEAK_KDF.opslimit,
        telegram_hash_memlimit=WEAK_KDF.memlimit,
    )


@pytest.fixture
def telegram_app(telegram_settings: Settings, db: Database) -> Iterator[FastAPI]:
    application = create_app(telegram_settings, db=db)
    yield application
    application.state.runtime.close()


@pytest.fixture
def telegram_runtime(telegram_app: FastAPI) -> Runtime:
    runtime: Runtime = telegram_app.state.runtime
    return runtime


@pytest.fixture
def telegram_client(telegram_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(telegram_app, base_url="https://testserver") as test_client:
        yield test_client
