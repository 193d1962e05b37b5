"""`haven telegram poll` and `haven telegram webhook` as real processes against the fake Bot API.

The poller replaces any webhook, turns updates into cases as the webhook does, confirms an update to
Telegram only once it was handled (so one cut short comes again), and stops cleanly on SIGTERM. The webhook
command sets an https:// webhook with the server's secret and refuses anything else; neither command runs
without a bot token. The fake's long poll waits at most 2 s and the poller asks for 1 s, so this is quick.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from sqlalchemy import func, select

from haven.cases.models import Case
from haven.config import Settings
from haven.db import Database
from haven.i18n import Translator
from tests.conftest import TELEGRAM_SECRET
from tests.fake_bot_api import JSON, FakeBotApi, FakeUser
from tests.functional.served import Deployment, haven_command, server_env
from tests.functional.telegram_chat import receipt_in
from tests.functional.test_telegram_seizure import telegram_env, until

STOP_SECONDS = 15.0
ENGLISH = Translator("en")


@pytest.fixture
def deployment(tmp_path: Path, store: str, empty_database_url: str, bot_api: FakeBotApi) -> Deployment:
    """A demo organisation (its intake team receives requests), with the bot's settings."""
    made = Deployment.on(tmp_path, store, empty_database_url, **telegram_env(bot_api))
    made.seed_demo()
    return made


def start_poller(deployment: Deployment) -> subprocess.Popen[bytes]:
    command = [str(haven_command()), "telegram", "poll", "--data-dir", str(deployment.data_dir)]
    with (deployment.log_dir / "poll.log").open("ab") as log:
        return subprocess.Popen(
            [*command, "--timeout", "1"],
            env=server_env(**deployment.env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def output(deployment: Deployment) -> str:
    return (deployment.log_dir / "poll.log").read_text(errors="replace")


def kill(process: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=STOP_SECONDS)


@contextmanager
def polling(deployment: Deployment, api: FakeBotApi) -> Iterator[subprocess.Popen[bytes]]:
    """`haven telegram poll`, once it asks for updates; killed at the end if the test did not stop it."""
    asked = len(api.calls_of("getUpdates"))
    process = start_poller(deployment)
    try:
        until(
            lambda: len(api.calls_of("getUpdates")) > asked or process.poll() is not None,
            "the poller asks Telegram for updates",
        )
        assert process.poll() is None, output(deployment)
        yield process
    finally:
        if process.poll() is None:
            kill(process)


def bot_messages(api: FakeBotApi, user: FakeUser) -> list[str]:
    return [m.text or "" for m in api.chat(user.id).visible if m.from_bot]


def sends(api: FakeBotApi, user: FakeUser, update: JSON, *, answers: int = 1) -> list[str]:
    """Queue an update for getUpdates and wait until the bot said `answers` more things on the phone."""
    before = len(bot_messages(api, user))
    api.queue_update(update)
    until(lambda: len(bot_messages(api, user)) >= before + answers, "the bot answers on the phone")
    return bot_messages(api, user)[before:]


def cases_in(deployment: Deployment) -> int:
    settings = Settings(
        data_dir=deployment.data_dir, database_url=deployment.env.get("HAVEN_DATABASE_URL", "")
    )
    database = Database.from_url(settings.resolved_database_url)
    try:
        with database.read() as s:
            return int(s.scalar(select(func.count()).select_from(Case)) or 0)
    finally:
        database.dispose()


def test_a_request_sent_while_polling_becomes_a_case(deployment: Deployment, bot_api: FakeBotApi) -> None:
    user = bot_api.user(language_code="en")
    before = cases_in(deployment)
    with polling(deployment, bot_api):
        sends(bot_api, user, user.says("/start"), answers=2)
        sends(bot_api, user, user.taps("l:en"))
        sends(bot_api, user, user.taps("t:legal"))
        while buttons := bot_api.chat(user.id).visible[-1].buttons:
            sends(bot_api, user, user.taps(buttons[0]["callback_data"]))
        said = sends(bot_api, user, user.says("Polling brought me here"))

    assert receipt_in(said)
    assert cases_in(deployment) == before + 1


def test_polling_removes_the_webhook_first(deployment: Deployment, bot_api: FakeBotApi) -> None:
    # Telegram refuses getUpdates while a webhook is set.
    bot_api.webhook = {"url": "https://old.example.org/telegram/webhook", "secret_token": TELEGRAM_SECRET}

    with polling(deployment, bot_api):
        calls = [name for name, _params in bot_api.calls]

    assert bot_api.webhook == {}
    assert "deleteWebhook" in calls
    assert calls.index("deleteWebhook") < calls.index("getUpdates")


def test_sigterm_stops_polling_cleanly(deployment: Deployment, bot_api: FakeBotApi) -> None:
    with polling(deployment, bot_api) as process:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=STOP_SECONDS)

    assert code == 0, output(deployment)
    assert "Traceback" not in output(deployment)


def test_an_update_is_confirmed_only_after_the_bot_answered_it(
    deployment: Deployment, bot_api: FakeBotApi
) -> None:
    user = bot_api.user(language_code="en")
    update = user.says("/start")

    with polling(deployment, bot_api):
        sends(bot_api, user, update, answers=2)
        until(
            lambda: any(p.get("offset") == update["update_id"] + 1 for p in bot_api.calls_of("getUpdates")),
            "the poller confirms the update",
        )

    calls = bot_api.calls
    answered = max(i for i, (name, _p) in enumerate(calls) if name == "sendMessage")
    confirmed = next(
        i
        for i, (name, params) in enumerate(calls)
        if name == "getUpdates" and params.get("offset") == update["update_id"] + 1
    )
    assert answered < confirmed


def test_an_update_being_handled_when_the_poller_dies_comes_again(
    deployment: Deployment, bot_api: FakeBotApi
) -> None:
    user = bot_api.user(language_code="en")
    update = user.says("/start")
    # The welcome reaches the phone, but Telegram's answer is late: the poller is still handling the update.
    bot_api.fail_next("sendMessage", kind="timeout", delay=30.0)

    with polling(deployment, bot_api) as first:
        sends(bot_api, user, update)
        kill(first)
    offsets = [p.get("offset") for p in bot_api.calls_of("getUpdates")]
    with polling(deployment, bot_api):
        until(lambda: len(bot_messages(bot_api, user)) == 3, "the update is handled again")

    assert update["update_id"] + 1 not in offsets
    welcome, welcome_again, language = bot_messages(bot_api, user)
    assert welcome_again == welcome
    assert language == ENGLISH("tg_choose_language")


# -- the webhook command, and neither command without a token --------------------------------------------


def haven(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(haven_command()), "telegram", *args, "--data-dir", str(tmp_path / "data")],
        env=server_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_webhook_command_sets_an_https_webhook_with_the_secret(
    tmp_path: Path, bot_api: FakeBotApi
) -> None:
    done = haven(tmp_path, "webhook", "--url", "https://example.org", **telegram_env(bot_api))

    assert done.returncode == 0, done.stderr
    (call,) = bot_api.calls_of("setWebhook")
    assert call["url"] == "https://example.org/telegram/webhook"
    assert call["secret_token"] == TELEGRAM_SECRET
    assert bot_api.webhook["url"] == "https://example.org/telegram/webhook"
    assert "https://example.org/telegram/webhook" in done.stdout


def test_the_webhook_command_refuses_a_plain_http_address(tmp_path: Path, bot_api: FakeBotApi) -> None:
    done = haven(tmp_path, "webhook", "--url", "http://example.org", **telegram_env(bot_api))

    assert done.returncode == 2
    assert "https://" in done.stderr
    assert bot_api.calls_of("setWebhook") == []


@pytest.mark.parametrize("command", [["poll"], ["webhook", "--url", "https://example.org"]])
def test_a_telegram_command_without_a_token_says_which_setting_is_missing(
    tmp_path: Path, command: list[str]
) -> None:
    done = haven(tmp_path, *command)

    assert done.returncode == 2
    assert "HAVEN_TELEGRAM_TOKEN" in done.stderr
