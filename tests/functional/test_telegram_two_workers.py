"""Two server processes (webhook workers) handling updates of one chat at the same moment: what each put on
the phone stays on the chat's sealed list, so auto-deletion and /erase still reach every message."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from haven.app import create_app
from haven.config import Settings
from haven.db import Database
from haven.i18n import Translator
from haven.runtime import Runtime
from tests.conftest import make_organisation
from tests.fake_bot_api import FakeBotApi
from tests.functional.telegram_chat import TelegramChat, make_request, open_chat


@pytest.fixture
def second_worker(telegram_settings: Settings, db: Database) -> Iterator[TestClient]:
    """Another server over the same store: its own bot, locks and memory, as a second process has."""
    application = create_app(telegram_settings, db=db)
    with TestClient(application, base_url="https://testserver") as client:
        yield client
    application.state.runtime.close()


def test_a_reply_sent_while_another_worker_handles_the_chat_is_still_erased(
    telegram_client: TestClient, second_worker: TestClient, telegram_runtime: Runtime, bot_api: FakeBotApi
) -> None:
    make_organisation(telegram_runtime)
    first = open_chat(telegram_client, bot_api)
    make_request(first)
    second = TelegramChat(second_worker, bot_api, first.user, first.chat_id)

    # Worker one stores a message and stops just before sending "Received"...
    held = bot_api.hold_next("sendMessage")
    slow = threading.Thread(target=first.says, args=("marker-one",))
    slow.start()
    assert held.reached.wait(10)
    # ... while worker two handles the next message from the same chat from start to end.
    second.says("marker-two")
    held.released.set()
    slow.join(10)

    received = Translator("en")("tg_follow_up_stored")
    assert first.phone_texts()[-4:] == ["marker-one", "marker-two", received, received]
    first.says("/erase")
    assert first.phone == []
