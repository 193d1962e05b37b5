"""A reader on a phone, JavaScript off, finds the published numbers by request type and by channel: each
request type named as the intake form names it, the web form and Telegram, each part made safe on its own."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from playwright.sync_api import Page, expect

from haven.audit.services import SYSTEM
from haven.config import Settings
from haven.runtime import Runtime
from haven.stats.public import publication_of, publish
from tests.browser.conftest import Shot
from tests.browser.pages import PublicNumbers
from tests.conftest import Org
from tests.functional.test_desk_procedures import walk
from tests.functional.test_public_stats import by_telegram, request

pytestmark = pytest.mark.browser

OCTOBER, NOVEMBER = date(2025, 10, 1), date(2025, 11, 1)
TODAY = date(2026, 1, 10)  # with the 14-day delay, October and November are published, December is not
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The organisation publishes how far requests got, by request type and by channel."""
    return settings.with_changes(
        public_figures="contacted,in_progress,completed", public_breakdowns="type,channel"
    )


def a_published_autumn(runtime: Runtime, org: Org) -> None:
    """October: 47 legal questions by the web form (a lawyer took up 12) and 12 "something else" by
    Telegram. November: 8 legal questions and 21 "I need someone to talk to" by Telegram."""
    october = datetime(2025, 10, 14, 10, 0, tzinfo=UTC)
    legal = [request(runtime, at=october) for _ in range(47)]
    for receipt in legal[:12]:
        walk(runtime, org.admin.unlocked, receipt.access.case_id, "consultation", now=october)
    for _ in range(12):
        by_telegram(runtime, at=october, request_type="other")
    november = datetime(2025, 11, 5, 18, 0, tzinfo=UTC)
    for _ in range(8):
        request(runtime, at=november)
    for _ in range(21):
        by_telegram(runtime, at=november, request_type="support")
    publish(db=runtime.db, publication=publication_of(runtime.settings), today=TODAY, actor=SYSTEM)


def test_on_a_phone_the_parts_are_tables_of_cards_that_fit_the_screen(
    page: Page, runtime: Runtime, org: Org, shot: Shot
) -> None:
    a_published_autumn(runtime, org)
    page.set_viewport_size(PHONE)

    numbers = PublicNumbers(page).open("ru")

    expect(numbers.breakdown("type").locator("h2")).to_have_text("По типу обращения")
    expect(numbers.breakdown("channel").locator("h2")).to_have_text("По каналу связи")
    expect(numbers.part("type", "type:legal")).to_contain_text("Юридический вопрос")
    expect(numbers.part("type", "type:legal")).to_contain_text("около 50")
    expect(numbers.part("type", "type:support")).to_contain_text("Мне нужно с кем-то поговорить")
    expect(numbers.part("type", "type:support")).to_contain_text("около 20")
    expect(numbers.part("channel", "channel:web")).to_contain_text("Веб-форма")
    expect(numbers.part("channel", "channel:telegram")).to_contain_text("около 30")  # 10 + 20
    expect(numbers.breakdown("channel")).not_to_contain_text("33")  # its true count
    expect(numbers.rules.filter(has_text="по типу обращения и по каналу связи")).to_have_count(1)
    shot(page, "public-numbers-parts-390")

    numbers.open_months_of("type")

    november_legal = numbers.part("type", "type:legal", month="2025-11")
    expect(november_legal).to_be_visible()
    expect(november_legal).to_contain_text("менее 10")
    expect(november_legal).not_to_contain_text("8")
    expect(numbers.part("type", "type:legal", month="2025-10")).to_contain_text("50")
    expect(numbers.breakdown("type").locator('tbody[data-month="2025-10"] .numbers-group')).to_have_text(
        "Октябрь 2025"
    )
    for breakdown in ("type", "channel"):
        cells = numbers.part_cells(breakdown)
        for n in range(cells.count()):  # every name and number in sight: nothing to scroll sideways
            if not cells.nth(n).is_visible():
                continue  # the channel's months, still folded away
            box = cells.nth(n).bounding_box()
            assert box is not None
            assert box["x"] + box["width"] <= PHONE["width"]
    shot(page, "public-numbers-parts-months-390")

    page.set_viewport_size(DESKTOP)

    expect(numbers.part("type", "type:legal", month="2025-10")).to_be_visible()
    shot(page, "public-numbers-parts")
