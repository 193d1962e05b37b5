"""The public numbers: a page in three languages, JSON and CSV, for anyone, holding only what was published.

Every number they show is a published figure (drawn once under the publication rules) or a sum of them: a
small month reads "fewer than 10" and never its count, nothing newer than the delay appears, and shredding
old cases changes nothing. The same holds for each part of a month (a request type, a channel) when the
organisation publishes the figures by request type and by channel.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from html import unescape
from itertools import pairwise
from typing import Any

import hypothesis
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from sqlalchemy import delete, select

from haven.app import create_app
from haven.audit.services import REQUESTER, SYSTEM, record_event
from haven.config import Settings, SettingsError
from haven.db import Base, Database, insert_rows
from haven.i18n import LANGUAGES, Translator
from haven.intake import services as intake
from haven.retention.services import purge
from haven.runtime import Runtime
from haven.stats.models import PrivacyCharge, PublishedFigure
from haven.stats.privacy import BudgetExhausted
from haven.stats.public import Publication, PublicMonth, publication_of, publish
from haven.stats.publication import Figure, Rules
from haven.stats.tables import safe_cell
from haven.stats.views import NARROW_NO_BREAK_SPACE, NO_BREAK_SPACE, format_count, numbers_page
from tests.conftest import Org
from tests.functional.test_desk_procedures import walk

ANSWERS = {"danger_now": "no", "topic": "other"}
ANSWERS_OF = {"legal": ANSWERS, "other": {"danger_now": "no"}, "support": {"danger_now": "unsure"}}
TODAY = date(2025, 6, 1)  # with the default 14-day delay: March and April are published, May is not
MARCH, APRIL = date(2025, 3, 1), date(2025, 4, 1)
MARCH_DAY = datetime(2025, 3, 20, 12, 0, tzinfo=UTC)
SMALL = 7  # April's true count: below the threshold, so it must never be shown


def request(runtime: Runtime, *, at: datetime, request_type: str = "legal") -> intake.IssuedReceipt:
    """A request from the web form."""
    return intake.submit_request(
        db=runtime.db,
        submission=intake.Submission(request_type, "en", ANSWERS_OF[request_type], "Please help"),
        catalogue=runtime.catalogue,
        pepper=runtime.secrets.receipt_pepper,
        max_message_chars=runtime.settings.max_message_chars,
        procedures=runtime.procedures,
        now=at,
    )


def by_telegram(runtime: Runtime, *, at: datetime, request_type: str = "other") -> str:
    """A request as the Telegram bot stores it (which chat wrote does not matter to the numbers); its id."""
    team = intake.ReceivingTeam(runtime.db, seconds=0).current()
    assert team is not None
    answers = ANSWERS_OF[request_type]
    sealed = intake.seal_new_case(
        request_type=request_type,
        language="ru",
        answers=answers,
        message="Помогите",
        priority=runtime.catalogue.priority(answers),
        team_id=team.id,
        team_public_key=team.public_key,
        team_key_generation=team.key_generation,
        pepper=runtime.secrets.receipt_pepper,
        entry=intake.entry_for(request_type, runtime.catalogue, runtime.procedures),
        channel="telegram",
        now=at,
    )
    with runtime.db.write() as s:
        insert_rows(s, sealed.rows)
        record_event(
            db_session=s,
            actor=REQUESTER,
            action="case.created",
            case_id=sealed.case_id,
            detail="telegram",
            now=at,
        )
    return sealed.case_id


def requests_in(
    runtime: Runtime, month: date, n: int, *, request_type: str = "legal"
) -> list[intake.IssuedReceipt]:
    at = datetime(month.year, month.month, 10, 12, 0, tzinfo=UTC)
    return [request(runtime, at=at, request_type=request_type) for _ in range(n)]


def telegram_requests_in(runtime: Runtime, month: date, n: int, *, request_type: str = "other") -> list[str]:
    at = datetime(month.year, month.month, 11, 9, 0, tzinfo=UTC)
    return [by_telegram(runtime, at=at, request_type=request_type) for _ in range(n)]


def publish_now(runtime: Runtime, publication: Publication | None = None, today: date = TODAY) -> None:
    chosen = publication or publication_of(runtime.settings)
    publish(db=runtime.db, publication=chosen, today=today, actor=SYSTEM)


@pytest.fixture
def spring(runtime: Runtime, org: Org) -> list[intake.IssuedReceipt]:
    """23 requests in March, SMALL in April, two in late May; published on June 1st 2025."""
    issued = requests_in(runtime, MARCH, 23) + requests_in(runtime, APRIL, SMALL)
    issued += [request(runtime, at=datetime(2025, 5, 25, 9, 0, tzinfo=UTC)) for _ in range(2)]
    publish_now(runtime)
    return issued


def visible_text(html: str) -> str:
    body = html.split("<main", 1)[1].split("</main>", 1)[0]
    return unescape(re.sub(r"<[^>]+>", " ", body))


def numbers_on(html: str) -> set[int]:
    """Every number a reader sees on the page (thousands separators read as part of the number)."""
    found = re.findall(rf"\d[\d,{NARROW_NO_BREAK_SPACE}]*", visible_text(html))
    return {int(re.sub(rf"[,{NARROW_NO_BREAK_SPACE}]", "", n)) for n in found}


@contextmanager
def configured(settings: Settings, db: Database, **changes: Any) -> Iterator[FastAPI]:
    """A second server on the same store, with other settings (publication rules, figures)."""
    app = create_app(settings.with_changes(**changes), db=db)
    try:
        yield app
    finally:
        app.state.runtime.close()


# -- the page -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_page_shows_each_published_month_in_the_language(
    client: TestClient, spring: list[intake.IssuedReceipt], lang: str
) -> None:
    t = Translator(lang)

    page = client.get(f"/{lang}/numbers")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    text = visible_text(page.text)
    assert t("numbers_figure_contacted") in text
    assert t("numbers_figure_completed") in text
    assert t("numbers_month_3").lower() in text.lower()
    march = re.search(r'<tr data-month="2025-03">(.*?)</tr>', page.text, re.S)
    assert march is not None
    assert re.findall(r"<td[^>]*>([^<]*)</td>", march.group(1)) == ["20", t("numbers_fewer_than", n="10")]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_small_month_reads_fewer_than_10_and_never_its_count(
    client: TestClient, spring: list[intake.IssuedReceipt], lang: str
) -> None:
    page = client.get(f"/{lang}/numbers").text

    april = re.search(r'<tr data-month="2025-04">(.*?)</tr>', page, re.S)
    assert april is not None
    assert Translator(lang)("numbers_fewer_than", n="10") in april.group(1)
    assert SMALL not in numbers_on(page)


def test_the_months_are_shown_newest_first_with_a_total_of_the_published_values(
    client: TestClient, spring: list[intake.IssuedReceipt]
) -> None:
    page = client.get("/en/numbers").text

    assert re.findall(r'data-month="([\d-]+)"', page) == ["2025-04", "2025-03"]
    assert "In all, March\u00a02025 – April\u00a02025" in visible_text(page)  # a month never breaks
    total = re.search(r'data-figure="contacted">.*?<dd>([^<]*)</dd>', page, re.S)
    assert total is not None
    assert total.group(1) == "about 20"  # March's 20; April's "fewer than 10" adds nothing


def test_nothing_from_within_the_delay_appears(
    client: TestClient, spring: list[intake.IssuedReceipt]
) -> None:
    page = client.get("/en/numbers").text
    data = client.get("/api/v1/public/stats").json()

    assert "May" not in visible_text(page)
    assert 'data-month="2025-05"' not in page
    assert [m["month"] for m in data["months"]] == ["2025-04", "2025-03"]


def test_the_page_explains_the_rules_it_was_published_under(
    settings: Settings, db: Database, org: Org
) -> None:
    with configured(settings, db, stats_threshold=20, stats_rounding=5, stats_delay_days=21) as app:
        runtime: Runtime = app.state.runtime
        requests_in(runtime, MARCH, 23)
        publish_now(runtime, today=date(2025, 5, 1))
        page = TestClient(app, base_url="https://testserver").get("/ru/numbers").text

    ru = Translator("ru")
    text = visible_text(page)
    assert ru("numbers_rule_rounding", n="5") in text
    assert ru("numbers_rule_threshold", n="20") in text
    assert ru("numbers_rule_delay", days="21 день") in text
    assert ru("numbers_rule_noise") not in text
    assert "25" in re.findall(r"<td[^>]*>([^<]*)</td>", page)  # 23 on a grid of 5


def test_noise_is_explained_when_the_figures_carry_it(client: TestClient, runtime: Runtime, org: Org) -> None:
    requests_in(runtime, MARCH, 12)
    noisy = Rules(noise="laplace", epsilon_per_figure=0.25, budget_per_period=1.0)
    publish_now(runtime, Publication(noisy, ("contacted", "completed")))

    page = client.get("/uk/numbers").text

    assert Translator("uk")("numbers_rule_noise") in visible_text(page)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_before_anything_is_published_the_page_says_so_politely(
    client: TestClient, runtime: Runtime, org: Org, lang: str
) -> None:
    requests_in(runtime, MARCH, 30)  # counted, but not published

    page = client.get(f"/{lang}/numbers")

    assert page.status_code == 200
    assert Translator(lang)("numbers_none") in page.text
    assert "<table" not in page.text


def test_wrong_publication_settings_show_no_numbers_rather_than_an_error(
    settings: Settings, db: Database, runtime: Runtime, org: Org
) -> None:
    requests_in(runtime, MARCH, 30)
    publish_now(runtime)

    with configured(settings, db, public_figures="contacted,names") as app:
        client = TestClient(app, base_url="https://testserver")
        page = client.get("/en/numbers")
        data = client.get("/api/v1/public/stats")

    assert page.status_code == 200
    assert Translator("en")("numbers_none") in page.text
    assert data.status_code == 200
    assert data.json() == {"rules": None, "months": [], "generated_from": "published figures only"}


def test_large_numbers_use_the_languages_thousands_separator() -> None:
    assert format_count(26_000, "en") == "26,000"
    assert format_count(26_000, "ru") == f"26{NARROW_NO_BREAK_SPACE}000"
    assert format_count(1_230, "uk") == f"1{NARROW_NO_BREAK_SPACE}230"
    published = [PublicMonth(MARCH, {"contacted": Figure(value=26_000, below=None, noisy=False)})]
    page = numbers_page(Translator("ru"), Publication(Rules(), ("contacted",)), published)
    assert page.months[0].cells[0].text == f"26{NARROW_NO_BREAK_SPACE}000"
    assert page.totals[0].text == f"около 26{NARROW_NO_BREAK_SPACE}000"


def test_the_home_page_links_to_the_numbers(client: TestClient) -> None:
    home = client.get("/uk/").text

    assert 'href="/uk/numbers"' in home
    assert Translator("uk")("numbers_link") in home


# -- JSON and CSV -------------------------------------------------------------------------------------------


def test_the_json_holds_the_rules_and_each_published_figure(
    client: TestClient, spring: list[intake.IssuedReceipt]
) -> None:
    response = client.get("/api/v1/public/stats")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {
        "rules": {"threshold": 10, "rounding": 10, "delay_days": 14, "noise": "none"},
        "months": [
            {
                "month": "2025-04",
                "figures": {"contacted": {"below": 10}, "completed": {"below": 10}},
                "breakdowns": {},  # none chosen: totals only
            },
            {
                "month": "2025-03",
                "figures": {"contacted": {"value": 20}, "completed": {"below": 10}},
                "breakdowns": {},
            },
        ],
        "generated_from": "published figures only",
    }


def test_the_csv_has_a_row_per_month_and_figure(
    client: TestClient, spring: list[intake.IssuedReceipt]
) -> None:
    response = client.get("/api/v1/public/stats.csv")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(response.text))) == [
        ["month", "figure", "value", "below", "part"],  # the part last: the first four columns stay put
        ["2025-04", "contacted", "", "10", ""],
        ["2025-04", "completed", "", "10", ""],
        ["2025-03", "contacted", "20", "", ""],
        ["2025-03", "completed", "", "10", ""],
    ]


def test_the_numbers_are_public_and_listed_in_the_api_document(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]

    assert "/api/v1/public/stats" in paths
    assert "/api/v1/public/stats.csv" in paths
    assert client.get("/api/v1/public/stats").status_code == 200  # nobody logged in
    assert client.get("/en/numbers").status_code == 200


def test_csv_cells_cannot_start_a_formula() -> None:
    assert safe_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert safe_cell("-12") == "'-12"
    assert safe_cell(20) == "20"
    assert safe_cell(None) == ""


# -- the funnel's stages ------------------------------------------------------------------------------------


def test_the_figures_may_name_the_funnels_stages(settings: Settings) -> None:
    chosen = "contacted,screened,verified,in_progress,completed"

    publication = publication_of(settings.with_changes(public_figures=chosen))

    assert publication.figures == ("contacted", "screened", "verified", "in_progress", "completed")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_stages_are_published_and_named_in_the_language(
    settings: Settings, db: Database, org: Org, lang: str
) -> None:
    t = Translator(lang)
    with configured(settings, db, public_figures="contacted,screened,verified,in_progress") as app:
        runtime: Runtime = app.state.runtime
        issued = requests_in(runtime, MARCH, 23)
        for receipt in issued[:11]:  # a lawyer took up eleven: their help began
            walk(runtime, org.admin.unlocked, receipt.access.case_id, "consultation", now=MARCH_DAY)
        publish_now(runtime)
        client = TestClient(app, base_url="https://testserver")
        page, data = client.get(f"/{lang}/numbers").text, client.get("/api/v1/public/stats").json()

    march = re.search(r'<tr data-month="2025-03">(.*?)</tr>', page, re.S)
    assert march is not None
    # A case that reached a later stage counts in every earlier one: 11 screened, verified, in progress.
    assert re.findall(r"<td[^>]*>([^<]*)</td>", march.group(1)) == ["20", "10", "10", "10"]
    for figure in ("screened", "verified", "in_progress"):
        assert t(f"numbers_figure_{figure}") in visible_text(page)
    assert data["months"][1]["figures"] == {
        "contacted": {"value": 20},
        "screened": {"value": 10},
        "verified": {"value": 10},
        "in_progress": {"value": 10},
    }


# -- by request type and by channel -------------------------------------------------------------------------

BY_PARTS = "type,channel"
# March: 23 legal questions by the web form and 16 "something else" by Telegram; April: SMALL legal questions.
# None of these true counts may ever be shown; 14 and 10 are on the page for other reasons (delay, threshold).
TRUE_COUNTS = {SMALL, 16, 23, 39}
BOTH_BREAKDOWNS = {
    "en": "by request type and by channel",
    "ru": "по типу обращения и по каналу связи",
    "uk": "за типом звернення і за каналом зв’язку",
}


@pytest.fixture
def parted(settings: Settings, db: Database, org: Org) -> Iterator[tuple[TestClient, Runtime]]:
    """A server publishing by request type and by channel, after a spring of requests; published June 1st."""
    with configured(settings, db, public_breakdowns=BY_PARTS) as app:
        runtime: Runtime = app.state.runtime
        requests_in(runtime, MARCH, 23)
        telegram_requests_in(runtime, MARCH, 16)
        requests_in(runtime, APRIL, SMALL)
        publish_now(runtime)
        yield TestClient(app, base_url="https://testserver"), runtime


def below(threshold: int = 10) -> dict[str, int]:
    return {"below": threshold}


def both(shown: dict[str, int]) -> dict[str, dict[str, int]]:
    """The two default figures, contacted as `shown` and completed hidden (nobody's request ended yet)."""
    return {"contacted": shown, "completed": below()}


def parts_of(runtime: Runtime, **shown: dict[str, int]) -> dict[str, dict[str, dict[str, int]]]:
    """Every request type of the intake form, hidden unless `shown` says otherwise."""
    return {kind: both(shown.get(kind, below())) for kind in runtime.catalogue.types}


def test_the_breakdowns_setting_chooses_type_channel_or_both_and_names_a_wrong_one(
    settings: Settings,
) -> None:
    assert publication_of(settings).breakdowns == ()  # by default: the totals only
    assert publication_of(settings.with_changes(public_breakdowns="channel")).breakdowns == ("channel",)
    assert publication_of(settings.with_changes(public_breakdowns=" channel, type ")).breakdowns == (
        "type",
        "channel",
    )
    with pytest.raises(
        SettingsError, match="HAVEN_PUBLIC_BREAKDOWNS may name only type, channel; not language"
    ):
        publication_of(settings.with_changes(public_breakdowns="type,language"))


def test_the_json_keeps_its_shape_and_adds_each_part_of_each_month(
    parted: tuple[TestClient, Runtime],
) -> None:
    client, runtime = parted

    data = client.get("/api/v1/public/stats").json()

    assert data["rules"] == {"threshold": 10, "rounding": 10, "delay_days": 14, "noise": "none"}
    assert data["months"] == [
        {
            "month": "2025-04",
            "figures": both(below()),
            "breakdowns": {
                "type": parts_of(runtime),
                "channel": {"web": both(below()), "telegram": both(below())},
            },
        },
        {
            "month": "2025-03",
            "figures": both({"value": 40}),
            "breakdowns": {
                "type": parts_of(runtime, legal={"value": 20}, other={"value": 20}),
                "channel": {"web": both({"value": 20}), "telegram": both({"value": 20})},
            },
        },
    ]
    assert list(data["months"][1]["breakdowns"]["type"]) == list(runtime.catalogue.types)  # the form's order


def test_every_part_is_published_even_when_nobody_of_its_kind_wrote_in(
    parted: tuple[TestClient, Runtime],
) -> None:
    """A part left out would say that nobody of its kind wrote in; "fewer than 10" says nothing."""
    client, runtime = parted

    march = client.get("/api/v1/public/stats").json()["months"][1]

    assert set(march["breakdowns"]["type"]) == set(runtime.catalogue.types)
    assert march["breakdowns"]["type"]["support"] == both(below())


def test_the_csv_has_a_row_per_month_figure_and_part(parted: tuple[TestClient, Runtime]) -> None:
    client, runtime = parted

    rows = list(csv.reader(io.StringIO(client.get("/api/v1/public/stats.csv").text)))

    assert rows[0] == ["month", "figure", "value", "below", "part"]
    march = [r for r in rows[1:] if r[0] == "2025-03"]
    assert march[:2] == [["2025-03", "contacted", "40", "", ""], ["2025-03", "completed", "", "10", ""]]
    assert ["2025-03", "contacted", "20", "", "type:legal"] in march
    assert ["2025-03", "contacted", "", "10", "type:relative"] in march
    assert ["2025-03", "contacted", "20", "", "channel:telegram"] in march
    assert len(rows) == 1 + 2 * 2 * (1 + len(runtime.catalogue.types) + 2)  # months x figures x parts
    assert all(r[2] == "" or int(r[2]) not in TRUE_COUNTS for r in rows[1:])


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_page_has_a_table_per_breakdown_naming_each_part_in_the_language(
    parted: tuple[TestClient, Runtime], lang: str
) -> None:
    client, runtime = parted
    t = Translator(lang)

    page = client.get(f"/{lang}/numbers").text

    text = visible_text(page)
    assert t("numbers_by_type") in text
    assert t("numbers_by_channel") in text
    for kind in runtime.catalogue.types.values():
        assert kind.label(lang) in text  # as the intake form names it
    legal = part_row(page, "type", "all", "type:legal")
    about_20 = t("numbers_about", n="20").replace(" ", NO_BREAK_SPACE)  # never broken across two lines
    assert legal == [runtime.catalogue.types["legal"].label(lang), about_20, "–"]
    telegram = part_row(page, "channel", "2025-03", "channel:telegram")
    assert telegram == [t("numbers_channel_telegram"), "20", t("numbers_fewer_than", n="10")]
    assert part_row(page, "channel", "2025-03", "channel:web")[0] == t("numbers_channel_web")
    assert t("numbers_rule_parts", parts=BOTH_BREAKDOWNS[lang], n="10") in text


def part_row(page: str, breakdown: str, group: str, part: str) -> list[str]:
    """The texts of one part's row: its name, then its cells, in the table of one breakdown. `group` is
    "all" (over every published month) or a month as YYYY-MM."""
    kind = "all" if group == "all" else "months"
    table = re.search(
        rf'<table[^>]* data-breakdown="{breakdown}" data-group="{kind}">(.*?)</table>', page, re.S
    )
    assert table is not None
    body = table.group(1)
    if group != "all":
        found = re.search(rf'<tbody data-month="{group}">(.*?)</tbody>', body, re.S)
        assert found is not None
        body = found.group(1)
    row = re.search(rf'<tr data-part="{part}">(.*?)</tr>', body, re.S)
    assert row is not None
    return [unescape(cell).strip() for cell in re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", row.group(1))]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_small_part_reads_fewer_than_10_and_no_true_count_is_ever_shown(
    parted: tuple[TestClient, Runtime], lang: str
) -> None:
    client, _runtime = parted

    page = client.get(f"/{lang}/numbers").text

    fewer = Translator(lang)("numbers_fewer_than", n="10")
    assert part_row(page, "type", "2025-04", "type:legal")[1:] == [fewer, fewer]
    assert not TRUE_COUNTS & numbers_on(page)


def test_without_breakdowns_the_page_has_no_part_tables(
    client: TestClient, spring: list[intake.IssuedReceipt]
) -> None:
    page = client.get("/en/numbers").text

    assert "data-breakdown" not in page
    assert Translator("en")("numbers_parts_hint") not in page


# -- the privacy budget of the parts ------------------------------------------------------------------------

NOISY = Rules(noise="laplace", epsilon_per_figure=0.1, budget_per_period=1.0)
FIGURES = ("contacted", "completed")


def charges(runtime: Runtime) -> list[PrivacyCharge]:
    with runtime.db.read() as s:
        return list(s.scalars(select(PrivacyCharge).order_by(PrivacyCharge.id)))


def stored_figures(runtime: Runtime) -> dict[tuple[date, str, str], tuple[int | None, int | None]]:
    with runtime.db.read() as s:
        return {(f.month, f.figure, f.part): (f.value, f.below) for f in s.scalars(select(PublishedFigure))}


def test_totals_and_two_breakdowns_cost_exactly_three_times_epsilon_per_figure(
    runtime: Runtime, org: Org
) -> None:
    """The parts of a breakdown count separate requests, so all of them cost one epsilon together
    (parallel composition); the totals and each breakdown count the same requests, so they add up."""
    requests_in(runtime, APRIL, 12)  # one month to publish on June 1st: April
    telegram_requests_in(runtime, APRIL, 3)

    done = publish(
        db=runtime.db, publication=Publication(NOISY, FIGURES, ("type", "channel")), today=TODAY, actor=SYSTEM
    )

    parts = 1 + len(runtime.catalogue.types) + 2  # the total, each request type, each channel
    assert (done.months, done.figures) == (1, len(FIGURES) * parts)
    paid = charges(runtime)
    assert [c.epsilon for c in paid] == [NOISY.epsilon_per_figure] * 3 * len(FIGURES)
    assert done.epsilon == math.fsum([NOISY.epsilon_per_figure] * 3 * len(FIGURES))
    assert sorted(c.what for c in paid) == sorted(
        f"public: {figure} 2025-04{by}" for figure in FIGURES for by in ("", " by type", " by channel")
    )
    assert Publication(NOISY, FIGURES, ("type", "channel")).epsilon_per_month == done.epsilon


def test_a_publication_with_parts_beyond_the_budget_is_refused_whole(runtime: Runtime, org: Org) -> None:
    requests_in(runtime, APRIL, 12)
    tight = Rules(noise="laplace", epsilon_per_figure=0.1, budget_per_period=0.5)  # the totals fit, not all

    with pytest.raises(BudgetExhausted, match=r"public \(18 figures, 6 charges\)"):
        publish(
            db=runtime.db,
            publication=Publication(tight, FIGURES, ("type", "channel")),
            today=TODAY,
            actor=SYSTEM,
        )

    assert stored_figures(runtime) == {}
    assert charges(runtime) == []


def test_a_breakdown_chosen_later_adds_its_parts_and_leaves_the_drawn_totals_alone(
    runtime: Runtime, org: Org
) -> None:
    requests_in(runtime, APRIL, 12)
    publish(db=runtime.db, publication=Publication(NOISY, FIGURES), today=TODAY, actor=SYSTEM)
    totals = stored_figures(runtime)

    later = publish(
        db=runtime.db, publication=Publication(NOISY, FIGURES, ("channel",)), today=TODAY, actor=SYSTEM
    )

    assert later.figures == len(FIGURES) * 2  # web and telegram, of each figure
    assert {k: v for k, v in stored_figures(runtime).items() if k[2] == ""} == totals
    assert [c.what for c in charges(runtime)[len(FIGURES) :]] == [
        f"public: {f} 2025-04 by channel" for f in FIGURES
    ]


# -- what they never hold -----------------------------------------------------------------------------------


def test_the_page_and_the_api_hold_no_case_id_and_no_receipt(
    client: TestClient, spring: list[intake.IssuedReceipt]
) -> None:
    answers = [client.get(f"/{lang}/numbers").text for lang in LANGUAGES]
    answers += [client.get("/api/v1/public/stats").text, client.get("/api/v1/public/stats.csv").text]

    for issued in spring:
        for answer in answers:
            assert issued.access.case_id not in answer
            assert issued.receipt not in answer
            # Nor any two of its words together (one word alone may well be an English word of the page).
            words = issued.receipt.split()
            assert not any(" ".join(pair) in answer for pair in pairwise(words))


def test_purging_the_cases_leaves_the_page_and_the_json_identical(
    client: TestClient, runtime: Runtime, spring: list[intake.IssuedReceipt]
) -> None:
    before = [client.get("/ru/numbers").text, client.get("/api/v1/public/stats").json()]

    report = purge(
        db=runtime.db, rules=runtime.catalogue.retention, now=datetime.now(UTC) + timedelta(days=3650)
    )

    assert report.cases == len(spring)
    assert [client.get("/ru/numbers").text, client.get("/api/v1/public/stats").json()] == before


def test_purging_the_cases_leaves_every_part_identical(parted: tuple[TestClient, Runtime]) -> None:
    client, runtime = parted
    answers = ["/ru/numbers", "/en/numbers", "/api/v1/public/stats", "/api/v1/public/stats.csv"]
    before = [client.get(url).text for url in answers]

    report = purge(
        db=runtime.db, rules=runtime.catalogue.retention, now=datetime.now(UTC) + timedelta(days=800)
    )

    assert report.cases == 23 + 16 + SMALL
    assert [client.get(url).text for url in answers] == before


# -- the property: whatever the counts and the rules, only safe numbers -------------------------------------

# The organisation and its people: kept from one generated example to the next.
KEPT_TABLES = {
    "organisation",
    "teams",
    "operators",
    "memberships",
    "retired_team_keys",
    "retired_memberships",
}


def forget_every_case_and_figure(db: Database) -> None:
    """Empty the store of cases, their counters, audit events and published figures (the organisation stays),
    so that each generated example starts from nothing."""
    with db.write() as s:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in KEPT_TABLES:
                s.execute(delete(table))


def month_end(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1) - timedelta(days=1)


@hypothesis.settings(
    max_examples=5,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    counts=st.lists(st.tuples(st.integers(0, 26), st.integers(0, 14)), min_size=1, max_size=3),
    threshold=st.integers(1, 25),
    rounding=st.sampled_from([0, 1, 2, 5, 10, 25]),
    delay=st.integers(0, 40),
    breakdowns=st.sampled_from(["", "type", "channel", "type,channel"]),
    figures=st.sampled_from(["contacted,completed", "contacted,screened,verified,in_progress,open"]),
)
def test_every_published_number_is_at_least_the_threshold_on_the_grid_and_past_the_delay(
    settings: Settings,
    db: Database,
    org: Org,
    counts: list[tuple[int, int]],
    threshold: int,
    rounding: int,
    delay: int,
    breakdowns: str,
    figures: str,
) -> None:
    """Whatever the counts (legal questions by the web form, "something else" by Telegram, per month) and
    the rules: every number, of the totals and of every part, is safe."""
    today = date(2025, 4, 20)  # March is out once the delay is over 20 days
    with configured(
        settings,
        db,
        stats_threshold=threshold,
        stats_rounding=rounding,
        stats_delay_days=delay,
        public_breakdowns=breakdowns,
        public_figures=figures,
    ) as app:
        runtime: Runtime = app.state.runtime
        forget_every_case_and_figure(runtime.db)
        for i, (web, telegram) in enumerate(counts):
            requests_in(runtime, date(2025, 3 - i, 1), web)
            telegram_requests_in(runtime, date(2025, 3 - i, 1), telegram)
        publish_now(runtime, today=today)
        client = TestClient(app, base_url="https://testserver")
        data = client.get("/api/v1/public/stats").json()
        table = list(csv.DictReader(io.StringIO(client.get("/api/v1/public/stats.csv").text)))

    assert data["rules"] == {
        "threshold": threshold,
        "rounding": rounding,
        "delay_days": delay,
        "noise": "none",
    }
    first = min((date(2025, 3 - i, 1) for i, n in enumerate(counts) if sum(n)), default=None)
    due = [m for m in (date(2025, 1, 1), date(2025, 2, 1), MARCH, APRIL) if first and m >= first]
    assert [m["month"] for m in data["months"]] == [
        f"{m:%Y-%m}" for m in reversed(due) if month_end(m) <= today - timedelta(days=delay)
    ]
    chosen = [b for b in ("type", "channel") if b in breakdowns]
    shown = []
    for month in data["months"]:
        assert list(month["breakdowns"]) == chosen  # every chosen breakdown, every month
        shown += month["figures"].values()
        shown += [
            f for parts in month["breakdowns"].values() for part in parts.values() for f in part.values()
        ]
    assert len(shown) == len(data["months"]) * len(figures.split(",")) * (
        1 + len(runtime.catalogue.types) * ("type" in chosen) + 2 * ("channel" in chosen)
    )
    for figure in shown:
        if "value" in figure:
            assert figure["value"] >= threshold
            assert rounding <= 1 or figure["value"] % rounding == 0
        else:
            assert figure == {"below": threshold}
    assert len(table) == len(shown)
    for row in table:  # the CSV: the same figures, row by row
        if row["value"]:
            assert int(row["value"]) >= threshold
            assert rounding <= 1 or int(row["value"]) % rounding == 0
        else:
            assert row["below"] == str(threshold)
