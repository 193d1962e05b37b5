"""An operator sees where they are logged in and ends any of those sessions: a lost phone, a computer
left logged in. Ending one logs it out at once; nobody can end someone else's."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import Org, Person, api_login, assert_problem

LAPTOP = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)


def logged_in(app: FastAPI, person: Person, user_agent: str, steps_ahead: int = 0) -> tuple[TestClient, str]:
    """A browser of its own, logged in over the API: (client, CSRF token)."""
    client = TestClient(app, base_url="https://testserver", headers={"User-Agent": user_agent})
    headers = api_login(client, person, steps_ahead)
    return client, headers["X-CSRF-Token"]


def sessions(client: TestClient) -> list[dict[str, object]]:
    response = client.get("/api/v1/sessions")
    assert response.status_code == 200, response.text
    listed: list[dict[str, object]] = response.json()
    return listed


def test_the_list_shows_each_browser_and_marks_this_one(app: FastAPI, org: Org) -> None:
    laptop, _ = logged_in(app, org.intake, LAPTOP)
    phone, _ = logged_in(app, org.intake, PHONE, steps_ahead=1)
    listed = sessions(laptop)
    assert sorted(str(s["device"]) for s in listed) == ["Chrome on Android", "Firefox on Linux"]
    current = [s for s in listed if s["current"]]
    assert [s["device"] for s in current] == ["Firefox on Linux"]
    assert all(str(s["started_at"]).endswith(":00") for s in listed)  # to the minute
    page = laptop.get("/desk/account")
    assert "Chrome on Android" in page.text
    assert "this session" in page.text
    assert phone.get("/desk/").status_code == 200


def test_ending_the_phone_from_the_laptop_logs_the_phone_out(app: FastAPI, org: Org) -> None:
    laptop, csrf = logged_in(app, org.intake, LAPTOP)
    phone, _ = logged_in(app, org.intake, PHONE, steps_ahead=1)
    phone_id = next(s["id"] for s in sessions(laptop) if not s["current"])
    ended = laptop.delete(f"/api/v1/sessions/{phone_id}", headers={"X-CSRF-Token": csrf})
    assert ended.status_code == 204
    assert phone.get("/api/v1/cases").status_code == 401
    assert phone.get("/desk/", follow_redirects=False).headers["location"] == "/desk/login"
    assert laptop.get("/api/v1/cases").status_code == 200
    assert [s["device"] for s in sessions(laptop)] == ["Firefox on Linux"]


def test_the_desk_page_ends_one_session_with_its_button(app: FastAPI, org: Org) -> None:
    laptop, _ = logged_in(app, org.intake, LAPTOP)
    phone, _ = logged_in(app, org.intake, PHONE, steps_ahead=1)
    page = laptop.get("/desk/account").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    phone_id = next(s["id"] for s in sessions(laptop) if not s["current"])
    response = laptop.post(
        "/desk/account/sessions/end",
        data={"session_id": phone_id, "csrf_token": csrf.group(1)},
        follow_redirects=False,
    )
    assert (response.status_code, response.headers["location"]) == (303, "/desk/account?done=ended")
    assert "That session is over" in laptop.get("/desk/account?done=ended").text
    assert phone.get("/api/v1/cases").status_code == 401


def test_ending_this_session_is_logging_out(app: FastAPI, org: Org) -> None:
    laptop, _ = logged_in(app, org.intake, LAPTOP)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', laptop.get("/desk/account").text)
    assert csrf
    mine = next(s["id"] for s in sessions(laptop) if s["current"])
    response = laptop.post(
        "/desk/account/sessions/end",
        data={"session_id": mine, "csrf_token": csrf.group(1)},
        follow_redirects=False,
    )
    assert (response.status_code, response.headers["location"]) == (303, "/desk/login")
    assert laptop.get("/api/v1/cases").status_code == 401


def test_end_every_other_session_keeps_only_this_one(app: FastAPI, org: Org) -> None:
    # Each one-time code is accepted once and only after an older one: three logins use three steps.
    laptop, _ = logged_in(app, org.intake, LAPTOP, steps_ahead=-1)
    phone, _ = logged_in(app, org.intake, PHONE)
    tablet, _ = logged_in(app, org.intake, PHONE, steps_ahead=1)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', laptop.get("/desk/account").text)
    assert csrf
    response = laptop.post(
        "/desk/account/sessions/end-others", data={"csrf_token": csrf.group(1)}, follow_redirects=False
    )
    assert response.headers["location"] == "/desk/account?done=others"
    assert phone.get("/api/v1/cases").status_code == tablet.get("/api/v1/cases").status_code == 401
    assert [s["current"] for s in sessions(laptop)] == [True]


def test_nobody_ends_another_operators_session(app: FastAPI, org: Org) -> None:
    olena, _ = logged_in(app, org.intake, LAPTOP)
    lawyer, lawyer_csrf = logged_in(app, org.legal, PHONE)
    olena_id = str(sessions(olena)[0]["id"])
    refused = lawyer.delete(f"/api/v1/sessions/{olena_id}", headers={"X-CSRF-Token": lawyer_csrf})
    assert_problem(refused, 404, not_echoing=olena_id)
    assert olena.get("/api/v1/cases").status_code == 200
    assert all(s["device"] == "Chrome on Android" for s in sessions(lawyer))


def test_ending_a_session_needs_the_csrf_token(app: FastAPI, org: Org) -> None:
    laptop, _ = logged_in(app, org.intake, LAPTOP)
    phone, _ = logged_in(app, org.intake, PHONE, steps_ahead=1)
    phone_id = next(s["id"] for s in sessions(laptop) if not s["current"])
    assert laptop.delete(f"/api/v1/sessions/{phone_id}").status_code == 403
    assert phone.get("/api/v1/cases").status_code == 200
