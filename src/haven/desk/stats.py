"""The coordinators' statistics page: the funnel by month and by request type (charts with their tables),
service figures, the public numbers and their rules with a "Publish" button, and the funnel as CSV.

Everything here is exact and for the organisation only; the public sees only what "Publish" drew under the
rules (stats/public.py).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from haven.accounts.models import Role
from haven.accounts.services import UnlockedOperator
from haven.config import SettingsError
from haven.dependencies import NotPermitted, OperatorContext, OperatorDep, RuntimeDep
from haven.desk.case_words import step_name
from haven.desk.pages import Csrf, checked, render
from haven.runtime import Runtime
from haven.stats import public
from haven.stats.charts import Bar, Series, stacked_bars
from haven.stats.feedback import feedback_answers
from haven.stats.figures import (
    CHANNELS,
    COLUMNS,
    Funnel,
    contacted_by_channel,
    first_response,
    funnel_by_month,
    funnel_by_type,
    workload,
)
from haven.stats.privacy import BudgetExhausted, period_start
from haven.stats.publication import Rules

router = APIRouter(prefix="/desk", include_in_schema=False)

COLUMN_WORDS = {
    "contacted": "contacted",
    "open": "open",
    "completed": "completed",
    "withdrawn": "withdrawn",
    "no_contact": "no contact",
    "rejected_provocation": "probable provocation",
    "closed_otherwise": "closed otherwise",
}
# A bar is every case contacted, split by how each stands now.
PARTS = tuple(Series(c, COLUMN_WORDS[c]) for c in COLUMNS if c != "contacted")
MONTHS_SHOWN = 12
FIRST_RESPONSE_DAYS = 30
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
CSV_NAME = "haven-funnel.csv"


def coordinator(context: OperatorDep) -> OperatorContext:
    if context.operator.role not in (Role.COORDINATOR, Role.ADMIN):
        raise NotPermitted
    return context


CoordinatorDep = Annotated[OperatorContext, Depends(coordinator)]


def month_words(month: date) -> str:
    return f"{MONTH_NAMES[month.month - 1]} {month.year}"


def duration_words(minutes: float) -> str:
    """A wait in words: "under a minute", "45 min", "3 h 20 min", "2 days 4 h"."""
    whole = round(minutes)
    if whole < 1:
        return "under a minute"
    hours, mins = divmod(whole, 60)
    if hours == 0:
        return f"{mins} min"
    if hours < 48:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h" if hours else f"{days} days"


def rules_words(rules: Rules) -> list[str]:
    """The publication rules, one sentence each, as a coordinator needs them to answer the press."""
    grid = "Counts are published as they are, not rounded."
    if rules.rounding > 1:
        grid = f"Published counts are rounded to the nearest {rules.rounding:,}."
    noise = "No noise is added (no differential privacy), so publishing spends no privacy budget."
    if rules.noise != "none":
        noise = (
            f"{rules.noise.title()} noise is added to every count before the threshold and the rounding "
            f"(differential privacy, ε {rules.epsilon_per_figure:g} per figure), from a privacy budget of "
            f"ε {rules.budget_per_period:g} per {rules.period}; once it is spent, nothing more is published "
            f"until the next {rules.period}."
        )
    return [
        f"Counts below {rules.threshold:,} are published as “fewer than {rules.threshold:,}”, never as the "
        "number.",
        grid,
        f"Nothing from the last {rules.delay_days:,} days is published: a month is published once it ended "
        f"at least {rules.delay_days:,} days ago, and each month is drawn once and then kept.",
        noise,
    ]


@dataclass(frozen=True)
class Row:
    label: str
    counts: list[int]


def _type_label(runtime: Runtime, request_type: str) -> str:
    kind = runtime.catalogue.types.get(request_type)
    return kind.label("en") if kind else request_type


def _funnel_values(runtime: Runtime) -> dict[str, Any]:
    months = list(funnel_by_month(db=runtime.db).items())[-MONTHS_SHOWN:]
    kinds = funnel_by_type(db=runtime.db)
    month_bars = [Bar(month_words(m), f.counts) for m, f in months]
    kind_bars = [Bar(_type_label(runtime, k), f.counts) for k, f in kinds.items()]
    everything = Funnel()
    for funnel in kinds.values():
        everything.counts.update(funnel.counts)
    return {
        "columns": [COLUMN_WORDS[c] for c in COLUMNS],
        "parts": PARTS,
        "month_rows": [Row(bar.label, f.row()) for bar, (_m, f) in zip(month_bars, months, strict=True)],
        "month_chart": stacked_bars(
            month_bars, series=PARTS, title="Requests by the month they came in", total_name="contacted"
        )
        if month_bars
        else None,
        "type_rows": [Row(bar.label, f.row()) for bar, f in zip(kind_bars, kinds.values(), strict=True)],
        "type_total": everything.row(),
        "type_chart": stacked_bars(
            kind_bars,
            series=PARTS,
            title="Requests by type, all time",
            total_name="contacted",
            labels_above=True,
        )
        if kind_bars
        else None,
    }


WEEKS_SHOWN = 8


def _channel_values(runtime: Runtime) -> dict[str, Any]:
    months = list(contacted_by_channel(db=runtime.db, length="month").items())[-MONTHS_SHOWN:]
    weeks = list(contacted_by_channel(db=runtime.db, length="week").items())[-WEEKS_SHOWN:]
    return {
        "channels": CHANNELS,
        "channel_months": [Row(month_words(m), [c[ch] for ch in CHANNELS]) for m, c in months],
        "channel_weeks": [Row(f"week of {w:%d %b %Y}", [c[ch] for ch in CHANNELS]) for w, c in weeks],
    }


def _service_values(runtime: Runtime, operator: UnlockedOperator) -> dict[str, Any]:
    now = datetime.now(UTC)
    load = workload(db=runtime.db, now=now)
    procedures = runtime.procedures
    overdue = [
        (
            (p.names["en"] if (p := procedures.get(proc)) else proc),
            step_name(procedures, proc, step),
            n,
        )
        for (proc, step), n in sorted(load.overdue_by_step.items(), key=lambda item: (-item[1], item[0]))
    ]
    people = sorted(load.by_operator.items(), key=lambda item: (item[0] == "", -item[1], item[0]))
    return {
        "first": first_response(db=runtime.db, since=now - timedelta(days=FIRST_RESPONSE_DAYS), until=now),
        "first_days": FIRST_RESPONSE_DAYS,
        "duration_words": duration_words,
        "overdue": overdue,
        "overdue_total": sum(load.overdue_by_step.values()),
        "missed": load.missed_check_ins,
        "by_team": sorted(load.by_team.items()),
        "by_operator": [(name or "nobody", n, not name) for name, n in people],
        "open_total": sum(load.by_team.values()),
        "helped": feedback_answers(db=runtime.db, operator=operator),
    }


def _public_values(runtime: Runtime) -> dict[str, Any]:
    try:
        publication = public.publication_of(runtime.settings)
    except SettingsError as exc:
        return {"publication": None, "settings_error": str(exc)}
    today = datetime.now(UTC).date()
    spent, total = public.budget_spent(db=runtime.db, publication=publication, today=today)
    return {
        "publication": publication,
        "settings_error": None,
        "rules": rules_words(publication.rules),
        "figure_words": [COLUMN_WORDS[f] for f in publication.figures],
        "published": public.published(db=runtime.db, figures=publication.figures),
        "month_words": month_words,
        "spent": spent,
        "budget": total,
        "period_start": period_start(today, publication.rules.period),
    }


def _notice(request: Request) -> str:
    # Numbers only from the URL, words from here: a crafted link cannot make the page say anything else.
    figures, months = request.query_params.get("published", ""), request.query_params.get("months", "")
    if not (figures.isdigit() and months.isdigit()):
        return ""
    if int(figures) == 0:
        return "Nothing new to publish: every month the rules allow is published already."
    f, m = int(figures), int(months)
    return f"Published {f:,} figure{'s' if f != 1 else ''} for {m:,} month{'s' if m != 1 else ''}."


def stats_page(
    request: Request, runtime: Runtime, context: OperatorContext, status_code: int = 200, **values: Any
) -> Response:
    values.setdefault("error", None)
    values.setdefault("notice", _notice(request))
    return render(
        request,
        runtime,
        "stats.html",
        context,
        status_code,
        **_funnel_values(runtime),
        **_service_values(runtime, context.operator),
        **_channel_values(runtime),
        **_public_values(runtime),
        **values,
    )


@router.get("/stats")
def show_stats(request: Request, runtime: RuntimeDep, context: CoordinatorDep) -> Response:
    return stats_page(request, runtime, context)


@router.post("/stats/publish")
def publish(
    request: Request, runtime: RuntimeDep, context: CoordinatorDep, csrf_token: Csrf = ""
) -> Response:
    """Draw and store every month the rules allow; say how many figures, or why none."""
    checked(context, csrf_token)
    try:
        done = public.publish(
            db=runtime.db,
            publication=public.publication_of(runtime.settings),
            today=datetime.now(UTC).date(),
            actor=context.operator.actor,
        )
    except (SettingsError, BudgetExhausted) as exc:
        return stats_page(request, runtime, context, 409, error=f"Nothing was published: {exc}")
    return RedirectResponse(
        f"/desk/stats?published={done.figures}&months={done.months}#public", status_code=303
    )


def _cell(text: str) -> str:
    # A spreadsheet runs a cell that starts with one of these as a formula: make it text.
    return f"'{text}" if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


@router.get("/stats.csv")
def funnel_csv(runtime: RuntimeDep, context: CoordinatorDep) -> Response:
    """The funnel by month and request type, exact: for the organisation, never for publication."""
    rows = [
        (month, kind, funnel)
        for kind in funnel_by_type(db=runtime.db)
        for month, funnel in funnel_by_month(db=runtime.db, request_type=kind).items()
    ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["month", "request_type", *COLUMNS])
    for month, kind, funnel in sorted(rows, key=lambda r: (r[0], r[1])):
        writer.writerow([f"{month:%Y-%m}", _cell(kind), *funnel.row()])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{CSV_NAME}"'},
    )
