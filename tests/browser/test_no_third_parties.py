"""Nothing a requester or an operator opens asks any other origin for anything."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import OpenPage
from tests.browser.pages import DeskLogin, DeskQueue, ReceiptPage
from tests.browser.test_public_flow import ask_for_legal_help
from tests.conftest import Org

pytestmark = pytest.mark.browser


def test_public_flow_and_desk_request_nothing_from_another_origin(
    page: Page, new_page: OpenPage, origin: str, org: Org
) -> None:
    seen: list[str] = []
    desk = new_page()
    for watched in (page, desk):
        watched.on("request", lambda request: seen.append(request.url))

    ask_for_legal_help(page)
    ReceiptPage(page).continue_to_thread()
    DeskLogin(desk).open().log_in(org.intake)
    DeskQueue(desk).open_case()
    desk.wait_for_load_state("load")

    assert any(url.endswith("/static/haven.css") for url in seen)
    assert [url for url in seen if not url.startswith(origin + "/")] == []
