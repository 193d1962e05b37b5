"""Cases over the JSON API, for operators of the case's team."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from haven.audit.services import events_for_case
from haven.runtime import Runtime
from tests.conftest import Org, api_login, assert_problem

MARKER = "quokka-marker-4410"


def _submit(client: TestClient, *, danger: str = "no", message: str = "Please help") -> str:
    response = client.post(
        "/api/v1/requests",
        json={
            "type": "legal",
            "language": "en",
            "answers": {"danger_now": danger, "topic": "other"},
            "message": message,
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["receipt"])


def _first_case(client: TestClient) -> str:
    return str(client.get("/api/v1/cases").json()[0]["id"])


def _assert_problem(response: Any, status: int) -> dict[str, Any]:
    return assert_problem(response, status, not_echoing=MARKER)


def test_the_queue_needs_a_login(client: TestClient, org: Org) -> None:
    _assert_problem(client.get("/api/v1/cases"), 401)


def test_an_urgent_case_comes_first_in_the_queue(client: TestClient, org: Org) -> None:
    _submit(client, danger="no")
    _submit(client, danger="yes")
    _submit(client, danger="no")
    api_login(client, org.intake)
    priorities = [c["priority"] for c in client.get("/api/v1/cases").json()]
    assert priorities == ["urgent", "normal", "normal"]


def test_high_comes_between_urgent_and_normal(client: TestClient, org: Org) -> None:
    _submit(client, danger="no")
    _submit(client, danger="unsure")
    _submit(client, danger="yes")
    api_login(client, org.intake)
    assert [c["priority"] for c in client.get("/api/v1/cases").json()] == ["urgent", "high", "normal"]


def test_a_case_opens_decrypted_for_its_team(client: TestClient, org: Org) -> None:
    _submit(client, message="My first message")
    api_login(client, org.intake)
    case = client.get(f"/api/v1/cases/{_first_case(client)}").json()
    assert case["answers"] == {"danger_now": "no", "topic": "other"}
    assert case["language"] == "en"
    assert [(r["kind"], r["author"], r["text"]) for r in case["thread"]] == [
        ("inbound", None, "My first message")
    ]


def test_opening_a_case_is_audited(client: TestClient, org: Org, runtime: Runtime) -> None:
    _submit(client)
    api_login(client, org.intake)
    case_id = _first_case(client)
    client.get(f"/api/v1/cases/{case_id}")
    with runtime.db.read() as s:
        assert "case.opened" in [e.action for e in events_for_case(db_session=s, case_id=case_id)]


def test_a_reply_takes_the_case_and_moves_it_on(client: TestClient, org: Org) -> None:
    _submit(client)
    headers = api_login(client, org.intake)
    case_id = _first_case(client)
    response = client.post(
        f"/api/v1/cases/{case_id}/messages", json={"text": "We are here."}, headers=headers
    )
    assert response.status_code == 201
    row = client.get("/api/v1/cases").json()[0]
    assert (row["state"], row["assignee"], row["needs_reply"]) == ("in_progress", "olena", False)


def test_a_note_shows_to_the_team_with_its_author(client: TestClient, org: Org) -> None:
    _submit(client)
    headers = api_login(client, org.intake)
    case_id = _first_case(client)
    assert (
        client.post(
            f"/api/v1/cases/{case_id}/notes", json={"text": "check later"}, headers=headers
        ).status_code
        == 201
    )
    thread = client.get(f"/api/v1/cases/{case_id}").json()["thread"]
    assert (thread[-1]["kind"], thread[-1]["author"], thread[-1]["text"]) == ("note", "olena", "check later")


def test_an_allowed_state_move_is_stored(client: TestClient, org: Org) -> None:
    _submit(client)
    headers = api_login(client, org.intake)
    case_id = _first_case(client)
    response = client.post(f"/api/v1/cases/{case_id}/state", json={"state": "waiting"}, headers=headers)
    assert response.json() == {"state": "waiting"}
    assert client.get(f"/api/v1/cases/{case_id}").json()["state"] == "waiting"


def test_a_closed_case_leaves_the_open_queue(client: TestClient, org: Org) -> None:
    _submit(client)
    headers = api_login(client, org.intake)
    case_id = _first_case(client)
    client.post(f"/api/v1/cases/{case_id}/state", json={"state": "closed"}, headers=headers)
    assert client.get("/api/v1/cases").json() == []
    assert [c["id"] for c in client.get("/api/v1/cases?closed=true").json()] == [case_id]


def test_a_move_the_table_forbids_is_409_with_detail(client: TestClient, org: Org) -> None:
    _submit(client)
    headers = api_login(client, org.intake)
    case_id = _first_case(client)
    client.post(f"/api/v1/cases/{case_id}/state", json={"state": "closed"}, headers=headers)
    response = client.post(f"/api/v1/cases/{case_id}/state", json={"state": "waiting"}, headers=headers)
    body = _assert_problem(response, 409)
    assert "closed" in body["detail"]
    assert "waiting" in body["detail"]


def test_a_move_to_the_same_state_changes_nothing(client: TestClient, org: Org) -> None:
    _submit(client)
    headers = api_login(client, org.intake)
    case_id = _first_case(client)
    response = client.post(f"/api/v1/cases/{case_id}/state", json={"state": "new"}, headers=headers)
    assert response.status_code == 200
    assert client.get(f"/api/v1/cases/{case_id}").json()["state"] == "new"


def test_an_unknown_state_is_a_422_problem(client: TestClient, org: Org) -> None:
    _submit(client)
    headers = api_login(client, org.intake)
    response = client.post(
        f"/api/v1/cases/{_first_case(client)}/state", json={"state": MARKER}, headers=headers
    )
    _assert_problem(response, 422)


@pytest.mark.parametrize("path", ["messages", "notes", "state"])
def test_a_write_without_csrf_token_is_403(client: TestClient, org: Org, path: str) -> None:
    _submit(client)
    api_login(client, org.intake)
    body = {"state": "waiting"} if path == "state" else {"text": MARKER}
    _assert_problem(client.post(f"/api/v1/cases/{_first_case(client)}/{path}", json=body), 403)


@pytest.mark.parametrize("path", ["messages", "notes", "state"])
def test_a_write_with_a_wrong_csrf_token_is_403(client: TestClient, org: Org, path: str) -> None:
    _submit(client)
    api_login(client, org.intake)
    body = {"state": "waiting"} if path == "state" else {"text": MARKER}
    response = client.post(
        f"/api/v1/cases/{_first_case(client)}/{path}", json=body, headers={"X-CSRF-Token": "forged"}
    )
    _assert_problem(response, 403)


def test_a_refused_write_stores_nothing(client: TestClient, org: Org) -> None:
    _submit(client)
    api_login(client, org.intake)
    case_id = _first_case(client)
    client.post(f"/api/v1/cases/{case_id}/messages", json={"text": MARKER})
    assert MARKER not in client.get(f"/api/v1/cases/{case_id}").text


def test_another_teams_operator_cannot_see_the_case(client: TestClient, org: Org) -> None:
    _submit(client)
    api_login(client, org.intake)
    case_id = _first_case(client)
    client.delete("/api/v1/session")
    headers = api_login(client, org.legal)
    assert client.get("/api/v1/cases").json() == []
    # Exactly as if the case did not exist: nothing tells a stolen account which ids are real.
    unknown = client.get("/api/v1/cases/zzzzzzzzzzzzzzzz")
    for response in (
        client.get(f"/api/v1/cases/{case_id}"),
        client.post(f"/api/v1/cases/{case_id}/notes", json={"text": MARKER}, headers=headers),
        client.post(f"/api/v1/cases/{case_id}/state", json={"state": "closed"}, headers=headers),
    ):
        _assert_problem(response, 404)
        assert response.json() == unknown.json()


def test_an_unknown_case_is_404(client: TestClient, org: Org) -> None:
    api_login(client, org.intake)
    _assert_problem(client.get("/api/v1/cases/nosuchcase234567"), 404)


def test_a_reply_to_an_unknown_case_is_404(client: TestClient, org: Org) -> None:
    headers = api_login(client, org.intake)
    response = client.post("/api/v1/cases/nosuchcase234567/messages", json={"text": MARKER}, headers=headers)
    _assert_problem(response, 404)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"text": "   "}, id="empty"),
        pytest.param({"text": 42}, id="not-a-string"),
        pytest.param({"text": "hi", "extra": MARKER}, id="extra-field"),
        pytest.param({}, id="missing"),
    ],
)
def test_a_bad_reply_is_a_422_problem(client: TestClient, org: Org, body: dict[str, Any]) -> None:
    _submit(client)
    headers = api_login(client, org.intake)
    _assert_problem(
        client.post(f"/api/v1/cases/{_first_case(client)}/messages", json=body, headers=headers), 422
    )


def test_a_malformed_json_reply_is_a_problem(client: TestClient, org: Org) -> None:
    _submit(client)
    headers = api_login(client, org.intake)
    response = client.post(
        f"/api/v1/cases/{_first_case(client)}/messages",
        content=f'{{"text": "{MARKER}'.encode(),
        headers={**headers, "Content-Type": "application/json"},
    )
    _assert_problem(response, 422)
