"""Searching the words of cases, on the desk and over the JSON API, for the operators of the cases' teams."""

import re

import pytest
from fastapi.testclient import TestClient

from haven.cases.search import MAX_QUERY_CHARS
from haven.runtime import Runtime
from tests.conftest import Org, api_login, assert_problem

MARKER = "pangolin-marker-7731"


def _submit(client: TestClient, message: str) -> None:
    response = client.post(
        "/api/v1/requests",
        json={
            "type": "legal",
            "language": "ru",
            "answers": {"danger_now": "no", "topic": "other"},
            "message": message,
        },
    )
    assert response.status_code == 201, response.text


def _case_ids(html: str) -> list[str]:
    return re.findall(r'data-case="([a-z0-9]+)"', html)


def test_the_search_needs_a_login(client: TestClient, org: Org) -> None:
    assert_problem(client.get("/api/v1/cases/search?q=help"), 401, not_echoing=MARKER)
    response = client.get("/desk/search?q=help", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/desk/login")


def test_the_api_finds_a_case_by_a_word_of_its_message(client: TestClient, org: Org) -> None:
    _submit(client, "Мой брат Иван в части под Курском")
    _submit(client, "Нужен юрист")
    api_login(client, org.intake)
    body = client.get("/api/v1/cases/search", params={"q": "иван КУРСК"}).json()
    assert body["total"] == 1
    [only] = [c for c in client.get("/api/v1/cases").json() if c["id"] == body["cases"][0]["id"]]
    assert body["cases"] == [only]


def test_the_api_finds_a_reply_sent_after_the_first_search(client: TestClient, org: Org) -> None:
    _submit(client, "Please help")
    headers = api_login(client, org.intake)
    assert client.get("/api/v1/cases/search?q=wolfhound").json() == {"total": 0, "cases": []}
    case_id = client.get("/api/v1/cases").json()[0]["id"]
    client.post(f"/api/v1/cases/{case_id}/messages", json={"text": "Ask for the Wolfhound"}, headers=headers)
    assert [c["id"] for c in client.get("/api/v1/cases/search?q=wolfhound").json()["cases"]] == [case_id]


def test_an_operator_of_another_team_does_not_find_the_case(client: TestClient, org: Org) -> None:
    _submit(client, f"Please help {MARKER}")
    api_login(client, org.legal)
    assert client.get("/api/v1/cases/search", params={"q": MARKER}).json() == {"total": 0, "cases": []}


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param(MARKER * (MAX_QUERY_CHARS // len(MARKER) + 1), id="too-long"),
    ],
)
def test_a_bad_query_is_a_422_problem(client: TestClient, org: Org, query: str) -> None:
    api_login(client, org.intake)
    body = assert_problem(client.get("/api/v1/cases/search", params={"q": query}), 422, not_echoing=MARKER)
    assert "q" in body["detail"]


def test_a_missing_query_is_a_422_problem(client: TestClient, org: Org) -> None:
    api_login(client, org.intake)
    assert_problem(client.get("/api/v1/cases/search"), 422, not_echoing=MARKER)


def test_logging_out_over_the_api_drops_the_index(client: TestClient, org: Org, runtime: Runtime) -> None:
    _submit(client, "Please help")
    api_login(client, org.intake)
    client.get("/api/v1/cases/search?q=help")
    assert runtime.search.indexed_teams()
    assert client.delete("/api/v1/session").status_code == 204
    assert runtime.search.indexed_teams() == frozenset()


def test_logging_out_of_the_desk_drops_the_index(client: TestClient, org: Org, runtime: Runtime) -> None:
    _submit(client, "Please help")
    csrf = api_login(client, org.intake)["X-CSRF-Token"]
    client.get("/desk/search?q=help")
    assert runtime.search.indexed_teams()
    response = client.post("/desk/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert runtime.search.indexed_teams() == frozenset()


def test_the_queue_page_has_a_search_box(client: TestClient, org: Org) -> None:
    api_login(client, org.intake)
    html = client.get("/desk/").text
    assert '<form method="get" action="/desk/search"' in html
    assert 'name="q"' in html


def test_the_desk_search_lists_the_matching_case_like_the_queue(client: TestClient, org: Org) -> None:
    _submit(client, "Мой сын Пётр получил повестку")
    _submit(client, "Нужен юрист")
    api_login(client, org.intake)
    queue = client.get("/desk/").text
    response = client.get("/desk/search", params={"q": "петр"})
    assert response.status_code == 200
    [case_id] = _case_ids(response.text)
    row = re.search(rf'<tr [^>]*data-case="{case_id}">.*?</tr>', queue, re.S)
    assert row is not None
    assert row.group(0) in response.text


def test_the_desk_search_says_when_no_case_matches(client: TestClient, org: Org) -> None:
    _submit(client, "Please help")
    api_login(client, org.intake)
    response = client.get("/desk/search", params={"q": "absent"})
    assert response.status_code == 200
    assert "No case matches" in response.text
    assert _case_ids(response.text) == []


def test_the_desk_search_page_warns_the_first_search_takes_a_moment(client: TestClient, org: Org) -> None:
    api_login(client, org.intake)
    response = client.get("/desk/search")
    assert response.status_code == 200
    assert "first search after you log in takes a moment" in response.text


def test_the_desk_search_of_another_team_lists_nothing(client: TestClient, org: Org) -> None:
    _submit(client, f"Please help {MARKER}")
    api_login(client, org.legal)
    assert _case_ids(client.get("/desk/search", params={"q": MARKER}).text) == []


def test_a_too_long_desk_query_is_a_400_page_that_does_not_echo_it(client: TestClient, org: Org) -> None:
    api_login(client, org.intake)
    response = client.get("/desk/search", params={"q": MARKER * 20})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert MARKER not in response.text
