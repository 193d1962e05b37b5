"""A requester asks for help with JavaScript off, keeps their receipt, and comes back with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

import haven
from tests.browser.conftest import OpenPage, Shot
from tests.browser.pages import PublicHome, ReceiptPage, RequestForm, ReturnPage, ThreadPage

pytestmark = pytest.mark.browser

FIRST_MESSAGE = "Мне пришла повестка, что делать?"


def ukrainian(key: str) -> str:
    catalogue = Path(haven.__file__).parent / "locale" / "uk.json"
    text: str = json.loads(catalogue.read_text(encoding="utf-8"))[key]
    return text


def ask_for_legal_help(page: Page, shot: Shot | None = None) -> str:
    """Walks the public flow in Russian, as a requester would, and returns the receipt."""
    home = PublicHome(page).open().choose_language("Русский")
    if shot:
        shot(page, "public-home-ru")
    form = home.choose_request_type("legal")
    form.answer("danger_now", "no").answer("topic", "other").write(FIRST_MESSAGE)
    if shot:
        shot(page, "request-form")
    response = form.submit()
    assert response is not None
    assert response.status == 201
    if shot:
        shot(page, "receipt")
    return ReceiptPage(page).receipt


def test_language_choice_leads_to_the_russian_home(page: Page) -> None:
    PublicHome(page).open().choose_language("Русский")

    assert page.url.endswith("/ru/")
    assert page.get_attribute("html", "lang") == "ru"


def test_request_without_javascript_issues_a_seven_word_receipt(page: Page, shot: Shot) -> None:
    receipt = ask_for_legal_help(page, shot)

    assert len(receipt.split()) == 7


def test_receipt_page_continues_to_the_thread_with_the_message(page: Page, shot: Shot) -> None:
    ask_for_legal_help(page)

    thread = ReceiptPage(page).continue_to_thread()

    assert page.url.endswith("/ru/thread")
    expect(thread.messages).to_have_text([FIRST_MESSAGE])
    shot(page, "thread")


def test_follow_up_appears_in_the_thread(page: Page) -> None:
    ask_for_legal_help(page)
    thread = ReceiptPage(page).continue_to_thread()

    thread.follow_up("Повестку принесли вчера.")

    expect(thread.sent_notice).to_be_visible()
    expect(thread.messages).to_have_text([FIRST_MESSAGE, "Повестку принесли вчера."])


def test_receipt_reopens_the_thread_in_a_fresh_browser(page: Page, new_page: OpenPage) -> None:
    receipt = ask_for_legal_help(page)
    later = new_page(javascript=False)

    ReturnPage(later).open("en").enter(receipt)

    assert later.url.endswith("/en/thread")
    expect(ThreadPage(later).messages).to_have_text([FIRST_MESSAGE])


def test_wrong_receipt_opens_nothing(page: Page, new_page: OpenPage) -> None:
    ask_for_legal_help(page)
    stranger = ReturnPage(new_page(javascript=False)).open("en")

    response = stranger.enter("apple banana cherry delta echo foxtrot golf")

    assert response is not None
    assert response.status == 400
    expect(stranger.error).to_be_visible()
    ThreadPage(stranger.page).open("en")
    assert stranger.page.url.endswith("/en/return")


def test_missing_message_is_refused_in_the_requesters_language(page: Page) -> None:
    # Spaces pass the browser's `required` check (no JavaScript needed) and reach the server's own check.
    form = RequestForm(page).open("uk", "legal")
    form.answer("danger_now", "unsure").answer("topic", "summons").write("   ")

    response = form.submit()

    assert response is not None
    assert response.status == 400
    expect(form.errors).to_contain_text(ukrainian("message_required"))
    assert form.chosen("danger_now") == "unsure"
    assert form.chosen("topic") == "summons"
