"""Operators' replies reaching the requester through Telegram: stored with their delivery row, sent by the
outbox (channels/outbox.py, channels/replies.py) part by part, retried while Telegram fails for a moment,
given up when the requester blocked the bot, and picked up again after a restart.

Tests that follow the running server's outbox thread wait for it with a short deadline; tests of timing
give a reply to an `Outbox` of their own, on a clock they move by hand, and attempt it with
`deliver_due()` (no thread).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from haven.app import create_app
from haven.cases.models import Case
from haven.cases.services import open_for_operator
from haven.channels import replies
from haven.channels.models import Delivery, DeliveryState
from haven.channels.outbox import FIRST_PAUSE_SECONDS, GIVE_UP_SECONDS, LONGEST_PAUSE_SECONDS, Outbox
from haven.channels.telegram.bot import CHANNEL, TelegramBot
from haven.channels.telegram.bot_api import MAX_MESSAGE_CHARS, BotApi
from haven.channels.telegram.chat_keys import ChatKeyCache
from haven.config import Settings
from haven.crypto.kdf import KdfParams
from haven.db import Database
from haven.i18n import Translator
from haven.runtime import Runtime
from tests.conftest import Org, Person, api_login, make_organisation
from tests.fake_bot_api import TEST_TOKEN, FakeBotApi
from tests.functional.telegram_chat import TelegramChat, eventually, make_request, open_chat

T = TypeVar("T")
REPLY = "We read your message. marker-reply-4471: a lawyer will write to you tonight."
SECOND_CHAT = 987654321988


class ManualClock:
    """The outbox's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# -- the requester, the helpline, the outbox --------------------------------------------------------------


@pytest.fixture
def telegram_org(telegram_runtime: Runtime) -> Org:
    return make_organisation(telegram_runtime)


@pytest.fixture
def chat(telegram_client: TestClient, bot_api: FakeBotApi, telegram_org: Org) -> TelegramChat:
    """A requester whose request, made in Telegram, is a case of the intake team."""
    return open_chat(telegram_client, bot_api)


@pytest.fixture
def receipt(chat: TelegramChat) -> str:
    return make_request(chat, message="Please help, marker-text-request")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def outbox(telegram_runtime: Runtime, clock: ManualClock) -> Outbox:
    """An outbox of the test's own (the real class, on the server's bot), with no thread: attempted by
    `deliver_due()`. Nothing in these tests opens the case through the server, which would hand the
    server's own outbox the same pending reply."""
    assert telegram_runtime.telegram is not None
    return Outbox(telegram_runtime.db, {CHANNEL: telegram_runtime.telegram}, clock=clock)


def _case_id(runtime: Runtime) -> str:
    with runtime.db.read() as s:
        found = list(s.scalars(select(Case.id)))
    assert len(found) == 1, found
    return found[0]


def _reply_into(outbox: Outbox, runtime: Runtime, operator: Person, reply_text: str = REPLY) -> str:
    return replies.reply(
        db=runtime.db,
        operator=operator.unlocked,
        case_id=_case_id(runtime),
        text=reply_text,
        outbox=outbox,
    )


def _delivery(runtime: Runtime) -> replies.DeliveryInfo:
    found = list(replies.deliveries(db=runtime.db, case_id=_case_id(runtime)).values())
    assert len(found) == 1, found
    return found[0]


def _settled(runtime: Runtime) -> replies.DeliveryInfo | None:
    """The reply's delivery once the outbox is done with it (sent or failed), else None."""
    delivery = _delivery(runtime)
    return delivery if delivery.state in (DeliveryState.SENT, DeliveryState.FAILED) else None


def _api_reply(client: TestClient, headers: dict[str, str], case_id: str, reply_text: str = REPLY) -> None:
    response = client.post(f"/api/v1/cases/{case_id}/messages", json={"text": reply_text}, headers=headers)
    assert response.status_code == 201, response.text


def _thread_reply(client: TestClient, case_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/cases/{case_id}")
    assert response.status_code == 200, response.text
    outbound = [item for item in response.json()["thread"] if item["kind"] == "outbound"]
    assert len(outbound) == 1, outbound
    return dict(outbound[0])


def _sends_to(api: FakeBotApi, chat_id: int) -> list[str]:
    """The texts of every sendMessage to the chat, failed ones included."""
    return [str(call.get("text")) for call in api.calls_of("sendMessage") if call.get("chat_id") == chat_id]


def _desk_login(client: TestClient, person: Person, steps_ahead: int = 0) -> str:
    form = {"username": person.username, "passphrase": person.passphrase, "code": person.code(steps_ahead)}
    response = client.post("/desk/login", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/desk/").text)
    assert found
    return found.group(1)


@contextmanager
def _restarted(settings: Settings) -> Iterator[tuple[FastAPI, TestClient]]:
    """A new server on the same settings and store, its outbox empty, its threads running."""
    application = create_app(settings, db=Database.from_url(settings.resolved_database_url))
    try:
        with TestClient(application, base_url="https://testserver") as client:
            yield application, client
    finally:
        application.state.runtime.close()


# -- delivered -----------------------------------------------------------------------------------------------


def test_a_reply_from_the_api_arrives_on_the_requesters_phone(
    telegram_client: TestClient,
    telegram_runtime: Runtime,
    telegram_org: Org,
    chat: TelegramChat,
    receipt: str,
) -> None:
    headers = api_login(telegram_client, telegram_org.intake)
    case_id = _case_id(telegram_runtime)

    _api_reply(telegram_client, headers, case_id)

    eventually(lambda: REPLY in chat.bot_texts(), "the reply on the phone")


def test_a_delivered_reply_is_marked_sent_in_the_case(
    telegram_client: TestClient,
    telegram_runtime: Runtime,
    telegram_org: Org,
    chat: TelegramChat,
    receipt: str,
) -> None:
    headers = api_login(telegram_client, telegram_org.intake)
    case_id = _case_id(telegram_runtime)
    _api_reply(telegram_client, headers, case_id)

    item = eventually(
        lambda: (found := _thread_reply(telegram_client, case_id))["delivery"] == "sent" and found,
        "the delivery marked sent",
    )

    assert item["text"] == REPLY
    assert _delivery(telegram_runtime) == replies.DeliveryInfo(CHANNEL, DeliveryState.SENT, 1, "")


def test_a_reply_from_the_desk_form_arrives_and_the_case_page_says_delivered(
    telegram_client: TestClient,
    telegram_runtime: Runtime,
    telegram_org: Org,
    chat: TelegramChat,
    receipt: str,
) -> None:
    csrf = _desk_login(telegram_client, telegram_org.intake)
    case_id = _case_id(telegram_runtime)

    response = telegram_client.post(
        f"/desk/cases/{case_id}/reply",
        data={"text": REPLY, "csrf_token": csrf},
        follow_redirects=False,
    )

    assert response.status_code == 303, response.text
    eventually(lambda: _settled(telegram_runtime), "the delivery settled")
    assert REPLY in chat.bot_texts()
    assert "Delivered to Telegram" in telegram_client.get(f"/desk/cases/{case_id}").text


# -- Telegram failing for a while ----------------------------------------------------------------------------


def test_a_flood_limit_is_waited_out_for_as_long_as_telegram_asks(
    telegram_runtime: Runtime,
    telegram_org: Org,
    bot_api: FakeBotApi,
    chat: TelegramChat,
    receipt: str,
    outbox: Outbox,
    clock: ManualClock,
) -> None:
    bot_api.fail_next("sendMessage", kind="retry_after", retry_after=7)
    _reply_into(outbox, telegram_runtime, telegram_org.intake)

    assert outbox.deliver_due() == 1
    assert _delivery(telegram_runtime) == replies.DeliveryInfo(
        CHANNEL, DeliveryState.RETRYING, 1, "too_many_requests"
    )
    assert outbox.next_due_in() == 7
    clock.advance(6)
    assert outbox.deliver_due() == 0
    assert REPLY not in chat.bot_texts()

    clock.advance(1)
    assert outbox.deliver_due() == 1

    assert _delivery(telegram_runtime) == replies.DeliveryInfo(CHANNEL, DeliveryState.SENT, 2, "")
    assert chat.bot_texts().count(REPLY) == 1


def test_the_running_server_delivers_a_reply_after_a_flood_limit(
    telegram_client: TestClient,
    telegram_runtime: Runtime,
    telegram_org: Org,
    bot_api: FakeBotApi,
    chat: TelegramChat,
    receipt: str,
) -> None:
    headers = api_login(telegram_client, telegram_org.intake)
    bot_api.fail_next("sendMessage", kind="retry_after", retry_after=1)

    _api_reply(telegram_client, headers, _case_id(telegram_runtime))

    delivery = eventually(lambda: _settled(telegram_runtime), "the delivery settled")
    assert (delivery.state, delivery.attempts) == (DeliveryState.SENT, 2)
    assert _sends_to(bot_api, chat.chat_id).count(REPLY) == 2
    assert chat.bot_texts().count(REPLY) == 1


def test_server_errors_are_retried_with_pauses_doubling_up_to_five_minutes(
    telegram_runtime: Runtime,
    telegram_org: Org,
    bot_api: FakeBotApi,
    chat: TelegramChat,
    receipt: str,
    outbox: Outbox,
    clock: ManualClock,
) -> None:
    bot_api.fail_next("sendMessage", times=5, kind="server_error", status=500)
    bot_api.fail_next("sendMessage", times=5, kind="server_error", status=502)
    _reply_into(outbox, telegram_runtime, telegram_org.intake)

    pauses, attempts = [], []
    for _ in range(10):
        assert outbox.deliver_due() == 1
        delivery = _delivery(telegram_runtime)
        assert (delivery.state, delivery.last_error) == (DeliveryState.RETRYING, "telegram_server_error")
        attempts.append(delivery.attempts)
        pause = outbox.next_due_in()
        assert pause is not None
        pauses.append(pause)
        clock.advance(pause)

    assert pauses == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert (pauses[0], max(pauses)) == (FIRST_PAUSE_SECONDS, LONGEST_PAUSE_SECONDS)
    assert attempts == list(range(1, 11))
    assert REPLY not in chat.bot_texts()


def test_a_reply_is_delivered_once_server_errors_pass(
    telegram_runtime: Runtime,
    telegram_org: Org,
    bot_api: FakeBotApi,
    chat: TelegramChat,
    receipt: str,
    outbox: Outbox,
    clock: ManualClock,
) -> None:
    bot_api.fail_next("sendMessage", times=2, kind="server_error", status=502)
    bot_api.fail_next("sendMessage", times=1, kind="server_error", status=500)
    _reply_into(outbox, telegram_runtime, telegram_org.intake)

    for pause in (0, 2, 4, 8):
        clock.advance(pause)
        assert outbox.deliver_due() == 1

    assert _delivery(telegram_runtime) == replies.DeliveryInfo(CHANNEL, DeliveryState.SENT, 4, "")
    assert chat.bot_texts().count(REPLY) == 1
    assert outbox.next_due_in() is None


def test_a_reply_telegram_has_not_taken_for_three_days_is_given_up(
    telegram_runtime: Runtime,
    telegram_org: Org,
    bot_api: FakeBotApi,
    chat: TelegramChat,
    receipt: str,
    outbox: Outbox,
    clock: ManualClock,
) -> None:
    bot_api.fail_next("sendMessage", times=2, kind="server_error")
    _reply_into(outbox, telegram_runtime, telegram_org.intake)
    assert outbox.deliver_due() == 1

    clock.advance(GIVE_UP_SECONDS)
    assert outbox.deliver_due() == 1

    assert _delivery(telegram_runtime) == replies.DeliveryInfo(CHANNEL, DeliveryState.FAILED, 2, "gave_up")
    assert outbox.next_due_in() is None


@pytest.fixture
def impatient_bot(
    telegram_runtime: Runtime, telegram_settings: Settings, bot_api: FakeBotApi
) -> Iterator[TelegramBot]:
    """The server's bot as built at start-up, but waiting half a second for Telegram's answers."""
    api = BotApi(token=TEST_TOKEN, api_url=bot_api.url, read_timeout=0.5)
    assert telegram_runtime.telegram is not None
    bot = TelegramBot(
        db=telegram_runtime.db,
        api=api,
        catalogue=telegram_runtime.catalogue,
        procedures=telegram_runtime.procedures,
        pepper=telegram_runtime.secrets.receipt_pepper,
        keys=ChatKeyCache(
            pepper=telegram_runtime.secrets.receipt_pepper,
            params=KdfParams(
                telegram_settings.telegram_hash_opslimit, telegram_settings.telegram_hash_memlimit
            ),
        ),
        limits=telegram_runtime.limits,
        receiving=telegram_runtime.receiving,
        rules=telegram_runtime.telegram.rules,
    )
    yield bot
    bot.close()
    api.close()


def test_a_timeout_is_retried_and_the_reply_is_not_lost(
    telegram_runtime: Runtime,
    telegram_org: Org,
    bot_api: FakeBotApi,
    chat: TelegramChat,
    receipt: str,
    impatient_bot: TelegramBot,
    clock: ManualClock,
) -> None:
    outbox = Outbox(telegram_runtime.db, {CHANNEL: impatient_bot}, clock=clock)
    bot_api.fail_next("sendMessage", kind="timeout", delay=3.0)
    bot_api.fail_next("sendMessage", kind="server_error", status=502)
    _reply_into(outbox, telegram_runtime, telegram_org.intake)

    assert outbox.deliver_due() == 1
    assert _delivery(telegram_runtime) == replies.DeliveryInfo(
        CHANNEL, DeliveryState.RETRYING, 1, "telegram_timeout"
    )
    assert outbox.next_due_in() == 2
    clock.advance(2)
    assert outbox.deliver_due() == 1
    assert outbox.next_due_in() == 4
    clock.advance(4)
    assert outbox.deliver_due() == 1

    assert _delivery(telegram_runtime) == replies.DeliveryInfo(CHANNEL, DeliveryState.SENT, 3, "")
    # A call that timed out may have been carried out (Telegram has no idempotency key): at least once.
    assert REPLY in chat.bot_texts()


# -- the requester blocked the bot ---------------------------------------------------------------------------


def test_a_reply_to_a_requester_who_blocked_the_bot_fails_for_good(
    telegram_client: TestClient,
    telegram_runtime: Runtime,
    telegram_org: Org,
    bot_api: FakeBotApi,
    chat: TelegramChat,
    receipt: str,
) -> None:
    chat.post(chat.user.blocks_bot())
    headers = api_login(telegram_client, telegram_org.intake)
    case_id = _case_id(telegram_runtime)

    _api_reply(telegram_client, headers, case_id)

    delivery = eventually(lambda: _settled(telegram_runtime), "the delivery settled")
    assert delivery == replies.DeliveryInfo(CHANNEL, DeliveryState.FAILED, 1, "blocked_by_requester")
    assert _thread_reply(telegram_client, case_id)["delivery"] == "failed"
    assert telegram_runtime.outbox is not None
    assert telegram_runtime.outbox.next_due_in() is None
    assert _sends_to(bot_api, chat.chat_id).count(REPLY) == 1


def test_a_refused_reply_is_never_tried_again(
    telegram_runtime: Runtime,
    telegram_org: Org,
    bot_api: FakeBotApi,
    chat: TelegramChat,
    receipt: str,
    outbox: Outbox,
    clock: ManualClock,
) -> None:
    bot_api.fail_next("sendMessage", kind="forbidden")
    _reply_into(outbox, telegram_runtime, telegram_org.intake)
    assert outbox.deliver_due() == 1

    clock.advance(7 * 24 * 3600)

    assert outbox.deliver_due() == 0
    assert outbox.next_due_in() is None
    assert _sends_to(bot_api, chat.chat_id).count(REPLY) == 1
    assert _delivery(telegram_runtime) == replies.DeliveryInfo(
        CHANNEL, DeliveryState.FAILED, 1, "blocked_by_requester"
    )


def test_a_reply_the_bot_could_not_deliver_is_readable_with_the_receipt(
    telegram_client: TestClient,
    telegram_runtime: Runtime,
    telegram_org: Org,
    chat: TelegramChat,
    receipt: str,
) -> None:
    chat.post(chat.user.blocks_bot())
    headers = api_login(telegram_client, telegram_org.intake)
    _api_reply(telegram_client, headers, _case_id(telegram_runtime))
    eventually(lambda: _settled(telegram_runtime), "the delivery settled")

    response = telegram_client.get("/api/v1/requests/me", headers={"Authorization": f"Receipt {receipt}"})

    assert response.status_code == 200, response.text
    assert [m["text"] for m in response.json()["messages"] if m["direction"] == "outbound"] == [REPLY]


def test_the_desk_says_a_blocked_reply_was_not_delivered(
    telegram_client: TestClient,
    telegram_runtime: Runtime,
    telegram_org: Org,
    chat: TelegramChat,
    receipt: str,
) -> None:
    chat.post(chat.user.blocks_bot())
    csrf = _desk_login(telegram_client, telegram_org.intake)
    case_id = _case_id(telegram_runtime)
    telegram_client.post(f"/desk/cases/{case_id}/reply", data={"text": REPLY, "csrf_token": csrf})
    eventually(lambda: _settled(telegram_runtime), "the delivery settled")

    page = telegram_client.get(f"/desk/cases/{case_id}").text

    assert "Not delivered to Telegram" in page
    assert "the requester blocked or deleted the bot" in page


# -- long replies --------------------------------------------------------------------------------------------


def _long_reply(words: int = 900) -> str:
    return " ".join(f"word{i:05d}" for i in range(words))


def _reply_parts_on_phone(chat: TelegramChat) -> list[str]:
    return [t for t in chat.bot_texts() if t.startswith("word")]


def test_a_reply_longer_than_telegram_allows_arrives_in_parts_in_order(
    telegram_client: TestClient,
    telegram_runtime: Runtime,
    telegram_org: Org,
    chat: TelegramChat,
    receipt: str,
) -> None:
    reply_text = _long_reply()
    assert len(reply_text) > 2 * MAX_MESSAGE_CHARS
    headers = api_login(telegram_client, telegram_org.intake)

    _api_reply(telegram_client, headers, _case_id(telegram_runtime), reply_text)

    assert eventually(lambda: _settled(telegram_runtime), "the delivery settled").state is DeliveryState.SENT
    parts = _reply_parts_on_phone(chat)
    assert len(parts) == 3
    assert all(len(part) <= MAX_MESSAGE_CHARS for part in parts)
    assert " ".join(parts).split() == reply_text.split()


def test_a_retry_after_a_failure_midway_does_not_send_the_first_parts_again(
    telegram_runtime: Runtime,
    telegram_org: Org,
    bot_api: FakeBotApi,
    chat: TelegramChat,
    receipt: str,
    outbox: Outbox,
    clock: ManualClock,
) -> None:
    reply_text = _long_reply()
    # A "timeout" of no delay answers at once: the first part goes through, the second meets the 502.
    bot_api.fail_next("sendMessage", kind="timeout", delay=0)
    bot_api.fail_next("sendMessage", kind="server_error", status=502)
    _reply_into(outbox, telegram_runtime, telegram_org.intake, reply_text)

    assert outbox.deliver_due() == 1
    first = _reply_parts_on_phone(chat)
    assert len(first) == 1
    assert _delivery(telegram_runtime).state is DeliveryState.RETRYING

    clock.advance(FIRST_PAUSE_SECONDS)
    assert outbox.deliver_due() == 1

    parts = _reply_parts_on_phone(chat)
    assert parts[0] == first[0]
    assert len(parts) == len(set(parts)) == 3
    assert " ".join(parts).split() == reply_text.split()
    assert _delivery(telegram_runtime) == replies.DeliveryInfo(CHANNEL, DeliveryState.SENT, 2, "")


def test_a_reply_finishing_as_its_case_is_opened_is_not_sent_twice(
    store: str,
    telegram_runtime: Runtime,
    telegram_org: Org,
    chat: TelegramChat,
    receipt: str,
    outbox: Outbox,
) -> None:
    """Opening a case hands the outbox the case's pending replies it does not hold (replies.resume): a
    reply the outbox has just sent, whose row does not say so yet, must not be handed to it again."""
    if store == "sqlite":
        pytest.skip("holding one delivery row needs PostgreSQL's row locks (SQLite locks the whole store)")
    record_id = _reply_into(outbox, telegram_runtime, telegram_org.intake)
    attempt = threading.Thread(target=outbox.deliver_due)
    with telegram_runtime.db.write() as s:
        # The outbox's write of "sent" waits for this lock: the reply is on the phone, the row says queued.
        s.execute(select(Delivery).where(Delivery.record_id == record_id).with_for_update())
        attempt.start()
        eventually(lambda: REPLY in chat.bot_texts(), "the reply on the phone, its row still queued")
        replies.resume(
            db=telegram_runtime.db,
            operator=telegram_org.intake.unlocked,
            outbox=outbox,
            case_id=_case_id(telegram_runtime),
        )
    attempt.join(timeout=10)

    outbox.deliver_due()

    assert chat.bot_texts().count(REPLY) == 1


# -- where replies go, and where they do not -----------------------------------------------------------------


def test_a_reply_to_a_web_only_case_makes_no_delivery_and_calls_no_bot_api(
    telegram_client: TestClient, telegram_runtime: Runtime, telegram_org: Org, bot_api: FakeBotApi
) -> None:
    response = telegram_client.post(
        "/api/v1/requests",
        json={
            "type": "legal",
            "language": "en",
            "answers": {"danger_now": "no", "topic": "other"},
            "message": "Please help, marker-text-web",
        },
    )
    assert response.status_code == 201, response.text
    headers = api_login(telegram_client, telegram_org.intake)
    case_id = _case_id(telegram_runtime)

    _api_reply(telegram_client, headers, case_id)

    assert _thread_reply(telegram_client, case_id)["delivery"] is None
    with telegram_runtime.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Delivery)) == 0
    assert telegram_runtime.outbox is not None
    assert telegram_runtime.outbox.next_due_in() is None
    assert bot_api.calls == []


def test_a_reply_goes_to_the_chat_the_requester_last_attached_from(
    telegram_client: TestClient,
    telegram_runtime: Runtime,
    telegram_org: Org,
    bot_api: FakeBotApi,
    chat: TelegramChat,
    receipt: str,
) -> None:
    second = open_chat(telegram_client, bot_api, user_id=SECOND_CHAT)
    second.says(receipt)
    assert second.bot_texts()[-1] == Translator("en")("tg_attached")
    headers = api_login(telegram_client, telegram_org.intake)

    _api_reply(telegram_client, headers, _case_id(telegram_runtime))

    eventually(lambda: REPLY in second.bot_texts(), "the reply on the second phone")
    assert _sends_to(bot_api, chat.chat_id).count(REPLY) == 0
    assert REPLY not in chat.bot_texts()


# -- a restart -----------------------------------------------------------------------------------------------


def _reply_then_stop(client: TestClient, runtime: Runtime, org: Org, api: FakeBotApi) -> replies.DeliveryInfo:
    """Reply while Telegram asks the bot to wait a minute, then stop the server with the reply pending."""
    api.fail_next("sendMessage", kind="retry_after", retry_after=60)
    headers = api_login(client, org.intake)
    _api_reply(client, headers, _case_id(runtime))
    pending = eventually(
        lambda: (d := _delivery(runtime)).state is DeliveryState.RETRYING and d, "the delivery retrying"
    )
    runtime.close()
    return pending


def test_a_reply_pending_at_a_restart_is_delivered_once_a_team_member_logs_in(
    telegram_client: TestClient,
    telegram_runtime: Runtime,
    telegram_settings: Settings,
    telegram_org: Org,
    bot_api: FakeBotApi,
    chat: TelegramChat,
    receipt: str,
) -> None:
    _reply_then_stop(telegram_client, telegram_runtime, telegram_org, bot_api)
    assert REPLY not in chat.bot_texts()

    with _restarted(telegram_settings) as (application, client):
        runtime: Runtime = application.state.runtime
        api_login(client, telegram_org.intake, steps_ahead=1)

        delivery = eventually(lambda: _settled(runtime), "the delivery settled")

    assert (delivery.state, delivery.attempts, delivery.last_error) == (DeliveryState.SENT, 2, "")
    assert chat.bot_texts().count(REPLY) == 1


def test_a_login_outside_the_cases_team_does_not_deliver_a_pending_reply(
    telegram_client: TestClient,
    telegram_runtime: Runtime,
    telegram_settings: Settings,
    telegram_org: Org,
    bot_api: FakeBotApi,
    chat: TelegramChat,
    receipt: str,
) -> None:
    pending = _reply_then_stop(telegram_client, telegram_runtime, telegram_org, bot_api)

    with _restarted(telegram_settings) as (application, client):
        runtime: Runtime = application.state.runtime
        api_login(client, telegram_org.legal)

        assert runtime.outbox is not None
        assert runtime.outbox.next_due_in() is None
        assert _delivery(runtime) == pending

    assert _sends_to(bot_api, chat.chat_id).count(REPLY) == 1
    assert REPLY not in chat.bot_texts()


def test_a_pending_reply_is_handed_again_from_the_records_of_the_case_an_operator_opened(
    telegram_runtime: Runtime,
    telegram_org: Org,
    chat: TelegramChat,
    receipt: str,
    outbox: Outbox,
    clock: ManualClock,
) -> None:
    """The case page and the API open the case once (open_for_operator); the replies a restart left pending
    are handed to the new outbox from those records, without opening the case key again."""
    _reply_into(outbox, telegram_runtime, telegram_org.intake)  # never attempted: the server stopped
    assert telegram_runtime.telegram is not None
    restarted = Outbox(telegram_runtime.db, {CHANNEL: telegram_runtime.telegram}, clock=clock)
    view = open_for_operator(
        db=telegram_runtime.db, operator=telegram_org.intake.unlocked, case_id=_case_id(telegram_runtime)
    )

    assert replies.resume_opened(db=telegram_runtime.db, outbox=restarted, case=view) == 1
    assert replies.resume_opened(db=telegram_runtime.db, outbox=restarted, case=view) == 0
    restarted.deliver_due()

    assert chat.bot_texts().count(REPLY) == 1
    assert _delivery(telegram_runtime).state is DeliveryState.SENT


# -- what the store keeps ------------------------------------------------------------------------------------


def _delivery_rows(runtime: Runtime) -> list[dict[str, Any]]:
    with runtime.db.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(text("SELECT * FROM deliveries"))]


def test_the_deliveries_table_holds_neither_the_reply_nor_the_chat(
    telegram_runtime: Runtime,
    telegram_org: Org,
    bot_api: FakeBotApi,
    chat: TelegramChat,
    receipt: str,
    outbox: Outbox,
    clock: ManualClock,
) -> None:
    bot_api.fail_next("sendMessage", kind="server_error")
    _reply_into(outbox, telegram_runtime, telegram_org.intake)
    outbox.deliver_due()
    retrying = _delivery_rows(telegram_runtime)
    clock.advance(FIRST_PAUSE_SECONDS)
    outbox.deliver_due()
    sent = _delivery_rows(telegram_runtime)

    assert [row["state"] for row in (*retrying, *sent)] == ["retrying", "sent"]
    for row in (*retrying, *sent):
        assert set(row) == {
            "record_id",
            "case_id",
            "channel",
            "state",
            "attempts",
            "last_error",
            "updated_at",
        }
        values = " ".join(str(value) for value in row.values())
        assert "marker-reply-4471" not in values
        assert str(chat.chat_id) not in values
