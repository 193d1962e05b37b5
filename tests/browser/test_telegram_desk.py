"""A request made through the Telegram bot, answered on the desk in Chromium: the operator sees the message,
plays the voice note, saves the PDF, replies, and sees whether Telegram took the reply.

The served app runs the bot against the fake Bot API (tests/fake_bot_api.py); the requester's updates are
posted to its webhook as Telegram would post them, and the fake keeps what their phone shows."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from playwright.sync_api import expect

from tests.browser.conftest import OpenPage, Shot
from tests.browser.test_desk import open_the_case
from tests.conftest import Org
from tests.fake_bot_api import FakeBotApi
from tests.functional.telegram_chat import TelegramChat, make_request, open_chat
from tests.functional.test_telegram_seizure import pdf_document, voice_note

pytestmark = pytest.mark.browser

FIRST_MESSAGE = "A summons came to my home address yesterday. What should I do?"
PDF_NAME = "summons.pdf"
REPLY = "Do not go to the enlistment office before we talk. A lawyer will write to you today."


@pytest.fixture
def app(telegram_app: FastAPI) -> FastAPI:
    """The served app (tests/browser/conftest.py serves `app`) runs the bot against the fake Bot API."""
    return telegram_app


@pytest.fixture
def requester(origin: str, bot_api: FakeBotApi) -> Iterator[TelegramChat]:
    """A requester whose updates reach the served webhook over HTTP."""
    with httpx.Client(base_url=origin, timeout=30.0) as client:
        yield open_chat(client, bot_api, user_id=5_550_123, language="en")


def ask_with_voice_and_pdf(chat: TelegramChat) -> None:
    make_request(chat, message=FIRST_MESSAGE)
    chat.post(chat.user.sends_voice(voice_note("voice")))
    chat.post(chat.user.sends_document(pdf_document("summons"), PDF_NAME, caption="The summons"))


def test_a_reply_to_a_telegram_request_is_delivered_and_shown_so(
    requester: TelegramChat, new_page: OpenPage, org: Org, shot: Shot
) -> None:
    ask_with_voice_and_pdf(requester)
    case = open_the_case(new_page(), org.intake)
    expect(case.messages.first).to_have_text(FIRST_MESSAGE)
    expect(case.voice_players).to_have_count(1)
    case.wait_for_voice_notes()
    saved = case.download_link(PDF_NAME)
    expect(saved).to_be_visible()
    pdf = case.page.request.get(saved.get_attribute("href") or "")
    assert pdf.ok
    assert pdf.headers["content-type"] == "application/pdf"

    case.reply(REPLY)
    expect(case.notice).to_contain_text("being sent to their Telegram chat")
    case.reload_until_delivery_is("sent")

    expect(case.last_delivery).to_contain_text("Delivered to Telegram")
    assert requester.bot_texts()[-1] == REPLY
    shot(case.page, "telegram-case-delivered")


def test_a_reply_telegram_does_not_take_is_shown_retrying_with_the_reason(
    requester: TelegramChat, bot_api: FakeBotApi, new_page: OpenPage, org: Org, shot: Shot
) -> None:
    ask_with_voice_and_pdf(requester)
    bot_api.fail_next("sendMessage", times=5, kind="server_error")
    case = open_the_case(new_page(), org.intake)

    case.reply(REPLY)
    case.reload_until_delivery_is("retrying")

    expect(case.last_delivery).to_contain_text("Telegram did not take it yet: trying again")
    expect(case.last_delivery).to_contain_text("Telegram answered with an error of its own")
    assert REPLY not in requester.bot_texts()
    shot(case.page, "telegram-case-retrying")
