"""A chat that pressed /start and went away is forgotten; a chat with a case stays while its case does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from haven.channels.telegram.models import TelegramChat
from haven.retention.services import purge
from haven.runtime import Runtime
from tests.conftest import make_organisation
from tests.fake_bot_api import FakeBotApi
from tests.functional.telegram_chat import make_request, open_chat


def chats(runtime: Runtime) -> list[TelegramChat]:
    with runtime.db.read() as s:
        return list(s.scalars(select(TelegramChat)))


def test_an_unfinished_questionnaire_is_forgotten_after_two_days_and_a_case_chat_is_kept(
    telegram_client: TestClient, telegram_runtime: Runtime, bot_api: FakeBotApi
) -> None:
    make_organisation(telegram_runtime)
    make_request(open_chat(telegram_client, bot_api, user_id=111_000_111))
    open_chat(telegram_client, bot_api, user_id=222_000_222).says("/start")
    assert len(chats(telegram_runtime)) == 2

    purge(db=telegram_runtime.db, rules=telegram_runtime.catalogue.retention, now=datetime.now(UTC))
    assert len(chats(telegram_runtime)) == 2, "a chat idle for minutes is kept"

    later = datetime.now(UTC) + timedelta(days=2, minutes=1)
    purge(db=telegram_runtime.db, rules=telegram_runtime.catalogue.retention, now=later)
    left = chats(telegram_runtime)
    assert len(left) == 1
    assert left[0].case_id is not None


def test_a_purged_case_takes_its_chat_with_it(
    telegram_client: TestClient, telegram_runtime: Runtime, bot_api: FakeBotApi
) -> None:
    make_organisation(telegram_runtime)
    make_request(open_chat(telegram_client, bot_api))
    # Past every rule: an open case with no activity for more than a year.
    much_later = datetime.now(UTC) + timedelta(days=400)
    purge(db=telegram_runtime.db, rules=telegram_runtime.catalogue.retention, now=much_later)
    with telegram_runtime.db.read() as s:
        assert s.scalar(select(func.count()).select_from(TelegramChat)) == 0
