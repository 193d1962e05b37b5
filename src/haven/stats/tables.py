"""Funnel tables beyond stats.figures.tabulate: per language, once the sealed tallies are opened, and the
whole funnel as CSV for the organisation's own spreadsheets. Exact counts, never for publication
(stats/public.py publishes)."""

from __future__ import annotations

import csv
import io
from datetime import date

from haven.db import Database
from haven.retention.services import case_totals
from haven.stats.figures import COLUMNS, Funnel, Period, tabulate
from haven.stats.languages import LanguageCounts

# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """A cell a spreadsheet shows as text, never runs (CSV injection: a request type is configurable, so
    not trusted). None is an empty cell."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def funnel_csv(*, db: Database, per: Period) -> str:
    """Every month (YYYY-MM) or week (its Monday, YYYY-MM-DD) with requests, oldest first, one row per
    request type and channel."""
    with db.read() as s:
        totals = case_totals(db_session=s)
    rows: list[tuple[date, str, str, Funnel]] = []
    for channel in sorted({key.channel for key in totals}):
        of_channel = {key: n for key, n in totals.items() if key.channel == channel}
        for (period, kind), funnel in tabulate(of_channel, per=per, by="type").items():
            if period is not None and funnel.counts["contacted"]:  # not a row of merged duplicates only
                rows.append((period, kind, channel, funnel))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([per, "request_type", "channel", *COLUMNS])
    for period, kind, channel, funnel in sorted(rows, key=lambda row: row[:3]):
        when = f"{period:%Y-%m}" if per == "month" else period.isoformat()
        writer.writerow([when, safe_cell(kind), safe_cell(channel), *funnel.row()])
    return out.getvalue()


def by_language(counts: LanguageCounts, *, per: Period | None) -> dict[tuple[date | None, str], Funnel]:
    """The funnel of each month or week (None: all time) per language, keyed as tabulate keys a breakdown."""
    table = {
        (period, language): funnel
        for language in counts.languages
        for (period, _whole), funnel in tabulate(counts.totals(language), per=per).items()
    }
    return dict(sorted(table.items(), key=lambda item: (item[0][0] or date.min, item[0][1])))
