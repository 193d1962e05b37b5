"""What is left of purged cases: how many there were, by month and week of arrival, request type, channel,
the furthest funnel stage they reached and how they ended. Nothing else.

A case is either still in `cases` or counted here, never both: it moves in the one transaction that
deletes it. So statistics add the live cases to these counts (retention.services.case_totals) and a
published total does not drop when old cases are shredded, nor count a case twice.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from haven.db import Base


class CaseCount(Base):
    __tablename__ = "case_counts"

    # The first day of the month the case came in: nothing finer, so no count points at one request.
    month: Mapped[date] = mapped_column(primary_key=True)
    # The Monday of the week it came in (a week across two months is counted in two rows, one per month).
    week: Mapped[date] = mapped_column(primary_key=True)
    request_type: Mapped[str] = mapped_column(String(40), primary_key=True)
    # How the case ended (an outcome of its procedure: completed, withdrawn, ...) or, for a case that
    # was not ended through one, the state it was purged in (closed, new, in_progress, waiting).
    final_state: Mapped[str] = mapped_column(String(20), primary_key=True)
    channel: Mapped[str] = mapped_column(String(10), primary_key=True)  # web, telegram
    reached: Mapped[str] = mapped_column(String(12), primary_key=True)  # the furthest funnel stage
    count: Mapped[int]
