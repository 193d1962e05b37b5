"""What was published, and the privacy budget it spent: stored once, read by every page view.

A figure is drawn once (with its noise, if any) and kept: drawing again per view would spend the budget
again and, averaged over views, give the true count away.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from haven.db import Base


class PublishedFigure(Base):
    __tablename__ = "published_figures"

    month: Mapped[date] = mapped_column(primary_key=True)  # the month the cases came in
    figure: Mapped[str] = mapped_column(String(40), primary_key=True)  # contacted, completed, ...
    value: Mapped[int | None]  # None: suppressed
    below: Mapped[int | None]  # the threshold, when suppressed ("fewer than 10")
    noisy: Mapped[bool]
    published_at: Mapped[datetime]


class PrivacyCharge(Base):
    """Epsilon spent on a published figure, charged to the budget period it was published in."""

    __tablename__ = "privacy_charges"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    period_start: Mapped[date] = mapped_column(index=True)
    epsilon: Mapped[float] = mapped_column(Float)
    what: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime]
