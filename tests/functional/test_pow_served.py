"""Proof of work on a real `haven serve` (two workers sharing Redis on PostgreSQL): a proof is accepted
once whichever worker gets it, and nothing a refused requester wrote reaches the disk."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.functional.seizure_scan import files_under, scan
from tests.functional.served import Deployment, Server, legal_request, serving, stop
from tests.pow_solver import challenge_in, solve, solved_fields

ROUNDS = 8
# Proof of work on (served.py turns it off), and the rate limits off: sixteen requests from one address.
POW_ON = {
    "HAVEN_POW": "on",
    "HAVEN_POW_BITS": "8",
    "HAVEN_POW_WAIT_SECONDS": "60",
    "HAVEN_RATE_LIMITS": "off",
}


@pytest.fixture
def server(tmp_path: Path, store: str, empty_database_url: str) -> Iterator[Server]:
    deployment = Deployment.on(tmp_path, store, empty_database_url, **POW_ON)
    deployment.seed_demo()
    with serving(deployment) as running:
        yield running


def fresh_connection(server: Server) -> httpx.Client:
    # A new connection each time, so the kernel hands requests to whichever worker accepts first.
    return httpx.Client(
        base_url=server.base_url, timeout=30.0, limits=httpx.Limits(max_keepalive_connections=0)
    )


def _form(message: str, **fields: str) -> dict[str, str]:
    return {"q_danger_now": "no", "q_topic": "other", "message": message, **fields}


def test_a_proof_is_accepted_once_whichever_worker_gets_it(server: Server) -> None:
    with fresh_connection(server) as client:
        proof = solved_fields(client.get("/en/request/legal").text)
        challenge = client.get("/api/v1/requests/challenge").json()
        api_proof = {"token": challenge["token"], "solution": solve(challenge["token"], challenge["bits"])}
        forms = [
            client.post("/en/request/legal", data=_form("Please help", **proof)).status_code
            for _ in range(ROUNDS)
        ]
        requests = [
            client.post("/api/v1/requests", json={**legal_request("Help"), "proof": api_proof}).status_code
            for _ in range(ROUNDS)
        ]

    assert forms == [201] + [400] * (ROUNDS - 1)
    assert requests == [201] + [400] * (ROUNDS - 1)


def test_refused_requests_leave_nothing_on_disk(server: Server) -> None:
    core = "zq" + secrets.token_hex(6)
    markers = {name: f"{name}{core}" for name in ("unproven", "early", "spent", "proven", "api")}
    with fresh_connection(server) as client:
        unproven = client.post("/ru/request/legal", data=_form(markers["unproven"]))
        token, _bits = challenge_in(client.get("/ru/request/legal").text)
        early = client.post("/ru/request/legal", data=_form(markers["early"], pow_token=token))
        proof = solved_fields(client.get("/ru/request/legal").text)
        proven = client.post("/ru/request/legal", data=_form(markers["proven"], **proof))
        spent = client.post("/ru/request/legal", data=_form(markers["spent"], **proof))
        unproven_api = client.post("/api/v1/requests", json=legal_request(markers["api"]))
    stop(server.process)

    assert (unproven.status_code, early.status_code, proven.status_code) == (400, 429, 201)
    assert (spent.status_code, unproven_api.status_code) == (400, 400)
    for refused, marker in ((unproven, "unproven"), (early, "early"), (spent, "spent")):
        assert markers[marker] in refused.text  # given back to the requester, in the form
    files = list(files_under(server.data_dir, server.log_dir, *server.store_dirs))
    assert (server.log_dir / "server.log").stat().st_size > 0, "DEBUG logging wrote nothing to scan"
    hits = scan(files, [*markers.values(), token, proof["pow_token"]])
    assert not hits, "a stopped server's disk reveals:\n" + "\n".join(map(str, hits))
