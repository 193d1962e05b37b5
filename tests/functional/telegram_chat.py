"""A requester talking to the bot through the webhook, as Telegram would deliver their updates, and what
their phone shows (the fake Bot API keeps it)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi.testclient import TestClient

from haven.app import create_app
from haven.config import Settings
from haven.db import Database
from haven.runtime import Runtime
from tests.conftest import TELEGRAM_SECRET
from tests.fake_bot_api import FakeBotApi, FakeUser, PhoneMessage

T = TypeVar("T")


@dataclass
class TelegramChat:
    client: TestClient
    api: FakeBotApi
    user: FakeUser
    chat_id: int

    def post(self, update: dict[str, Any]) -> None:
        response = self.client.post(
            "/telegram/webhook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
        )
        assert response.status_code == 200, response.text

    def says(self, text: str) -> None:
        self.post(self.user.says(text))

    def taps(self, data: str) -> None:
        self.post(self.user.taps(data))

    @property
    def phone(self) -> list[PhoneMessage]:
        return self.api.chat(self.chat_id).visible

    def last_from_bot(self) -> PhoneMessage:
        return [m for m in self.phone if m.from_bot][-1]

    def bot_texts(self) -> list[str]:
        return [m.text or "" for m in self.phone if m.from_bot]

    def phone_texts(self) -> list[str]:
        """Every text and caption the phone shows, the requester's and the bot's, in order."""
        return [m.text or m.caption or "" for m in self.phone]


def open_chat(
    client: TestClient, api: FakeBotApi, *, user_id: int = 987654321987, language: str = "en", **person: Any
) -> TelegramChat:
    user = api.user(user_id=user_id, language_code=language, **person)
    return TelegramChat(client, api, user, user_id)


def make_request(chat: TelegramChat, *, language: str = "en", message: str = "I need help") -> str:
    """The whole first conversation: /start, a language, a type, every question, the message. Returns
    the receipt the bot sent."""
    chat.says("/start")
    chat.taps(f"l:{language}")
    chat.taps("t:legal")
    while True:
        buttons = chat.last_from_bot().buttons
        if not buttons:
            break
        chat.taps(buttons[0]["callback_data"])
    chat.says(message)
    return receipt_in(chat.bot_texts())


def receipt_in(texts: list[str]) -> str:
    from haven.crypto import receipts

    for text in reversed(texts):
        for line in text.splitlines():
            if receipts.normalise(line) is not None:
                return line.strip()
    raise AssertionError(f"no receipt in {texts!r}")


@contextmanager
def bot_server(settings: Settings, db: Database) -> Iterator[tuple[TestClient, Runtime]]:
    """A server of its own running the bot with these settings (`telegram_settings.with_changes(...)`)."""
    app = create_app(settings, db=db)
    try:
        with TestClient(app, base_url="https://testserver") as client:
            yield client, app.state.runtime
    finally:
        app.state.runtime.close()


def eventually(probe: Callable[[], T | None], what: str, *, within: float = 10.0) -> T:
    """Wait for the server's outbox thread: `probe` until it returns something, for at most `within`."""
    deadline = time.monotonic() + within
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        time.sleep(0.02)
