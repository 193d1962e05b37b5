"""Time as Haven stores it: UTC, to the minute and no finer (finer times help tie a request to traffic)."""

from __future__ import annotations

from datetime import UTC, datetime


def to_minute(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(second=0, microsecond=0)


def now_minute(now: datetime | None = None) -> datetime:
    """The current minute in naive UTC (the form stored in every table); `now` lets tests fix the clock."""
    return to_minute(now if now is not None else datetime.now(UTC))
