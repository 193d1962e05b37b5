"""Backups: `haven backup` takes a consistent snapshot of a running server (SQLite's online backup, or
pg_dump) with its server.key, sealed to the organisation's offline recovery key, so a seized backup reveals
nothing; `haven restore` brings it back into an empty data dir or database, all or nothing, and only with
that key."""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from sqlalchemy import create_engine, inspect

from tests.conftest import new_postgres_database
from tests.functional.seizure_scan import scan
from tests.functional.served import Deployment, Server, legal_request, serving

# Load and many receipt look-ups from one address: rate limits are another test's subject.
NO_RATE_LIMITS = {"HAVEN_RATE_LIMITS": "off"}


@pytest.fixture
def source(tmp_path: Path, store: str, empty_database_url: str) -> Deployment:
    """A demo organisation, not served yet."""
    deployment = Deployment.on(tmp_path / "source", store, empty_database_url, **NO_RATE_LIMITS)
    deployment.seed_demo()
    return deployment


@pytest.fixture
def target(tmp_path: Path, store: str, request: pytest.FixtureRequest) -> Iterator[Deployment]:
    """Where a backup is restored: a new data dir and, on PostgreSQL, a new empty database."""
    if store == "sqlite":
        yield Deployment.on(tmp_path / "target", store, "", **NO_RATE_LIMITS)
        return
    with new_postgres_database(request.getfixturevalue("postgres_server")) as url:
        yield Deployment.on(tmp_path / "target", store, url, **NO_RATE_LIMITS)


def submit(client: httpx.Client, message: str) -> str:
    answer = client.post("/api/v1/requests", json=legal_request(message))
    assert answer.status_code == 201, answer.text
    receipt: str = answer.json()["receipt"]
    return receipt


def thread_of(client: httpx.Client, receipt: str) -> list[str]:
    answer = client.get("/api/v1/requests/me", headers={"Authorization": f"Receipt {receipt}"})
    assert answer.status_code == 200, answer.text
    return [m["text"] for m in answer.json()["messages"]]


def back_up(deployment: Deployment, archive: Path) -> None:
    made = deployment.haven("backup", "--data-dir", str(deployment.data_dir), "--out", str(archive))
    assert made.returncode == 0, made.stderr.decode(errors="replace")


def restore(target: Deployment, archive: Path, *, key: str) -> tuple[int, str]:
    """`haven restore` with the key typed on stdin, as a person would; returns (exit status, stderr)."""
    done = target.haven(
        "restore", "--data-dir", str(target.data_dir), "--in", str(archive), stdin=f"{key}\n".encode()
    )
    return done.returncode, done.stderr.decode(errors="replace")


def credentials(deployment: Deployment) -> dict[str, Any]:
    """What `haven demo` wrote down (never part of a backup)."""
    written: dict[str, Any] = json.loads((deployment.data_dir / "demo-credentials.json").read_text())
    return written


def recovery_key(deployment: Deployment) -> str:
    key: str = credentials(deployment)["recovery_key"]
    return key


def nothing_restored(target: Deployment) -> bool:
    """No file of a store in the data dir, and no table in the target database."""
    files = {p.name for p in target.data_dir.glob("*")} if target.data_dir.exists() else set()
    if files & {"haven.db", "server.key"}:
        return False
    url = target.env.get("HAVEN_DATABASE_URL")
    if not url:
        return True
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return inspect(conn).get_table_names() == []
    finally:
        engine.dispose()


def load(server: Server, stop: threading.Event) -> Callable[[], None]:
    """Requests submitted one after another until `stop` is set: a server that is busy being backed up."""

    def run() -> None:
        with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
            while not stop.is_set():
                submit(client, f"during the backup {secrets.token_hex(6)}")

    return run


def test_a_backup_taken_while_serving_restores_every_case_it_holds(
    tmp_path: Path, source: Deployment, target: Deployment
) -> None:
    archive = tmp_path / "haven.backup"
    stop = threading.Event()
    with serving(source, log_level="WARNING") as server:
        with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
            before = {submit(client, f"before the backup {n}"): f"before the backup {n}" for n in range(10)}
        busy = threading.Thread(target=load(server, stop))
        busy.start()
        try:
            back_up(source, archive)
        finally:
            stop.set()
            busy.join()

    status, errors = restore(target, archive, key=recovery_key(source))
    assert status == 0, errors

    with serving(target, log_level="WARNING") as restored, httpx.Client(base_url=restored.base_url) as client:
        for receipt, message in before.items():
            assert message in thread_of(client, receipt)
        for receipt in credentials(source)["receipts"]:
            assert thread_of(client, receipt), "a demo case came back empty"


def test_the_backup_reveals_nothing_without_the_recovery_key(
    tmp_path: Path, source: Deployment, store: str
) -> None:
    marker = f"marker{secrets.token_hex(6)}"
    archive = tmp_path / "haven.backup"
    with serving(source, log_level="WARNING") as server:
        with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
            receipt = submit(client, f"Меня зовут Иванов {marker}")
        back_up(source, archive)

    assert archive.stat().st_mode & 0o777 == 0o600
    server_key = (source.data_dir / "server.key").read_bytes()
    demo = credentials(source)
    content = archive.read_bytes()
    # What the server key would look like written out in any common form.
    for form in (server_key, server_key.hex().encode(), base64.b64encode(server_key)):
        assert form not in content
    # The content, the receipts, and even metadata: what the file is, what tables, names and users it holds.
    revealing = [
        marker,
        receipt,
        *demo["receipts"],
        *(u["username"] for u in demo["users"]),
        "Haven demo",
        "SQLite format 3",
        "PGDMP",
        "alembic_version",
        "organisation",
        "CREATE TABLE",
    ]
    assert scan([archive], revealing) == []


def test_a_wrong_recovery_key_restores_nothing_and_says_so(
    tmp_path: Path, source: Deployment, target: Deployment
) -> None:
    archive = tmp_path / "haven.backup"
    back_up(source, archive)
    someone_elses = base64.b32encode(secrets.token_bytes(32)).decode().rstrip("=")

    status, errors = restore(target, archive, key=someone_elses)

    assert status == 1
    assert "this recovery key does not open this backup; nothing was restored" in errors
    assert nothing_restored(target)


def test_a_key_read_from_a_file_restores_too(tmp_path: Path, source: Deployment, target: Deployment) -> None:
    """For scripts: the key comes from a file, never from an argument that shell history and `ps` show."""
    archive = tmp_path / "haven.backup"
    back_up(source, archive)
    key_file = tmp_path / "recovery.key"
    key_file.write_text(recovery_key(source).lower().replace("-", " "))

    done = target.haven(
        "restore",
        "--data-dir",
        str(target.data_dir),
        "--in",
        str(archive),
        "--recovery-key-file",
        str(key_file),
    )

    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert not nothing_restored(target)


ALTERATIONS: dict[str, Callable[[bytes], bytes]] = {
    "a flipped bit in the middle": lambda b: (
        b[: len(b) // 2] + bytes([b[len(b) // 2] ^ 1]) + b[len(b) // 2 + 1 :]
    ),
    "the last message cut off": lambda b: b[:-100],
    "a byte appended": lambda b: b + b"\0",
}


@pytest.mark.parametrize("alteration", ALTERATIONS)
def test_an_altered_backup_is_refused_and_restores_nothing(
    tmp_path: Path, source: Deployment, target: Deployment, alteration: str
) -> None:
    archive = tmp_path / "haven.backup"
    back_up(source, archive)
    archive.write_bytes(ALTERATIONS[alteration](archive.read_bytes()))

    status, errors = restore(target, archive, key=recovery_key(source))

    assert status == 1
    assert "is damaged or was altered" in errors
    assert "nothing was restored" in errors
    assert nothing_restored(target)


def test_a_restore_never_overwrites_an_organisation(tmp_path: Path, source: Deployment) -> None:
    archive = tmp_path / "haven.backup"
    back_up(source, archive)
    server_key = (source.data_dir / "server.key").read_bytes()

    status, errors = restore(source, archive, key=recovery_key(source))

    assert status == 1
    assert "already holds an organisation" in errors
    assert (source.data_dir / "server.key").read_bytes() == server_key


def test_the_snapshot_leaves_no_file_in_the_data_dir(tmp_path: Path, source: Deployment) -> None:
    with serving(source, log_level="WARNING"):
        before = sorted(p.name for p in source.data_dir.iterdir())
        back_up(source, tmp_path / "haven.backup")
        after = sorted(p.name for p in source.data_dir.iterdir())
    assert after == before
