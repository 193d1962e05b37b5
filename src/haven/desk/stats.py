"""The coordinators' statistics pages: the funnel per month or week, split by request type or channel
(charts with their tables), by language on a page of its own, service figures, the public numbers and their
rules with a "Publish" button, and the funnel as CSV.

Everything here is exact and for the organisation only; the public sees only what "Publish" drew under the
rules (stats/public.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from haven.accounts.models import Role
from haven.accounts.services import UnlockedOperator
from haven.config import SettingsError
from haven.dependencies import NotPermitted, OperatorContext, OperatorDep, RuntimeDep
from haven.desk.case_words import step_name
from haven.desk.pages import Csrf, checked, render
from haven.desk.stats_funnel import Choice, Parts, View, funnel_values, month_words
from haven.desk.stats_languages import language_values
from haven.runtime import Runtime
from haven.stats import public
from haven.stats.feedback import feedback_answers
from haven.stats.figures import CHANNELS, COLUMN_WORDS, PERIODS, Breakdown, first_response, funnel, workload
from haven.stats.privacy import BudgetExhausted, period_start
from haven.stats.publication import Rules
from haven.stats.tables import funnel_csv as funnel_as_csv

router = APIRouter(prefix="/desk", include_in_schema=False)

FIRST_RESPONSE_DAYS = 30
CSV_NAME = "haven-funnel.csv"
STATS_PATH = "/desk/stats"
LANGUAGES_PATH = "/desk/stats/languages"
SPLITS = {"type": "request type", "channel": "channel"}
BREAKDOWN_OF: dict[str, Breakdown] = {"type": "type", "channel": "channel"}
CHANNEL_WORDS = {"web": "website", "telegram": "Telegram"}
# A view's choice in the URL: a word, never more (anything else shows the default view).
ViewWord = Annotated[str, Query(max_length=20)]


def coordinator(context: OperatorDep) -> OperatorContext:
    if context.operator.role not in (Role.COORDINATOR, Role.ADMIN):
        raise NotPermitted
    return context


CoordinatorDep = Annotated[OperatorContext, Depends(coordinator)]


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


def _type_parts(runtime: Runtime) -> Parts:
    types = runtime.catalogue.types
    return Parts(known=list(types), words={kind: t.label("en") for kind, t in types.items()})


def view_switch(view: View, *, on_languages: bool = False) -> dict[str, list[Choice]]:
    """The links that change the view: per month or week, and the split; by language is a page of its own
    (it opens sealed tallies, so it is only counted when asked for)."""
    here = LANGUAGES_PATH if on_languages else STATS_PATH
    splits = [
        Choice(words, View(view.per, by).link(STATS_PATH), not on_languages and view.by == by)
        for by, words in {"": "nothing", **SPLITS}.items()
    ]
    splits.append(Choice("language", View(view.per).link(LANGUAGES_PATH), on_languages))
    shown = View(view.per) if on_languages else view  # the languages page has no split to choose
    return {"Per": [Choice(p, shown.link(here, per=p), view.per == p) for p in PERIODS], "Split by": splits}


def _funnel_page_values(runtime: Runtime, view: View) -> dict[str, Any]:
    parts = _type_parts(runtime) if view.by == "type" else Parts(known=CHANNELS, words=CHANNEL_WORDS)
    return {
        **funnel_values(
            funnel(db=runtime.db, per=view.per, by=BREAKDOWN_OF.get(view.by)),
            view=view,
            today=datetime.now(UTC).date(),
            parts=parts,
            split_words=SPLITS.get(view.by, ""),
        ),
        "switch": view_switch(view),
        "csv_href": View(view.per).link("/desk/stats.csv"),
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
        "rules": [*rules_words(publication.rules), *filter(None, [public.budget_words(publication)])],
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
    request: Request,
    runtime: Runtime,
    context: OperatorContext,
    status_code: int = 200,
    view: View | None = None,
    **values: Any,
) -> Response:
    values.setdefault("error", None)
    values.setdefault("notice", _notice(request))
    return render(
        request,
        runtime,
        "stats.html",
        context,
        status_code,
        **_funnel_page_values(runtime, view or View()),
        **_service_values(runtime, context.operator),
        **_public_values(runtime),
        **values,
    )


@router.get("/stats")
def show_stats(
    request: Request, runtime: RuntimeDep, context: CoordinatorDep, per: ViewWord = "", by: ViewWord = ""
) -> Response:
    return stats_page(request, runtime, context, view=View.read(per, by, splits=tuple(SPLITS)))


@router.get("/stats/languages")
def show_languages(
    request: Request, runtime: RuntimeDep, context: CoordinatorDep, per: ViewWord = ""
) -> Response:
    """The funnel by language: the languages are sealed, so they are opened with this coordinator's keys,
    for the requests their teams received, in this request only."""
    view = View.read(per, "language", splits=("language",))
    return render(
        request,
        runtime,
        "stats_languages.html",
        context,
        **language_values(runtime.db, context.operator, view=view, today=datetime.now(UTC).date()),
        switch=view_switch(view, on_languages=True),
        back_href=View(view.per).link(STATS_PATH),
    )


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


@router.get("/stats.csv")
def funnel_csv(runtime: RuntimeDep, context: CoordinatorDep, per: ViewWord = "") -> Response:
    """The funnel of every month or week, by request type and channel, exact: for the organisation, never
    for publication."""
    return Response(
        funnel_as_csv(db=runtime.db, per=View.read(per).per),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{CSV_NAME}"'},
    )
