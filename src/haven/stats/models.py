"""What was published, and the privacy budget it spent: stored once, read by every page view.

A figure is drawn once (with its noise, if any) and kept: drawing again per view would spend the budget
again and, averaged over views, give the true count away.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Float, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from haven.db import Base


class PublishedFigure(Base):
    __tablename__ = "published_figures"

    month: Mapped[date] = mapped_column(primary_key=True)  # the month the cases came in
    figure: Mapped[str] = mapped_column(String(40), primary_key=True)  # contacted, completed, ...
    # Which cases it counts: "" all of them, else one part of a breakdown ("type:legal", "channel:web").
    part: Mapped[str] = mapped_column(String(50), primary_key=True, default="")
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


class LanguageTally(Base):
    """The language of requests, sealed: each new case adds one row holding `{"ru": 1}` sealed to the
    receiving team's public key, so a seized store says nothing about who wrote in which language, and a
    member of that team can count them (stats/languages.py).

    While its case lives, the row points at it, and the case says how far it got. When the case is purged
    the row keeps, in its place, what the anonymous counters keep (retention/models.py CaseCount), so the
    languages of last year's requests stay countable; counting merges such rows into one per key, which
    then holds several languages' counts, sealed again.
    """

    __tablename__ = "language_tallies"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    key_generation: Mapped[int]  # of the team key it is sealed to
    # The live case it counts; None once the case was purged (and for merged rows).
    case_id: Mapped[str | None] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True, unique=True
    )
    month: Mapped[date]
    week: Mapped[date]
    request_type: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(10))
    # How far the case got and how it ended: "" while the case lives (read from the case instead).
    reached: Mapped[str] = mapped_column(String(12), default="")
    final_state: Mapped[str] = mapped_column(String(20), default="")
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
