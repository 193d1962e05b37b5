"""The operator's desk: HTML forms, POST-redirect-GET, a CSRF token in every form."""

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from haven.accounts import totp
from haven.accounts.models import Team
from haven.runtime import Runtime
from tests.conftest import Org, Person

MARKER = "narwhal-marker-5038"


def _desk_login(
    client: TestClient, person: Person, steps_ahead: int = 0, passphrase: str | None = None
) -> str:
    response = client.post(
        "/desk/login",
        data={
            "username": person.username,
            "passphrase": passphrase or person.passphrase,
            "code": person.code(steps_ahead),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return _csrf_in(client.get("/desk/").text)


def _csrf_in(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def _submit(client: TestClient, message: str = "I need a lawyer") -> None:
    response = client.post(
        "/api/v1/requests",
        json={
            "type": "legal",
            "language": "en",
            "answers": {"danger_now": "no", "topic": "other"},
            "message": message,
        },
    )
    assert response.status_code == 201, response.text


def _only_case_id(client: TestClient) -> str:
    ids = re.findall(r'href="/desk/cases/([a-z0-9]+)"', client.get("/desk/").text)
    assert len(set(ids)) == 1, ids
    return ids[0]


def test_the_login_page_loads(client: TestClient) -> None:
    response = client.get("/desk/login")
    assert response.status_code == 200
    assert 'name="passphrase"' in response.text


def test_a_right_login_redirects_to_the_queue_with_a_cookie(client: TestClient, org: Org) -> None:
    response = client.post(
        "/desk/login",
        data={"username": "olena", "passphrase": org.intake.passphrase, "code": org.intake.code()},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/desk/"
    assert response.headers["set-cookie"].startswith("haven_session=")


def test_a_wrong_code_is_a_401_page_without_a_cookie(client: TestClient, org: Org) -> None:
    right = org.intake.code()
    response = client.post(
        "/desk/login",
        data={
            "username": "olena",
            "passphrase": org.intake.passphrase,
            "code": f"{(int(right) + 1) % 10**6:06d}",
        },
    )
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
    assert "set-cookie" not in response.headers
    assert org.intake.passphrase not in response.text


def test_the_desk_without_a_login_redirects_to_the_login_page(client: TestClient) -> None:
    response = client.get("/desk/", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/desk/login")


def test_the_queue_lists_the_teams_cases(client: TestClient, org: Org) -> None:
    _submit(client)
    _desk_login(client, org.intake)
    assert len(_only_case_id(client)) == 16


def test_the_queue_of_another_team_does_not_list_the_case(client: TestClient, org: Org) -> None:
    _submit(client)
    _desk_login(client, org.legal)
    assert "/desk/cases/" not in client.get("/desk/").text


def test_the_case_page_shows_the_decrypted_message(client: TestClient, org: Org) -> None:
    _submit(client, message=f"Please help {MARKER}")
    _desk_login(client, org.intake)
    response = client.get(f"/desk/cases/{_only_case_id(client)}")
    assert response.status_code == 200
    assert f"Please help {MARKER}" in response.text


def test_an_unknown_case_page_is_404(client: TestClient, org: Org) -> None:
    _desk_login(client, org.intake)
    response = client.get("/desk/cases/nosuchcase234567")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(("path", "kind"), [("reply", "reply"), ("note", "note")])
def test_a_reply_or_note_with_the_csrf_token_is_stored(
    client: TestClient, org: Org, path: str, kind: str
) -> None:
    _submit(client)
    csrf = _desk_login(client, org.intake)
    case_id = _only_case_id(client)
    response = client.post(
        f"/desk/cases/{case_id}/{path}",
        data={"text": f"{kind} {MARKER}", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/desk/cases/{case_id}?notice={kind}"
    assert f"{kind} {MARKER}" in client.get(f"/desk/cases/{case_id}").text


@pytest.mark.parametrize("path", ["reply", "note"])
def test_a_reply_or_note_without_the_csrf_token_is_403(client: TestClient, org: Org, path: str) -> None:
    _submit(client)
    _desk_login(client, org.intake)
    case_id = _only_case_id(client)
    response = client.post(f"/desk/cases/{case_id}/{path}", data={"text": MARKER})
    assert response.status_code == 403
    assert MARKER not in client.get(f"/desk/cases/{case_id}").text


def test_a_state_move_with_the_csrf_token_is_stored(client: TestClient, org: Org) -> None:
    _submit(client)
    csrf = _desk_login(client, org.intake)
    case_id = _only_case_id(client)
    response = client.post(
        f"/desk/cases/{case_id}/state", data={"state": "closed", "csrf_token": csrf}, follow_redirects=False
    )
    assert response.status_code == 303
    assert "/desk/cases/" not in client.get("/desk/").text
    assert case_id in client.get("/desk/?closed=true").text


def test_a_state_move_without_the_csrf_token_is_403(client: TestClient, org: Org) -> None:
    _submit(client)
    _desk_login(client, org.intake)
    case_id = _only_case_id(client)
    assert client.post(f"/desk/cases/{case_id}/state", data={"state": "closed"}).status_code == 403
    assert _only_case_id(client) == case_id


def test_a_forbidden_state_move_comes_back_with_a_notice(client: TestClient, org: Org) -> None:
    _submit(client)
    csrf = _desk_login(client, org.intake)
    case_id = _only_case_id(client)
    client.post(f"/desk/cases/{case_id}/state", data={"state": "closed", "csrf_token": csrf})
    response = client.post(
        f"/desk/cases/{case_id}/state", data={"state": "waiting", "csrf_token": csrf}, follow_redirects=False
    )
    assert response.headers["location"] == f"/desk/cases/{case_id}?notice=bad_state"


def test_a_case_of_another_team_looks_like_no_case_at_all(client: TestClient, org: Org) -> None:
    _submit(client)
    _desk_login(client, org.intake)
    case_id = _only_case_id(client)
    client.cookies.clear()
    csrf = _desk_login(client, org.legal)
    unknown = client.get("/desk/cases/zzzzzzzzzzzzzzzz")
    page = client.get(f"/desk/cases/{case_id}")
    assert (page.status_code, page.text) == (404, unknown.text)
    assert (
        client.post(f"/desk/cases/{case_id}/note", data={"text": MARKER, "csrf_token": csrf}).status_code
        == 404
    )


def test_a_non_admin_cannot_open_the_admin_page(client: TestClient, org: Org) -> None:
    _desk_login(client, org.coordinator)
    assert client.get("/desk/admin").status_code == 403


def _create_operator(client: TestClient, csrf: str, username: str) -> tuple[str, str]:
    response = client.post(
        "/desk/admin/operators", data={"username": username, "role": "operator", "csrf_token": csrf}
    )
    assert response.status_code == 201, response.text
    passphrase = re.search(r'<code id="new-passphrase">([^<]+)</code>', response.text)
    secret = re.search(r'<code id="new-totp">([^<]+)</code>', response.text)
    assert passphrase
    assert secret
    return passphrase.group(1), secret.group(1)


def test_an_admin_creates_an_operator_who_can_then_log_in(client: TestClient, org: Org) -> None:
    csrf = _desk_login(client, org.admin)
    passphrase, secret = _create_operator(client, csrf, "newbie")
    client.cookies.clear()
    response = client.post(
        "/desk/login",
        data={"username": "newbie", "passphrase": passphrase, "code": totp.current_code(secret)},
        follow_redirects=False,
    )
    assert response.status_code == 303


def test_creating_an_operator_without_the_csrf_token_is_403(client: TestClient, org: Org) -> None:
    _desk_login(client, org.admin)
    response = client.post("/desk/admin/operators", data={"username": "sneaky", "role": "admin"})
    assert response.status_code == 403
    assert "sneaky" not in client.get("/desk/admin").text


def test_a_taken_username_is_a_400_page(client: TestClient, org: Org) -> None:
    csrf = _desk_login(client, org.admin)
    response = client.post(
        "/desk/admin/operators", data={"username": "olena", "role": "operator", "csrf_token": csrf}
    )
    assert response.status_code == 400
    assert "taken" in response.text


def _team_id(runtime: Runtime, slug: str) -> int:
    with runtime.db.read() as s:
        team_id = s.scalar(select(Team.id).where(Team.slug == slug))
    assert team_id is not None
    return team_id


def test_a_granted_operator_can_open_that_teams_cases(client: TestClient, org: Org, runtime: Runtime) -> None:
    _submit(client)
    csrf = _desk_login(client, org.admin)
    case_id = _only_case_id(client)
    intake_team_id = _team_id(runtime, "intake")
    response = client.post(
        "/desk/admin/grants",
        data={"operator_id": org.legal.id, "team_id": intake_team_id, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303
    client.cookies.clear()
    _desk_login(client, org.legal)
    assert "I need a lawyer" in client.get(f"/desk/cases/{case_id}").text


def test_an_admin_creates_a_team_and_grants_it(client: TestClient, org: Org, runtime: Runtime) -> None:
    csrf = _desk_login(client, org.admin)
    response = client.post(
        "/desk/admin/teams",
        data={"slug": "routes", "name": "Routes", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert "Routes" in client.get("/desk/admin").text
    routes_id = _team_id(runtime, "routes")
    response = client.post(
        "/desk/admin/grants",
        data={"operator_id": org.intake.id, "team_id": routes_id, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303
    response = client.post(
        "/desk/admin/grants", data={"operator_id": org.intake.id, "team_id": routes_id, "csrf_token": csrf}
    )
    assert response.status_code == 400  # already a member


def test_changing_the_passphrase_relocks_the_key(client: TestClient, org: Org) -> None:
    _submit(client, message=f"Secret {MARKER}")
    csrf = _desk_login(client, org.intake)
    new = "a brand new passphrase for olena"
    response = client.post(
        "/desk/account/passphrase",
        data={"current": org.intake.passphrase, "new": new, "repeat": new, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert (response.status_code, response.headers["location"]) == (303, "/desk/account?done=passphrase")
    client.cookies.clear()
    old = client.post(
        "/desk/login",
        data={"username": "olena", "passphrase": org.intake.passphrase, "code": org.intake.code(1)},
        follow_redirects=False,
    )
    assert old.status_code == 401
    _desk_login(client, org.intake, steps_ahead=1, passphrase=new)
    assert f"Secret {MARKER}" in client.get(f"/desk/cases/{_only_case_id(client)}").text


def test_a_passphrase_change_with_a_wrong_current_is_refused(client: TestClient, org: Org) -> None:
    csrf = _desk_login(client, org.intake)
    new = "a brand new passphrase for olena"
    response = client.post(
        "/desk/account/passphrase",
        data={"current": "not my passphrase", "new": new, "repeat": new, "csrf_token": csrf},
    )
    assert response.status_code == 400


def test_a_passphrase_change_with_differing_repeats_is_refused(client: TestClient, org: Org) -> None:
    csrf = _desk_login(client, org.intake)
    response = client.post(
        "/desk/account/passphrase",
        data={
            "current": org.intake.passphrase,
            "new": "a brand new passphrase one",
            "repeat": "a brand new passphrase two",
            "csrf_token": csrf,
        },
    )
    assert response.status_code == 400


def test_logging_out_ends_the_desk_session(client: TestClient, org: Org) -> None:
    csrf = _desk_login(client, org.intake)
    response = client.post("/desk/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.headers["location"] == "/desk/login"
    assert client.get("/desk/", follow_redirects=False).headers["location"] == "/desk/login"
