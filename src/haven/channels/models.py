"""The outbox: one row per operator reply that must reach a requester through a channel.

Only the delivery's state is in the clear. What is sent (the reply, the chat to send it to) stays sealed in
the case; the process that sends it holds it in memory (channels/outbox.py)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from haven.db import Base


class DeliveryState(StrEnum):
    QUEUED = "queued"  # stored, not yet tried
    RETRYING = "retrying"  # tried, the channel failed for now (timeout, flood limit, server error)
    SENT = "sent"  # the channel accepted every part of it
    FAILED = "failed"  # the channel refuses it for good (the requester blocked the bot, the chat is gone)


PENDING = (DeliveryState.QUEUED.value, DeliveryState.RETRYING.value)


class Delivery(Base):
    __tablename__ = "deliveries"

    # The reply being delivered; a purged case takes its deliveries with it.
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(12), index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    # Why the last attempt failed, as a fixed code (channels/outbox.py), never the channel's own words.
    last_error: Mapped[str] = mapped_column(String(32), default="")
    updated_at: Mapped[datetime]
