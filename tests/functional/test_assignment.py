"""Taking a case, assigning it to a member of the team that owns it, or to nobody (POST .../assignee)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from haven.runtime import Runtime
from tests.conftest import Org, assert_problem
from tests.functional.test_procedure_steps import Desk, case_of, desk, submit


@pytest.fixture
def olena(app: FastAPI, org: Org) -> Desk:
    return desk(app, org.intake)


@pytest.fixture
def case(client: TestClient, runtime: Runtime, org: Org) -> str:
    return case_of(runtime, submit(client, "other"))


def assignee(desk: Desk, case_id: str) -> str | None:
    [row] = [r for r in desk.client.get("/api/v1/cases").json() if r["id"] == case_id]
    value: str | None = row["assignee"]
    return value


def test_an_operator_takes_a_case(case: str, olena: Desk) -> None:
    taken = olena.post(f"/api/v1/cases/{case}/assignee", {"username": "olena"})
    assert taken.status_code == 200, taken.text
    assert assignee(olena, case) == "olena"


def test_a_case_is_assigned_to_a_teammate_and_back_to_nobody(case: str, olena: Desk) -> None:
    assert olena.post(f"/api/v1/cases/{case}/assignee", {"username": "coordinator"}).status_code == 200
    assert assignee(olena, case) == "coordinator"
    assert olena.post(f"/api/v1/cases/{case}/assignee", {"username": None}).status_code == 200
    assert assignee(olena, case) is None


def test_only_a_member_of_the_owning_team_can_be_assigned(case: str, olena: Desk) -> None:
    # The lawyer is in the legal team only; the case belongs to intake.
    refused = olena.post(f"/api/v1/cases/{case}/assignee", {"username": "lawyer"})
    assert_problem(refused, 409, not_echoing="lawyer")
    assert assignee(olena, case) is None


def test_an_assignment_is_on_the_timeline(case: str, olena: Desk) -> None:
    olena.post(f"/api/v1/cases/{case}/assignee", {"username": "olena"})
    moments = olena.client.get(f"/api/v1/cases/{case}/timeline").json()
    assert {"who": "olena", "action": "assigned", "detail": "olena"}.items() <= moments[-1].items()


def test_the_desk_form_takes_the_case(case: str, app: FastAPI, org: Org, olena: Desk) -> None:
    page = olena.client.get(f"/desk/cases/{case}")
    assert "Take it" in page.text
    taken = olena.client.post(
        f"/desk/cases/{case}/assignee",
        data={"assignee": "olena", "csrf_token": olena.headers["X-CSRF-Token"]},
        follow_redirects=False,
    )
    assert taken.status_code == 303
    assert assignee(olena, case) == "olena"
