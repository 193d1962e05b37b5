"""Operator sessions over the JSON API: passphrase + one-time code in, a session cookie and CSRF token out."""

from fastapi.testclient import TestClient

from tests.conftest import PROBLEM, Org, api_login


def test_a_right_login_returns_a_csrf_token_and_a_strict_cookie(client: TestClient, org: Org) -> None:
    response = client.post(
        "/api/v1/session",
        json={"username": "olena", "passphrase": org.intake.passphrase, "totp": org.intake.code()},
    )
    assert response.status_code == 200
    assert response.json()["username"] == "olena"
    assert response.json()["role"] == "operator"
    assert response.json()["csrf_token"]
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith("haven_session=")
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "secure" in cookie


def test_a_wrong_code_is_401_and_sets_no_cookie(client: TestClient, org: Org) -> None:
    right = org.intake.code()
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    response = client.post(
        "/api/v1/session",
        json={"username": "olena", "passphrase": org.intake.passphrase, "totp": wrong},
    )
    assert response.status_code == 401
    assert response.headers["content-type"].startswith(PROBLEM)
    assert "set-cookie" not in response.headers
    assert client.get("/api/v1/cases").status_code == 401


def test_a_wrong_passphrase_is_401_and_sets_no_cookie(client: TestClient, org: Org) -> None:
    response = client.post(
        "/api/v1/session",
        json={"username": "olena", "passphrase": "not the passphrase at all", "totp": org.intake.code()},
    )
    assert response.status_code == 401
    assert "set-cookie" not in response.headers


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_passphrase(client: TestClient, org: Org) -> None:
    unknown = client.post(
        "/api/v1/session", json={"username": "nobody", "passphrase": "whatever it is", "totp": "123456"}
    )
    wrong = client.post(
        "/api/v1/session", json={"username": "olena", "passphrase": "whatever it is", "totp": "123456"}
    )
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()


def test_a_replayed_code_does_not_log_in(client: TestClient, org: Org) -> None:
    code = org.intake.code()
    body = {"username": "olena", "passphrase": org.intake.passphrase, "totp": code}
    assert client.post("/api/v1/session", json=body).status_code == 200
    client.delete("/api/v1/session")
    assert client.post("/api/v1/session", json=body).status_code == 401


def test_logging_out_ends_the_session(client: TestClient, org: Org) -> None:
    api_login(client, org.intake)
    assert client.get("/api/v1/cases").status_code == 200
    response = client.delete("/api/v1/session")
    assert response.status_code == 204
    assert client.get("/api/v1/cases").status_code == 401


def test_the_old_cookie_is_dead_after_logout(client: TestClient, org: Org) -> None:
    api_login(client, org.intake)
    token = client.cookies["haven_session"]
    client.delete("/api/v1/session")
    client.cookies.set("haven_session", token)
    assert client.get("/api/v1/cases").status_code == 401


def test_a_login_with_extra_fields_is_a_422_problem(client: TestClient, org: Org) -> None:
    response = client.post(
        "/api/v1/session",
        json={"username": "olena", "passphrase": org.intake.passphrase, "totp": "1", "remember": True},
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)
    assert org.intake.passphrase not in response.text
