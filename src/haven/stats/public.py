"""Publishing the helpline's numbers: the figures the organisation chose, under its publication rules.

A coordinator publishes (the desk's statistics page, or `haven stats publish`): every month that has
ended before the delay gets its figures drawn once, under the rules (stats/publication.py), and stored with
the budget they spent and one audit event. The public page and API only read what was stored, so a page
view spends nothing and reveals nothing new.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from haven.audit.services import Actor, record_event
from haven.clock import now_minute
from haven.config import Settings, SettingsError
from haven.db import Database
from haven.stats.figures import COLUMNS, funnel_by_month
from haven.stats.models import PrivacyCharge, PublishedFigure
from haven.stats.privacy import Charge
from haven.stats.publication import (
    Figure,
    Rules,
    budget_for,
    cutoff,
    noise_for,
    publish_table,
    publishable_periods,
)

# What may be chosen for publication (the funnel's columns, except the catch-all).
PUBLISHABLE = tuple(c for c in COLUMNS if c != "closed_otherwise")


@dataclass(frozen=True)
class Publication:
    rules: Rules
    figures: tuple[str, ...]


def publication_of(settings: Settings) -> Publication:
    """The rules and figures the settings choose; raises SettingsError naming a wrong one."""
    figures = tuple(f.strip() for f in settings.public_figures.split(",") if f.strip())
    wrong = [f for f in figures if f not in PUBLISHABLE]
    if wrong:
        raise SettingsError(
            f"HAVEN_PUBLIC_FIGURES may name only {', '.join(PUBLISHABLE)}; not {', '.join(wrong)}"
        )
    try:
        rules = Rules(
            threshold=settings.stats_threshold,
            rounding=settings.stats_rounding,
            delay_days=settings.stats_delay_days,
            noise=settings.stats_noise,  # type: ignore[arg-type]  # checked by Rules
            epsilon_per_figure=settings.stats_epsilon,
            budget_per_period=settings.stats_budget,
        )
    except ValueError as exc:
        raise SettingsError(f"publication rules (HAVEN_STATS_*): {exc}") from None
    return Publication(rules, figures)


@dataclass(frozen=True)
class Published:
    months: int  # months newly published
    figures: int
    epsilon: float


def _months_between(first: date, last: date) -> list[date]:
    months, month = [], first
    while month <= last:
        months.append(month)
        month = _next_month(month)
    return months


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def publish(
    *, db: Database, publication: Publication, today: date, actor: Actor, now: datetime | None = None
) -> Published:
    """Publish every month not yet published whose end is before the delay. Months with no request are
    published too ("fewer than 10"), so a gap never stands out. Raises BudgetExhausted (and publishes
    nothing) when the period's privacy budget cannot pay for it all."""
    funnels = funnel_by_month(db=db)
    if not funnels:
        return Published(0, 0, 0.0)
    every = _months_between(min(funnels), cutoff(today, publication.rules).replace(day=1))
    due = publishable_periods(every, today=today, rules=publication.rules, length="month")
    with db.write() as s:
        done = {(m, f) for m, f in s.execute(select(PublishedFigure.month, PublishedFigure.figure))}
        counts = {
            (month, figure): funnels[month].counts[figure] if month in funnels else 0
            for month in due
            for figure in publication.figures
            if (month, figure) not in done
        }
        if not counts:
            return Published(0, 0, 0.0)
        past = [Charge(c.period_start, c.epsilon, c.what) for c in s.scalars(select(PrivacyCharge))]
        budget = budget_for(publication.rules, today=today, past=past)
        labelled = {f"{figure} {month:%Y-%m}": n for (month, figure), n in counts.items()}
        drawn = publish_table(
            labelled,
            rules=publication.rules,
            noise=noise_for(publication.rules),
            budget=budget,
            what="public",
        )
        at = now_minute(now)
        for (month, figure), label in zip(counts, labelled, strict=True):
            result = drawn[label]
            s.add(
                PublishedFigure(
                    month=month,
                    figure=figure,
                    value=result.value,
                    below=result.below,
                    noisy=result.noisy,
                    published_at=at,
                )
            )
        for charge in budget.new_charges:
            s.add(
                PrivacyCharge(
                    period_start=charge.period_start, epsilon=charge.epsilon, what=charge.what[:80], at=at
                )
            )
        spent = math.fsum(c.epsilon for c in budget.new_charges)
        months = len({month for month, _figure in counts})
        record_event(
            db_session=s,
            actor=actor,
            action="stats.published",
            detail=f"{months} months, {len(counts)} figures, epsilon {spent:g}",
            now=now,
        )
    return Published(months, len(counts), spent)


@dataclass(frozen=True)
class PublicMonth:
    month: date
    figures: dict[str, Figure]


def published(*, db: Database, figures: Sequence[str]) -> list[PublicMonth]:
    """What was published of these figures, month by month, newest first."""
    with db.read() as s:
        rows = list(s.scalars(select(PublishedFigure).where(PublishedFigure.figure.in_(figures))))
    months: dict[date, dict[str, Figure]] = {}
    for r in rows:
        months.setdefault(r.month, {})[r.figure] = Figure(value=r.value, below=r.below, noisy=r.noisy)
    return [PublicMonth(m, months[m]) for m in sorted(months, reverse=True)]


def budget_spent(*, db: Database, publication: Publication, today: date) -> tuple[float, float]:
    """(epsilon spent, budget) of the period holding `today`."""
    with db.read() as s:
        past = [Charge(c.period_start, c.epsilon, c.what) for c in s.scalars(select(PrivacyCharge))]
    budget = budget_for(publication.rules, today=today, past=past)
    return budget.spent, budget.total
