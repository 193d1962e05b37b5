"""A coordinator's statistics pages, JavaScript off: the whole funnel drawn as SVG charts beside their tables,
per month or week and split by type, channel or language through plain links; the service figures; and
publishing the public numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from haven.cases import services as cases
from haven.desk.stats_funnel import month_words
from haven.runtime import Runtime
from haven.seeding import seed_cases
from tests.browser.conftest import OpenPage, Shot
from tests.browser.pages import DeskLanguages, DeskLogin, DeskStats
from tests.conftest import Org
from tests.functional.test_desk_procedures import take_in, walk
from tests.functional.test_stats import end

pytestmark = pytest.mark.browser

# Months back, and how many requests of each type came in then.
MONTHS = ((1, 9, 6, 2), (2, 12, 4, 3), (3, 7, 8, 1), (4, 5, 3, 2), (5, 8, 2, 0))


def months_back(now: datetime, back: int) -> datetime:
    """The 10th of the month `back` months before `now`, at noon."""
    year, month = divmod(now.year * 12 + now.month - 1 - back, 12)
    return datetime(year, month + 1, 10, 12, 0, tzinfo=UTC)


def a_few_busy_months(runtime: Runtime, org: Org) -> datetime:
    """Requests over five months, some completed, withdrawn or rejected; one answered and one overdue now.
    Returns a moment of the month with most requests."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for back, legal, leave, other in MONTHS:
        at = months_back(now, back)
        legal_ids = [take_in(runtime, request_type="legal", now=at) for _ in range(legal)]
        leave_ids = [take_in(runtime, request_type="leave_service", now=at) for _ in range(leave)]
        for _ in range(other):
            take_in(runtime, request_type="other", now=at)
        for case_id in legal_ids[: legal // 2]:
            walk(runtime, org.coordinator.unlocked, case_id, "consultation", "completed")
        end(runtime, org, legal_ids[-1], "withdrawn")
        end(runtime, org, leave_ids[0], "no_contact")
        if back % 2:
            end(runtime, org, leave_ids[1], "rejected_provocation")
    answered = take_in(runtime, request_type="legal", now=now - timedelta(hours=3))
    cases.reply(
        db=runtime.db,
        operator=org.intake.unlocked,
        case_id=answered,
        text="We are here.",
        now=now - timedelta(hours=2),
    )
    take_in(runtime, request_type="legal", now=now - timedelta(days=2))  # overdue: due in 4 hours
    return months_back(now, 2)


def two_busy_years(runtime: Runtime) -> None:
    """1,500 requests over two years up to now, from the web and Telegram, in three languages, most closed."""
    seed_cases(
        db=runtime.db,
        pepper=runtime.secrets.receipt_pepper,
        count=1_500,
        batch_size=500,
        until=datetime.now(UTC),
        seed=7,
        workers=1,
    )


def test_a_coordinator_sees_the_funnel_as_charts_beside_their_tables(
    new_page: OpenPage, org: Org, runtime: Runtime, shot: Shot
) -> None:
    busiest = a_few_busy_months(runtime, org)
    page = new_page(javascript=False)
    DeskLogin(page).open().log_in(org.coordinator)

    stats = DeskStats(page).open()

    expect(stats.chosen).to_have_text(["month", "nothing"])
    expect(stats.charts).to_have_count(2)
    expect(stats.bars(0).first).to_be_visible()
    expect(stats.stage_rows.first).to_contain_text("contacted")
    expect(stats.period_rows).to_have_count(12)
    expect(stats.period_rows.filter(has_text=month_words(busiest.date().replace(day=1)))).to_contain_text(
        "19"
    )
    shot(page, "stats-dashboard")
    page.set_viewport_size({"width": 390, "height": 844})
    expect(stats.charts.first).to_be_visible()
    shot(page, "stats-dashboard-phone")


def test_a_coordinator_switches_to_weeks_by_channel_with_plain_links(
    new_page: OpenPage, org: Org, runtime: Runtime, shot: Shot
) -> None:
    two_busy_years(runtime)
    page = new_page(javascript=False)
    DeskLogin(page).open().log_in(org.coordinator)
    stats = DeskStats(page).open()

    stats.choose("week")
    stats.choose("channel")

    expect(stats.chosen).to_have_text(["week", "channel"])
    assert page.url.endswith("/desk/stats?per=week&by=channel")
    expect(stats.charts).to_have_count(3)
    expect(stats.period_part_rows).to_have_count(12)
    expect(stats.part_rows.filter(has_text="website")).to_be_visible()
    expect(stats.part_rows.filter(has_text="Telegram")).to_be_visible()
    shot(page, "stats-weeks-by-channel")
    expect(stats.open_detail()).to_be_visible()
    shot(page, "stats-weeks-by-channel-detail")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "stats-weeks-by-channel-phone")


def test_a_coordinator_counts_the_languages_with_their_own_keys(
    new_page: OpenPage, org: Org, runtime: Runtime, shot: Shot
) -> None:
    two_busy_years(runtime)
    page = new_page(javascript=False)
    DeskLogin(page).open().log_in(org.coordinator)
    DeskStats(page).open("?per=week").choose("language")

    languages = DeskLanguages(page)

    expect(page.locator("h1")).to_have_text("Requests by language")
    expect(languages.chosen).to_have_text(["week", "language"])
    expect(languages.sealed_note).to_contain_text("counted here with your own keys")
    expect(languages.counted).to_contain_text("intake")
    expect(languages.counted).to_contain_text("Every language could be opened.")
    expect(languages.charts).to_have_count(3)
    expect(languages.part_rows.filter(has_text="Russian")).to_be_visible()
    shot(page, "stats-languages")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "stats-languages-phone")


def test_pressing_publish_publishes_and_says_how_many(
    new_page: OpenPage, org: Org, runtime: Runtime, shot: Shot
) -> None:
    a_few_busy_months(runtime, org)
    page = new_page(javascript=False)
    DeskLogin(page).open().log_in(org.coordinator)
    stats = DeskStats(page).open()
    expect(stats.published_rows).to_have_count(0)

    stats.publish()

    expect(stats.notice).to_contain_text("Published")
    expect(stats.notice).to_contain_text("figures for")
    expect(stats.published_rows.first).to_be_visible()
    shot(page, "stats-dashboard-published")
