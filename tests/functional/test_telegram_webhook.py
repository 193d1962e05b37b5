"""POST /telegram/webhook: only Telegram (which knows the secret) gets in; every update it sends, recorded,
hostile or generated, is answered 200 so that it is not sent again, except when the store failed (503, so
that Telegram does send it again and nothing acknowledged is lost)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from sqlalchemy import func, select, text

from haven.channels.telegram.models import TelegramChat as ChatRow
from haven.config import Settings
from haven.db import Database
from haven.i18n import Translator
from haven.runtime import Runtime
from tests.conftest import PROBLEM, TELEGRAM_SECRET, api_login, make_organisation
from tests.fake_bot_api import FakeBotApi
from tests.functional.telegram_chat import bot_server, make_request, open_chat
from tests.unit.channels.telegram.test_incoming import JSON_VALUES, mutated_updates

FIXTURES = Path(__file__).parents[1] / "fixtures" / "telegram"
RECORDED = sorted(path.name for path in FIXTURES.glob("*.json"))
IGNORED = ("malformed.json", "not_an_update.json", "channel_post.json", "my_chat_member.json")
FIXTURE_PERSON = 987654321987
SECRET = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}


def post(client: TestClient, body: bytes, headers: dict[str, str] | None = None) -> Any:
    return client.post(
        "/telegram/webhook",
        content=body,
        headers={"Content-Type": "application/json", **(SECRET if headers is None else headers)},
    )


def chat_rows(runtime: Runtime) -> int:
    with runtime.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(ChatRow)) or 0)


def said(api: FakeBotApi) -> list[str]:
    return [str(params.get("text")) for params in api.calls_of("sendMessage")]


# -- who may post ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Telegram-Bot-Api-Secret-Token": ""},
        {"X-Telegram-Bot-Api-Secret-Token": "wrong-secret-0123456789"},
        {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET[:-1]},
        {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET + "0"},
        {"Authorization": f"Bearer {TELEGRAM_SECRET}"},
    ],
    ids=["none", "empty", "wrong", "too short", "too long", "another header"],
)
def test_an_update_without_the_right_secret_is_refused_and_nothing_is_done(
    telegram_client: TestClient, telegram_runtime: Runtime, bot_api: FakeBotApi, headers: dict[str, str]
) -> None:
    user = bot_api.user(user_id=FIXTURE_PERSON)
    response = post(telegram_client, json.dumps(user.says("/start")).encode(), headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith(PROBLEM)
    assert TELEGRAM_SECRET not in response.text
    assert bot_api.calls == []
    assert chat_rows(telegram_runtime) == 0


def test_a_server_without_a_bot_has_no_webhook(client: TestClient) -> None:
    response = client.post("/telegram/webhook", json={"update_id": 1}, headers=SECRET)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM)


def test_a_bot_configured_without_a_secret_takes_no_update_even_with_an_empty_header(
    telegram_settings: Settings, db: Database, bot_api: FakeBotApi
) -> None:
    """`haven serve` refuses such settings (Settings.check); a server built without that check must not
    let an empty secret header match an empty secret."""
    with bot_server(telegram_settings.with_changes(telegram_webhook_secret=""), db) as (client, runtime):
        user = bot_api.user(user_id=FIXTURE_PERSON)
        body = json.dumps(user.says("/start")).encode()
        response = post(client, body, {"X-Telegram-Bot-Api-Secret-Token": ""})
        assert response.status_code == 404
        assert bot_api.calls == []
        assert chat_rows(runtime) == 0


def test_the_right_secret_lets_the_update_in(
    telegram_client: TestClient, telegram_settings: Settings, bot_api: FakeBotApi
) -> None:
    user = bot_api.user(user_id=FIXTURE_PERSON, language_code="uk")
    response = post(telegram_client, json.dumps(user.says("/start")).encode())
    assert response.status_code == 200
    assert said(bot_api)[0] == Translator("uk")("tg_welcome", org=telegram_settings.org_name)


# -- whatever Telegram sends ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", RECORDED)
def test_every_recorded_update_is_answered_200(
    telegram_client: TestClient, bot_api: FakeBotApi, name: str
) -> None:
    bot_api.user(user_id=FIXTURE_PERSON)
    response = post(telegram_client, (FIXTURES / name).read_bytes())
    assert response.status_code == 200
    assert response.content == b""


@pytest.mark.parametrize("name", IGNORED)
def test_an_update_the_bot_ignores_gets_no_answer_and_leaves_nothing(
    telegram_client: TestClient, telegram_runtime: Runtime, bot_api: FakeBotApi, name: str
) -> None:
    bot_api.user(user_id=FIXTURE_PERSON)
    assert post(telegram_client, (FIXTURES / name).read_bytes()).status_code == 200
    assert bot_api.calls == []
    assert chat_rows(telegram_runtime) == 0


def test_the_recorded_updates_in_a_row_leave_the_bot_answering(
    telegram_client: TestClient, telegram_settings: Settings, bot_api: FakeBotApi
) -> None:
    bot_api.user(user_id=FIXTURE_PERSON)
    for name in RECORDED:
        assert post(telegram_client, (FIXTURES / name).read_bytes()).status_code == 200
    chat = open_chat(telegram_client, bot_api, user_id=555_000_222, language="en")
    chat.says("/start")
    assert chat.bot_texts()[0] == Translator("en")("tg_welcome", org=telegram_settings.org_name)


@pytest.mark.parametrize(
    "body",
    [b"", b"null", b"[]", b"42", b'"update"', b"{", b"\xff\xfe\x00", b'{"update_id": 1}', b"{}" * 10],
    ids=["empty", "null", "list", "number", "string", "truncated", "not utf-8", "no content", "two objects"],
)
def test_a_body_that_is_no_update_is_answered_200(
    telegram_client: TestClient, bot_api: FakeBotApi, body: bytes
) -> None:
    assert post(telegram_client, body).status_code == 200
    assert bot_api.calls == []


def test_a_body_over_the_size_limit_is_answered_200_and_ignored(
    telegram_client: TestClient, telegram_runtime: Runtime, telegram_settings: Settings, bot_api: FakeBotApi
) -> None:
    user = bot_api.user(user_id=FIXTURE_PERSON)
    update = user.says("/start")
    update["message"]["padding"] = "x" * telegram_settings.max_body_bytes
    response = post(telegram_client, json.dumps(update).encode())
    assert response.status_code == 200
    assert bot_api.calls == []
    assert chat_rows(telegram_runtime) == 0


# -- generated updates -----------------------------------------------------------------------------------


@pytest.fixture
def unlimited(telegram_settings: Settings, db: Database) -> Iterator[tuple[TestClient, Runtime]]:
    """A bot without rate limits, so that every generated update reaches the code behind them."""
    with bot_server(telegram_settings.with_changes(rate_limits=False), db) as served:
        yield served


@settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(update=JSON_VALUES | mutated_updates())
def test_any_json_is_answered_200_and_the_bot_still_answers_the_next_real_update(
    unlimited: tuple[TestClient, Runtime], bot_api: FakeBotApi, update: Any
) -> None:
    client, _runtime = unlimited
    bot_api.user(user_id=FIXTURE_PERSON)
    failures: list[logging.LogRecord] = []
    watch = _Collect(failures)
    logging.getLogger("haven").addHandler(watch)
    try:
        response = post(client, json.dumps(update).encode())
    finally:
        logging.getLogger("haven").removeHandler(watch)
    assert response.status_code == 200, response.text
    # Handled or ignored, never failed: the webhook's catch-all is a last resort, not the plan.
    assert [r.getMessage() for r in failures if r.levelno >= logging.ERROR] == []
    real = bot_api.user(user_id=555_000_333, language_code="ru")
    answers = len(bot_api.calls_of("sendMessage"))
    assert post(client, json.dumps(real.says("/help")).encode()).status_code == 200
    assert said(bot_api)[answers:] == [Translator("ru")("tg_help")]


class _Collect(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(level=logging.DEBUG)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


# -- when the store fails --------------------------------------------------------------------------------


def move_table(db: Database, old: str, new: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(f'ALTER TABLE "{old}" RENAME TO "{new}"'))


def test_an_update_the_store_could_not_take_is_answered_503_and_taken_when_sent_again(
    telegram_client: TestClient, telegram_settings: Settings, telegram_runtime: Runtime, bot_api: FakeBotApi
) -> None:
    """The store really fails: the bot's table is moved away (as a broken or half-migrated store would be),
    then put back, as an operator would repair it."""
    user = bot_api.user(user_id=FIXTURE_PERSON, language_code="en")
    body = json.dumps(user.says("/start")).encode()
    move_table(telegram_runtime.db, "telegram_chats", "telegram_chats_away")
    try:
        response = post(telegram_client, body)
    finally:
        move_table(telegram_runtime.db, "telegram_chats_away", "telegram_chats")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["retry_after"] > 0
    assert said(bot_api) == []
    again = post(telegram_client, body)
    assert again.status_code == 200
    assert said(bot_api)[0] == Translator("en")("tg_welcome", org=telegram_settings.org_name)


def test_a_message_the_store_could_not_take_is_not_acknowledged_and_is_taken_once_when_sent_again(
    telegram_client: TestClient, telegram_runtime: Runtime, bot_api: FakeBotApi
) -> None:
    """Writing fails (the audit log's table is moved away, so the message's transaction cannot commit):
    nothing is said, and Telegram's second try stores the message once and acknowledges it."""
    org = make_organisation(telegram_runtime)
    chat = open_chat(telegram_client, bot_api, language="uk")
    make_request(chat, language="uk", message="marker-text-first")
    update = json.dumps(chat.user.says("marker-text-second")).encode()
    answers = len(said(bot_api))
    move_table(telegram_runtime.db, "audit_events", "audit_events_away")
    try:
        response = post(telegram_client, update)
    finally:
        move_table(telegram_runtime.db, "audit_events_away", "audit_events")
    assert response.status_code == 503
    assert said(bot_api)[answers:] == []
    assert post(telegram_client, update).status_code == 200
    assert said(bot_api)[answers:] == [Translator("uk")("tg_follow_up_stored")]
    api_login(telegram_client, org.intake)
    (case,) = telegram_client.get("/api/v1/cases").json()
    thread = telegram_client.get(f"/api/v1/cases/{case['id']}").json()["thread"]
    assert [r["text"] for r in thread if r["kind"] == "inbound"] == [
        "marker-text-first",
        "marker-text-second",
    ]
