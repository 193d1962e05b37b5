"""`haven telegram poll`: fetch updates from Telegram for a server that Telegram cannot reach.

An update is confirmed to Telegram (by asking for the ones after it) only once it is handled, so a crash
or a store that is down means the update comes again rather than being lost.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.exc import SQLAlchemyError

from haven.channels.outbox import DeliveryFailed
from haven.channels.telegram.bot import TelegramBot
from haven.channels.telegram.bot_api import BotApi

log = logging.getLogger(__name__)
PAUSE_SECONDS = 5.0


def poll(bot: TelegramBot, api: BotApi, *, stop: threading.Event, timeout: int = 25) -> None:
    """Handle updates until `stop` is set."""
    # Telegram refuses getUpdates while a webhook is set: polling replaces it.
    api.remove_webhook()
    offset: int | None = None
    while not stop.is_set():
        try:
            updates = api.updates(offset=offset, timeout=timeout)
        except DeliveryFailed as failure:
            log.warning("telegram unreachable (%s); trying again", failure.code)
            stop.wait(failure.retry_after or PAUSE_SECONDS)
            continue
        for update in updates:
            try:
                bot.handle(update)
            except SQLAlchemyError as exc:
                log.error("telegram update not stored, fetching it again: %s", type(exc).__name__)
                stop.wait(PAUSE_SECONDS)
                break
            except Exception as exc:
                # Only the error's class: its words could quote the update. The update is skipped.
                log.error("telegram update failed: %s", type(exc).__name__)
            update_id = update.get("update_id")
            if isinstance(update_id, int):
                offset = update_id + 1
