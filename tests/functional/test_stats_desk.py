"""The coordinators' statistics page: the funnel by month and by type (an SVG chart with its table), service
figures, the public numbers with their rules and a "Publish" button, and the funnel as CSV. Coordinators and
admins only; the charts are drawn on the server, with no style attribute and no script."""

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
from haven.desk.stats import month_words
from haven.retention.models import CaseCount
from haven.runtime import Runtime
from haven.security.headers import CONTENT_SECURITY_POLICY
from haven.stats.models import PublishedFigure
from tests.conftest import Org, make_organisation
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


def chart_words(html: str) -> str:
    """What the first chart (by month) says to a screen reader."""
    found = re.search(r'<svg\b[^>]*aria-label="([^"]*)"', html)
    assert found, "no chart with an aria-label"
    return unescape(found.group(1))


def stats_page(client: TestClient) -> str:
    response = client.get("/desk/stats")
    assert response.status_code == 200, response.text
    return response.text


# -- who may look ---------------------------------------------------------------------------------------


def test_an_admin_sees_the_page_too(client: TestClient, org: Org) -> None:
    _desk_login(client, org.admin)

    assert "Requests by month" in stats_page(client)


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


# -- the funnel -----------------------------------------------------------------------------------------


def test_the_funnel_by_month_is_in_the_table(client: TestClient, org: Org, runtime: Runtime) -> None:
    three = [take_in(runtime, now=LONG_AGO) for _ in range(3)]
    end(runtime, org, three[0], "withdrawn")
    older = [take_in(runtime, now=LONGER_AGO) for _ in range(2)]
    end(runtime, org, older[0], "no_contact")
    _desk_login(client, org.coordinator)

    table = text_of(stats_page(client), "funnel-months")

    # contacted, open, completed, withdrawn, no contact, probable provocation, closed otherwise
    assert f"{month_of(LONG_AGO)} 3 2 0 1 0 0 0" in table
    assert f"{month_of(LONGER_AGO)} 2 1 0 0 1 0 0" in table
    assert table.index(month_of(LONGER_AGO)) < table.index(month_of(LONG_AGO))


def test_the_funnel_by_month_is_in_the_charts_words(client: TestClient, org: Org, runtime: Runtime) -> None:
    three = [take_in(runtime, now=LONG_AGO) for _ in range(3)]
    end(runtime, org, three[0], "withdrawn")
    _desk_login(client, org.coordinator)

    html = stats_page(client)

    assert f"{month_of(LONG_AGO)}: 3 contacted (2 open, 1 withdrawn)." in chart_words(html)
    assert f"<title>{month_of(LONG_AGO)}: 2 open</title>" in charts(html)[0]


def test_the_funnel_by_type_names_each_request_type(client: TestClient, org: Org, runtime: Runtime) -> None:
    legal = [take_in(runtime, request_type="legal", now=LONG_AGO) for _ in range(2)]
    end(runtime, org, legal[0], "rejected_provocation")
    take_in(runtime, request_type="leave_service", now=LONGER_AGO)
    _desk_login(client, org.coordinator)

    html = stats_page(client)
    table = text_of(html, "funnel-types")

    assert "A legal question 2 1 0 0 0 1 0" in table
    assert "Leave military service or surrender 1 1 0 0 0 0 0" in table
    assert "All types 3 2 0 0 0 1 0" in table
    assert "A legal question: 2 contacted (1 open, 1 probable provocation)." in unescape(charts(html)[1])


def test_with_no_requests_the_page_says_so_without_charts(client: TestClient, org: Org) -> None:
    _desk_login(client, org.coordinator)

    html = stats_page(client)

    assert charts(html) == []
    assert "No requests yet." in html


def test_the_charts_hold_no_style_and_no_script_and_the_policy_is_unchanged(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    take_in(runtime, request_type="legal", now=LONG_AGO)
    _desk_login(client, org.coordinator)

    response = client.get("/desk/stats")

    drawn = charts(response.text)
    assert len(drawn) == 2
    for svg in drawn:
        assert 'role="img"' in svg
        assert "<title>" in svg
        assert "style=" not in svg
        assert "<script" not in svg.lower()
        assert re.search(r'<rect class="bar open"', svg)
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


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


def csv_rows(client: TestClient) -> list[list[str]]:
    response = client.get("/desk/stats.csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="haven-funnel.csv"'
    return list(csv.reader(io.StringIO(response.text)))


def test_the_csv_holds_the_funnel_by_month_and_request_type(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    legal = [take_in(runtime, request_type="legal", now=LONG_AGO) for _ in range(2)]
    end(runtime, org, legal[0], "withdrawn")
    take_in(runtime, request_type="leave_service", now=LONG_AGO)
    take_in(runtime, request_type="legal", now=LONGER_AGO)
    _desk_login(client, org.coordinator)

    rows = csv_rows(client)

    older, newer = f"{LONGER_AGO:%Y-%m}", f"{LONG_AGO:%Y-%m}"
    assert rows == [
        ["month", "request_type", "contacted", "open", "completed", "withdrawn", "no_contact",
         "rejected_provocation", "closed_otherwise"],
        [older, "legal", "1", "1", "0", "0", "0", "0", "0"],
        [newer, "leave_service", "1", "1", "0", "0", "0", "0", "0"],
        [newer, "legal", "2", "1", "0", "1", "0", "0", "0"],
    ]  # fmt: skip


def test_a_csv_cell_that_looks_like_a_formula_is_written_as_text(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    with runtime.db.write() as s:  # the anonymous counters a purge leaves, of a type named like a formula
        s.add(CaseCount(month=date(2024, 1, 1), request_type="=HYPERLINK(1)", final_state="closed", count=4))
    _desk_login(client, org.coordinator)

    assert csv_rows(client)[1][:3] == ["2024-01", "'=HYPERLINK(1)", "4"]


def test_the_csv_is_refused_to_operators(client: TestClient, org: Org) -> None:
    _desk_login(client, org.intake)

    assert client.get("/desk/stats.csv").status_code == 403
