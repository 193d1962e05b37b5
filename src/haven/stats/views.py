"""The public numbers page: only what the organisation published, in the reader's language.

Every number on it is a published figure (stats/public.py) or a sum of them, so a page view spends no
privacy budget and shows nothing that was not already made safe. No script, nothing from elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from haven.config import SettingsError
from haven.dependencies import RuntimeDep
from haven.i18n import Translator
from haven.intake import lang_path
from haven.stats import public
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
class NumbersPage:
    labels: list[str]  # the chosen figures' names, in the order chosen
    months: list[MonthRow]  # newest first
    period: str  # "March 2025 – May 2025"
    totals: list[Total]
    rules: list[str]  # how the numbers were made safe, one sentence each


def _cell(t: Translator, figure: Figure | None, language: str) -> Cell:
    if figure is None:
        return Cell("–", hidden=True)
    if figure.value is None:
        return Cell(t("numbers_fewer_than", n=format_count(figure.below or 0, language)), hidden=True)
    return Cell(format_count(figure.value, language), hidden=False)


def _rules(t: Translator, rules: Rules, noisy: bool, language: str) -> list[str]:
    said = [t("numbers_rule_counted")]
    if rules.rounding > 1:
        said.append(t("numbers_rule_rounding", n=format_count(rules.rounding, language)))
    said.append(t("numbers_rule_threshold", n=format_count(rules.threshold, language)))
    if rules.delay_days:
        days = t(f"numbers_days_{plural_form(rules.delay_days, language)}", n=rules.delay_days)
        said.append(t("numbers_rule_delay", days=days))
    else:
        said.append(t("numbers_rule_no_delay"))
    if noisy:
        said.append(t("numbers_rule_noise"))
    return said


def numbers_page(
    t: Translator, publication: public.Publication, months: Sequence[public.PublicMonth]
) -> NumbersPage:
    """What the page shows of the published months (newest first), every text in the reader's language."""
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
    period = ""
    if months:
        first, last = month_name(t, months[-1].month), month_name(t, months[0].month)
        period = first if first == last else f"{first} – {last}"
    noisy = publication.rules.noise != "none" or any(x.noisy for m in months for x in m.figures.values())
    return NumbersPage(
        labels=[t(f"numbers_figure_{f}") for f in figures],
        months=rows,
        period=period,
        totals=totals,
        rules=_rules(t, publication.rules, noisy, language),
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
        months = public.published(db=runtime.db, figures=publication.figures)
        if months:
            page = numbers_page(t, publication, months)
    return runtime.templates.TemplateResponse(
        request, "public/numbers.html", {"t": t, "lang": lang, "numbers": page}
    )
