from __future__ import annotations

from fastapi.testclient import TestClient

from haven.runtime import Runtime
from tests.conftest import make_organisation
from tests.fake_bot_api import FakeBotApi
from tests.functional.telegram_chat import make_request, open_chat


def test_a_request_in_telegram_becomes_a_case(
    telegram_client: TestClient, telegram_runtime: Runtime, bot_api: FakeBotApi
) -> None:
    make_organisation(telegram_runtime)
    chat = open_chat(telegram_client, bot_api)
    receipt = make_request(chat, message="marker-text-first")
    print(chat.bot_texts())
    assert receipt
