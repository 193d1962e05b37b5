"""The coordinators' statistics page: the whole funnel (how far requests got, how they stand now) of the last
12 months or weeks, split by request type or channel if asked, each chart beside its table; service figures;
the public numbers with their rules and a "Publish" button; and the funnel as CSV. Coordinators and admins
only; the view is chosen with plain links, and the charts are drawn on the server, with no style and no
script."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from html import unescape

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from haven.app import create_app
from haven.cases import check_ins
from haven.cases import services as cases
from haven.config import Settings
from haven.db import Database
from haven.desk.stats_funnel import month_words, period_words
from haven.retention.counting import week_of
from haven.retention.models import CaseCount
from haven.runtime import Runtime
from haven.security.headers import CONTENT_SECURITY_POLICY
from haven.stats.models import PublishedFigure
from tests.conftest import Org, make_organisation
from tests.fake_bot_api import FakeBotApi
from tests.functional.telegram_chat import make_request, open_chat
from tests.functional.test_desk_pages import _desk_login
from tests.functional.test_desk_procedures import TO_ROUTES, add_team, take_in, walk
from tests.functional.test_stats import end

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
LONG_AGO = NOW - timedelta(days=70)  # a month that ended well before the 14-day delay
LONGER_AGO = NOW - timedelta(days=130)


def month_of(moment: datetime) -> str:
    return month_words(moment.date().replace(day=1))


def text_of(html: str, element_id: str) -> str:
    """The words inside the element with this id (tags dropped, spaces squeezed)."""
    found = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert found, f"no #{element_id} in the page"
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", found.group(2)))).strip()


def charts(html: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", html, re.S)


def tbody_of(html: str, table_id: str) -> str:
    """The body of the table with this id."""
    found = re.search(rf'<table[^>]*\bid="{table_id}"[^>]*>.*?<tbody>(.*?)</tbody>', html, re.S)
    assert found, f"no #{table_id} in the page"
    return found.group(1)


def chart_words(html: str, chart: int) -> str:
    """What a chart says to a screen reader (0: how far requests got, 1: per month or week, ...)."""
    found = re.findall(r'<svg\b[^>]*aria-label="([^"]*)"', html)
    assert len(found) > chart, "no such chart with an aria-label"
    return unescape(found[chart])


def stats_page(client: TestClient, query: str = "") -> str:
    response = client.get(f"/desk/stats{query}")
    assert response.status_code == 200, response.text
    return response.text


# -- who may look ---------------------------------------------------------------------------------------


def test_an_admin_sees_the_page_too(client: TestClient, org: Org) -> None:
    _desk_login(client, org.admin)

    assert "How far requests got" in stats_page(client)


def test_an_operator_gets_the_forbidden_page(client: TestClient, org: Org) -> None:
    _desk_login(client, org.intake)

    response = client.get("/desk/stats")

    assert response.status_code == 403
    assert "You are not allowed to do this." in response.text


def test_nobody_logged_in_is_sent_to_the_login_page(client: TestClient) -> None:
    response = client.get("/desk/stats", follow_redirects=False)

    assert (response.status_code, response.headers["location"]) == (303, "/desk/login")


def test_the_statistics_link_is_shown_to_coordinators_and_not_to_operators(
    client: TestClient, org: Org
) -> None:
    _desk_login(client, org.coordinator)
    assert 'href="/desk/stats"' in client.get("/desk/").text
    client.cookies.clear()
    _desk_login(client, org.intake)
    assert 'href="/desk/stats"' not in client.get("/desk/").text


# -- the view -------------------------------------------------------------------------------------------


def switch_links(html: str) -> dict[str, tuple[str, bool]]:
    """The view switch's links: their words -> (where they go, whether it is the view shown)."""
    nav = re.search(r'<nav class="view-switch".*?</nav>', html, re.S)
    assert nav, "no view switch"
    return {
        unescape(words): (unescape(href), bool(current))
        for href, current, words in re.findall(
            r'<a href="([^"]*)"( aria-current="page")?>([^<]*)</a>', nav.group(0)
        )
    }


def test_the_page_shows_the_funnel_per_month_not_split_unless_asked(client: TestClient, org: Org) -> None:
    _desk_login(client, org.coordinator)

    links = switch_links(stats_page(client))

    assert links["month"] == ("/desk/stats?per=month", True)
    assert links["week"] == ("/desk/stats?per=week", False)
    assert links["nothing"] == ("/desk/stats?per=month", True)
    assert links["request type"] == ("/desk/stats?per=month&by=type", False)
    assert links["channel"] == ("/desk/stats?per=month&by=channel", False)
    assert links["language"] == ("/desk/stats/languages?per=month", False)


def test_the_switch_keeps_the_period_when_the_split_changes_and_the_split_when_the_period_does(
    client: TestClient, org: Org
) -> None:
    _desk_login(client, org.coordinator)

    links = switch_links(stats_page(client, "?per=week&by=channel"))

    assert links["week"] == ("/desk/stats?per=week&by=channel", True)
    assert links["month"] == ("/desk/stats?per=month&by=channel", False)
    assert links["channel"] == ("/desk/stats?per=week&by=channel", True)
    assert links["request type"] == ("/desk/stats?per=week&by=type", False)
    assert links["language"] == ("/desk/stats/languages?per=week", False)


def test_a_view_the_page_does_not_know_shows_the_default_view(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    take_in(runtime, now=LONG_AGO)
    _desk_login(client, org.coordinator)

    html = stats_page(client, "?per=year&by=%3Cscript%3E")

    assert switch_links(html)["month"][1]
    assert switch_links(html)["nothing"][1]
    assert "funnel-periods" in html
    assert "<script" not in html.lower()


# -- the funnel -----------------------------------------------------------------------------------------

STAGE_AND_POSITION = "contacted screened verified in progress open completed withdrawn no contact probable " \
    "provocation closed otherwise"  # fmt: skip


def test_the_funnel_per_month_has_every_stage_and_how_requests_stand(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    three = [take_in(runtime, now=LONG_AGO) for _ in range(3)]
    end(runtime, org, three[0], "withdrawn")
    walk(runtime, org.coordinator.unlocked, three[1], "screening", "verification")
    older = [take_in(runtime, now=LONGER_AGO) for _ in range(2)]
    end(runtime, org, older[0], "no_contact")
    _desk_login(client, org.coordinator)

    table = text_of(stats_page(client), "funnel-periods")

    assert f"How far they got How they stand now Month {STAGE_AND_POSITION}" in table
    # contacted, screened, verified, in progress | open, completed, withdrawn, no contact, provocation, other
    assert f"{month_of(LONG_AGO)} 3 1 0 0 2 0 1 0 0 0" in table
    assert f"{month_of(LONGER_AGO)} 2 0 0 0 1 0 0 1 0 0" in table
    assert table.index(month_of(LONGER_AGO)) < table.index(month_of(LONG_AGO))
    assert table.endswith("All 12 months 5 1 0 0 3 0 1 1 0 0")


def test_the_last_12_months_are_shown_with_the_empty_ones_and_nothing_older(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    take_in(runtime, now=LONG_AGO)
    take_in(runtime, now=NOW - timedelta(days=400))
    _desk_login(client, org.coordinator)

    html = stats_page(client)

    rows = re.findall(r"<tr[^>]*><th scope=\"row\">([^<]*)</th>", tbody_of(html, "funnel-periods"))
    assert rows[-1] == month_words(NOW.date().replace(day=1))
    assert len(rows) == 12
    assert month_words((NOW - timedelta(days=400)).date().replace(day=1)) not in rows
    assert f"{month_of(LONG_AGO - timedelta(days=31))} no requests" in text_of(html, "funnel-periods")


def test_each_stage_counts_the_requests_that_got_at_least_that_far(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    add_team(runtime, "routes", org.coordinator, org.admin)
    _untouched, screened, verified, planned = (take_in(runtime, now=LONG_AGO) for _ in range(4))
    walk(runtime, org.coordinator.unlocked, screened, "screening", "verification")
    walk(runtime, org.coordinator.unlocked, verified, *TO_ROUTES)
    walk(runtime, org.coordinator.unlocked, planned, *TO_ROUTES, "plan")
    _desk_login(client, org.coordinator)

    html = stats_page(client)

    assert text_of(html, "stages-table").endswith(
        "Stage Requests Of those contacted contacted 4 – screened 3 75% verified 2 50% in progress 1 25%"
    )
    said = chart_words(html, 0)
    assert said.startswith("How far the requests of the last 12 months got. 4 contacted.")
    assert (
        "3 screened (75% of contacted). 2 verified (50% of contacted). 1 in progress (25% of contacted)."
        in said
    )


def test_the_month_chart_splits_each_bar_by_how_its_requests_stand(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    three = [take_in(runtime, now=LONG_AGO) for _ in range(3)]
    end(runtime, org, three[0], "withdrawn")
    _desk_login(client, org.coordinator)

    html = stats_page(client)

    assert f"{month_of(LONG_AGO)}: 3 contacted (2 open, 1 withdrawn)." in chart_words(html, 1)
    assert f"<title>{month_of(LONG_AGO)}: 2 open</title>" in charts(html)[1]


def test_per_week_the_last_12_weeks_run_from_monday_to_sunday(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    take_in(runtime, now=NOW)
    take_in(runtime, now=NOW - timedelta(days=7))
    take_in(runtime, now=NOW - timedelta(days=7))
    _desk_login(client, org.coordinator)

    table = text_of(stats_page(client, "?per=week"), "funnel-periods")

    this_week = week_of(NOW.date())
    assert f"Week {STAGE_AND_POSITION}" in table
    assert f"{period_words('week', this_week - timedelta(weeks=1))} 2 0 0 0 2" in table
    assert f"{period_words('week', this_week)} 1 0 0 0 1" in table
    assert table.endswith("All 12 weeks 3 0 0 0 3 0 0 0 0 0")


def test_a_week_is_named_by_its_days() -> None:
    assert period_words("week", date(2025, 3, 10)) == "10–16 Mar 2025"
    assert period_words("week", date(2025, 3, 31)) == "31 Mar–6 Apr 2025"
    assert period_words("week", date(2025, 12, 29)) == "29 Dec 2025–4 Jan 2026"
    assert period_words("week", date(2025, 12, 29), short=True) == "29 Dec–4 Jan"


def test_split_by_type_shows_each_type_per_month_and_each_types_funnel(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    legal = [take_in(runtime, request_type="legal", now=LONG_AGO) for _ in range(2)]
    end(runtime, org, legal[0], "rejected_provocation")
    take_in(runtime, request_type="leave_service", now=LONGER_AGO)
    _desk_login(client, org.coordinator)

    html = stats_page(client, "?by=type")

    per_month = text_of(html, "per-period")
    assert "Month Leave military service or surrender A legal question all" in per_month
    assert f"{month_of(LONGER_AGO)} 1 0 1" in per_month
    assert f"{month_of(LONG_AGO)} 0 2 2" in per_month
    parts = text_of(html, "funnel-parts")
    assert "Leave military service or surrender 1 0 0 0 1 0 0 0 0 0" in parts
    assert "A legal question 2 0 0 0 1 0 0 0 1 0" in parts
    assert parts.endswith("All 3 0 0 0 2 0 0 0 1 0")
    assert "A legal question: 2 contacted (1 open, 1 probable provocation)." in unescape(charts(html)[2])


def test_every_month_of_each_type_is_in_the_detail_table(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    take_in(runtime, request_type="legal", now=LONG_AGO)
    take_in(runtime, request_type="leave_service", now=LONG_AGO)
    _desk_login(client, org.coordinator)

    detail = text_of(stats_page(client, "?by=type"), "funnel-detail")

    assert (
        f"{month_of(LONG_AGO)} Leave military service or surrender 1 0 0 0 1 0 0 0 0 0 "
        "A legal question 1 0 0 0 1 0 0 0 0 0"
    ) in detail
    assert f"{month_of(LONGER_AGO)} no requests" in detail


def test_split_by_channel_counts_telegram_and_the_web_per_week(
    telegram_client: TestClient, telegram_runtime: Runtime, bot_api: FakeBotApi
) -> None:
    org = make_organisation(telegram_runtime)
    make_request(open_chat(telegram_client, bot_api))
    take_in(telegram_runtime, request_type="legal")
    take_in(telegram_runtime, request_type="legal")
    _desk_login(telegram_client, org.coordinator)

    html = stats_page(telegram_client, "?per=week&by=channel")

    this_week = period_words("week", week_of(datetime.now(UTC).date()))
    assert f"{this_week} 2 1 3" in text_of(html, "per-period")
    assert "Week website Telegram all" in text_of(html, "per-period")
    parts = text_of(html, "funnel-parts")
    assert "website 2 " in parts
    assert "Telegram 1 " in parts
    short = period_words("week", week_of(datetime.now(UTC).date()), short=True)
    assert f"{short}: 3 contacted (2 website, 1 Telegram)." in chart_words(html, 1)


def test_with_no_requests_the_page_says_so_without_charts(client: TestClient, org: Org) -> None:
    _desk_login(client, org.coordinator)

    html = stats_page(client)

    assert charts(html) == []
    assert "No requests in the last 12 months." in html


@pytest.mark.parametrize("view", ["", "?per=week", "?by=type", "?per=week&by=channel"])
def test_the_charts_hold_no_style_and_no_script_and_the_policy_is_unchanged(
    client: TestClient, org: Org, runtime: Runtime, view: str
) -> None:
    take_in(runtime, request_type="legal", now=NOW - timedelta(days=1))
    _desk_login(client, org.coordinator)

    response = client.get(f"/desk/stats{view}")

    drawn = charts(response.text)
    assert len(drawn) == (3 if "by=" in view else 2)
    for svg in drawn:
        assert 'role="img"' in svg
        assert "<title>" in svg
        assert "style=" not in svg
        assert "<script" not in svg.lower()
        assert re.search(r'<rect class="bar [a-z0-9_ -]+"', svg)
    assert 'class="bar stage contacted"' in drawn[0]
    assert 'style="' not in response.text
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


def test_the_page_links_its_own_stylesheet(client: TestClient, org: Org) -> None:
    _desk_login(client, org.coordinator)

    assert '<link rel="stylesheet" href="/static/desk-stats.css">' in stats_page(client)
    assert client.get("/static/desk-stats.css").headers["content-type"].startswith("text/css")


# -- service figures -------------------------------------------------------------------------------------


def test_the_first_response_is_the_median_and_90th_percentile_of_answered_cases(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    came = NOW - timedelta(hours=3)
    case_id = take_in(runtime, now=came)
    cases.reply(
        db=runtime.db, operator=org.intake.unlocked, case_id=case_id, text="We are here.",
        now=came + timedelta(minutes=90),
    )  # fmt: skip
    _desk_login(client, org.coordinator)

    figure = text_of(stats_page(client), "first-response")

    assert "1 h 30 min median; 90th percentile 1 h 30 min" in figure
    assert "1 answered case that came in over the last 30 days" in figure


def test_with_no_answered_case_the_first_response_says_so(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    take_in(runtime, now=NOW - timedelta(hours=1))
    _desk_login(client, org.coordinator)

    assert "no answered cases" in text_of(stats_page(client), "first-response")


def test_overdue_cases_are_counted_by_step_name(client: TestClient, org: Org, runtime: Runtime) -> None:
    take_in(runtime, request_type="legal", now=NOW - timedelta(days=5))  # screening was due in 4 hours
    take_in(runtime, request_type="legal")
    _desk_login(client, org.coordinator)

    html = stats_page(client)

    assert text_of(html, "overdue-by-step").endswith("Screening Legal consultation 1")
    assert text_of(html, "overdue").startswith("Overdue now 1 open case")


def test_missed_check_ins_are_counted(client: TestClient, org: Org, runtime: Runtime) -> None:
    add_team(runtime, "routes", org.coordinator, org.admin)
    silent = take_in(runtime)
    walk(runtime, org.coordinator.unlocked, silent, *TO_ROUTES, "plan", "in_transit")
    check_ins.mark_missed(db=runtime.db, now=datetime.now(UTC) + timedelta(hours=13))
    _desk_login(client, org.coordinator)

    assert text_of(stats_page(client), "missed").startswith("Missed check-ins 1 open case")


def test_open_cases_are_counted_per_team_and_per_operator_with_nobody_for_unassigned(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    answered = take_in(runtime)
    take_in(runtime)
    cases.reply(db=runtime.db, operator=org.intake.unlocked, case_id=answered, text="Hello.")
    _desk_login(client, org.coordinator)

    html = stats_page(client)

    assert text_of(html, "open-by-team") == "Team Open intake 2"
    assert text_of(html, "open-by-operator") == "Assigned to Open olena 1 nobody 1"


# -- public numbers ---------------------------------------------------------------------------------------


def published_rows(runtime: Runtime) -> int:
    with runtime.db.read() as s:
        return s.scalar(select(func.count()).select_from(PublishedFigure)) or 0


def test_the_rules_are_shown_in_words(client: TestClient, org: Org) -> None:
    _desk_login(client, org.coordinator)

    rules = text_of(stats_page(client), "publication-rules")

    assert "Counts below 10 are published as “fewer than 10”" in rules
    assert "rounded to the nearest 10" in rules
    assert "Nothing from the last 14 days is published" in rules
    assert "No noise is added" in rules


def test_publish_publishes_the_months_the_rules_allow_and_says_how_many(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    for _ in range(3):
        take_in(runtime, now=LONG_AGO)
    csrf = _desk_login(client, org.coordinator)

    response = client.post("/desk/stats/publish", data={"csrf_token": csrf}, follow_redirects=False)

    assert response.status_code == 303
    stored = published_rows(runtime)
    assert stored >= 2  # contacted and completed of at least one month
    page = client.get(response.headers["location"]).text
    assert text_of(page, "publish-notice").startswith(f"Published {stored} figures for {stored // 2} month")
    assert f"{month_of(LONG_AGO)} fewer than 10 fewer than 10" in text_of(page, "published")


def test_a_second_publish_says_there_is_nothing_new(client: TestClient, org: Org, runtime: Runtime) -> None:
    take_in(runtime, now=LONG_AGO)
    csrf = _desk_login(client, org.coordinator)
    client.post("/desk/stats/publish", data={"csrf_token": csrf})
    stored = published_rows(runtime)

    page = client.post("/desk/stats/publish", data={"csrf_token": csrf}).text

    assert text_of(page, "publish-notice").startswith("Nothing new to publish")
    assert published_rows(runtime) == stored


def test_publish_without_the_csrf_token_is_refused_and_publishes_nothing(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    take_in(runtime, now=LONG_AGO)
    _desk_login(client, org.coordinator)

    response = client.post("/desk/stats/publish", data={"csrf_token": "wrong"})

    assert response.status_code == 403
    assert published_rows(runtime) == 0


@pytest.fixture
def noisy_client(settings: Settings, db: Database) -> Iterator[tuple[TestClient, Runtime]]:
    """A server whose rules add noise, with a budget too small for even one month's two figures."""
    app = create_app(settings.with_changes(stats_noise="laplace", stats_epsilon=0.1, stats_budget=0.1), db=db)
    with TestClient(app, base_url="https://testserver") as client:
        yield client, app.state.runtime
    app.state.runtime.close()


def test_a_publication_past_the_privacy_budget_shows_why_and_publishes_nothing(
    noisy_client: tuple[TestClient, Runtime],
) -> None:
    client, runtime = noisy_client
    org = make_organisation(runtime)
    take_in(runtime, now=LONG_AGO)
    csrf = _desk_login(client, org.coordinator)

    response = client.post("/desk/stats/publish", data={"csrf_token": csrf})

    assert response.status_code == 409
    error = text_of(response.text, "publish-error")
    assert error.startswith("Nothing was published: privacy budget of the period from")
    assert "Laplace noise is added" in text_of(response.text, "publication-rules")
    assert published_rows(runtime) == 0


def test_wrong_publication_settings_are_an_error_on_the_page_not_a_500(
    settings: Settings, db: Database
) -> None:
    app = create_app(settings.with_changes(public_figures="contacted,names"), db=db)
    with TestClient(app, base_url="https://testserver") as client:
        org = make_organisation(app.state.runtime)
        csrf = _desk_login(client, org.coordinator)

        page = client.get("/desk/stats")
        refused = client.post("/desk/stats/publish", data={"csrf_token": csrf})
    app.state.runtime.close()

    assert page.status_code == 200
    assert "HAVEN_PUBLIC_FIGURES may name only" in text_of(page.text, "settings-error")
    assert refused.status_code == 409
    assert "Nothing was published: HAVEN_PUBLIC_FIGURES" in text_of(refused.text, "publish-error")


# -- CSV ------------------------------------------------------------------------------------------------


def csv_rows(client: TestClient, query: str = "") -> list[list[str]]:
    response = client.get(f"/desk/stats.csv{query}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="haven-funnel.csv"'
    return list(csv.reader(io.StringIO(response.text)))


def test_the_csv_holds_every_month_by_request_type_and_channel_with_every_stage(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    legal = [take_in(runtime, request_type="legal", now=LONG_AGO) for _ in range(2)]
    end(runtime, org, legal[0], "withdrawn")
    walk(runtime, org.coordinator.unlocked, legal[1], "consultation")
    take_in(runtime, request_type="leave_service", now=LONG_AGO)
    take_in(runtime, request_type="legal", now=NOW - timedelta(days=400))  # before the page's 12 months
    _desk_login(client, org.coordinator)

    rows = csv_rows(client)

    oldest, newer = f"{NOW - timedelta(days=400):%Y-%m}", f"{LONG_AGO:%Y-%m}"
    assert rows == [
        ["month", "request_type", "channel", "contacted", "screened", "verified", "in_progress", "open",
         "completed", "withdrawn", "no_contact", "rejected_provocation", "closed_otherwise"],
        [oldest, "legal", "web", "1", "0", "0", "0", "1", "0", "0", "0", "0", "0"],
        [newer, "leave_service", "web", "1", "0", "0", "0", "1", "0", "0", "0", "0", "0"],
        [newer, "legal", "web", "2", "1", "1", "1", "1", "0", "1", "0", "0", "0"],
    ]  # fmt: skip


def test_the_csv_per_week_names_each_week_by_its_monday(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    take_in(runtime, request_type="legal", now=datetime(2025, 3, 16, 23, 0, tzinfo=UTC))  # a Sunday
    take_in(runtime, request_type="legal", now=datetime(2025, 3, 17, 8, 0, tzinfo=UTC))
    _desk_login(client, org.coordinator)

    rows = csv_rows(client, "?per=week")

    assert [row[:4] for row in rows] == [
        ["week", "request_type", "channel", "contacted"],
        ["2025-03-10", "legal", "web", "1"],
        ["2025-03-17", "legal", "web", "1"],
    ]


def test_the_page_offers_the_csv_of_the_period_it_shows(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    take_in(runtime, now=NOW)
    _desk_login(client, org.coordinator)

    assert 'href="/desk/stats.csv?per=week"' in stats_page(client, "?per=week&by=type")


def test_a_csv_cell_that_looks_like_a_formula_is_written_as_text(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    with runtime.db.write() as s:  # the anonymous counters a purge leaves, of names like a formula
        s.add(
            CaseCount(
                month=date(2024, 1, 1),
                week=date(2024, 1, 1),
                request_type="=HYPERLINK(1)",
                channel="@SUM(1)",
                reached="screened",
                final_state="closed",
                count=4,
            )
        )
    _desk_login(client, org.coordinator)

    assert csv_rows(client)[1][:5] == ["2024-01", "'=HYPERLINK(1)", "'@SUM(1)", "4", "4"]


def test_the_csv_is_refused_to_operators(client: TestClient, org: Org) -> None:
    _desk_login(client, org.intake)

    assert client.get("/desk/stats.csv").status_code == 403


def test_with_breakdowns_the_desk_says_how_they_are_charged_and_where_the_public_sees_them(
    settings: Settings, db: Database
) -> None:
    chosen = settings.with_changes(
        stats_noise="laplace", stats_epsilon=0.5, stats_budget=20.0, public_breakdowns="type,channel"
    )
    app = create_app(chosen, db=db)
    with TestClient(app, base_url="https://testserver") as client:
        runtime: Runtime = app.state.runtime
        org = make_organisation(runtime)
        take_in(runtime, now=LONG_AGO)
        csrf = _desk_login(client, org.coordinator)
        page = client.post("/desk/stats/publish", data={"csrf_token": csrf}).text
    app.state.runtime.close()

    rules = text_of(page, "publication-rules")
    assert "ε 0.5 more per figure for each breakdown (by request type, by channel)" in rules
    assert "parallel composition" in rules
    assert "also published by request type and by channel" in text_of(page, "published-parts")
