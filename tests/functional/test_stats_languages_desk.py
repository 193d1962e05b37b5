"""The coordinators' languages page (/desk/stats/languages): the funnel by language, per month or week. A
request's language is sealed to the team that received it, so the page opens the tallies with the
coordinator's own keys, for the requests their teams received; it says which teams it counted and how many
tallies it could not open."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from haven.accounts.models import Role, Team
from haven.desk.stats_funnel import period_words
from haven.retention.counting import week_of
from haven.runtime import Runtime
from haven.stats.models import LanguageTally
from tests.conftest import Org, add_operator
from tests.functional.test_desk_pages import _desk_login
from tests.functional.test_desk_procedures import add_team, take_in
from tests.functional.test_stats import end
from tests.functional.test_stats_desk import LONG_AGO, NOW, charts, month_of, switch_links, text_of

ENGLISH = "The language of each request is sealed like its messages, so it is counted here with your own keys"


def counted(html: str) -> str:
    """What the page says it counted, as read ("intake, legal.", without the spaces tags leave)."""
    return re.sub(r" ([,.])", r"\1", text_of(html, "counted"))


def languages_page(client: TestClient, query: str = "") -> str:
    response = client.get(f"/desk/stats/languages{query}")
    assert response.status_code == 200, response.text
    return response.text


def test_each_language_is_counted_per_month(client: TestClient, org: Org, runtime: Runtime) -> None:
    for language in ("ru", "ru", "uk", "en"):
        take_in(runtime, language=language, now=LONG_AGO)
    _desk_login(client, org.coordinator)

    html = languages_page(client)

    assert f"{month_of(LONG_AGO)} 2 1 1 4" in text_of(html, "per-period")
    assert "Month Russian Ukrainian English all" in text_of(html, "per-period")
    assert f"{month_of(LONG_AGO)}: 4 contacted (2 Russian, 1 Ukrainian, 1 English)." in html


def test_each_languages_funnel_has_every_stage_and_how_requests_stand(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    russian = [take_in(runtime, language="ru", now=LONG_AGO) for _ in range(2)]
    end(runtime, org, russian[0], "withdrawn")
    take_in(runtime, language="en", now=LONG_AGO)
    _desk_login(client, org.coordinator)

    parts = text_of(languages_page(client), "funnel-parts")

    # contacted, screened, verified, in progress | open, completed, withdrawn, no contact, provocation, other
    assert "Russian 2 0 0 0 1 0 1 0 0 0" in parts
    assert "English 1 0 0 0 1 0 0 0 0 0" in parts
    assert parts.endswith("All 3 0 0 0 2 0 1 0 0 0")


def test_per_week_the_languages_of_the_last_12_weeks_are_counted(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    take_in(runtime, language="uk", now=NOW)
    take_in(runtime, language="uk", now=NOW - timedelta(days=200))  # long before the last 12 weeks
    _desk_login(client, org.coordinator)

    html = languages_page(client, "?per=week")

    this_week = period_words("week", week_of(NOW.date()))
    per_week = text_of(html, "per-period")
    assert "Week Ukrainian all" in per_week
    assert per_week.endswith(f"{this_week} 1 1")
    assert text_of(html, "funnel-parts").endswith("All 1 0 0 0 1 0 0 0 0 0")
    assert switch_links(html)["week"] == ("/desk/stats/languages?per=week", True)


def test_the_page_says_the_languages_are_sealed_and_which_teams_were_counted(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    take_in(runtime, language="ru", now=LONG_AGO)
    _desk_login(client, org.coordinator)

    html = languages_page(client)

    assert ENGLISH in text_of(html, "sealed-note")
    assert "for the requests your teams received" in text_of(html, "sealed-note")
    assert counted(html).startswith("Counted: the requests received by intake, legal.")
    assert text_of(html, "unreadable") == "Every language could be opened."


def test_a_coordinator_in_no_team_counts_nothing_and_is_told_why(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    take_in(runtime, language="ru", now=LONG_AGO)
    newcomer = add_operator(runtime, "newcomer", Role.COORDINATOR)
    _desk_login(client, newcomer)

    html = languages_page(client)

    assert "You are in no team, so there is nothing you can count." in counted(html)
    assert "No requests your teams received in the last 12 months." in html
    assert charts(html) == []


def test_a_tally_sealed_to_a_key_the_coordinator_does_not_hold_is_reported_not_counted(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    take_in(runtime, language="ru", now=LONG_AGO)
    take_in(runtime, language="en", now=LONG_AGO)
    with runtime.db.write() as s:  # as if sealed to a team key from before a revocation, since deleted
        tally = s.scalars(select(LanguageTally)).first()
        assert tally is not None
        tally.key_generation += 7
    _desk_login(client, org.coordinator)

    html = languages_page(client)

    assert text_of(html, "unreadable").startswith("1 request could not be counted")
    assert text_of(html, "funnel-parts").endswith("All 1 0 0 0 1 0 0 0 0 0")


def test_only_the_teams_tallies_the_coordinator_belongs_to_are_opened(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    take_in(runtime, language="ru", now=LONG_AGO)
    with runtime.db.read() as s:
        intake = s.scalars(select(Team).where(Team.slug == "intake")).one()
    assert intake.receives_intake
    lawyer_in_charge = add_operator(runtime, "lawyer-in-charge", Role.COORDINATOR)
    add_team(runtime, "appeals", lawyer_in_charge)
    _desk_login(client, lawyer_in_charge)

    html = languages_page(client)

    assert counted(html).startswith("Counted: the requests received by appeals.")
    assert "No requests your teams received" in html


def test_the_statistics_page_links_to_the_languages_page_and_back(client: TestClient, org: Org) -> None:
    _desk_login(client, org.coordinator)

    assert (
        switch_links(client.get("/desk/stats?per=week").text)["language"][0]
        == "/desk/stats/languages?per=week"
    )
    page = languages_page(client, "?per=week")
    assert '<a href="/desk/stats?per=week">← Statistics</a>' in page
    assert switch_links(page)["request type"] == ("/desk/stats?per=week&by=type", False)


def test_operators_may_not_see_the_languages(client: TestClient, org: Org) -> None:
    _desk_login(client, org.intake)

    assert client.get("/desk/stats/languages").status_code == 403


def test_an_admin_may(client: TestClient, org: Org) -> None:
    _desk_login(client, org.admin)

    assert "Requests by language" in languages_page(client)


def test_nobody_logged_in_is_sent_to_the_login_page(client: TestClient) -> None:
    response = client.get("/desk/stats/languages", follow_redirects=False)

    assert (response.status_code, response.headers["location"]) == (303, "/desk/login")


def test_the_charts_hold_no_style_and_no_script(client: TestClient, org: Org, runtime: Runtime) -> None:
    take_in(runtime, language="uk", now=datetime.now(UTC))
    _desk_login(client, org.coordinator)

    html = languages_page(client)

    assert len(charts(html)) == 3
    assert "style=" not in html
    assert "<script" not in html.lower()
