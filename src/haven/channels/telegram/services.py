"""Forgetting the chats that never became a case: someone pressed /start and went away."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from haven.channels.telegram.models import TelegramChat
from haven.clock import now_minute

# A questionnaire left unfinished for this long is begun again from /start; its sealed draft goes.
IDLE_CHAT = timedelta(days=2)


def forget_idle_chats(*, db_session: Session, now: datetime | None = None) -> int:
    """Delete the rows of chats with no case and no update for IDLE_CHAT; returns how many went. (A chat
    with a case goes with its case, through the foreign key, when retention purges it.)"""
    result = db_session.execute(
        delete(TelegramChat).where(
            TelegramChat.case_id.is_(None), TelegramChat.updated_at <= now_minute(now) - IDLE_CHAT
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
