"""The requester's pages: plain HTML forms in three languages, no JavaScript needed."""

import re

import pytest
from fastapi.testclient import TestClient

from haven.i18n import Translator
from tests.conftest import Org

MARKER = "pangolin-marker-9120"
EN, RU = Translator("en"), Translator("ru")


def _receipt_in(html: str) -> str:
    found = re.search(r'<p class="receipt" id="receipt">([^<]+)</p>', html)
    assert found, html
    return found.group(1).strip()


def _submit_form(client: TestClient, lang: str = "en", message: str = "Please help me") -> str:
    response = client.post(
        f"/{lang}/request/legal", data={"q_danger_now": "no", "q_topic": "other", "message": message}
    )
    assert response.status_code == 201, response.text
    return _receipt_in(response.text)


def test_the_language_choice_page_loads(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("lang", ["ru", "uk", "en"])
def test_each_language_has_a_home_page(client: TestClient, lang: str) -> None:
    response = client.get(f"/{lang}/")
    assert response.status_code == 200
    assert f'lang="{lang}"' in response.text


def test_an_unknown_language_is_a_404_page_not_json(client: TestClient) -> None:
    response = client.get("/xx/")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


def test_an_unknown_request_type_is_a_404_page(client: TestClient) -> None:
    response = client.get("/en/request/astrology")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


def test_the_request_form_shows_its_questions(client: TestClient) -> None:
    response = client.get("/en/request/legal")
    assert response.status_code == 200
    assert 'name="q_danger_now"' in response.text
    assert 'name="q_topic"' in response.text


def test_a_form_without_a_message_is_400_in_english(client: TestClient, org: Org) -> None:
    response = client.post(
        "/en/request/legal", data={"q_danger_now": "no", "q_topic": "other", "message": ""}
    )
    assert response.status_code == 400
    assert EN("message_required") in response.text


def test_a_russian_form_without_a_message_is_answered_in_russian(client: TestClient, org: Org) -> None:
    response = client.post(
        "/ru/request/legal", data={"q_danger_now": "no", "q_topic": "other", "message": " "}
    )
    assert response.status_code == 400
    assert RU("message_required") in response.text
    assert EN("message_required") not in response.text


def test_a_refused_form_keeps_what_was_typed(client: TestClient, org: Org) -> None:
    response = client.post("/en/request/legal", data={"q_danger_now": "no", "message": MARKER})
    assert response.status_code == 400
    assert MARKER in response.text  # given back in the form to fix, never lost


def test_a_sent_form_shows_the_receipt_and_opens_a_strict_session(client: TestClient, org: Org) -> None:
    response = client.post(
        "/en/request/legal", data={"q_danger_now": "no", "q_topic": "other", "message": "Please help"}
    )
    assert response.status_code == 201
    assert len(_receipt_in(response.text).split()) == 7
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("haven_requester=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Secure" in cookie


def test_the_receipt_from_the_page_works_over_the_api(client: TestClient, org: Org) -> None:
    receipt = _submit_form(client, message="From the web form")
    thread = client.get("/api/v1/requests/me", headers={"Authorization": f"Receipt {receipt}"}).json()
    assert [m["text"] for m in thread["messages"]] == ["From the web form"]


def test_a_wrong_receipt_on_the_return_page_is_400_in_russian(client: TestClient, org: Org) -> None:
    _submit_form(client, "ru")
    client.cookies.clear()
    response = client.post("/ru/return", data={"receipt": "apple apple apple apple apple apple apple"})
    assert response.status_code == 400
    assert RU("receipt_wrong") in response.text
    assert "set-cookie" not in response.headers


def test_the_right_receipt_leads_to_the_thread(client: TestClient, org: Org) -> None:
    receipt = _submit_form(client, "ru", message="Здравствуйте")
    client.cookies.clear()
    response = client.post("/ru/return", data={"receipt": receipt}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/ru/thread"
    assert "Здравствуйте" in client.get("/ru/thread").text


def test_the_thread_without_a_session_goes_to_the_return_page(client: TestClient, org: Org) -> None:
    response = client.get("/en/thread", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/en/return")


def _csrf_in(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def test_a_follow_up_with_the_csrf_token_joins_the_thread(client: TestClient, org: Org) -> None:
    _submit_form(client)
    token = _csrf_in(client.get("/en/thread").text)
    response = client.post("/en/thread", data={"message": "Another word", "csrf_token": token})
    assert response.status_code == 200  # after the 303 to /en/thread?sent=1
    assert "Another word" in response.text


def test_a_follow_up_without_the_csrf_token_is_403(client: TestClient, org: Org) -> None:
    _submit_form(client)
    response = client.post("/en/thread", data={"message": MARKER})
    assert response.status_code == 403
    assert MARKER not in client.get("/en/thread").text


def test_leaving_ends_the_requester_session(client: TestClient, org: Org) -> None:
    _submit_form(client)
    client.post("/en/leave")
    response = client.get("/en/thread", follow_redirects=False)
    assert response.headers["location"] == "/en/return"


def test_a_form_over_the_body_limit_is_a_413_page(client: TestClient, org: Org) -> None:
    response = client.post("/en/request/legal", data={"message": MARKER * 10_000})
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")
    assert MARKER not in response.text
