"""An admin sees the retention rules and what the next purge would remove, and purges it, JavaScript off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from haven.runtime import Runtime
from tests.browser.conftest import OpenPage, Shot
from tests.browser.pages import DeskLogin, DeskRetention
from tests.conftest import Org
from tests.functional.test_retention import closed_case, take_in

pytestmark = pytest.mark.browser


def test_an_admin_sees_the_next_purge_and_purges_now(
    new_page: OpenPage, org: Org, runtime: Runtime, shot: Shot
) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    for _ in range(3):
        closed_case(runtime, org, now - timedelta(days=120), request_type="other")
    take_in(runtime, now - timedelta(days=400), request_type="legal")
    closed_case(runtime, org, now - timedelta(days=2))
    page = new_page(javascript=False)
    DeskLogin(page).open().log_in(org.admin)

    retention = DeskRetention(page).open()

    expect(retention.rules).to_have_count(len(runtime.catalogue.types))
    expect(retention.expiring).to_have_count(2)
    expect(retention.expiring.filter(has_text="Something else")).to_contain_text("3")
    shot(page, "desk-admin-retention")
    retention.purge_now()

    expect(retention.notice).to_contain_text("Purged 4 cases")
    expect(retention.expiring).to_have_count(0)
    expect(retention.section).to_contain_text("No case is past its retention.")
    shot(page, "desk-admin-retention-purged")
