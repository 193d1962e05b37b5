"""Operators log in, answer a case, and keep internal notes away from the requester."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import OpenPage, Shot
from tests.browser.pages import (
    DeskAccount,
    DeskAdmin,
    DeskCase,
    DeskLogin,
    DeskQueue,
    ReturnPage,
    ThreadPage,
    revoke,
)
from tests.browser.test_public_flow import FIRST_MESSAGE, ask_for_legal_help
from tests.conftest import Org, Person

pytestmark = pytest.mark.browser

REPLY = "Здравствуйте. Не ходите в военкомат, пока мы не поговорим."
NOTE = "Check the summons date before replying."


def log_in(page: Page, person: Person) -> DeskQueue:
    DeskLogin(page).open().log_in(person)
    return DeskQueue(page)


def open_the_case(page: Page, person: Person) -> DeskCase:
    queue = log_in(page, person)
    expect(queue.rows).to_have_count(1)
    return queue.open_case()


def requester_reads(new_page: OpenPage, receipt: str) -> ThreadPage:
    later = new_page(javascript=False)
    ReturnPage(later).open("ru").enter(receipt)
    return ThreadPage(later)


def test_queue_shows_the_new_case(page: Page, new_page: OpenPage, org: Org, shot: Shot) -> None:
    ask_for_legal_help(page)
    desk = new_page()

    queue = log_in(desk, org.intake)

    assert desk.url.endswith("/desk/")
    expect(queue.rows).to_have_count(1)
    shot(desk, "desk-queue")


def test_operator_reply_is_stored_and_shown_in_the_case(
    page: Page, new_page: OpenPage, org: Org, shot: Shot
) -> None:
    ask_for_legal_help(page)
    case = open_the_case(new_page(), org.intake)

    case.reply(REPLY)

    expect(case.notice).to_contain_text("Reply stored")
    expect(case.messages).to_have_text([FIRST_MESSAGE, REPLY])
    shot(case.page, "desk-case")


def test_requester_sees_the_operators_reply(page: Page, new_page: OpenPage, org: Org) -> None:
    receipt = ask_for_legal_help(page)
    open_the_case(new_page(), org.intake).reply(REPLY)

    thread = requester_reads(new_page, receipt)

    expect(thread.replies).to_have_text([REPLY])


def test_internal_note_is_not_shown_to_the_requester(page: Page, new_page: OpenPage, org: Org) -> None:
    receipt = ask_for_legal_help(page)
    case = open_the_case(new_page(), org.intake)
    case.add_note(NOTE)
    expect(case.messages).to_have_text([FIRST_MESSAGE, NOTE])

    thread = requester_reads(new_page, receipt)

    expect(thread.messages).to_have_text([FIRST_MESSAGE])
    expect(thread.page.get_by_text(NOTE)).to_have_count(0)


def test_wrong_one_time_code_keeps_the_operator_on_the_login_page(page: Page, org: Org) -> None:
    login = DeskLogin(page).open()
    wrong = f"{(int(org.intake.code()) + 1) % 1_000_000:06d}"

    login.log_in(org.intake, code=wrong)

    expect(login.error).to_be_visible()
    assert page.url.endswith("/desk/login")
    DeskQueue(page).open()
    assert page.url.endswith("/desk/login")


def test_new_operator_gets_a_qr_code_that_renders(page: Page, org: Org, shot: Shot) -> None:
    log_in(page, org.admin)
    admin = DeskAdmin(page).open()

    admin.create_operator("maryna")

    expect(admin.qr).to_be_visible()
    box = admin.qr.bounding_box()
    assert box is not None
    assert box["width"] > 100
    assert box["height"] > 100
    shot(page, "desk-admin")


def test_an_operator_ends_a_session_left_open_elsewhere(new_page: OpenPage, org: Org, shot: Shot) -> None:
    office = new_page()
    log_in(office, org.intake)
    home = new_page(javascript=False)
    DeskLogin(home).open().log_in(org.intake, code=org.intake.code(1))

    account = DeskAccount(home).open()
    expect(account.sessions).to_have_count(2)
    expect(account.sessions.filter(has_text="this session")).to_have_count(1)
    shot(home, "desk-account-sessions")
    account.end_other_sessions()

    expect(account.notice).to_contain_text("Every other session is over")
    expect(account.sessions).to_have_count(1)
    DeskQueue(office).open()
    assert office.url.endswith("/desk/login")


def test_an_admin_revokes_an_operator_who_is_logged_out_at_once(
    new_page: OpenPage, org: Org, shot: Shot
) -> None:
    stolen = new_page()
    log_in(stolen, org.intake)
    admin_page = new_page(javascript=False)
    log_in(admin_page, org.admin)
    admin = DeskAdmin(admin_page).open()
    admin_page.locator("details.revoke summary", has_text="Revoke olena").click()
    shot(admin_page, "desk-admin-revoke")

    revoke(admin, "olena")

    expect(admin_page.locator(".alert.success")).to_contain_text("olena is revoked")
    expect(admin_page.locator("tr.revoked")).to_contain_text("olena")
    shot(admin_page, "desk-admin-revoked")
    DeskQueue(stolen).open()
    assert stolen.url.endswith("/desk/login")
