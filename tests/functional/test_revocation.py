"""Revoking an operator (a stolen laptop, a coerced volunteer): out at once, and what they may have copied
stops opening anything.

Olena (intake) is revoked. Her sessions end and she cannot log in again. The intake team gets a new
keypair, so new cases are sealed to a key she never held. The cases sealed before stay readable by the
remaining members, and a member's login re-wraps them to the new key in the background; once none is left
on the old key, the old key is deleted, and the copy of it Olena could have taken opens no case key in
the store.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from haven.accounts.keyring import held_team_keys
from haven.accounts.models import Operator, RetiredMembership, RetiredTeamKey, Team
from haven.accounts.revocation import revoke_operator
from haven.accounts.services import AccountError, grant_membership
from haven.audit.models import AuditEvent
from haven.cases import services as cases
from haven.cases.models import CaseKey
from haven.cases.rewrap import Pending, retire_if_done, rewrap_all, waiting_case_keys
from haven.crypto.keys import DecryptionError, unseal
from haven.intake import services as intake
from haven.runtime import Runtime
from haven.stats.languages import count_languages
from haven.stats.models import LanguageTally
from tests.conftest import Org, Person, add_operator, api_login
from tests.functional.served import legal_request


def ask_for_help(client: TestClient, text: str) -> str:
    """A request over the API, as a requester sends it; returns its case id."""
    response = client.post("/api/v1/requests", json=legal_request(text))
    assert response.status_code == 201, response.text
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    access = intake.open_with_receipt(
        db=runtime.db, receipt_text=response.json()["receipt"], pepper=runtime.secrets.receipt_pepper
    )
    assert access is not None
    return access.case_id


def intake_team(runtime: Runtime) -> Team:
    with runtime.db.read() as s:
        team = s.scalars(select(Team).where(Team.slug == "intake")).one()
        s.expunge(team)
        return team


def team_key_of(runtime: Runtime, person: Person) -> bytes:
    """What a member could copy while still a member: the team's current private key."""
    team = intake_team(runtime)
    with runtime.db.read() as s:
        keys = held_team_keys(db_session=s, operator=person.unlocked, team_id=team.id)
        assert keys is not None
        return keys.current


def revoke(runtime: Runtime, org: Org, person: Person) -> None:
    with runtime.db.write() as s:
        revoke_operator(db_session=s, operator_id=person.id, by=org.admin.unlocked)
    runtime.sessions.end_all(kind="operator", subject=str(person.id))
    runtime.receiving.forget()


def opens_with(key: bytes, sealed: bytes) -> bool:
    try:
        unseal(sealed, key)
    except DecryptionError:
        return False
    return True


def intake_case_keys(runtime: Runtime) -> list[CaseKey]:
    team = intake_team(runtime)
    with runtime.db.read() as s:
        rows = list(s.scalars(select(CaseKey).where(CaseKey.team_id == team.id)))
        s.expunge_all()
        return rows


def reads_every_case(runtime: Runtime, person: Person, case_ids: list[str]) -> bool:
    for case_id in case_ids:
        view = cases.open_for_operator(db=runtime.db, operator=person.unlocked, case_id=case_id)
        assert view.thread, case_id
    return True


def test_the_revoked_operator_is_logged_out_everywhere_and_cannot_log_in(
    runtime: Runtime, org: Org, app: FastAPI
) -> None:
    with TestClient(app, base_url="https://testserver") as laptop:
        api_login(laptop, org.intake)
        assert laptop.get("/api/v1/cases").status_code == 200
        revoke(runtime, org, org.intake)
        assert laptop.get("/api/v1/cases").status_code == 401
        again = laptop.post(
            "/api/v1/session",
            json={"username": "olena", "passphrase": org.intake.passphrase, "totp": org.intake.code(1)},
        )
        assert again.status_code == 401


def test_new_cases_are_sealed_to_a_key_the_revoked_operator_never_held(
    runtime: Runtime, org: Org, client: TestClient
) -> None:
    copied = team_key_of(runtime, org.intake)
    before = intake_team(runtime)
    revoke(runtime, org, org.intake)
    after = intake_team(runtime)
    assert after.public_key != before.public_key
    assert after.key_generation == before.key_generation + 1
    new_case = ask_for_help(client, "Written after the revocation")
    key = next(k for k in intake_case_keys(runtime) if k.case_id == new_case)
    assert key.key_generation == after.key_generation
    assert not opens_with(copied, key.sealed_private_key)
    assert reads_every_case(runtime, org.coordinator, [new_case])


def test_the_remaining_members_read_old_cases_before_any_rewrap(
    runtime: Runtime, org: Org, client: TestClient
) -> None:
    old = [ask_for_help(client, f"Old request {n}") for n in range(3)]
    revoke(runtime, org, org.intake)
    assert waiting_case_keys(db=runtime.db) == {intake_team(runtime).id: 3}
    assert reads_every_case(runtime, org.coordinator, old)
    assert reads_every_case(runtime, org.admin, old)
    hits = cases.queue(db=runtime.db, operator=org.coordinator.unlocked)
    assert set(old) <= {row.id for row in hits}


def test_the_rewrap_moves_every_case_key_and_then_deletes_the_old_key(
    runtime: Runtime, org: Org, client: TestClient
) -> None:
    old = [ask_for_help(client, f"Old request {n}") for n in range(7)]
    copied = team_key_of(runtime, org.intake)
    revoke(runtime, org, org.intake)
    done = rewrap_all(db=runtime.db, operator=org.coordinator.unlocked, grace=timedelta(0), batch=3)
    assert (done.rewrapped, done.tallies, done.unreadable, done.retired) == (7, 7, 0, 1)
    assert waiting_case_keys(db=runtime.db) == {}
    keys = intake_case_keys(runtime)
    assert {k.key_generation for k in keys} == {2}
    assert not any(opens_with(copied, k.sealed_private_key) for k in keys)
    with runtime.db.read() as s:
        assert s.scalar(select(func.count()).select_from(RetiredTeamKey)) == 0
        assert s.scalar(select(func.count()).select_from(RetiredMembership)) == 0
    assert reads_every_case(runtime, org.coordinator, old)
    assert reads_every_case(runtime, org.admin, old)


def test_the_languages_of_old_requests_are_still_counted_after_the_old_key_is_deleted(
    runtime: Runtime, org: Org, client: TestClient
) -> None:
    for n in range(4):
        ask_for_help(client, f"Old request {n}")
    before = count_languages(db=runtime.db, operator=org.coordinator.unlocked)
    copied = team_key_of(runtime, org.intake)
    revoke(runtime, org, org.intake)

    done = rewrap_all(db=runtime.db, operator=org.coordinator.unlocked, grace=timedelta(0), batch=3)

    assert done.retired == 1
    after = count_languages(db=runtime.db, operator=org.coordinator.unlocked)
    assert after.by_key == before.by_key
    assert after.unreadable == 0
    with runtime.db.read() as s:
        tallies = list(s.scalars(select(LanguageTally)))
    assert {t.key_generation for t in tallies} == {2}
    assert not any(opens_with(copied, t.sealed) for t in tallies)


def test_the_old_key_outlives_the_rewrap_until_the_grace_time_is_over(
    runtime: Runtime, org: Org, client: TestClient
) -> None:
    ask_for_help(client, "Old request")
    revoke(runtime, org, org.intake)
    done = rewrap_all(db=runtime.db, operator=org.coordinator.unlocked)
    assert (done.rewrapped, done.retired) == (1, 0)  # intake may still hold the old key for a few seconds
    team = intake_team(runtime)
    pending = Pending(team.id, 1)
    assert not retire_if_done(db=runtime.db, pending=pending)
    later = intake_team(runtime).created_at + timedelta(days=1)
    assert retire_if_done(db=runtime.db, pending=pending, now=later)


def test_a_members_login_rewraps_in_the_background(runtime: Runtime, org: Org, app: FastAPI) -> None:
    with TestClient(app, base_url="https://testserver") as browser:
        old = [ask_for_help(browser, f"Old request {n}") for n in range(4)]
        revoke(runtime, org, org.intake)
        assert waiting_case_keys(db=runtime.db)
        api_login(browser, org.coordinator)
        deadline = time.monotonic() + 20
        while waiting_case_keys(db=runtime.db) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert waiting_case_keys(db=runtime.db) == {}
        assert reads_every_case(runtime, org.coordinator, old)


def test_someone_added_after_a_revocation_reads_the_cases_not_yet_rewrapped(
    runtime: Runtime, org: Org, client: TestClient
) -> None:
    old = ask_for_help(client, "Old request")
    revoke(runtime, org, org.intake)
    newcomer = add_operator(runtime, "newcomer", org.intake.role)
    with runtime.db.write() as s:
        grant_membership(
            db_session=s,
            team_id=intake_team(runtime).id,
            operator_id=newcomer.id,
            by=org.coordinator.unlocked,
        )
    assert waiting_case_keys(db=runtime.db)
    assert reads_every_case(runtime, newcomer, [old])


def test_search_finds_cases_still_on_the_old_key(runtime: Runtime, org: Org, client: TestClient) -> None:
    ask_for_help(client, "Searching for the word quokka")
    revoke(runtime, org, org.intake)
    headers = api_login(client, org.coordinator)
    found = client.post("/api/v1/cases/search", json={"q": "quokka"}, headers=headers)
    assert found.status_code == 200, found.text
    assert len(found.json()["cases"]) == 1


def test_an_admin_cannot_revoke_themselves_or_nobody(runtime: Runtime, org: Org) -> None:
    with runtime.db.write() as s, pytest.raises(AccountError, match="your own account"):
        revoke_operator(db_session=s, operator_id=org.admin.id, by=org.admin.unlocked)
    with runtime.db.write() as s, pytest.raises(AccountError, match="No such operator"):
        revoke_operator(db_session=s, operator_id=9999, by=org.admin.unlocked)


def test_the_audit_log_records_who_revoked_and_the_rotation_without_content(
    runtime: Runtime, org: Org
) -> None:
    revoke(runtime, org, org.intake)
    with runtime.db.read() as s:
        events = {e.action: e.detail for e in s.scalars(select(AuditEvent))}
    assert events["operator.revoked"] == f"operator={org.intake.id} teams={intake_team(runtime).id}"
    assert events["team.key_rotated"] == "team=intake generation=2"


def test_the_admin_page_revokes_with_one_button(runtime: Runtime, org: Org, client: TestClient) -> None:
    api_login(client, org.admin)
    page = client.get("/desk/admin")
    assert "Revoke olena" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    response = client.post(
        "/desk/admin/revoke",
        data={"operator_id": org.intake.id, "csrf_token": csrf.group(1)},
        follow_redirects=False,
    )
    location = f"/desk/admin?revoked={org.intake.id}"
    assert (response.status_code, response.headers["location"]) == (303, location)
    shown = client.get(location).text
    assert "<strong>olena</strong> is revoked" in shown
    assert "is revoked" not in client.get(f"/desk/admin?revoked={org.legal.id}").text  # not revoked
    assert re.search(r"olena <span class=\"tag muted\">revoked", shown)
    with runtime.db.read() as s:
        olena = s.get(Operator, org.intake.id)
        assert olena is not None
        assert (olena.active, olena.revoked_at is not None) == (False, True)
    again = client.post(
        "/desk/admin/revoke", data={"operator_id": org.intake.id, "csrf_token": csrf.group(1)}
    )
    assert again.status_code == 400
    assert "already revoked" in again.text
