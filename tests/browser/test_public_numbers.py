"""A reader finds the helpline's published numbers in Russian, JavaScript off, on a desktop and on a phone."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from playwright.sync_api import Page, expect

from haven.audit.services import SYSTEM
from haven.runtime import Runtime
from haven.stats.public import publication_of, publish
from tests.browser.conftest import Shot
from tests.browser.pages import PublicNumbers
from tests.conftest import Org
from tests.functional.test_desk_procedures import walk
from tests.functional.test_public_stats import request

pytestmark = pytest.mark.browser

# Requests that came in each month, and how many of them got out (completed); published on TODAY.
MONTHS = {
    date(2025, 10, 1): (34, 12),
    date(2025, 11, 1): (57, 3),
    date(2025, 12, 1): (8, 0),
    date(2026, 1, 1): (26, 0),
}
TODAY = date(2026, 2, 20)  # with the 14-day delay, January is published and February is not
PHONE = {"width": 390, "height": 844}


def a_published_autumn(runtime: Runtime, org: Org) -> None:
    for month, (came, got_out) in MONTHS.items():
        at = datetime(month.year, month.month, 12, 10, 0, tzinfo=UTC)
        issued = [request(runtime, at=at) for _ in range(came)]
        for receipt in issued[:got_out]:
            walk(runtime, org.admin.unlocked, receipt.access.case_id, "consultation", "completed", now=at)
    request(runtime, at=datetime(2026, 2, 10, 9, 0, tzinfo=UTC))  # within the delay
    publish(db=runtime.db, publication=publication_of(runtime.settings), today=TODAY, actor=SYSTEM)


def test_the_russian_numbers_page_shows_the_published_months_without_javascript(
    page: Page, runtime: Runtime, org: Org, shot: Shot
) -> None:
    a_published_autumn(runtime, org)

    numbers = PublicNumbers(page).open_from_home("ru")

    assert page.get_attribute("html", "lang") == "ru"
    expect(numbers.heading).to_have_text("Наши цифры")
    expect(numbers.months).to_have_count(4)
    expect(numbers.months.first).to_contain_text("Январь 2026")
    expect(numbers.month("2025-11")).to_contain_text("60")
    expect(numbers.month("2025-12")).to_contain_text("менее 10")
    expect(numbers.month("2025-12")).not_to_contain_text("8")
    expect(numbers.total("contacted")).to_have_text("около 120")
    expect(numbers.total("completed")).to_have_text("около 10")
    expect(numbers.rules.filter(has_text="кратного 10")).to_have_count(1)
    shot(page, "public-numbers")

    page.set_viewport_size(PHONE)

    expect(numbers.total("contacted")).to_be_in_viewport()
    for n in range(numbers.cells.count()):  # every month and number is in sight: nothing to scroll sideways
        box = numbers.cells.nth(n).bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= PHONE["width"]
    shot(page, "public-numbers-390")


def test_before_anything_is_published_the_page_says_so(
    page: Page, runtime: Runtime, org: Org, shot: Shot
) -> None:
    request(runtime, at=datetime(2025, 10, 12, 10, 0, tzinfo=UTC))

    numbers = PublicNumbers(page).open("uk")

    expect(numbers.none_yet).to_have_text("Цифри ще не опубліковані. Загляньте пізніше.")
    expect(numbers.months).to_have_count(0)
    shot(page, "public-numbers-none")
