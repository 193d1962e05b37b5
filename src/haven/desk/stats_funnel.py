"""The funnel as the coordinators' pages show it: the view a link chose (per month or week, split by nothing,
request type, channel or language), the last 12 of those months or weeks, and their charts and tables.

It only arranges counts it is given (stats.figures.tabulate's funnels); it reads nothing itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup

from haven.retention.counting import week_of
from haven.stats.charts import Bar, Series, funnel_bars, share, stacked_bars
from haven.stats.figures import COLUMN_WORDS, COLUMNS, PERIODS, POSITIONS, STAGES, Funnel, Period

SHOWN = 12  # months or weeks, this one included
PALETTE = 8  # the colours of a breakdown's parts: part-0 ... part-7 in desk-stats.css
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# A bar of how requests stand is every request contacted, split by how each stands now.
POSITION_SERIES = tuple(Series(c, COLUMN_WORDS[c]) for c in POSITIONS)
STAGE_SERIES = tuple(Series(s, COLUMN_WORDS[s]) for s in STAGES)


def month_words(month: date) -> str:
    return f"{MONTH_NAMES[month.month - 1]} {month.year}"


def period_words(per: Period, start: date, *, short: bool = False) -> str:
    """A month ("Mar 2025") or a week from Monday to Sunday ("10–16 Mar 2025"; `short`: "10–16 Mar")."""
    if per == "month":
        return month_words(start)
    end = start + timedelta(days=6)
    first = str(start.day)
    if start.month != end.month:
        first += f" {MONTH_NAMES[start.month - 1]}"
    if start.year != end.year and not short:
        first += f" {start.year}"
    last = f"{end.day} {MONTH_NAMES[end.month - 1]}"
    return f"{first}–{last}" if short else f"{first}–{last} {end.year}"


def last_periods(per: Period, today: date, count: int = SHOWN) -> list[date]:
    """The first days of the last `count` months, or the Mondays of the last `count` weeks, the current one
    included, oldest first."""
    if per == "week":
        this_week = week_of(today)
        return [this_week - timedelta(weeks=back) for back in range(count - 1, -1, -1)]
    index = today.year * 12 + today.month - 1
    months = (divmod(index - back, 12) for back in range(count - 1, -1, -1))
    return [date(year, month + 1, 1) for year, month in months]


@dataclass(frozen=True)
class View:
    """What a page shows, read from its URL. Anything else there gives the default view, so a crafted link
    can only choose among these."""

    per: Period = "month"
    by: str = ""  # a breakdown, or "" for none

    @classmethod
    def read(cls, per: str, by: str = "", *, splits: Sequence[str] = ()) -> View:
        return cls(next((p for p in PERIODS if p == per), "month"), by if by in splits else "")

    def link(self, path: str, *, per: Period | None = None, by: str | None = None) -> str:
        chosen = replace(self, per=per or self.per, by=self.by if by is None else by)
        return f"{path}?{urlencode({'per': chosen.per, **({'by': chosen.by} if chosen.by else {})})}"


@dataclass(frozen=True)
class Choice:
    """One link of the view switch."""

    words: str
    href: str
    current: bool


@dataclass(frozen=True)
class Parts:
    """The parts of a breakdown: their words, and the order (so the colour) each always takes."""

    known: Sequence[str] = ()
    words: Mapping[str, str] = field(default_factory=dict)

    def name(self, part: str) -> str:
        return self.words.get(part, part)

    def ordered(self, present: Iterable[str]) -> list[str]:
        found = set(present)
        return [p for p in self.known if p in found] + sorted(found - set(self.known))

    def series(self, present: Iterable[str]) -> list[Series]:
        """A part's colour is its place among the known parts, so it stays the same from view to view."""
        parts = self.ordered(present)
        extra = [p for p in parts if p not in self.known]
        return [Series(f"part-{(list(self.known) + extra).index(p) % PALETTE}", self.name(p)) for p in parts]


@dataclass(frozen=True)
class Row:
    label: str
    counts: list[int]

    @property
    def empty(self) -> bool:
        """No request at all: shown as words, not a row of zeros to read through."""
        return not any(self.counts)


@dataclass
class Window:
    """The funnels of the shown months or weeks, per part ("" when not split)."""

    per: Period
    periods: list[date]
    cells: dict[tuple[date, str], Funnel] = field(default_factory=lambda: defaultdict(Funnel))

    @classmethod
    def of(cls, table: Mapping[tuple[date | None, str], Funnel], *, per: Period, today: date) -> Window:
        window = cls(per, last_periods(per, today))
        shown = set(window.periods)
        for (period, part), funnel in table.items():
            if period in shown:
                window.cells[(period, part)].merge(funnel)
        return window

    @property
    def parts(self) -> set[str]:
        return {part for (_period, part), f in self.cells.items() if f.counts["contacted"]}

    def cell(self, period: date, part: str) -> Funnel:
        return self.cells.get((period, part)) or Funnel()

    def of_period(self, period: date) -> Funnel:
        return _merged(f for (p, _part), f in self.cells.items() if p == period)

    def of_part(self, part: str) -> Funnel:
        return _merged(f for (_p, q), f in self.cells.items() if q == part)

    def total(self) -> Funnel:
        return _merged(self.cells.values())


def _merged(funnels: Iterable[Funnel]) -> Funnel:
    total = Funnel()
    for funnel in funnels:
        total.merge(funnel)
    return total


def window_words(per: Period) -> str:
    return f"the last {SHOWN} {per}s"


def funnel_values(
    table: Mapping[tuple[date | None, str], Funnel],
    *,
    view: View,
    today: date,
    parts: Parts,
    split_words: str = "",
) -> dict[str, Any]:
    """What the funnel's part of a page shows: how far requests got, per period, and (split) per part."""
    window = Window.of(table, per=view.per, today=today)
    total = window.total()
    values: dict[str, Any] = {
        "view": view,
        "window_words": window_words(view.per),
        "columns": [COLUMN_WORDS[c] for c in COLUMNS],
        "positions": POSITION_SERIES,
        "anything": total.counts["contacted"] > 0,
        "period_total": total.row(),
        **_stage_values(total, view.per),
    }
    values.update(_split_values(window, parts, split_words) if view.by else _period_values(window))
    return values


def _stage_values(total: Funnel, per: Period) -> dict[str, Any]:
    contacted = total.counts["contacted"]
    return {
        "stage_rows": [
            (s.name, total.counts[s.key], share(total.counts[s.key], contacted) if i else "")
            for i, s in enumerate(STAGE_SERIES)
        ],
        "stage_chart": funnel_bars(
            [(s, total.counts[s.key]) for s in STAGE_SERIES],
            title=f"How far the requests of {window_words(per)} got",
        ),
    }


def _period_values(window: Window) -> dict[str, Any]:
    """Not split: one bar per month or week, split by how its requests stand now, beside the whole funnel."""
    per = window.per
    funnels = [(p, window.of_period(p)) for p in window.periods]
    return {
        "period_rows": [Row(period_words(per, p), f.row()) for p, f in funnels],
        "period_chart": stacked_bars(
            [Bar(period_words(per, p, short=True), f.counts) for p, f in funnels],
            series=POSITION_SERIES,
            title=f"Requests per {per}, by how each stands now",
            total_name="contacted",
        ),
    }


def _split_values(window: Window, parts: Parts, split_words: str) -> dict[str, Any]:
    """Split: one bar per month or week split by part, then each part's funnel, then every period's."""
    per, present = window.per, window.parts
    names = parts.ordered(present)
    series = parts.series(present)
    keys = [(s.key, part) for s, part in zip(series, names, strict=True)]
    contacted = [
        (p, {key: window.cell(p, part).counts["contacted"] for key, part in keys}) for p in window.periods
    ]
    of_part = [(part, window.of_part(part)) for part in names]
    return {
        "split_words": split_words,
        "part_series": series,
        "part_names": [parts.name(p) for p in names],
        "period_part_rows": [
            Row(period_words(per, p), [*(counts[s.key] for s in series), sum(counts.values())])
            for p, counts in contacted
        ],
        "period_part_chart": stacked_bars(
            [Bar(period_words(per, p, short=True), counts) for p, counts in contacted],
            series=series,
            title=f"Requests per {per}, by {split_words}",
            total_name="contacted",
        ),
        "part_rows": [Row(parts.name(part), f.row()) for part, f in of_part],
        "part_chart": _part_chart(of_part, parts, per, split_words),
        "detail": [(period_words(per, p), _rows_of_period(window, p, names, parts)) for p in window.periods],
    }


def _rows_of_period(window: Window, period: date, names: list[str], parts: Parts) -> list[Row]:
    """The funnel of each part that had requests in the period."""
    funnels = ((part, window.cell(period, part)) for part in names)
    return [Row(parts.name(part), f.row()) for part, f in funnels if f.counts["contacted"]]


def _part_chart(of_part: list[tuple[str, Funnel]], parts: Parts, per: Period, split_words: str) -> Markup:
    return stacked_bars(
        [Bar(parts.name(part), f.counts) for part, f in of_part],
        series=POSITION_SERIES,
        title=f"Requests of {window_words(per)} by {split_words}, by how each stands now",
        total_name="contacted",
        labels_above=True,
    )
