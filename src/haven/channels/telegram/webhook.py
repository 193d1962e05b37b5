"""POST /telegram/webhook: Telegram delivers updates here, with the secret set by `haven telegram webhook`.

Without the right X-Telegram-Bot-Api-Secret-Token nothing is read. An update is answered 200 once it is
handled, or when it cannot be (malformed, too large, of a kind the bot ignores), so that Telegram does not
send it again; 503 only when the store failed, so that Telegram does send it again and nothing is lost.
"""

from __future__ import annotations

import hmac
import json
import logging

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from haven.problems import problem_response
from haven.runtime import Runtime
from haven.security.limits import BodyTooLarge

log = logging.getLogger(__name__)
router = APIRouter()
SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 - the header's name, not a secret


@router.post("/telegram/webhook", include_in_schema=False)
async def webhook(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    bot = runtime.telegram
    secret = runtime.settings.telegram_webhook_secret
    # Without a secret (settings.check refuses that for `haven serve`) an empty header would match.
    if bot is None or not secret:
        return problem_response(404, "This server runs no Telegram bot.")
    sent = request.headers.get(SECRET_HEADER, "").encode()
    if not hmac.compare_digest(sent, secret.encode()):
        return problem_response(401, "Missing or wrong X-Telegram-Bot-Api-Secret-Token.")
    try:
        update = json.loads(await request.body())
    except (BodyTooLarge, ValueError):
        return Response(status_code=200)
    try:
        await run_in_threadpool(bot.handle, update)
    except SQLAlchemyError as exc:
        log.error("telegram update not stored, Telegram will send it again: %s", type(exc).__name__)
        return problem_response(503, "The store is unavailable; send the update again.", retry_after=5)
    except Exception as exc:
        # Only the error's class: its words could quote the update.
        log.error("telegram update failed: %s", type(exc).__name__)
    return Response(status_code=200)
