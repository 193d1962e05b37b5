"""The requester's JSON API: a request in, a receipt out; with it, the thread and follow-ups."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from haven.config import Settings
from tests.conftest import PROBLEM, Org, api_login, assert_problem

MARKER = "zebra-marker-7731"


def _request(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "legal",
        "language": "en",
        "answers": {"danger_now": "no", "topic": "other"},
        "message": f"Help me {MARKER}",
    }
    body.update(changes)
    return body


def _submit(client: TestClient, **changes: Any) -> str:
    response = client.post("/api/v1/requests", json=_request(**changes))
    assert response.status_code == 201, response.text
    return str(response.json()["receipt"])


def _as(receipt: str) -> dict[str, str]:
    return {"Authorization": f"Receipt {receipt}"}


def _assert_problem(response: Any, status: int) -> dict[str, Any]:
    return assert_problem(response, status, not_echoing=MARKER)


def test_a_request_gets_a_seven_word_receipt(client: TestClient, org: Org) -> None:
    response = client.post("/api/v1/requests", json=_request())
    assert response.status_code == 201
    assert len(response.json()["receipt"].split()) == 7


def test_the_receipt_opens_the_requesters_thread(client: TestClient, org: Org) -> None:
    receipt = _submit(client)
    thread = client.get("/api/v1/requests/me", headers=_as(receipt)).json()
    assert thread["state"] == "new"
    assert thread["language"] == "en"
    assert [(m["direction"], m["text"]) for m in thread["messages"]] == [("inbound", f"Help me {MARKER}")]


def test_the_receipt_is_forgiven_its_case_and_dashes(client: TestClient, org: Org) -> None:
    receipt = _submit(client)
    typed = receipt.upper().replace(" ", "-")
    assert client.get("/api/v1/requests/me", headers=_as(typed)).status_code == 200


def test_a_follow_up_joins_the_thread(client: TestClient, org: Org) -> None:
    receipt = _submit(client)
    response = client.post(
        "/api/v1/requests/me/messages", json={"message": "One more thing"}, headers=_as(receipt)
    )
    assert response.status_code == 201
    texts = [m["text"] for m in client.get("/api/v1/requests/me", headers=_as(receipt)).json()["messages"]]
    assert texts == [f"Help me {MARKER}", "One more thing"]


def test_wrong_receipt_opens_nothing(client: TestClient, org: Org) -> None:
    receipt = _submit(client)
    words = receipt.split()
    wrong = " ".join([*words[:-1], "zebra" if words[-1] != "zebra" else "yodel"])
    response = client.get("/api/v1/requests/me", headers=_as(wrong))
    body = _assert_problem(response, 401)
    assert "messages" not in body


def test_a_wrong_receipt_cannot_add_a_follow_up(client: TestClient, org: Org) -> None:
    _submit(client)
    response = client.post(
        "/api/v1/requests/me/messages",
        json={"message": MARKER},
        headers=_as("apple apple apple apple apple apple apple"),
    )
    _assert_problem(response, 401)


def test_a_missing_receipt_header_is_401(client: TestClient, org: Org) -> None:
    _submit(client)
    _assert_problem(client.get("/api/v1/requests/me"), 401)


def test_another_authorization_scheme_is_401(client: TestClient, org: Org) -> None:
    receipt = _submit(client)
    _assert_problem(client.get("/api/v1/requests/me", headers={"Authorization": f"Bearer {receipt}"}), 401)


def test_notes_never_reach_the_requester(client: TestClient, org: Org) -> None:
    receipt = _submit(client)
    headers = api_login(client, org.intake)
    case_id = client.get("/api/v1/cases").json()[0]["id"]
    client.post(f"/api/v1/cases/{case_id}/notes", json={"text": "internal: seems genuine"}, headers=headers)
    client.post(f"/api/v1/cases/{case_id}/messages", json={"text": "We can help."}, headers=headers)
    response = client.get("/api/v1/requests/me", headers=_as(receipt))
    assert "internal" not in response.text
    assert [m["direction"] for m in response.json()["messages"]] == ["inbound", "outbound"]


def test_a_follow_up_to_a_waiting_case_brings_it_back(client: TestClient, org: Org) -> None:
    receipt = _submit(client)
    headers = api_login(client, org.intake)
    case_id = client.get("/api/v1/cases").json()[0]["id"]
    client.post(f"/api/v1/cases/{case_id}/state", json={"state": "waiting"}, headers=headers)
    client.post("/api/v1/requests/me/messages", json={"message": "I am back"}, headers=_as(receipt))
    assert client.get("/api/v1/requests/me", headers=_as(receipt)).json()["state"] == "in_progress"


def test_malformed_json_is_a_problem_not_a_crash(client: TestClient, org: Org) -> None:
    response = client.post(
        "/api/v1/requests",
        content=f'{{"type": "legal", "message": "{MARKER}"'.encode(),
        headers={"Content-Type": "application/json"},
    )
    _assert_problem(response, 422)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"message": 12345}, id="message-not-a-string"),
        pytest.param({"answers": ["danger_now"]}, id="answers-not-an-object"),
        pytest.param({"answers": {"danger_now": 1, "topic": "other"}}, id="answer-not-a-string"),
        pytest.param({"type": None}, id="type-null"),
        pytest.param({"surplus": MARKER}, id="extra-field"),
    ],
)
def test_wrong_shapes_are_422_problems(client: TestClient, org: Org, changes: dict[str, Any]) -> None:
    _assert_problem(client.post("/api/v1/requests", json=_request(**changes)), 422)


def test_a_missing_field_is_named(client: TestClient, org: Org) -> None:
    body = _request()
    del body["message"]
    detail = _assert_problem(client.post("/api/v1/requests", json=body), 422)["detail"]
    assert "message" in detail


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"type": "astrology"}, "type", id="unknown-type"),
        pytest.param({"language": "de"}, "language", id="unknown-language"),
        pytest.param({"message": "   "}, "message", id="empty-message"),
        pytest.param({"answers": {"danger_now": "no"}}, "topic", id="missing-answer"),
        pytest.param(
            {"answers": {"danger_now": MARKER, "topic": "other"}}, "danger_now", id="option-not-offered"
        ),
        pytest.param(
            {"answers": {"danger_now": "no", "topic": "other", "shoe_size": "44"}},
            "answers",
            id="unknown-q",
        ),
    ],
)
def test_invalid_requests_name_the_field(
    client: TestClient, org: Org, changes: dict[str, Any], field: str
) -> None:
    response = client.post("/api/v1/requests", json=_request(**changes))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["field"] == field
    assert MARKER not in response.text


def test_a_too_long_message_is_refused(client: TestClient, org: Org, settings: Settings) -> None:
    response = client.post("/api/v1/requests", json=_request(message="a" * (settings.max_message_chars + 1)))
    _assert_problem(response, 422)


def test_a_body_over_the_limit_is_413(client: TestClient, org: Org, settings: Settings) -> None:
    huge = MARKER * (settings.max_body_bytes // len(MARKER) + 10)
    _assert_problem(client.post("/api/v1/requests", json=_request(message=huge)), 413)


def test_an_empty_follow_up_is_refused(client: TestClient, org: Org) -> None:
    receipt = _submit(client)
    _assert_problem(
        client.post("/api/v1/requests/me/messages", json={"message": " "}, headers=_as(receipt)), 422
    )


def test_a_follow_up_with_extra_fields_is_refused(client: TestClient, org: Org) -> None:
    receipt = _submit(client)
    response = client.post(
        "/api/v1/requests/me/messages", json={"message": "hi", "case": MARKER}, headers=_as(receipt)
    )
    _assert_problem(response, 422)


def test_no_intake_team_means_503(client: TestClient) -> None:
    _assert_problem(client.post("/api/v1/requests", json=_request()), 503)
