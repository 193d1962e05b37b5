"""Every response carries the security headers: public pages, the desk, the API and errors alike."""

import re

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from tests.conftest import Org, api_login


def _assert_protected(response: Response) -> None:
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert not re.search(r"https?:", csp)
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "server" not in response.headers


def _assert_not_cached(response: Response) -> None:
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    "path", ["/", "/en/", "/ru/request/legal", "/uk/return", "/desk/login", "/api/v1/openapi.json"]
)
def test_pages_carry_the_headers_and_are_not_cached(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    _assert_protected(response)
    _assert_not_cached(response)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/xx/", 404),
        ("GET", "/desk/nowhere", 404),
        ("GET", "/api/v1/requests/me", 401),
        ("GET", "/api/v1/cases", 401),
        ("POST", "/api/v1/requests", 422),
        ("DELETE", "/en/", 405),
    ],
)
def test_errors_carry_the_headers_and_are_not_cached(
    client: TestClient, method: str, path: str, status: int
) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    _assert_protected(response)
    _assert_not_cached(response)


def test_a_redirect_carries_the_headers(client: TestClient) -> None:
    response = client.get("/desk/", follow_redirects=False)
    assert response.status_code == 303
    _assert_protected(response)


def test_logged_in_api_answers_carry_the_headers(client: TestClient, org: Org) -> None:
    api_login(client, org.intake)
    response = client.get("/api/v1/cases")
    _assert_protected(response)
    _assert_not_cached(response)


def test_logged_in_desk_pages_carry_the_headers(client: TestClient, org: Org) -> None:
    client.post(
        "/desk/login",
        data={"username": "olena", "passphrase": org.intake.passphrase, "code": org.intake.code()},
    )
    response = client.get("/desk/")
    assert response.status_code == 200
    _assert_protected(response)
    _assert_not_cached(response)


def test_a_body_too_large_answer_carries_the_headers(client: TestClient, org: Org) -> None:
    response = client.post(
        "/api/v1/requests", content=b"x" * 70_000, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    _assert_protected(response)


def test_static_files_may_be_cached_but_are_still_protected(client: TestClient) -> None:
    response = client.get("/static/haven.css")
    assert response.status_code == 200
    _assert_protected(response)
    assert response.headers.get("cache-control") != "no-store"


def test_pages_load_nothing_from_another_origin(client: TestClient) -> None:
    for path in ("/", "/en/", "/en/request/legal", "/desk/login"):
        html = client.get(path).text
        assert not re.search(r'(src|href|action)="(https?:)?//', html), path


def test_the_openapi_document_is_served(client: TestClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert "/api/v1/requests" in response.json()["paths"]


def test_the_openapi_document_leaves_out_the_pages(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert all(path.startswith("/api/") for path in paths)


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_no_interactive_docs_are_served(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404
