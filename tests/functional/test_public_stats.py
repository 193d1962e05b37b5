"""The public numbers: a page in three languages, JSON and CSV, for anyone, holding only what was published.

Every number they show is a published figure (drawn once under the publication rules) or a sum of them: a
small month reads "fewer than 10" and never its count, nothing newer than the delay appears, and shredding
old cases changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from html import unescape
from typing import Any

import hypothesis
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from sqlalchemy import delete

from haven.app import create_app
from haven.audit.services import SYSTEM
from haven.config import Settings
from haven.db import Base, Database
from haven.i18n import LANGUAGES, Translator
from haven.intake import services as intake
from haven.retention.services import purge
from haven.runtime import Runtime
from haven.stats.api import safe_cell
from haven.stats.public import Publication, PublicMonth, publication_of, publish
from haven.stats.publication import Figure, Rules
from haven.stats.views import NARROW_NO_BREAK_SPACE, format_count, numbers_page
from tests.conftest import Org

ANSWERS = {"danger_now": "no", "topic": "other"}
TODAY = date(2025, 6, 1)  # with the default 14-day delay: March and April are published, May is not
MARCH, APRIL = date(2025, 3, 1), date(2025, 4, 1)
SMALL = 7  # April's true count: below the threshold, so it must never be shown


def request(runtime: Runtime, *, at: datetime) -> intake.IssuedReceipt:
    return intake.submit_request(
        db=runtime.db,
        submission=intake.Submission("legal", "en", ANSWERS, "Please help"),
        catalogue=runtime.catalogue,
        pepper=runtime.secrets.receipt_pepper,
        max_message_chars=runtime.settings.max_message_chars,
        procedures=runtime.procedures,
        now=at,
    )


def requests_in(runtime: Runtime, month: date, n: int) -> list[intake.IssuedReceipt]:
    at = datetime(month.year, month.month, 10, 12, 0, tzinfo=UTC)
    return [request(runtime, at=at) for _ in range(n)]


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
            {"month": "2025-04", "figures": {"contacted": {"below": 10}, "completed": {"below": 10}}},
            {"month": "2025-03", "figures": {"contacted": {"value": 20}, "completed": {"below": 10}}},
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
        ["month", "figure", "value", "below"],
        ["2025-04", "contacted", "", "10"],
        ["2025-04", "completed", "", "10"],
        ["2025-03", "contacted", "20", ""],
        ["2025-03", "completed", "", "10"],
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


# -- what they never hold ------------------------------------------------------------------------------------


def test_the_page_and_the_api_hold_no_case_id_and_no_receipt(
    client: TestClient, spring: list[intake.IssuedReceipt]
) -> None:
    answers = [client.get(f"/{lang}/numbers").text for lang in LANGUAGES]
    answers += [client.get("/api/v1/public/stats").text, client.get("/api/v1/public/stats.csv").text]

    for issued in spring:
        for answer in answers:
            assert issued.access.case_id not in answer
            assert issued.receipt not in answer
            assert issued.receipt.split()[0] not in answer.split()


def test_purging_the_cases_leaves_the_page_and_the_json_identical(
    client: TestClient, runtime: Runtime, spring: list[intake.IssuedReceipt]
) -> None:
    before = [client.get("/ru/numbers").text, client.get("/api/v1/public/stats").json()]

    report = purge(
        db=runtime.db, rules=runtime.catalogue.retention, now=datetime.now(UTC) + timedelta(days=3650)
    )

    assert report.cases == len(spring)
    assert [client.get("/ru/numbers").text, client.get("/api/v1/public/stats").json()] == before


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
    counts=st.lists(st.integers(0, 26), min_size=1, max_size=3),
    threshold=st.integers(1, 25),
    rounding=st.sampled_from([0, 1, 2, 5, 10, 25]),
    delay=st.integers(0, 40),
)
def test_every_published_number_is_at_least_the_threshold_on_the_grid_and_past_the_delay(
    settings: Settings, db: Database, org: Org, counts: list[int], threshold: int, rounding: int, delay: int
) -> None:
    today = date(2025, 4, 20)  # March is out once the delay is over 20 days
    with configured(
        settings, db, stats_threshold=threshold, stats_rounding=rounding, stats_delay_days=delay
    ) as app:
        runtime: Runtime = app.state.runtime
        forget_every_case_and_figure(runtime.db)
        for i, n in enumerate(counts):
            requests_in(runtime, date(2025, 3 - i, 1), n)
        publish_now(runtime, today=today)
        data = TestClient(app, base_url="https://testserver").get("/api/v1/public/stats").json()

    assert data["rules"] == {
        "threshold": threshold,
        "rounding": rounding,
        "delay_days": delay,
        "noise": "none",
    }
    first = min((date(2025, 3 - i, 1) for i, n in enumerate(counts) if n), default=None)
    due = [m for m in (date(2025, 1, 1), date(2025, 2, 1), MARCH, APRIL) if first and m >= first]
    assert [m["month"] for m in data["months"]] == [
        f"{m:%Y-%m}" for m in reversed(due) if month_end(m) <= today - timedelta(days=delay)
    ]
    for month in data["months"]:
        for shown in month["figures"].values():
            if "value" in shown:
                assert shown["value"] >= threshold
                assert rounding <= 1 or shown["value"] % rounding == 0
            else:
                assert shown == {"below": threshold}
