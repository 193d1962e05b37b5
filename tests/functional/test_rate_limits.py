"""Rate limits over HTTP: a flood is told when to try again (problem+json under /api, a page in the
requester's language elsewhere, typed text kept); the limiter holds no address; off means off."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from haven.app import create_app
from haven.config import Settings
from haven.db import Database
from haven.runtime import Runtime
from haven.security.ratelimit import DEFAULT_LIMITS, Action, Limit, RateLimiter
from tests.conftest import Org, assert_problem

MARKER = "albatross-marker-7741"
INTAKE = DEFAULT_LIMITS[Action.INTAKE].per_address
RECEIPT = DEFAULT_LIMITS[Action.RECEIPT].per_address
FOLLOW_UP = DEFAULT_LIMITS[Action.FOLLOW_UP].per_address
LOGIN = DEFAULT_LIMITS[Action.LOGIN].per_address


def request_body(message: str = "I need a lawyer") -> dict[str, Any]:
    return {
        "type": "legal",
        "language": "en",
        "answers": {"danger_now": "no", "topic": "other"},
        "message": message,
    }


def use_up_intake(client: TestClient) -> None:
    for _ in range(INTAKE):
        assert client.post("/api/v1/requests", json=request_body()).status_code == 201


def test_an_intake_flood_from_one_address_gets_a_429_problem_with_retry_after(
    client: TestClient, org: Org
) -> None:
    use_up_intake(client)
    response = client.post("/api/v1/requests", json=request_body(MARKER))
    body = assert_problem(response, 429, not_echoing=MARKER)
    seconds = int(response.headers["retry-after"])
    assert seconds >= 1
    assert body["retry_after"] == seconds
    assert f"{seconds} seconds" in body["detail"]
    assert "Nothing was stored" in body["detail"]


def test_the_web_form_answers_a_429_page_in_russian_and_keeps_the_typed_text(
    client: TestClient, org: Org
) -> None:
    use_up_intake(client)
    response = client.post(
        "/ru/request/legal", data={"q_danger_now": "no", "q_topic": "other", "message": MARKER}
    )
    assert response.status_code == 429
    assert response.headers["content-type"].startswith("text/html")
    assert int(response.headers["retry-after"]) >= 1
    assert "Подождите" in response.text
    assert "ничего не отправлено" in response.text
    assert re.search(rf"<textarea[^>]*>{MARKER}</textarea>", response.text)
    assert re.search(r'value="other"\s+checked', response.text), "the answers are kept too"


def test_a_flood_from_many_addresses_is_slowed_by_the_overall_budget(
    client: TestClient, runtime: Runtime, org: Org
) -> None:
    # Each request names a different client through a trusted proxy; the overall budget is 3 a minute.
    runtime.limits = RateLimiter(limits={Action.INTAKE: Limit(2, 3)}, trust_proxy_headers=True)
    for n in range(3):
        sent = client.post(
            "/api/v1/requests", json=request_body(), headers={"X-Forwarded-For": f"198.51.100.{n}"}
        )
        assert sent.status_code == 201
    response = client.post(
        "/api/v1/requests", json=request_body(), headers={"X-Forwarded-For": "198.51.100.200"}
    )
    body = assert_problem(response, 503, not_echoing=MARKER)
    assert int(response.headers["retry-after"]) >= 1
    assert "very many requests" in body["detail"]


def test_forwarded_for_does_not_escape_the_limit_unless_the_proxy_is_trusted(
    client: TestClient, org: Org
) -> None:
    use_up_intake(client)
    response = client.post(
        "/api/v1/requests", json=request_body(), headers={"X-Forwarded-For": "198.51.100.7"}
    )
    assert response.status_code == 429


@pytest.fixture
def unlimited(settings: Settings, db: Database) -> Iterator[TestClient]:
    app: FastAPI = create_app(settings.with_changes(rate_limits=False), db=db)
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client


def test_rate_limits_off_lets_a_flood_through(unlimited: TestClient, org: Org) -> None:
    for _ in range(INTAKE + 5):
        assert unlimited.post("/api/v1/requests", json=request_body()).status_code == 201


def test_rate_limits_are_on_unless_set_off() -> None:
    assert Settings.from_env({}).rate_limits is True
    assert Settings.from_env({"HAVEN_RATE_LIMITS": "off"}).rate_limits is False
    assert Settings.from_env({}).trust_proxy_headers is False


def test_receipt_lookups_over_the_api_are_limited(client: TestClient, org: Org) -> None:
    wrong = {"Authorization": "Receipt not the right seven words at all"}
    for _ in range(RECEIPT):
        assert client.get("/api/v1/requests/me", headers=wrong).status_code == 401
    assert_problem(client.get("/api/v1/requests/me", headers=wrong), 429, not_echoing="seven words")


def test_receipt_lookups_on_the_return_page_are_limited(client: TestClient, org: Org) -> None:
    for _ in range(RECEIPT):
        assert client.post("/uk/return", data={"receipt": "wrong words"}).status_code == 400
    response = client.post("/uk/return", data={"receipt": "wrong words"})
    assert response.status_code == 429
    assert "Зачекайте" in response.text
    assert "wrong words" not in response.text


def test_follow_ups_are_limited_and_the_text_is_kept(client: TestClient, org: Org) -> None:
    assert client.post("/en/request/legal", data={**_form(), "message": "first"}).status_code == 201
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/en/thread").text)
    assert csrf
    for n in range(FOLLOW_UP):
        sent = client.post(
            "/en/thread", data={"message": f"more {n}", "csrf_token": csrf.group(1)}, follow_redirects=False
        )
        assert sent.status_code == 303
    response = client.post("/en/thread", data={"message": MARKER, "csrf_token": csrf.group(1)})
    assert response.status_code == 429
    assert "Please wait" in response.text
    assert re.search(rf"<textarea[^>]*>{MARKER}</textarea>", response.text)


def _form() -> dict[str, str]:
    return {"q_danger_now": "no", "q_topic": "other"}


def test_logins_from_one_address_are_limited(client: TestClient, org: Org) -> None:
    # Different usernames each time, so that it is the address that is limited, not an account locked.
    for n in range(LOGIN):
        answer = client.post(
            "/api/v1/session", json={"username": f"guess{n}", "passphrase": "p" * 12, "totp": "123456"}
        )
        assert answer.status_code == 401
    response = client.post(
        "/api/v1/session",
        json={"username": "olena", "passphrase": org.intake.passphrase, "totp": org.intake.code()},
    )
    assert_problem(response, 429, not_echoing=org.intake.passphrase)
    desk = client.post("/desk/login", data={"username": "olena", "passphrase": "x", "code": "1"})
    assert desk.status_code == 429
    assert "Please wait" in desk.text


def _strings_in(thing: object, seen: set[int] | None = None) -> Iterator[str | bytes]:
    """Every str and bytes reachable from an object's attributes and containers."""
    seen = set() if seen is None else seen
    if id(thing) in seen:
        return
    seen.add(id(thing))
    if isinstance(thing, str | bytes):
        yield thing
    elif isinstance(thing, dict):
        for key, value in thing.items():
            yield from _strings_in(key, seen)
            yield from _strings_in(value, seen)
    elif isinstance(thing, list | tuple | set | frozenset):
        for item in thing:
            yield from _strings_in(item, seen)
    elif hasattr(thing, "__dict__") or hasattr(thing, "__slots__"):
        for name in getattr(thing, "__slots__", ()):
            yield from _strings_in(getattr(thing, name, None), seen)
        for value in getattr(thing, "__dict__", {}).values():
            if not callable(value) or isinstance(value, dict):
                yield from _strings_in(value, seen)


def test_the_limiter_never_holds_the_address_or_the_username(app: FastAPI, org: Org) -> None:
    address = "198.51.100.23"
    runtime: Runtime = app.state.runtime
    with TestClient(app, base_url="https://testserver", client=(address, 4242)) as client:
        client.post("/api/v1/requests", json=request_body())
        client.post("/en/return", data={"receipt": "wrong words"})
        client.post("/api/v1/session", json={"username": "nobody", "passphrase": "p" * 12, "totp": "1"})
    assert runtime.limits.held_keys()
    assert runtime.unknown_names.held_keys()
    for holder in (runtime.limits, runtime.unknown_names):
        for found in _strings_in(holder):
            text = found.decode("latin-1") if isinstance(found, bytes) else found
            assert address not in text
            assert "nobody" not in text
