"""Searching the words of cases, on the desk and over the JSON API, for the operators of the cases' teams."""

import re
from typing import Any

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


def _api_search(client: TestClient, q: str) -> Any:
    return client.post("/api/v1/cases/search", json={"q": q})


def _desk_search(client: TestClient, q: str, csrf: str) -> Any:
    return client.post("/desk/search", data={"q": q, "csrf_token": csrf})


def _case_ids(html: str) -> list[str]:
    return re.findall(r'data-case="([a-z0-9]+)"', html)


def test_the_search_needs_a_login(client: TestClient, org: Org) -> None:
    assert_problem(_api_search(client, "help"), 401, not_echoing=MARKER)
    response = client.post("/desk/search", data={"q": "help"}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/desk/login")


def test_the_api_finds_a_case_by_a_word_of_its_message(client: TestClient, org: Org) -> None:
    _submit(client, "Мой брат Иван в части под Курском")
    _submit(client, "Нужен юрист")
    api_login(client, org.intake)
    body = _api_search(client, "иван КУРСК").json()
    assert body["total"] == 1
    [only] = [c for c in client.get("/api/v1/cases").json() if c["id"] == body["cases"][0]["id"]]
    assert body["cases"] == [only]


def test_the_api_finds_a_reply_sent_after_the_first_search(client: TestClient, org: Org) -> None:
    _submit(client, "Please help")
    headers = api_login(client, org.intake)
    assert _api_search(client, "wolfhound").json() == {"total": 0, "cases": []}
    case_id = client.get("/api/v1/cases").json()[0]["id"]
    client.post(f"/api/v1/cases/{case_id}/messages", json={"text": "Ask for the Wolfhound"}, headers=headers)
    assert [c["id"] for c in _api_search(client, "wolfhound").json()["cases"]] == [case_id]


def test_an_operator_of_another_team_does_not_find_the_case(client: TestClient, org: Org) -> None:
    _submit(client, f"Please help {MARKER}")
    api_login(client, org.legal)
    assert _api_search(client, MARKER).json() == {"total": 0, "cases": []}


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
    body = assert_problem(_api_search(client, query), 422, not_echoing=MARKER)
    assert "q" in body["detail"]


def test_a_missing_query_is_a_422_problem(client: TestClient, org: Org) -> None:
    api_login(client, org.intake)
    assert_problem(client.post("/api/v1/cases/search", json={}), 422, not_echoing=MARKER)


def test_logging_out_over_the_api_drops_the_index(client: TestClient, org: Org, runtime: Runtime) -> None:
    _submit(client, "Please help")
    api_login(client, org.intake)
    _api_search(client, "help")
    assert runtime.search.indexed_teams()
    assert client.delete("/api/v1/session").status_code == 204
    assert runtime.search.indexed_teams() == frozenset()


def test_logging_out_of_the_desk_drops_the_index(client: TestClient, org: Org, runtime: Runtime) -> None:
    _submit(client, "Please help")
    csrf = api_login(client, org.intake)["X-CSRF-Token"]
    _desk_search(client, "help", csrf)
    assert runtime.search.indexed_teams()
    response = client.post("/desk/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert runtime.search.indexed_teams() == frozenset()


def test_the_queue_page_has_a_search_box(client: TestClient, org: Org) -> None:
    api_login(client, org.intake)
    html = client.get("/desk/").text
    assert '<form method="post" action="/desk/search"' in html
    assert 'name="q"' in html


def test_the_desk_search_lists_the_matching_case_like_the_queue(client: TestClient, org: Org) -> None:
    _submit(client, "Мой сын Пётр получил повестку")
    _submit(client, "Нужен юрист")
    csrf = api_login(client, org.intake)["X-CSRF-Token"]
    queue = client.get("/desk/").text
    response = _desk_search(client, "петр", csrf)
    assert response.status_code == 200
    [case_id] = _case_ids(response.text)
    row = re.search(rf'<tr [^>]*data-case="{case_id}">.*?</tr>', queue, re.S)
    assert row is not None
    assert row.group(0) in response.text


def test_the_desk_search_says_when_no_case_matches(client: TestClient, org: Org) -> None:
    _submit(client, "Please help")
    csrf = api_login(client, org.intake)["X-CSRF-Token"]
    response = _desk_search(client, "absent", csrf)
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
    csrf = api_login(client, org.legal)["X-CSRF-Token"]
    assert _case_ids(_desk_search(client, MARKER, csrf).text) == []


def test_a_too_long_desk_query_is_a_400_page_that_does_not_echo_it(client: TestClient, org: Org) -> None:
    csrf = api_login(client, org.intake)["X-CSRF-Token"]
    response = _desk_search(client, MARKER * 20, csrf)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert MARKER not in response.text


def test_the_words_searched_for_never_appear_in_a_url(client: TestClient, org: Org) -> None:
    _submit(client, f"Please help {MARKER}")
    csrf = api_login(client, org.intake)["X-CSRF-Token"]
    response = _desk_search(client, MARKER, csrf)
    assert response.status_code == 200
    assert [r.url for r in response.history] == []  # answered in place, not redirected to a ?q= URL
    assert f"?q={MARKER}" not in response.text
    assert client.get("/desk/search", params={"q": MARKER}).status_code == 200  # a GET only shows the form
    assert _case_ids(client.get("/desk/search", params={"q": MARKER}).text) == []


def test_a_desk_search_without_the_form_token_is_refused(client: TestClient, org: Org) -> None:
    api_login(client, org.intake)
    response = client.post("/desk/search", data={"q": "help", "csrf_token": "forged"})
    assert response.status_code == 403
