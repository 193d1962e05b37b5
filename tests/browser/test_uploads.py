"""A requester with JavaScript off attaches a photo of a document to their request; the operator sees it
on the case page, without the photo's hidden data."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from haven.i18n import Translator
from tests.browser.conftest import OpenPage, Shot
from tests.browser.pages import DeskLogin, DeskQueue, ReceiptPage, RequestForm
from tests.browser.test_public_flow import FIRST_MESSAGE, ask_for_legal_help, ukrainian
from tests.conftest import Org
from tests.functional.photos import HTML_AS_JPG, PDF_AS_JPG, jpeg_with_gps, png_with_text

pytestmark = pytest.mark.browser


def russian(key: str) -> str:
    return Translator("ru")(key)


def photo(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_a_photo_attached_without_javascript_reaches_the_case_page(
    page: Page, new_page: OpenPage, org: Org, shot: Shot, tmp_path: Path
) -> None:
    summons = photo(tmp_path, "повестка.jpg", jpeg_with_gps("zqbrowser", width=480, height=320))
    certificate = photo(tmp_path, "довідка.png", png_with_text("zqbrowser", width=320, height=480))
    form = RequestForm(page).open("uk", "legal").answer("danger_now", "no").answer("topic", "other")
    form.write(FIRST_MESSAGE).attach(summons, certificate)
    shot(page, "request-form-with-photos")

    response = form.submit()

    assert response is not None
    assert response.status == 201
    thread = ReceiptPage(page).continue_to_thread()
    expect(thread.file_names).to_have_text(["повестка.jpg", "довідка.png"])
    shot(page, "thread-with-photos")

    desk = new_page()
    DeskLogin(desk).open().log_in(org.intake)
    case = DeskQueue(desk).open_case()
    expect(case.attachment_names()).to_have_text(["повестка.jpg", "довідка.png"])
    expect(case.previews()).to_have_count(2)
    case.wait_for_previews()
    shot(desk, "desk-case-with-photos")


def test_a_file_that_is_not_a_photo_is_refused_with_the_text_kept(
    page: Page, org: Org, shot: Shot, tmp_path: Path
) -> None:
    fake = photo(tmp_path, "photo.jpg", HTML_AS_JPG)
    form = RequestForm(page).open("uk", "legal").answer("danger_now", "no").answer("topic", "other")

    response = form.write(FIRST_MESSAGE).attach(fake).submit()

    assert response is not None
    assert response.status == 400
    expect(form.file_error).to_have_text(ukrainian("file_not_image"))
    expect(page.locator("textarea#message")).to_have_value(FIRST_MESSAGE)
    assert form.chosen("topic") == "other"
    shot(page, "request-form-photo-refused")


def test_a_follow_up_with_a_file_that_is_not_a_photo_keeps_its_text(
    page: Page, shot: Shot, tmp_path: Path
) -> None:
    ask_for_legal_help(page)
    thread = ReceiptPage(page).continue_to_thread()

    thread.follow_up("Вот справка", photo(tmp_path, "справка.pdf", PDF_AS_JPG))

    expect(thread.file_error).to_have_text(russian("file_not_image"))
    expect(page.locator("textarea#message")).to_have_value("Вот справка")
    shot(page, "thread-photo-refused")
