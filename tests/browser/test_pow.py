"""The request form's proof of work in Chromium: with JavaScript our script solves it and the request goes
straight through; without, the form says how long to wait and goes through after that."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from playwright.sync_api import Page, expect

import haven
from haven.config import Settings
from haven.runtime import Runtime
from haven.security.pow import MemorySpentTokens, ProofOfWork
from tests.browser.conftest import OpenPage, Shot
from tests.browser.pages import ReceiptPage, RequestForm
from tests.pow_solver import Clock

pytestmark = pytest.mark.browser

BITS = 10
WAIT = 2
MESSAGE = "Мне пришла повестка, что делать?"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_changes(pow=True, pow_bits=BITS, pow_wait_seconds=WAIT)


def serve_proof_of_work(runtime: Runtime, *, wait: int, clock: Callable[[], float] = time.time) -> None:
    """The server's proof of work with another wait, or on a clock the test moves by hand."""
    runtime.pow.close()
    runtime.pow = ProofOfWork(
        key=runtime.secrets.pow_key,
        base_bits=BITS,
        base_wait_seconds=wait,
        clock=clock,
        spent=MemorySpentTokens(clock=clock),
    )


def russian(key: str, **values: object) -> str:
    catalogue = Path(haven.__file__).parent / "locale" / "ru.json"
    text: str = json.loads(catalogue.read_text(encoding="utf-8"))[key]
    return text.format(**values)


def posted_solution(body: str) -> str:
    """The pow_solution field of a posted form, multipart or urlencoded."""
    multipart = re.search(r'name="pow_solution"\r\n\r\n([^\r]*)\r\n', body)
    return multipart.group(1) if multipart else parse_qs(body).get("pow_solution", [""])[0]


def filled_form(page: Page) -> RequestForm:
    form = RequestForm(page).open("ru", "legal")
    return form.answer("danger_now", "no").answer("topic", "other").write(MESSAGE)


def test_with_javascript_the_browser_solves_the_challenge_and_the_request_goes_through(
    new_page: OpenPage, shot: Shot, runtime: Runtime, origin: str
) -> None:
    # A wait far longer than the test: the request can only go through solved.
    serve_proof_of_work(runtime, wait=600)
    page = new_page(javascript=True)
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    form = filled_form(page)
    expect(form.proof_notice).to_have_text(russian("pow_ready"))
    shot(page, "pow-solved")

    response, posted = form.submit_watching_the_post()

    assert response is not None
    assert response.status == 201
    assert posted_solution(posted).isdigit()
    assert len(ReceiptPage(page).receipt.split()) == 7
    assert f"{origin}/static/pow.js" in seen
    assert [url for url in seen if not url.startswith(origin + "/")] == []


def test_without_javascript_the_form_shows_the_wait_and_goes_through_after_it(page: Page, shot: Shot) -> None:
    form = filled_form(page)
    expect(form.proof_notice).to_have_text(russian("pow_wait_notice", seconds=WAIT))
    shot(page, "pow-wait-notice")
    page.wait_for_timeout(WAIT * 1000)

    response = form.submit()

    assert response is not None
    assert response.status == 201


def test_sent_too_early_without_javascript_it_comes_back_with_the_text_and_goes_through_later(
    page: Page, shot: Shot, runtime: Runtime
) -> None:
    # The server's clock stands still until the test moves it, however slowly the browser types.
    clock = Clock(1_800_000_000.0)
    serve_proof_of_work(runtime, wait=WAIT, clock=clock)
    form = filled_form(page)

    early = form.submit()

    assert early is not None
    assert early.status == 429
    expect(form.too_early).to_contain_text(russian("pow_too_early", seconds=WAIT).split(".")[0])
    expect(page.locator("textarea#message")).to_have_value(MESSAGE)
    assert form.chosen("topic") == "other"
    shot(page, "pow-too-early")
    clock.now += WAIT
    later = form.submit()
    assert later is not None
    assert later.status == 201
