"""Proof of work on anonymous intake, over HTTP: the request form and the JSON API each need a solved
challenge or a waited-out one, and whatever is refused comes back with what the requester wrote."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from markupsafe import escape

from haven.app import create_app
from haven.config import Settings
from haven.i18n import Translator
from haven.runtime import Runtime
from haven.security.pow import MemorySpentTokens, ProofOfWork
from haven.security.ratelimit import Action, Limit, RateLimiter
from tests.conftest import Org, assert_problem
from tests.functional.served import legal_request
from tests.pow_solver import Clock, challenge_in, not_a_solution, solve, solved_fields

MARKER = "okapi-marker-5521"
BITS = 8
WAIT = 60
EN, RU, UK = Translator("en"), Translator("ru"), Translator("uk")


def shown(text: str) -> str:
    """A message as the page shows it (HTML-escaped)."""
    return str(escape(text))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_changes(pow=True, pow_bits=BITS, pow_wait_seconds=WAIT)


@pytest.fixture
def clock(runtime: Runtime) -> Clock:
    """The server's proof of work on a clock the test moves by hand (the same key and settings)."""
    moved = Clock(1_800_000_000.0)
    runtime.pow.close()
    runtime.pow = ProofOfWork(
        key=runtime.secrets.pow_key,
        base_bits=BITS,
        base_wait_seconds=WAIT,
        clock=moved,
        spent=MemorySpentTokens(clock=moved),
    )
    return moved


def _form(message: str = f"Please help {MARKER}", **fields: str) -> dict[str, str]:
    return {"q_danger_now": "no", "q_topic": "other", "message": message, **fields}


def _request_body(**changes: Any) -> dict[str, Any]:
    return {**legal_request(f"Help me {MARKER}"), **changes}


def _open_form(client: TestClient, lang: str = "en") -> str:
    page = client.get(f"/{lang}/request/legal")
    assert page.status_code == 200
    return page.text


def _proof(client: TestClient) -> dict[str, str]:
    challenge = client.get("/api/v1/requests/challenge").json()
    return {"token": challenge["token"], "solution": solve(challenge["token"], challenge["bits"])}


def _kept_in_form(html: str) -> bool:
    return (
        f">Please help {MARKER}</textarea>" in html
        and re.search(r'value="other"\s+checked', html) is not None
    )


def test_the_form_carries_a_challenge_and_the_wait_without_javascript(client: TestClient) -> None:
    html = _open_form(client, "uk")

    _token, bits = challenge_in(html)
    assert bits == BITS
    assert shown(UK("pow_wait_notice", seconds=WAIT)) in html
    assert '<script src="/static/pow.js" defer></script>' in html


def test_only_the_request_form_runs_a_script_and_only_our_own(client: TestClient) -> None:
    form = client.get("/en/request/legal")
    home = client.get("/en/")

    assert "script-src 'self'" in form.headers["content-security-policy"]
    assert "default-src 'none'" in form.headers["content-security-policy"]
    assert "script-src" not in home.headers["content-security-policy"]
    assert client.get("/static/pow.js").status_code == 200


def test_a_form_without_a_token_is_400_in_the_requesters_language_with_the_text_kept(
    client: TestClient, org: Org
) -> None:
    response = client.post("/ru/request/legal", data=_form())

    assert response.status_code == 400
    assert shown(RU("pow_missing")) in response.text
    assert _kept_in_form(response.text)
    challenge_in(response.text)  # a fresh challenge to send it with


def test_a_form_with_a_solution_gets_a_receipt(client: TestClient, org: Org) -> None:
    proof = solved_fields(_open_form(client))

    response = client.post("/en/request/legal", data=_form(**proof))

    assert response.status_code == 201, response.text
    assert 'id="receipt"' in response.text


def test_the_same_form_sent_twice_is_refused_the_second_time(client: TestClient, org: Org) -> None:
    proof = solved_fields(_open_form(client))
    assert client.post("/en/request/legal", data=_form(**proof)).status_code == 201

    again = client.post("/en/request/legal", data=_form(**proof))

    assert again.status_code == 400
    assert shown(EN("pow_spent")) in again.text
    assert _kept_in_form(again.text)
    assert challenge_in(again.text)[0] != proof["pow_token"]


def test_an_altered_token_is_refused_with_a_fresh_one(client: TestClient, org: Org) -> None:
    token, _bits = challenge_in(_open_form(client))
    altered = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]

    response = client.post("/en/request/legal", data=_form(pow_token=altered, pow_solution="1"))

    assert response.status_code == 400
    assert shown(EN("pow_invalid")) in response.text
    assert _kept_in_form(response.text)


def test_a_form_sent_too_early_is_429_with_the_wait_and_the_same_token(
    client: TestClient, org: Org, clock: Clock
) -> None:
    token, bits = challenge_in(_open_form(client, "uk"))
    clock.now += WAIT - 20

    response = client.post("/uk/request/legal", data=_form(pow_token=token))

    assert response.status_code == 429
    assert response.headers["retry-after"] == "20"
    assert shown(UK("pow_too_early", seconds=20)) in response.text
    assert _kept_in_form(response.text)
    assert challenge_in(response.text) == (token, bits)  # the wait already served still counts


def test_a_wrong_solution_before_the_wait_is_too_early(client: TestClient, org: Org, clock: Clock) -> None:
    token, bits = challenge_in(_open_form(client))

    response = client.post(
        "/en/request/legal", data=_form(pow_token=token, pow_solution=not_a_solution(token, bits))
    )

    assert response.status_code == 429
    assert shown(EN("pow_too_early", seconds=WAIT)) in response.text


def test_a_form_without_a_solution_goes_through_once_its_wait_is_over(
    client: TestClient, org: Org, clock: Clock
) -> None:
    token, _bits = challenge_in(_open_form(client))
    clock.now += WAIT

    response = client.post("/en/request/legal", data=_form(pow_token=token))

    assert response.status_code == 201, response.text


def test_a_form_refused_for_what_it_says_keeps_its_proof_for_the_corrected_one(
    client: TestClient, org: Org, clock: Clock
) -> None:
    token, _bits = challenge_in(_open_form(client))
    clock.now += WAIT
    refused = client.post("/en/request/legal", data=_form(message="  ", pow_token=token))
    assert refused.status_code == 400
    assert shown(EN("message_required")) in refused.text
    kept_token, _bits = challenge_in(refused.text)

    corrected = client.post("/en/request/legal", data=_form(pow_token=kept_token))

    assert kept_token == token
    assert shown(EN("pow_ready")) in refused.text  # no new wait
    assert corrected.status_code == 201, corrected.text


def test_a_rate_limited_form_keeps_its_token(client: TestClient, org: Org, runtime: Runtime) -> None:
    runtime.limits = RateLimiter(limits={Action.INTAKE: Limit(per_address=1, overall=100)})
    first = solved_fields(_open_form(client))
    assert client.post("/en/request/legal", data=_form(**first)).status_code == 201
    token, _bits = challenge_in(_open_form(client))

    limited = client.post("/en/request/legal", data=_form(pow_token=token))

    assert limited.status_code == 429
    assert _kept_in_form(limited.text)
    assert challenge_in(limited.text)[0] == token


def test_the_api_issues_a_challenge(client: TestClient) -> None:
    response = client.get("/api/v1/requests/challenge")

    assert response.status_code == 200
    body = response.json()
    assert body["bits"] == BITS
    assert body["wait_seconds"] == WAIT
    assert body["expires_in_seconds"] == 30 * 60
    assert response.headers["cache-control"] == "no-store"


def test_an_api_request_with_a_solved_challenge_gets_a_receipt(client: TestClient, org: Org) -> None:
    response = client.post("/api/v1/requests", json=_request_body(proof=_proof(client)))

    assert response.status_code == 201, response.text
    assert len(response.json()["receipt"].split()) == 7


def test_an_api_request_without_proof_is_a_problem(client: TestClient, org: Org) -> None:
    response = client.post("/api/v1/requests", json=_request_body())

    body = assert_problem(response, 400, not_echoing=MARKER)
    assert "/api/v1/requests/challenge" in body["detail"]


def test_an_api_request_with_a_spent_proof_is_a_problem(client: TestClient, org: Org) -> None:
    proof = _proof(client)
    assert client.post("/api/v1/requests", json=_request_body(proof=proof)).status_code == 201

    response = client.post("/api/v1/requests", json=_request_body(proof=proof))

    assert "already used" in assert_problem(response, 400, not_echoing=MARKER)["detail"]


def test_an_api_request_with_a_wrong_solution_is_told_when_to_retry(client: TestClient, org: Org) -> None:
    challenge = client.get("/api/v1/requests/challenge").json()
    wrong = not_a_solution(challenge["token"], challenge["bits"])

    response = client.post(
        "/api/v1/requests", json=_request_body(proof={"token": challenge["token"], "solution": wrong})
    )

    body = assert_problem(response, 429, not_echoing=MARKER)
    assert body["retry_after"] == WAIT
    assert response.headers["retry-after"] == str(WAIT)


def test_an_api_request_refused_for_what_it_says_keeps_its_proof(client: TestClient, org: Org) -> None:
    proof = _proof(client)
    refused = client.post("/api/v1/requests", json=_request_body(message=" ", proof=proof))
    assert_problem(refused, 422, not_echoing=MARKER)

    response = client.post("/api/v1/requests", json=_request_body(proof=proof))

    assert response.status_code == 201, response.text


def test_with_pow_off_requests_need_no_proof(settings: Settings, runtime: Runtime, org: Org) -> None:
    app: FastAPI = create_app(settings.with_changes(pow=False), db=runtime.db)
    with TestClient(app, base_url="https://testserver") as off:
        challenge = off.get("/api/v1/requests/challenge").json()
        submitted = off.post("/api/v1/requests", json=_request_body())
        form = off.get("/en/request/legal")

    assert (challenge["bits"], challenge["wait_seconds"]) == (0, 0)
    assert submitted.status_code == 201, submitted.text
    assert "pow_token" not in form.text
    assert "script-src" not in form.headers["content-security-policy"]


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_a_proof_spent_on_one_worker_is_refused_by_another(
    settings: Settings, runtime: Runtime, client: TestClient, org: Org
) -> None:
    # A second worker: the same server key and the same Redis (several workers need PostgreSQL).
    other = create_app(settings, db=runtime.db)
    proof = _proof(client)
    assert client.post("/api/v1/requests", json=_request_body(proof=proof)).status_code == 201

    with TestClient(other, base_url="https://testserver") as second_worker:
        response = second_worker.post("/api/v1/requests", json=_request_body(proof=proof))
    other.state.runtime.pow.close()
    other.state.runtime.sessions.close()

    assert "already used" in assert_problem(response, 400, not_echoing=MARKER)["detail"]
