"""The fake Bot API against python-telegram-bot's real client: what PTB accepts, Haven's tests can trust."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from tests.fake_bot_api import TEST_TOKEN, FakeBotApi

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a scenario in a thread of its own: a test before may have left an event loop in this one
    (Playwright's sync API does), where asyncio.run refuses to start."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


FIXTURES = Path(__file__).parents[2] / "fixtures" / "telegram"


@pytest.fixture
def api() -> Iterator[FakeBotApi]:
    with FakeBotApi() as api:
        yield api


def bot_for(api: FakeBotApi, token: str = TEST_TOKEN, **request: Any) -> Bot:
    req = HTTPXRequest(**request) if request else None
    return Bot(token, base_url=api.url + "/bot", base_file_url=api.url + "/file/bot", request=req)


def test_get_me_and_a_keyboard_that_shows_on_the_phone_then_goes(api: FakeBotApi) -> None:
    user = api.user(user_id=42, first_name="Ana")
    user.says("/start")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="safe:yes")]])

    async def scenario() -> None:
        async with bot_for(api) as bot:
            assert bot.username == "haven_test_bot"
            sent = await bot.send_message(42, "42", reply_markup=keyboard)  # a text that looks like JSON
            assert sent.reply_markup == keyboard
            assert [m.text for m in api.chat(42).visible] == ["/start", "42"]
            tap = Update.de_json(user.taps("safe:yes"), bot)
            assert tap.callback_query is not None
            assert await tap.callback_query.answer()
            await bot.delete_message(42, sent.message_id)
            with pytest.raises(BadRequest, match="Message to delete not found"):
                await bot.delete_message(42, sent.message_id)
            assert await bot.delete_messages(42, [1])

    run(scenario())
    assert api.chat(42).visible == []
    assert api.calls_of("sendMessage")[0]["text"] == "42"
    assert (
        api.calls_of("sendMessage")[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "safe:yes"
    )


def test_failures_become_ptbs_exceptions(api: FakeBotApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # else reading RetryAfter.retry_after warns, an error here
    api.user(user_id=42)
    api.fail_next("sendMessage", kind="retry_after", retry_after=7)
    api.fail_next("sendMessage", kind="server_error")
    api.fail_next("sendMessage", kind="server_error", status=502)
    api.fail_next("sendMessage", kind="forbidden")

    async def scenario() -> None:
        async with bot_for(api) as bot:
            with pytest.raises(RetryAfter) as flood:
                await bot.send_message(42, "hi")
            assert flood.value.retry_after == timedelta(seconds=7)
            for _ in range(2):
                with pytest.raises(NetworkError) as broken:
                    await bot.send_message(42, "hi")
                assert type(broken.value) is NetworkError
            with pytest.raises(Exception, match="bot was blocked by the user"):
                await bot.send_message(42, "hi")
            assert (await bot.send_message(42, "hi")).text == "hi"

    run(scenario())
    assert len(api.calls_of("sendMessage")) == 5
    assert len(api.chat(42).visible) == 1


def test_a_timed_out_send_was_delivered_all_the_same(api: FakeBotApi) -> None:
    api.user(user_id=42)
    api.fail_next("sendMessage", kind="timeout", delay=3)

    async def scenario() -> None:
        async with bot_for(api, read_timeout=0.5) as bot:
            with pytest.raises(TimedOut):
                await bot.send_message(42, "hi")

    run(scenario())
    assert [m.text for m in api.chat(42).visible] == ["hi"]


def test_files_download_through_get_file(api: FakeBotApi) -> None:
    update = api.user(user_id=42).sends_photo(b"\xff\xd8 a jpeg", caption="marker-text-")
    largest = update["message"]["photo"][-1]["file_id"]

    async def scenario() -> bytearray:
        async with bot_for(api) as bot:
            with pytest.raises(BadRequest, match="Invalid file_id"):
                await bot.get_file("nope")
            return await (await bot.get_file(largest)).download_as_bytearray()

    assert run(scenario()) == bytearray(b"\xff\xd8 a jpeg")
    assert api.chat(42).visible[0].kind == "photo"


def test_get_updates_confirms_with_offset(api: FakeBotApi) -> None:
    user = api.user(user_id=42)
    first, second = user.says("one"), user.says("two")
    api.queue_update(first)
    api.queue_update(second)

    async def scenario() -> list[list[int]]:
        async with bot_for(api) as bot:
            seen = [[u.update_id for u in await bot.get_updates(timeout=1)]]
            seen.append([u.update_id for u in await bot.get_updates(offset=second["update_id"])])
            seen.append([u.update_id for u in await bot.get_updates(offset=second["update_id"] + 1)])
            return seen

    assert run(scenario()) == [[first["update_id"], second["update_id"]], [second["update_id"]], []]


def test_a_wrong_token_is_refused(api: FakeBotApi) -> None:
    async def scenario() -> None:
        async with bot_for(api, token="654321:WRONG"):
            pass  # initialising calls getMe

    with pytest.raises(InvalidToken):
        run(scenario())


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_every_fixture_but_the_malformed_one_parses(path: Path) -> None:
    if path.name == "malformed.json":
        with pytest.raises(json.JSONDecodeError):
            json.loads(path.read_text(encoding="utf-8"))
        return
    update = Update.de_json(json.loads(path.read_text(encoding="utf-8")), bot=None)
    # PTB validates nothing: this "update" is accepted; Haven must check update_id is an int itself.
    assert isinstance(update.update_id, int) == (path.name != "not_an_update.json")
