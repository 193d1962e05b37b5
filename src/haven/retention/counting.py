"""What the statistics know of a case, and keep of it once it is purged: the key of a count."""

from __future__ import annotations

from datetime import date, timedelta
from typing import NamedTuple

from sqlalchemy import ColumnElement
from sqlalchemy import case as sql_case

from haven.cases.models import Case
from haven.cases.procedure import OUTCOMES


class CountKey(NamedTuple):
    """What the statistics know of a case: when it came in, what for, by which channel, how far it got
    and how it stands (its outcome once ended, else its state)."""

    month: date  # the first day of the month it came in
    week: date  # the Monday of the week it came in
    request_type: str
    channel: str
    reached: str  # the furthest funnel stage (cases.procedure.Stage)
    position: str

    @classmethod
    def of(cls, created: date, request_type: str, channel: str, reached: str, position: str) -> CountKey:
        return cls(month_of(created), week_of(created), request_type, channel, reached, position)


def month_of(day: date) -> date:
    return date(day.year, day.month, 1)


def week_of(day: date) -> date:
    """The Monday of the day's week."""
    return day - timedelta(days=day.weekday())


def final_position() -> ColumnElement[str]:
    """A case's outcome once its procedure ended it (completed, withdrawn, ...), else its state."""
    return sql_case((Case.step.in_(sorted(OUTCOMES)), Case.step), else_=Case.state)
