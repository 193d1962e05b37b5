"""The security headers middleware: a response keeps no content security policy of its own but the one
that lets our own scripts run (the request form's proof of work)."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from haven.security.headers import (
    CONTENT_SECURITY_POLICY,
    OWN_SCRIPTS_POLICY,
    SecurityHeaders,
    allow_own_scripts,
)


def _own_scripts(request: Request) -> Response:
    response = PlainTextResponse("form")
    allow_own_scripts(response)
    return response


def _own_policy(request: Request) -> Response:
    return PlainTextResponse("page", headers={"Content-Security-Policy": "script-src *"})


def _plain(request: Request) -> Response:
    return PlainTextResponse("page")


@pytest.fixture
def client() -> TestClient:
    app = Starlette(
        routes=[Route("/form", _own_scripts), Route("/own", _own_policy), Route("/plain", _plain)]
    )
    return TestClient(SecurityHeaders(app))


def test_a_page_that_asks_runs_scripts_from_our_own_origin_only(client: TestClient) -> None:
    policies = client.get("/form").headers.get_list("content-security-policy")

    assert policies == [OWN_SCRIPTS_POLICY]
    assert "script-src 'self'" in OWN_SCRIPTS_POLICY
    assert OWN_SCRIPTS_POLICY.startswith(CONTENT_SECURITY_POLICY)


@pytest.mark.parametrize("path", ["/own", "/plain"])
def test_any_other_page_gets_the_strict_policy_alone(client: TestClient, path: str) -> None:
    assert client.get(path).headers.get_list("content-security-policy") == [CONTENT_SECURITY_POLICY]
