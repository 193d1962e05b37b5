"""`haven seed`: many cases with the real crypto, mostly closed, spread over two years, readable by the
intake team and by their requesters, and chained into the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from haven.audit.models import AuditEvent
from haven.audit.services import first_broken_link
from haven.cases.models import Case, CaseKey, Record
from haven.cases.states import CaseState
from haven.cli import main
from haven.db import Database
from haven.intake.services import open_with_receipt, read_thread
from haven.runtime import Runtime
from haven.seeding import seed_cases
from haven.seeding_texts import SEARCH_TERMS
from tests.conftest import Org, api_login

UNTIL = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _seed(runtime: Runtime, count: int = 30, **options: object) -> list[str]:
    return seed_cases(
        db=runtime.db,
        pepper=runtime.secrets.receipt_pepper,
        count=count,
        batch_size=10,
        until=UNTIL,
        seed=7,
        **options,  # type: ignore[arg-type]
    )


def test_seeded_cases_are_mostly_closed_and_spread_over_two_years(runtime: Runtime, org: Org) -> None:
    _seed(runtime, workers=1)
    with runtime.db.read() as s:
        cases = list(s.scalars(select(Case)))
        assert s.scalar(select(func.count()).select_from(CaseKey)) == 30
        assert s.scalar(select(func.count()).select_from(Record)) == 60
    assert len(cases) == 30
    closed = sum(c.state == CaseState.CLOSED for c in cases)
    assert 20 <= closed < 30
    oldest = min(c.created_at for c in cases)
    newest = max(c.created_at for c in cases)
    assert UNTIL.replace(tzinfo=None) - oldest > timedelta(days=600)
    assert newest <= UNTIL.replace(tzinfo=None)
    assert len({c.request_type for c in cases}) >= 3


def test_an_operator_opens_a_seeded_case_and_reads_its_message(
    runtime: Runtime, org: Org, client: TestClient
) -> None:
    _seed(runtime, workers=2)
    with runtime.db.read() as s:
        case_id = s.scalars(select(Case.id).order_by(Case.created_at)).first()
    api_login(client, org.intake)
    body = client.get(f"/api/v1/cases/{case_id}").json()
    assert body["language"] in {"ru", "uk", "en"}
    assert body["answers"]["danger_now"] in {"yes", "no", "unsure"}
    text = body["thread"][0]["text"]
    assert any(term in text for term in SEARCH_TERMS), text


def test_a_seeded_receipt_opens_its_own_thread(runtime: Runtime, org: Org) -> None:
    receipt = _seed(runtime, count=5, workers=1)[0]
    access = open_with_receipt(db=runtime.db, receipt_text=receipt, pepper=runtime.secrets.receipt_pepper)
    assert access is not None
    thread = read_thread(db=runtime.db, access=access)
    assert thread is not None
    assert thread.messages[0].content["text"]


def test_seeding_keeps_the_audit_chain_intact(runtime: Runtime, org: Org) -> None:
    _seed(runtime, workers=1)
    with runtime.db.read() as s:
        assert first_broken_link(db_session=s) is None
        created = s.scalar(select(func.count()).where(AuditEvent.action == "case.created"))
    assert created == 30


def test_the_seed_command_adds_cases_to_a_demo_and_reports_its_rate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HAVEN_KDF_OPSLIMIT", "1")
    monkeypatch.setenv("HAVEN_KDF_MEMLIMIT", "8192")
    monkeypatch.delenv("HAVEN_DATABASE_URL", raising=False)
    assert main(["demo", "--no-serve", "--data-dir", str(tmp_path)]) == 0
    assert main(["seed", "--data-dir", str(tmp_path), "--cases", "12", "--workers", "1"]) == 0
    assert "12 / 12 cases" in capsys.readouterr().out
    database = Database.from_url(f"sqlite:///{tmp_path / 'haven.db'}")
    with database.read() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 12 + 5  # and the demo's five
    database.dispose()


def test_the_seed_command_refuses_a_data_dir_that_is_not_a_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HAVEN_KDF_OPSLIMIT", "1")
    monkeypatch.setenv("HAVEN_KDF_MEMLIMIT", "8192")
    assert main(["init", "--data-dir", str(tmp_path)]) == 0
    assert main(["seed", "--data-dir", str(tmp_path), "--cases", "5"]) == 1
    assert "holds no demo organisation" in capsys.readouterr().err
