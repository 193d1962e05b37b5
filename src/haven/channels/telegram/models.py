"""A Telegram chat known to the bot, found by a slow keyed hash of its chat id.

Nothing here names the chat: `lookup` is Argon2id(chat id) under the server pepper, and the chat's state (its
language, the questionnaire in progress, the ids of the messages still on the phone) is locked under a second
key from the same hash. Reading either needs the chat id, and guessing it costs the slow hash per try."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from haven.db import Base


class TelegramChat(Base):
    __tablename__ = "telegram_chats"

    lookup: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    # The case this chat writes to, once it has one; a purged case takes the chat's row with it.
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    sealed_state: Mapped[bytes] = mapped_column(LargeBinary)
    # The last update (to the minute), so that chats that never became a case can be forgotten.
    updated_at: Mapped[datetime] = mapped_column(index=True)
