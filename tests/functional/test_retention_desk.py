"""Retention on the admin page: the rules of every request type, what the next purge would remove, and a
"purge now" button (admins only, with the CSRF token)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from haven.cases.models import Case
from haven.runtime import Runtime
from tests.conftest import Org
from tests.functional.test_desk_pages import _desk_login
from tests.functional.test_retention import closed_case, take_in


def days_ago(days: int) -> datetime:
    return datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days)


def cases_left(runtime: Runtime) -> int:
    with runtime.db.read() as s:
        return s.scalar(select(func.count()).select_from(Case)) or 0


def retention_section(html: str) -> str:
    found = re.search(r'<section class="retention" id="retention">(.*?)</section>', html, re.S)
    assert found, html
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1)))


def test_the_admin_page_shows_the_rules_and_what_the_next_purge_would_remove(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    closed_case(runtime, org, days_ago(120), request_type="other")
    take_in(runtime, days_ago(400))
    closed_case(runtime, org, days_ago(3))
    _desk_login(client, org.admin)

    text = retention_section(client.get("/desk/admin").text)

    assert "A legal question 90 days 365 days" in text
    assert "Avoid mobilisation 90 days 365 days" in text
    assert "Something else closed 1" in text
    assert "A legal question new 1" in text
    assert "Purge 2 cases now" in text
    assert cases_left(runtime) == 3  # looking changed nothing


def test_with_nothing_expired_the_admin_page_says_so(client: TestClient, org: Org, runtime: Runtime) -> None:
    closed_case(runtime, org, days_ago(3))
    _desk_login(client, org.admin)

    text = retention_section(client.get("/desk/admin").text)

    assert "No case is past its retention." in text
    assert "Purge " not in text


def test_purge_now_removes_the_expired_cases_and_says_how_many(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    closed_case(runtime, org, days_ago(120))
    take_in(runtime, days_ago(400))
    kept = closed_case(runtime, org, days_ago(3))
    csrf = _desk_login(client, org.admin)

    response = client.post("/desk/admin/purge", data={"csrf_token": csrf})

    assert response.status_code == 200, response.text
    text = retention_section(response.text)
    assert "Purged 2 cases" in text
    assert "No case is past its retention." in text
    with runtime.db.read() as s:
        assert list(s.scalars(select(Case.id))) == [kept]


def test_purge_now_without_the_csrf_token_is_403_and_purges_nothing(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    closed_case(runtime, org, days_ago(120))
    _desk_login(client, org.admin)

    response = client.post("/desk/admin/purge", data={})

    assert response.status_code == 403
    assert cases_left(runtime) == 1


def test_an_operator_who_is_not_an_admin_cannot_purge(client: TestClient, org: Org, runtime: Runtime) -> None:
    closed_case(runtime, org, days_ago(120))
    csrf = _desk_login(client, org.intake)

    response = client.post("/desk/admin/purge", data={"csrf_token": csrf})

    assert response.status_code == 403
    assert cases_left(runtime) == 1
