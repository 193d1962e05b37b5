"""The public numbers as data: JSON and CSV of what the organisation published, for anyone (no login).

Like the page, they read only the stored figures (stats/public.py): a call spends no privacy budget and
shows nothing that was not already made safe.
"""

from __future__ import annotations

import csv
import io
from typing import Final, Literal

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field

from haven.config import SettingsError
from haven.dependencies import RuntimeDep
from haven.stats import public
from haven.stats.figures import Breakdown
from haven.stats.publication import Figure
from haven.stats.tables import safe_cell

router = APIRouter(prefix="/api/v1/public", tags=["public"])

GENERATED_FROM: Final = "published figures only"


class PublicRules(BaseModel):
    threshold: int = Field(description="Counts below it are published only as `below`, never as a number")
    rounding: int = Field(description="Every published value is a multiple of it (0 or 1: not rounded)")
    delay_days: int = Field(description="A month is published only once it ended at least this many days ago")
    noise: Literal["none", "laplace", "gaussian"] = Field(
        description="Random noise added to each count before threshold and rounding (differential privacy)"
    )


class ShownFigure(BaseModel):
    value: int = Field(description="The published count: at least the threshold, on the rounding grid")


class HiddenFigure(BaseModel):
    below: int = Field(description="The count was below this threshold; the number itself is never published")


FiguresOut = dict[str, ShownFigure | HiddenFigure]


class PublicMonthOut(BaseModel):
    month: str = Field(description="The month the requests came in, as YYYY-MM", examples=["2026-03"])
    figures: FiguresOut = Field(
        description="By figure, counting every request of the month: contacted, screened, verified, "
        "in_progress, open, completed, withdrawn, no_contact, rejected_provocation (those the organisation "
        "chose to publish)"
    )
    breakdowns: dict[Breakdown, dict[str, FiguresOut]] = Field(
        default_factory=dict,
        description="The same figures for each part of the month's requests, by breakdown the organisation "
        "chose to publish: `type` (by request type, as the intake form's ids: leave_service, legal, ...; "
        "every type it offers) and `channel` (web, telegram). Each request is in exactly one part; each "
        "part is made safe on its own, so the parts need not add up to the total",
        examples=[
            {"channel": {"web": {"contacted": {"value": 20}}, "telegram": {"contacted": {"below": 10}}}}
        ],
    )


class PublicStatsOut(BaseModel):
    rules: PublicRules | None = Field(
        description="The publication rules; null when the server's publication settings are wrong, and then "
        "no month is served"
    )
    months: list[PublicMonthOut] = Field(description="The published months, newest first")
    generated_from: Literal["published figures only"] = Field(
        description="Every number here was drawn once at publication and stored; nothing is counted per call"
    )


def _published(runtime: RuntimeDep) -> tuple[public.Publication | None, list[public.PublicMonth]]:
    """The publication and its months, in the order chosen; wrong settings: none."""
    try:
        publication = public.publication_of(runtime.settings)
    except SettingsError:
        return None, []
    return publication, public.for_the_public(db=runtime.db, publication=publication)


def _figure_out(figure: Figure) -> ShownFigure | HiddenFigure:
    if figure.value is None:
        return HiddenFigure(below=figure.below or 0)
    return ShownFigure(value=figure.value)


def _figures_out(figures: dict[str, Figure]) -> FiguresOut:
    return {name: _figure_out(figure) for name, figure in figures.items()}


def _month_out(month: public.PublicMonth) -> PublicMonthOut:
    return PublicMonthOut(
        month=f"{month.month:%Y-%m}",
        figures=_figures_out(month.figures),
        breakdowns={
            breakdown: {name: _figures_out(figures) for name, figures in parts.items()}
            for breakdown, parts in month.breakdowns.items()
        },
    )


@router.get("/stats", response_model=PublicStatsOut)
def stats(runtime: RuntimeDep) -> PublicStatsOut:
    """The helpline's published numbers, month by month, in total and (if the organisation publishes them)
    by request type and by channel: each figure is a `value` (rounded, at least the threshold) or only
    `below` (fewer than the threshold). Nothing newer than the delay is ever here."""
    publication, months = _published(runtime)
    rules = None
    if publication is not None:
        r = publication.rules
        rules = PublicRules(
            threshold=r.threshold, rounding=r.rounding, delay_days=r.delay_days, noise=r.noise
        )
    return PublicStatsOut(rules=rules, months=[_month_out(m) for m in months], generated_from=GENERATED_FROM)


def _parts(month: public.PublicMonth) -> list[tuple[str, dict[str, Figure]]]:
    """The month's total (part "") first, then each part of each breakdown, as stored."""
    return [(public.TOTAL, month.figures)] + [
        (public.part_of(breakdown, name), figures)
        for breakdown, parts in month.breakdowns.items()
        for name, figures in parts.items()
    ]


@router.get(
    "/stats.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"}},
)
def stats_csv(runtime: RuntimeDep) -> Response:
    """The same as /api/v1/public/stats as CSV: a row per month, figure and part (month, figure, value,
    below, part), newest month first; `value` is empty when only `below` is published, and `part` is empty
    for the month's total, else one part of a breakdown, such as `type:legal` or `channel:telegram`."""
    _publication, months = _published(runtime)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["month", "figure", "value", "below", "part"])
    for m in months:
        for part, figures in _parts(m):
            for name, figure in figures.items():
                row = (f"{m.month:%Y-%m}", name, figure.value, figure.below, part)
                writer.writerow([safe_cell(cell) for cell in row])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="numbers.csv"'},
    )
