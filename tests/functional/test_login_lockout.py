"""Login lockout over HTTP: five failed logins in a row lock an account, whatever is typed next, until the
lock expires or an admin lifts it; a username nobody has answers exactly the same way."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from haven.accounts.lockout import LOCK_AFTER
from haven.accounts.models import Operator
from haven.audit.models import AuditEvent
from haven.runtime import Runtime
from tests.conftest import Org, Person, assert_problem

WRONG = "not the passphrase at all"
LOCKED = "This account is locked after too many failed attempts"


def attempt(client: TestClient, username: str, passphrase: str, code: str = "123456") -> Any:
    return client.post("/api/v1/session", json={"username": username, "passphrase": passphrase, "totp": code})


def lock(client: TestClient, username: str) -> Any:
    """Fail LOCK_AFTER times; returns the last answer."""
    for _ in range(LOCK_AFTER - 1):
        assert attempt(client, username, WRONG).status_code == 401
    return attempt(client, username, WRONG)


def test_five_wrong_passphrases_lock_the_account(client: TestClient, org: Org) -> None:
    body = assert_problem(lock(client, "olena"), 423, not_echoing=WRONG)
    assert LOCKED in body["detail"]
    assert re.search(r"try again at \d\d:\d\d UTC or ask an admin", body["detail"])


def test_even_the_right_passphrase_is_refused_while_locked(client: TestClient, org: Org) -> None:
    lock(client, "olena")
    right = attempt(client, "olena", org.intake.passphrase, org.intake.code())
    wrong = attempt(client, "olena", WRONG)
    assert right.status_code == wrong.status_code == 423
    assert right.json() == wrong.json(), "the answer does not tell whether the passphrase was right"
    assert "set-cookie" not in right.headers


def test_a_right_login_clears_earlier_failures(client: TestClient, org: Org) -> None:
    for _ in range(LOCK_AFTER - 1):
        attempt(client, "olena", WRONG)
    assert attempt(client, "olena", org.intake.passphrase, org.intake.code()).status_code == 200
    assert attempt(client, "olena", WRONG).status_code == 401


def test_an_unknown_username_is_not_locked_differently(client: TestClient, org: Org) -> None:
    real = [attempt(client, "olena", WRONG) for _ in range(LOCK_AFTER)]
    unknown = [attempt(client, "nobody", WRONG) for _ in range(LOCK_AFTER)]
    assert [r.status_code for r in real] == [r.status_code for r in unknown] == [401] * 4 + [423]

    def same_minute(response: Any) -> Any:
        return re.sub(r"\d\d:\d\d", "HH:MM", response.text)

    assert [same_minute(r) for r in real] == [same_minute(r) for r in unknown]


def _desk_csrf(client: TestClient, person: Person) -> str:
    response = client.post(
        "/desk/login",
        data={"username": person.username, "passphrase": person.passphrase, "code": person.code()},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/desk/").text)
    assert found
    return found.group(1)


def test_an_admin_unlocks_the_account_and_the_operator_logs_in(
    client: TestClient, runtime: Runtime, org: Org
) -> None:
    lock(client, "olena")
    csrf = _desk_csrf(client, org.admin)
    page = client.get("/desk/admin").text
    assert "Unlock olena" in page
    response = client.post(
        "/desk/admin/unlock",
        data={"operator_id": str(org.intake.id), "csrf_token": csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert "Unlock olena" not in client.get("/desk/admin").text
    assert attempt(client, "olena", org.intake.passphrase, org.intake.code()).status_code == 200
    with runtime.db.read() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "operator.unlocked")).one()
    assert (event.actor_kind, event.actor_id, event.detail) == (
        "operator",
        org.admin.id,
        f"operator={org.intake.id}",
    )


def test_unlocking_needs_the_csrf_token(client: TestClient, runtime: Runtime, org: Org) -> None:
    lock(client, "olena")
    _desk_csrf(client, org.admin)
    response = client.post("/desk/admin/unlock", data={"operator_id": str(org.intake.id)})
    assert response.status_code == 403
    assert attempt(client, "olena", org.intake.passphrase, org.intake.code()).status_code == 423


def test_only_an_admin_can_unlock(client: TestClient, org: Org) -> None:
    csrf = _desk_csrf(client, org.coordinator)
    response = client.post("/desk/admin/unlock", data={"operator_id": str(org.intake.id), "csrf_token": csrf})
    assert response.status_code == 403


def test_the_desk_login_page_says_the_account_is_locked(client: TestClient, org: Org) -> None:
    for _ in range(LOCK_AFTER):
        page = client.post("/desk/login", data={"username": "olena", "passphrase": WRONG, "code": "123456"})
    assert page.status_code == 423
    assert LOCKED in page.text
    assert 'value="olena"' in page.text
    assert WRONG not in page.text


def test_the_lock_is_counted_on_the_account_with_nothing_about_the_client(
    client: TestClient, runtime: Runtime, org: Org
) -> None:
    lock(client, "olena")
    with runtime.db.read() as s:
        operator = s.get(Operator, org.intake.id)
        assert operator is not None
        assert operator.failed_logins == LOCK_AFTER
        assert operator.locked_until is not None
        assert operator.locked_until.second == 0, "to the minute, no finer"
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "operator.locked")).all()
    assert [(e.actor_kind, e.detail) for e in events] == [("system", f"operator={org.intake.id} minutes=15")]
    assert not any("testclient" in e.detail or "olena" in e.detail for e in events)
