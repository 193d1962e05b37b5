"""Publishing the helpline's numbers: the figures the organisation chose, under its publication rules.

A coordinator publishes (the desk's statistics page, or `haven stats publish`): every month that has
ended before the delay gets its figures drawn once, under the rules (stats/publication.py), and stored with
the budget they spent and one audit event. The public page and API only read what was stored, so a page
view spends nothing and reveals nothing new.

Besides the totals, each figure may be published per request type and per channel (the breakdowns): every
part under the same rules, the parts of one breakdown charged to the budget as one figure (they count
disjoint requests), each breakdown and the totals charged separately (they count the same requests again).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select

from haven.audit.services import Actor, record_event
from haven.clock import now_minute
from haven.config import Settings, SettingsError
from haven.db import Database
from haven.intake.questionnaires import default_catalogue
from haven.stats.figures import BREAKDOWNS, CHANNELS, COLUMNS, Breakdown, Funnel, funnel
from haven.stats.models import PrivacyCharge, PublishedFigure
from haven.stats.privacy import Charge
from haven.stats.publication import (
    Figure,
    Rules,
    budget_for,
    cutoff,
    noise_for,
    publish_groups,
    publishable_periods,
)

# What may be chosen for publication (the funnel's columns, except the catch-all).
PUBLISHABLE = tuple(c for c in COLUMNS if c != "closed_otherwise")
# The part of a figure that counts every case; a breakdown's parts are "type:legal", "channel:web".
TOTAL = ""


def part_of(breakdown: Breakdown, name: str) -> str:
    """The stored name of one part of a breakdown: "type:legal", "channel:telegram"."""
    return f"{breakdown}:{name}"


def _request_types() -> tuple[str, ...]:
    return tuple(default_catalogue().types)


@dataclass(frozen=True)
class Publication:
    rules: Rules
    figures: tuple[str, ...]
    breakdowns: tuple[Breakdown, ...] = ()
    # The request types the intake form offers, in its order: the parts of the breakdown by type.
    request_types: tuple[str, ...] = field(default_factory=_request_types)

    def parts(self, breakdown: Breakdown) -> tuple[str, ...]:
        """The parts a breakdown publishes. They come from the configuration, never from the data: a part
        left out because nobody of its kind wrote in would say so, where "fewer than 10" says nothing."""
        return self.request_types if breakdown == "type" else CHANNELS

    @property
    def charges_per_month(self) -> int:
        """Budget charges of one month: one per figure for the totals, and one more per breakdown."""
        return len(self.figures) * (1 + len(self.breakdowns))

    @property
    def epsilon_per_month(self) -> float:
        """What one month costs with noise (nothing without)."""
        if self.rules.noise == "none":
            return 0.0
        return math.fsum([self.rules.epsilon_per_figure] * self.charges_per_month)


def _chosen(raw: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item.strip() for item in raw.split(",") if item.strip()))


def _breakdowns(raw: str) -> tuple[Breakdown, ...]:
    chosen = _chosen(raw)
    wrong = [b for b in chosen if b not in BREAKDOWNS]
    if wrong:
        raise SettingsError(
            f"HAVEN_PUBLIC_BREAKDOWNS may name only {', '.join(BREAKDOWNS)}; not {', '.join(wrong)}"
        )
    return tuple(b for b in BREAKDOWNS if b in chosen)


def publication_of(settings: Settings) -> Publication:
    """The rules, figures and breakdowns the settings choose; raises SettingsError naming a wrong one."""
    figures = _chosen(settings.public_figures)
    wrong = [f for f in figures if f not in PUBLISHABLE]
    if wrong:
        raise SettingsError(
            f"HAVEN_PUBLIC_FIGURES may name only {', '.join(PUBLISHABLE)}; not {', '.join(wrong)}"
        )
    breakdowns = _breakdowns(settings.public_breakdowns)
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
    # A budget too small for one month is not refused here: publishing says so, with what it asked for.
    return Publication(rules, figures, breakdowns)


def budget_words(publication: Publication) -> str:
    """How a month's figures are charged to the privacy budget, for coordinators answering the press
    ("" without noise: nothing is charged)."""
    rules = publication.rules
    if rules.noise == "none":
        return ""
    per_figure, figures = rules.epsilon_per_figure, len(publication.figures)
    said = (
        f"Each month costs ε {publication.epsilon_per_month:g}: ε {per_figure:g} for each of its {figures} "
        f"figure{'s' if figures != 1 else ''}"
    )
    if not publication.breakdowns:
        return f"{said}."
    ways = ", ".join("by request type" if b == "type" else "by channel" for b in publication.breakdowns)
    return (
        f"{said} in total, and ε {per_figure:g} more per figure for each breakdown ({ways}). A "
        "breakdown's parts count separate requests (each has one request type and came by one channel), so "
        "all of them together cost what one figure costs (parallel composition); the totals and each "
        "breakdown count the same requests again, so their charges add up."
    )


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


@dataclass(frozen=True)
class _Query:
    """What one budget charge pays for: a figure of a month, in total or split by one breakdown."""

    month: date
    figure: str
    breakdown: Breakdown | None

    def __str__(self) -> str:  # the charge's label: short, and never content
        label = f"{self.figure} {self.month:%Y-%m}"
        return f"{label} by {self.breakdown}" if self.breakdown else label


def _count(table: Mapping[tuple[date | None, str], Funnel], month: date, part: str, figure: str) -> int:
    found = table.get((month, part))
    return found.counts[figure] if found is not None else 0


def _due_groups(
    publication: Publication,
    due: Sequence[date],
    tables: Mapping[Breakdown | None, Mapping[tuple[date | None, str], Funnel]],
    done: set[tuple[date, str, str]],
) -> dict[_Query, dict[str, int]]:
    """The true counts still to publish, one group per charge, each group's counts keyed by stored part."""
    groups: dict[_Query, dict[str, int]] = {}
    for month in due:
        for figure in publication.figures:
            for breakdown, table in tables.items():
                names = publication.parts(breakdown) if breakdown else (TOTAL,)
                counts = {
                    part_of(breakdown, name) if breakdown else TOTAL: _count(table, month, name, figure)
                    for name in names
                }
                todo = {part: n for part, n in counts.items() if (month, figure, part) not in done}
                if todo:
                    groups[_Query(month, figure, breakdown)] = todo
    return groups


def publish(
    *, db: Database, publication: Publication, today: date, actor: Actor, now: datetime | None = None
) -> Published:
    """Publish every month not yet published whose end is before the delay, in total and per part of each
    chosen breakdown. Months with no request are published too ("fewer than 10"), and so is every part,
    so a gap never stands out. Raises BudgetExhausted (and publishes nothing) when the period's privacy
    budget cannot pay for it all."""
    tables: dict[Breakdown | None, Mapping[tuple[date | None, str], Funnel]] = {
        None: funnel(db=db, per="month")
    }
    months = [month for month, _part in tables[None] if month is not None]
    if not months:
        return Published(0, 0, 0.0)
    tables |= {b: funnel(db=db, per="month", by=b) for b in publication.breakdowns}
    every = _months_between(min(months), cutoff(today, publication.rules).replace(day=1))
    due = publishable_periods(every, today=today, rules=publication.rules, length="month")
    with db.write() as s:
        done = {
            (m, f, part)
            for m, f, part in s.execute(
                select(PublishedFigure.month, PublishedFigure.figure, PublishedFigure.part)
            )
        }
        groups = _due_groups(publication, due, tables, done)
        if not groups:
            return Published(0, 0, 0.0)
        past = [Charge(c.period_start, c.epsilon, c.what) for c in s.scalars(select(PrivacyCharge))]
        budget = budget_for(publication.rules, today=today, past=past)
        drawn = publish_groups(
            groups, rules=publication.rules, noise=noise_for(publication.rules), budget=budget, what="public"
        )
        at = now_minute(now)
        for query, parts in drawn.items():
            for part, result in parts.items():
                s.add(
                    PublishedFigure(
                        month=query.month,
                        figure=query.figure,
                        part=part,
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
        figures = sum(len(parts) for parts in drawn.values())
        months_done = len({query.month for query in drawn})
        record_event(
            db_session=s,
            actor=actor,
            action="stats.published",
            detail=f"{months_done} months, {figures} figures, epsilon {spent:g}",
            now=now,
        )
    return Published(months_done, figures, spent)


@dataclass(frozen=True)
class PublicMonth:
    month: date
    figures: dict[str, Figure]  # the totals, by figure
    # Each breakdown's parts ("legal", "telegram"), then their figures: only those asked for.
    breakdowns: dict[Breakdown, dict[str, dict[str, Figure]]] = field(default_factory=dict)

    def parts(self, breakdown: Breakdown) -> dict[str, dict[str, Figure]]:
        return self.breakdowns.get(breakdown, {})


def published(
    *, db: Database, figures: Sequence[str], breakdowns: Sequence[Breakdown] = ()
) -> list[PublicMonth]:
    """What was published of these figures, month by month, newest first: the totals, and the parts of
    the breakdowns asked for."""
    with db.read() as s:
        rows = list(s.scalars(select(PublishedFigure).where(PublishedFigure.figure.in_(figures))))
    months: dict[date, PublicMonth] = {}
    for r in rows:
        breakdown = next((b for b in breakdowns if r.part.startswith(part_of(b, ""))), None)
        if r.part != TOTAL and breakdown is None:
            continue  # a breakdown no longer chosen
        month = months.setdefault(r.month, PublicMonth(r.month, {}))
        figure = Figure(value=r.value, below=r.below, noisy=r.noisy)
        if breakdown is None:
            month.figures[r.figure] = figure
        else:
            name = r.part.removeprefix(part_of(breakdown, ""))
            month.breakdowns.setdefault(breakdown, {}).setdefault(name, {})[r.figure] = figure
    return [months[m] for m in sorted(months, reverse=True)]


def parts_shown(publication: Publication, breakdown: Breakdown, months: Sequence[PublicMonth]) -> list[str]:
    """A breakdown's parts in the publication's order (the intake form's, for request types), then any
    other part published before the configuration changed."""
    named = publication.parts(breakdown)
    others = {part for m in months for part in m.parts(breakdown) if part not in named}
    return [*named, *sorted(others)]


def _in_order(figures: Mapping[str, Figure], order: Sequence[str]) -> dict[str, Figure]:
    return {f: figures[f] for f in order if f in figures}


def for_the_public(*, db: Database, publication: Publication) -> list[PublicMonth]:
    """What the public sees of a publication, newest month first: its figures in the order chosen, and the
    parts of its breakdowns in the publication's order (parts_shown)."""
    months = published(db=db, figures=publication.figures, breakdowns=publication.breakdowns)
    order = {b: parts_shown(publication, b, months) for b in publication.breakdowns}
    return [
        PublicMonth(
            m.month,
            _in_order(m.figures, publication.figures),
            {
                b: {
                    part: _in_order(m.parts(b)[part], publication.figures)
                    for part in order[b]
                    if part in m.parts(b)
                }
                for b in publication.breakdowns
                if m.parts(b)
            },
        )
        for m in months
    ]


def budget_spent(*, db: Database, publication: Publication, today: date) -> tuple[float, float]:
    """(epsilon spent, budget) of the period holding `today`."""
    with db.read() as s:
        past = [Charge(c.period_start, c.epsilon, c.what) for c in s.scalars(select(PrivacyCharge))]
    budget = budget_for(publication.rules, today=today, past=past)
    return budget.spent, budget.total
