"""Scaled out: `haven serve --workers 2` on PostgreSQL, sessions shared through Redis.

An operator logs in once and every worker serves them; a requester's receipt session too. Each request
goes on a fresh connection, so the kernel hands them to whichever worker accepts first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.functional.served import Server, demo_credentials, operator_login, served_demo

ROUNDS = 30

# Several workers need PostgreSQL (SQLite is served by one process): these run on PostgreSQL only.
pytestmark = pytest.mark.parametrize("store", ["postgresql"], indirect=True)


@pytest.fixture
def scaled_out(tmp_path: Path, empty_database_url: str) -> Iterator[Server]:
    with served_demo(tmp_path, "postgresql", empty_database_url, log_level="WARNING") as server:
        yield server


def worker_pids(server: Server) -> set[int]:
    """The server's worker processes (its other child is multiprocessing's resource tracker)."""
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text()
    return {
        int(pid)
        for pid in children.split()
        if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    }


def fresh_connection(server: Server) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url, timeout=30.0, limits=httpx.Limits(max_keepalive_connections=0)
    )


def test_an_operator_session_works_on_every_worker(scaled_out: Server) -> None:
    assert len(worker_pids(scaled_out)) == 2
    with fresh_connection(scaled_out) as client:
        desk = operator_login(client, demo_credentials(scaled_out), "olena")
        answers = [client.get("/api/v1/cases", headers=desk).status_code for _ in range(ROUNDS)]
        case_id = client.get("/api/v1/cases", headers=desk).json()[0]["id"]
        notes = [
            client.post(
                f"/api/v1/cases/{case_id}/notes", json={"text": f"note {n}"}, headers=desk
            ).status_code
            for n in range(5)
        ]
    assert answers == [200] * ROUNDS
    assert notes == [201] * 5


def test_a_logout_on_one_worker_ends_the_session_on_all(scaled_out: Server) -> None:
    with fresh_connection(scaled_out) as client:
        desk = operator_login(client, demo_credentials(scaled_out), "olena")
        assert client.request("DELETE", "/api/v1/session", headers=desk).status_code in (200, 204)
        after = [client.get("/api/v1/cases", headers=desk).status_code for _ in range(10)]
    assert after == [401] * 10


def test_a_receipt_opens_the_thread_on_every_worker(scaled_out: Server) -> None:
    receipt = demo_credentials(scaled_out)["receipts"][0]
    with fresh_connection(scaled_out) as client:
        opened = client.post("/en/return", data={"receipt": receipt})
        assert opened.status_code in (200, 303), opened.text
        cookie = "; ".join(h.split(";", 1)[0] for h in opened.headers.get_list("set-cookie"))
        pages = [client.get("/en/thread", headers={"Cookie": cookie}).status_code for _ in range(ROUNDS)]
    assert pages == [200] * ROUNDS
