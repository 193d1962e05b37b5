"""The Bot API calls the bot makes, through python-telegram-bot, for code that is not async.

python-telegram-bot's `Bot` is async; Haven's services are plain functions run in threads. One event loop in
a thread of its own runs every call, and each method here waits for its call. Telegram's errors become
`DeliveryFailed` with a fixed code: their own words may quote a message, and an HTTP error's may hold the
URL, which holds the bot's token. For the same reason the libraries' loggers are silenced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Coroutine, Sequence
from datetime import timedelta
from typing import Any, TypeVar

import httpx
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from haven.channels.outbox import Buttons, DeliveryFailed

# httpx logs every request's URL (with the token) at INFO; python-telegram-bot logs payloads at DEBUG and
# an unparsable response, quoted, at ERROR. Neither says anything here, whatever the server's log level.
for _name in ("httpx", "httpcore", "telegram"):
    logging.getLogger(_name).setLevel(logging.CRITICAL + 1)

T = TypeVar("T")
MAX_MESSAGE_CHARS = 4096
CALL_TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 25


class BotApi:
    """The Bot API at `api_url` (Telegram's, or another server speaking it), for one bot token."""

    def __init__(self, *, token: str, api_url: str, read_timeout: float = 10.0) -> None:
        # python-telegram-bot reads this when it builds a RetryAfter (in its own event loop, where no
        # warning filter of ours applies): opt in to the timedelta it will use by default, rather than
        # have every flood limit raise a deprecation warning.
        os.environ.setdefault("PTB_TIMEDELTA", "true")
        base = api_url.rstrip("/")
        # Kept to close them: Bot.shutdown closes only what Bot.initialize opened, and initialize would
        # call getMe at start-up, failing the server whenever Telegram is unreachable.
        self._requests = (
            HTTPXRequest(read_timeout=read_timeout, connect_timeout=5.0),
            HTTPXRequest(read_timeout=POLL_SECONDS + 10, connect_timeout=5.0),
        )
        self._bot = Bot(
            token,
            base_url=f"{base}/bot",
            base_file_url=f"{base}/file/bot",
            request=self._requests[0],
            get_updates_request=self._requests[1],
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="haven-telegram", daemon=True)
        self._thread.start()
        self._closed = False

    def _call(self, coroutine: Coroutine[Any, Any, T], timeout: float = CALL_TIMEOUT_SECONDS) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout=timeout)
        except RetryAfter as exc:
            wait = exc.retry_after
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            raise DeliveryFailed("too_many_requests", retry_after=seconds) from None
        except Forbidden:
            raise DeliveryFailed("blocked_by_requester", permanent=True) from None
        except InvalidToken:
            raise DeliveryFailed("bot_token_refused") from None
        except BadRequest:
            raise DeliveryFailed("refused_by_telegram", permanent=True) from None
        except (TimedOut, TimeoutError):
            future.cancel()
            raise DeliveryFailed("telegram_timeout") from None
        except NetworkError as exc:
            # Connection failures carry httpx's error as their cause; Telegram's own error answers (5xx) none.
            unreachable = isinstance(exc.__cause__, httpx.HTTPError)
            raise DeliveryFailed("telegram_unreachable" if unreachable else "telegram_server_error") from None

    def send(self, chat_id: int, text: str, buttons: Buttons = ()) -> int:
        """Send a message, with inline buttons; returns its message id."""
        markup = (
            InlineKeyboardMarkup(
                [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in buttons]
            )
            if buttons
            else None
        )
        message = self._call(self._bot.send_message(chat_id, text[:MAX_MESSAGE_CHARS], reply_markup=markup))
        return message.message_id

    def delete(self, chat_id: int, message_ids: Sequence[int]) -> None:
        """Delete messages of a private chat (Telegram allows it for 48 hours), up to 100 a call."""
        ids = list(message_ids)
        for start in range(0, len(ids), 100):
            self._call(self._bot.delete_messages(chat_id, ids[start : start + 100]))

    def answer_button(self, callback_id: str, text: str = "") -> None:
        self._call(self._bot.answer_callback_query(callback_id, text=text or None))

    def download(self, file_id: str, *, max_bytes: int) -> bytes | None:
        """The file's bytes, or None if it is larger than `max_bytes` (Telegram's size, then the real one)."""

        async def fetch() -> bytes | None:
            file = await self._bot.get_file(file_id)
            if file.file_size is not None and file.file_size > max_bytes:
                return None
            data = bytes(await file.download_as_bytearray())
            return None if len(data) > max_bytes else data

        return self._call(fetch(), timeout=120.0)

    def updates(self, *, offset: int | None, timeout: int = POLL_SECONDS) -> list[dict[str, Any]]:
        """Long-poll for updates after `offset`, as raw JSON (bot.py parses them itself)."""

        async def fetch() -> list[dict[str, Any]]:
            found: tuple[Update, ...] = await self._bot.get_updates(
                offset=offset, timeout=timeout, allowed_updates=ALLOWED_UPDATES
            )
            return [u.to_dict() for u in found]

        return self._call(fetch(), timeout=timeout + 20.0)

    def set_webhook(self, *, url: str, secret: str) -> None:
        self._call(self._bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES))

    def remove_webhook(self) -> None:
        self._call(self._bot.delete_webhook())

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True

        async def shutdown() -> None:
            await asyncio.gather(*(request.shutdown() for request in self._requests))

        # Closing connections at exit: a failure here has nothing to tell anyone.
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=5.0)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5.0)
        if not self._thread.is_alive():
            self._loop.close()


ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
