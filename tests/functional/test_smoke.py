from fastapi.testclient import TestClient

from tests.conftest import Org, api_login


def test_request_reply_and_read_back(client: TestClient, org: Org) -> None:
    created = client.post(
        "/api/v1/requests",
        json={
            "type": "legal",
            "language": "ru",
            "answers": {"danger_now": "no", "topic": "other"},
            "message": "Привет",
        },
    )
    assert created.status_code == 201, created.text
    receipt = created.json()["receipt"]
    headers = api_login(client, org.intake)
    cases = client.get("/api/v1/cases").json()
    assert len(cases) == 1
    case_id = cases[0]["id"]
    assert client.get(f"/api/v1/cases/{case_id}").json()["thread"][0]["text"] == "Привет"
    assert (
        client.post(f"/api/v1/cases/{case_id}/messages", json={"text": "Ответ"}, headers=headers).status_code
        == 201
    )
    thread = client.get("/api/v1/requests/me", headers={"Authorization": f"Receipt {receipt}"}).json()
    assert [m["text"] for m in thread["messages"]] == ["Привет", "Ответ"]
