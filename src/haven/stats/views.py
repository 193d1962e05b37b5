"""The public numbers page: only what the organisation published, in the reader's language.

Every number on it is a published figure (stats/public.py) or a sum of them, so a page view spends no
privacy budget and shows nothing that was not already made safe. No script, nothing from elsewhere. Beside
the months' totals, a table per breakdown the organisation publishes (by request type, by channel).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from haven.config import SettingsError
from haven.dependencies import RuntimeDep
from haven.i18n import Translator
from haven.intake import lang_path
from haven.intake.questionnaires import Catalogue, default_catalogue
from haven.stats import public
from haven.stats.figures import CHANNELS, Breakdown
from haven.stats.publication import Figure, Rules

lang_path.register()
router = APIRouter(include_in_schema=False)

Lang = Annotated[str, Path()]

NARROW_NO_BREAK_SPACE = "\u202f"  # the thousands separator of Russian and Ukrainian: 26 000
NO_BREAK_SPACE = "\u00a0"


def format_count(n: int, language: str) -> str:
    """A whole number with the language's thousands separator: 26,000 (en), 26 000 (ru, uk)."""
    text = f"{n:,}"
    return text if language == "en" else text.replace(",", NARROW_NO_BREAK_SPACE)


def plural_form(n: int, language: str) -> str:
    """The CLDR plural category of `n` for the catalogue keys: one/few/many (ru, uk) or one/other (en)."""
    if language == "en":
        return "one" if n == 1 else "other"
    if n % 10 == 1 and n % 100 != 11:
        return "one"
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return "few"
    return "many"


def month_name(t: Translator, month: date) -> str:
    """The month and year ("March 2025"), never broken across two lines."""
    return f"{t(f'numbers_month_{month.month}')}{NO_BREAK_SPACE}{month.year}"


@dataclass(frozen=True)
class Cell:
    text: str
    hidden: bool  # "fewer than 10", or nothing published for this figure that month


@dataclass(frozen=True)
class MonthRow:
    month: date
    name: str
    cells: list[Cell]


@dataclass(frozen=True)
class Total:
    figure: str
    label: str
    text: str


@dataclass(frozen=True)
class PartRow:
    part: str  # as published: "type:legal", "channel:telegram"
    name: str  # in the reader's language, as the intake form names a request type
    cells: list[Cell]


@dataclass(frozen=True)
class PartGroup:
    key: str  # "all", or the month as YYYY-MM
    name: str
    rows: list[PartRow]


@dataclass(frozen=True)
class PartsTable:
    """One breakdown: its parts over all the published months, then month by month."""

    breakdown: Breakdown
    title: str
    column: str  # the heading of the parts' column
    overall: PartGroup
    months: list[PartGroup]  # newest first


@dataclass(frozen=True)
class NumbersPage:
    labels: list[str]  # the chosen figures' names, in the order chosen
    months: list[MonthRow]  # newest first
    period: str  # "March 2025 – May 2025"
    totals: list[Total]
    rules: list[str]  # how the numbers were made safe, one sentence each
    breakdowns: list[PartsTable] = field(default_factory=list)


def _cell(t: Translator, figure: Figure | None, language: str) -> Cell:
    if figure is None:
        return Cell("–", hidden=True)
    if figure.value is None:
        return Cell(t("numbers_fewer_than", n=format_count(figure.below or 0, language)), hidden=True)
    return Cell(format_count(figure.value, language), hidden=False)


def _rules(t: Translator, rules: Rules, noisy: bool, parts: Sequence[Breakdown], language: str) -> list[str]:
    said = [t("numbers_rule_counted")]
    if rules.rounding > 1:
        said.append(t("numbers_rule_rounding", n=format_count(rules.rounding, language)))
    said.append(t("numbers_rule_threshold", n=format_count(rules.threshold, language)))
    if parts:
        # "by request type and by channel": the tables' own titles, as the reader sees them.
        titles = [_lower_first(t(f"numbers_by_{b}")) for b in parts]
        joined = f" {t('numbers_and')} ".join(titles)
        said.append(t("numbers_rule_parts", parts=joined, n=format_count(rules.threshold, language)))
    if rules.delay_days:
        days = t(f"numbers_days_{plural_form(rules.delay_days, language)}", n=rules.delay_days)
        said.append(t("numbers_rule_delay", days=days))
    else:
        said.append(t("numbers_rule_no_delay"))
    if noisy:
        said.append(t("numbers_rule_noise"))
    return said


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _about(t: Translator, total: int, language: str) -> Cell:
    """A sum of published values: "about N", never broken across two lines, or "–" when every month was
    hidden (they add nothing)."""
    if not total:
        return Cell("–", hidden=True)
    text = t("numbers_about", n=format_count(total, language))
    return Cell(text.replace(" ", NO_BREAK_SPACE), hidden=False)


def _period(t: Translator, months: Sequence[public.PublicMonth]) -> str:
    if not months:
        return ""
    first, last = month_name(t, months[-1].month), month_name(t, months[0].month)
    return first if first == last else f"{first} – {last}"


def _part_name(t: Translator, catalogue: Catalogue, breakdown: Breakdown, name: str) -> str:
    if breakdown == "channel":
        return t(f"numbers_channel_{name}") if name in CHANNELS else name
    kind = catalogue.types.get(name)
    return kind.label(t.language) if kind is not None else name


def _part_figures(month: public.PublicMonth, breakdown: Breakdown, name: str) -> dict[str, Figure]:
    return month.parts(breakdown).get(name, {})


def _part_sum(months: Sequence[public.PublicMonth], breakdown: Breakdown, name: str, figure: str) -> int:
    """The part's published values added up; like the page's totals, a hidden month adds nothing."""
    shown = (_part_figures(m, breakdown, name).get(figure) for m in months)
    return sum(f.value or 0 for f in shown if f is not None)


def _parts_table(
    t: Translator,
    publication: public.Publication,
    months: Sequence[public.PublicMonth],
    breakdown: Breakdown,
    catalogue: Catalogue,
) -> PartsTable:
    language, figures = t.language, publication.figures
    parts = [
        (name, public.part_of(breakdown, name), _part_name(t, catalogue, breakdown, name))
        for name in public.parts_shown(publication, breakdown, months)
    ]
    overall = [
        PartRow(part, label, [_about(t, _part_sum(months, breakdown, name, f), language) for f in figures])
        for name, part, label in parts
    ]
    by_month = [
        PartGroup(
            f"{m.month:%Y-%m}",
            month_name(t, m.month),
            [
                PartRow(
                    part,
                    label,
                    [_cell(t, _part_figures(m, breakdown, name).get(f), language) for f in figures],
                )
                for name, part, label in parts
            ],
        )
        for m in months
        if m.parts(breakdown)
    ]
    return PartsTable(
        breakdown,
        t(f"numbers_by_{breakdown}"),
        t(f"numbers_{breakdown}"),
        PartGroup("all", t("numbers_total_title", period=_period(t, months)), overall),
        by_month,
    )


def _every_figure(month: public.PublicMonth) -> list[Figure]:
    parts = [f for part in month.breakdowns.values() for figures in part.values() for f in figures.values()]
    return [*month.figures.values(), *parts]


def numbers_page(
    t: Translator,
    publication: public.Publication,
    months: Sequence[public.PublicMonth],
    *,
    catalogue: Catalogue | None = None,
) -> NumbersPage:
    """What the page shows of the published months (newest first), every text in the reader's language;
    request types are named as the intake form of `catalogue` names them."""
    language = t.language
    figures = publication.figures
    rows = [
        MonthRow(m.month, month_name(t, m.month), [_cell(t, m.figures.get(f), language) for f in figures])
        for m in months
    ]
    totals = []
    for f in figures:
        # Post-processing of published figures only: a hidden month adds nothing, and the text says "about".
        total = sum(m.figures[f].value or 0 for m in months if f in m.figures)
        if total:
            text = t("numbers_about", n=format_count(total, language))
            totals.append(Total(f, t(f"numbers_figure_{f}"), text))
    breakdowns = [
        _parts_table(t, publication, months, b, catalogue or default_catalogue())
        for b in publication.breakdowns
        if any(m.parts(b) for m in months)
    ]
    noisy = publication.rules.noise != "none" or any(x.noisy for m in months for x in _every_figure(m))
    return NumbersPage(
        labels=[t(f"numbers_figure_{f}") for f in figures],
        months=rows,
        period=_period(t, months),
        totals=totals,
        rules=_rules(t, publication.rules, noisy, [b.breakdown for b in breakdowns], language),
        breakdowns=breakdowns,
    )


@router.get("/{lang:lang}/numbers")
def numbers(request: Request, lang: Lang, runtime: RuntimeDep) -> Response:
    t = Translator(lang)
    page: NumbersPage | None = None
    try:
        publication = public.publication_of(runtime.settings)
    except SettingsError:
        # Wrong publication settings show nothing rather than an error: the desk and `haven stats` name them.
        pass
    else:
        months = public.for_the_public(db=runtime.db, publication=publication)
        if months:
            page = numbers_page(t, publication, months, catalogue=runtime.catalogue)
    return runtime.templates.TemplateResponse(
        request, "public/numbers.html", {"t": t, "lang": lang, "numbers": page}
    )
