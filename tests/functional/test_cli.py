"""The `haven` command: init prints the recovery key once, demo writes its credentials, both refuse to
overwrite an organisation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from haven.cli import main

WEAK = {"HAVEN_KDF_OPSLIMIT": "1", "HAVEN_KDF_MEMLIMIT": "8192"}


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, empty_database_url: str) -> None:
    """Weak Argon2id, and the store under test: SQLite in the data dir, or a new PostgreSQL database."""
    for name, value in WEAK.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HAVEN_DATABASE_URL", empty_database_url)


def test_init_prints_the_recovery_key_once_and_creates_an_admin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--data-dir", str(tmp_path), "--name", "Test line", "--admin", "alice"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\b([A-Z2-7]{4}-){12}[A-Z2-7]{4}\b", out), "a 52-character base32 recovery key"
    assert "First admin: alice" in out
    assert (tmp_path / "server.key").stat().st_mode & 0o777 == 0o600
    assert not (tmp_path / "demo-credentials.json").exists()


def test_init_refuses_a_data_dir_that_already_holds_an_organisation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--data-dir", str(tmp_path)]) == 0
    first = capsys.readouterr().out
    assert main(["init", "--data-dir", str(tmp_path)]) == 1
    assert "already holds an organisation" in capsys.readouterr().err
    assert first  # the key was printed the first time only


def test_recovery_key_is_never_written_to_disk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["init", "--data-dir", str(tmp_path)])
    key = re.search(r"\b(?:[A-Z2-7]{4}-){12}[A-Z2-7]{4}\b", capsys.readouterr().out)
    assert key is not None
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert key.group(0).encode() not in data
            assert key.group(0).replace("-", "").encode() not in data


def test_demo_seeds_users_cases_and_a_credentials_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--data-dir", str(tmp_path), "--no-serve"]) == 0
    credentials = json.loads((tmp_path / "demo-credentials.json").read_text(encoding="utf-8"))
    assert {u["username"] for u in credentials["users"]} == {"admin", "coordinator", "olena", "lawyer"}
    assert all(
        {"username", "passphrase", "totp_secret", "role", "teams"} <= set(u) for u in credentials["users"]
    )
    assert len(credentials["receipts"]) == 5
    capsys.readouterr()
    assert main(["totp", "--data-dir", str(tmp_path), "olena"]) == 0
    assert re.fullmatch(r"\d{6}\n", capsys.readouterr().out)


def test_bad_setting_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HAVEN_PORT", "eighty")
    assert main(["db", "upgrade", "--data-dir", str(tmp_path)]) == 2
    assert "HAVEN_PORT must be a whole number" in capsys.readouterr().err


def test_several_workers_on_sqlite_are_refused_with_the_way_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HAVEN_DATABASE_URL", "")
    assert main(["serve", "--data-dir", str(tmp_path), "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert "SQLite has one writer" in err
    assert "HAVEN_DATABASE_URL" in err
    assert not (tmp_path / "haven.db").exists()  # refused before anything was touched


def test_several_workers_need_a_shared_session_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HAVEN_DATABASE_URL", "postgresql+psycopg://haven@127.0.0.1:1/haven")
    monkeypatch.delenv("HAVEN_REDIS_URL", raising=False)
    assert main(["serve", "--data-dir", str(tmp_path), "--workers", "4"]) == 2
    assert "HAVEN_REDIS_URL" in capsys.readouterr().err
