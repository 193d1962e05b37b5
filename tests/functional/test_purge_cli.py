"""`haven purge`, the real command in its own process: --dry-run says what would go and touches nothing;
without it, the expired cases go, what went is printed, and their counts stay. Beside a running server on
SQLite, the purged cases' bytes are gone from every file of the data dir."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from haven.cases.models import Case
from haven.db import Database
from haven.retention.models import CaseCount
from tests.functional.served import Deployment, serving
from tests.functional.test_retention_shredding import on_disk


@pytest.fixture
def deployment(tmp_path: Path, store: str, empty_database_url: str) -> Deployment:
    """A demo organisation (five new cases) on the store under test."""
    deployment = Deployment.on(tmp_path, store, empty_database_url)
    deployment.seed_demo()
    return deployment


@pytest.fixture
def store_of(deployment: Deployment) -> Iterator[Database]:
    url = deployment.env.get("HAVEN_DATABASE_URL") or f"sqlite:///{deployment.data_dir / 'haven.db'}"
    database = Database.from_url(url)
    yield database
    database.dispose()


def age(db: Database, *, closed_days_ago: list[int], silent_days_ago: list[int]) -> list[str]:
    """Let time pass for the demo's cases, by type order: the first closed that many days ago, the next
    left open and silent; returns the ids of the cases so aged, in that order."""
    now = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    with db.write() as s:
        ids = list(s.scalars(select(Case.id).order_by(Case.request_type)))
        plan = [("closed", d) for d in closed_days_ago] + [("new", d) for d in silent_days_ago]
        for case_id, (state, days) in zip(ids, plan, strict=False):
            s.execute(
                update(Case)
                .where(Case.id == case_id)
                .values(
                    state=state,
                    updated_at=now - timedelta(days=days),
                    created_at=now - timedelta(days=days + 3),
                )
            )
    return ids[: len(plan)]


def count_cases(db: Database) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(Case)) or 0


def test_dry_run_prints_what_would_go_and_changes_nothing(deployment: Deployment, store_of: Database) -> None:
    age(store_of, closed_days_ago=[120, 91, 30], silent_days_ago=[400])

    ran = deployment.haven("purge", "--data-dir", str(deployment.data_dir), "--dry-run")

    out = ran.stdout.decode()
    assert ran.returncode == 0, ran.stderr.decode()
    assert ["(every", "type)", "90", "365"] in [line.split() for line in out.splitlines()]
    assert "3 cases would be purged:" in out
    lines = [line.split() for line in out.splitlines() if line.startswith("  ") and "UTC" in line]
    assert sorted((words[1], words[2]) for words in lines) == [("closed", "1"), ("closed", "1"), ("new", "1")]
    assert "Dry run: nothing was changed." in out
    assert count_cases(store_of) == 5


def test_purge_removes_the_expired_cases_and_prints_what_went(
    deployment: Deployment, store_of: Database
) -> None:
    gone = age(store_of, closed_days_ago=[120, 91], silent_days_ago=[400])
    planned = deployment.haven("purge", "--data-dir", str(deployment.data_dir), "--dry-run").stdout.decode()

    ran = deployment.haven("purge", "--data-dir", str(deployment.data_dir))

    out = ran.stdout.decode()
    assert ran.returncode == 0, ran.stderr.decode()
    assert "Purged 3 cases" in out
    table = [line for line in out.splitlines() if line.startswith("  ") and "UTC" in line]
    assert table == [line for line in planned.splitlines() if line.startswith("  ") and "UTC" in line]
    assert "anonymous monthly counts" in out
    with store_of.read() as s:
        assert not set(s.scalars(select(Case.id).where(Case.id.in_(gone))))
        assert s.scalar(select(func.sum(CaseCount.count))) == 3
    assert count_cases(store_of) == 2

    again = deployment.haven("purge", "--data-dir", str(deployment.data_dir))
    assert "nothing was purged" in again.stdout.decode()
    with store_of.read() as s:
        assert s.scalar(select(func.sum(CaseCount.count))) == 3


def test_purge_beside_a_running_server_leaves_no_byte_of_the_purged_cases(
    deployment: Deployment, store_of: Database, store: str
) -> None:
    if store != "sqlite":
        pytest.skip("PostgreSQL keeps deleted rows' bytes until reused: README says so")
    gone = age(store_of, closed_days_ago=[100, 100], silent_days_ago=[])
    with store_of.read() as s:
        doomed = [bytes(b) for b in s.scalars(select(Case.receipt_locked_key).where(Case.id.in_(gone)))]
        doomed += [bytes(b) for b in s.scalars(select(Case.receipt_lookup).where(Case.id.in_(gone)))]
    store_of.dispose()

    with serving(deployment) as server:
        ran = deployment.haven("purge", "--data-dir", str(deployment.data_dir))
        assert ran.returncode == 0, ran.stderr.decode()
        assert "Purged 2 cases" in ran.stdout.decode()
        assert "truncated to zero bytes" in ran.stdout.decode()
        assert on_disk(server.data_dir, doomed) == [], "the server is running"
    assert on_disk(deployment.data_dir, doomed) == [], "the server has stopped"


def test_purge_of_a_data_dir_without_a_database_says_so(tmp_path: Path) -> None:
    deployment = Deployment.on(tmp_path, "sqlite", "")

    ran = deployment.haven("purge", "--data-dir", str(tmp_path / "nowhere"), "--dry-run")

    assert ran.returncode == 1
    assert "holds no database; nothing to purge" in ran.stderr.decode()
    assert not (tmp_path / "nowhere").exists()
