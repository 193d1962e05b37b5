"""The queue in pages of 50: urgent first, newest first within a priority, whatever plan the database
takes to get there (a small team's few cases, sorted; or the queue index read in order)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from haven.cases import services as cases
from haven.config import Settings
from haven.runtime import Runtime
from tests.conftest import Org, api_login, assert_problem

MANY = cases.QUEUE_PAGE + 10


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Sixty requests from one address within a second are a flood to the rate limits; here they are a queue.
    return settings.with_changes(rate_limits=False)


def submit(client: TestClient, count: int, *, urgent_every: int = 7) -> None:
    for n in range(count):
        created = client.post(
            "/api/v1/requests",
            json={
                "type": "leave_service",
                "language": "en",
                "answers": {"danger_now": "yes" if n % urgent_every == 0 else "no", "where_now": "front"},
                "message": f"request number {n}",
            },
        )
        assert created.status_code == 201, created.text


@pytest.fixture
def crowded(client: TestClient, org: Org) -> TestClient:
    submit(client, MANY)
    api_login(client, org.intake)
    return client


def test_the_api_gives_the_queue_a_page_at_a_time(crowded: TestClient) -> None:
    first = crowded.get("/api/v1/cases").json()
    second = crowded.get("/api/v1/cases", params={"page": 2}).json()
    third = crowded.get("/api/v1/cases", params={"page": 3}).json()
    assert (len(first), len(second), third) == (cases.QUEUE_PAGE, MANY - cases.QUEUE_PAGE, [])
    assert not {c["id"] for c in first} & {c["id"] for c in second}
    ranks = [c["priority"] == "urgent" for c in first + second]
    assert ranks == sorted(ranks, reverse=True), "every urgent case comes before every other"
    normal = [c["created_at"] for c in first + second if c["priority"] != "urgent"]
    assert normal == sorted(normal, reverse=True), "newest first within a priority"


def test_a_page_out_of_range_is_a_clear_error(crowded: TestClient) -> None:
    for bad in ("0", "-1", "many", "100001"):
        assert_problem(crowded.get("/api/v1/cases", params={"page": bad}), 422, not_echoing="zzz")


def test_the_desk_links_the_next_and_previous_pages(client: TestClient, org: Org) -> None:
    submit(client, MANY)
    client.post(
        "/desk/login",
        data={
            "username": org.intake.username,
            "passphrase": org.intake.passphrase,
            "code": org.intake.code(),
        },
    )
    first = client.get("/desk/")
    assert first.status_code == 200
    assert "Cases 1–50" in first.text
    assert 'href="/desk/?page=2"' in first.text
    assert 'rel="prev"' not in first.text
    second = client.get("/desk/", params={"page": 2})
    assert f"Cases 51–{MANY}" in second.text
    assert 'href="/desk/?page=1"' in second.text
    assert 'rel="next"' not in second.text
    beyond = client.get("/desk/", params={"page": 9})
    assert "Back to the first page" in beyond.text


def test_both_plans_give_the_same_queue(
    crowded: TestClient, org: Org, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def ids(**kwargs: int | bool) -> list[str]:
        return [r.id for r in cases.queue(db=runtime.db, operator=org.intake.unlocked, limit=MANY, **kwargs)]

    few_plan = ids()
    monkeypatch.setattr(cases, "_FEW_CASES", 5)  # the team now counts as big: the index is read in order
    assert ids() == few_plan
    assert ids(offset=10)[:5] == few_plan[10:15]
