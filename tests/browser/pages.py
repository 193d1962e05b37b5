"""Page objects: every selector the browser tests use lives here, so the tests read as behaviour."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Locator, Page, Response

from tests.conftest import Person


@dataclass
class PublicHome:
    page: Page

    def open(self) -> PublicHome:
        self.page.goto("/")
        return self

    def choose_language(self, native_name: str) -> PublicHome:
        self.page.locator("ul.language-choice a", has_text=native_name).click()
        return self

    def choose_request_type(self, request_type: str) -> RequestForm:
        self.page.locator(f"a.choice[data-type={request_type}]").click()
        return RequestForm(self.page)


@dataclass
class RequestForm:
    page: Page

    def open(self, lang: str, request_type: str) -> RequestForm:
        self.page.goto(f"/{lang}/request/{request_type}")
        return self

    def answer(self, question: str, option: str) -> RequestForm:
        self.page.check(f"input[name=q_{question}][value={option}]")
        return self

    def chosen(self, question: str) -> str | None:
        checked = self.page.locator(f"input[name=q_{question}]:checked")
        return checked.get_attribute("value") if checked.count() else None

    def write(self, message: str) -> RequestForm:
        self.page.fill("textarea#message", message)
        return self

    def attach(self, *files: Path) -> RequestForm:
        self.page.set_input_files("input#files", list(files))
        return self

    @property
    def file_error(self) -> Locator:
        return self.page.locator("#files-error")

    def submit(self) -> Response | None:
        with self.page.expect_navigation() as navigation:
            self.page.click("form.stack button[type=submit]")
        return navigation.value

    @property
    def errors(self) -> Locator:
        return self.page.locator("#form-errors")

    @property
    def proof_notice(self) -> Locator:
        """What the form says about its proof of work: the wait without JavaScript, else the progress."""
        return self.page.locator("#pow-notice")

    @property
    def too_early(self) -> Locator:
        return self.page.locator("#pow-too-early")

    def submit_watching_the_post(self) -> tuple[Response | None, str]:
        """Send the form; returns the answer and the body the browser posted."""
        with self.page.expect_request(lambda r: r.method == "POST") as posted:
            response = self.submit()
        return response, posted.value.post_data or ""


@dataclass
class ReceiptPage:
    page: Page

    @property
    def receipt(self) -> str:
        return self.page.inner_text("#receipt").strip()

    def continue_to_thread(self) -> ThreadPage:
        self.page.click("a.button.primary[href$='/thread']")
        return ThreadPage(self.page)


@dataclass
class ReturnPage:
    page: Page

    def open(self, lang: str) -> ReturnPage:
        self.page.goto(f"/{lang}/return")
        return self

    def enter(self, receipt: str) -> Response | None:
        self.page.fill("input#receipt", receipt)
        with self.page.expect_navigation() as navigation:
            self.page.click("form.stack button[type=submit]")
        return navigation.value

    @property
    def error(self) -> Locator:
        return self.page.locator(".alert.error")


@dataclass
class ThreadPage:
    page: Page

    def open(self, lang: str) -> ThreadPage:
        self.page.goto(f"/{lang}/thread")
        return self

    @property
    def messages(self) -> Locator:
        return self.page.locator("ol.thread li.message .text")

    @property
    def replies(self) -> Locator:
        return self.page.locator("ol.thread li.message.outbound .text")

    @property
    def file_names(self) -> Locator:
        return self.page.locator("ol.thread li.message .files .file-name")

    def follow_up(self, message: str, *files: Path) -> None:
        self.page.fill("textarea#message", message)
        if files:
            self.page.set_input_files("input#files", list(files))
        with self.page.expect_navigation():
            self.page.click("form.stack button[type=submit]")

    @property
    def file_error(self) -> Locator:
        return self.page.locator("#files-error")

    @property
    def sent_notice(self) -> Locator:
        return self.page.locator(".alert.success")


@dataclass
class DeskLogin:
    page: Page

    def open(self) -> DeskLogin:
        self.page.goto("/desk/login")
        return self

    def log_in(self, person: Person, code: str | None = None) -> None:
        self.page.fill("#username", person.username)
        self.page.fill("#passphrase", person.passphrase)
        self.page.fill("#code", code if code is not None else person.code())
        with self.page.expect_navigation():
            self.page.click("form.stack button[type=submit]")

    @property
    def error(self) -> Locator:
        return self.page.locator(".alert.error")


@dataclass
class DeskQueue:
    page: Page

    def open(self) -> DeskQueue:
        self.page.goto("/desk/")
        return self

    @property
    def rows(self) -> Locator:
        return self.page.locator("tr[data-case]")

    def open_case(self, index: int = 0) -> DeskCase:
        self.rows.nth(index).locator("a[href^='/desk/cases/']").click()
        return DeskCase(self.page)


@dataclass
class DeskCase:
    page: Page

    @property
    def messages(self) -> Locator:
        return self.page.locator("ol.thread li.message .text")

    @property
    def attachments(self) -> Locator:
        return self.page.locator("ol.thread li.message li.attachment")

    def attachment_names(self) -> Locator:
        return self.attachments.locator(".file-name")

    def previews(self) -> Locator:
        return self.attachments.locator("img")

    def wait_for_previews(self) -> None:
        """Until every preview has loaded and decoded (a broken picture has no natural width)."""
        self.page.wait_for_function(
            "() => [...document.querySelectorAll('li.attachment img')]"
            ".every(img => img.complete && img.naturalWidth > 0)"
        )

    def reply(self, text: str) -> None:
        self.page.fill("textarea#reply", text)
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Send reply").click()

    def add_note(self, text: str) -> None:
        self.page.fill("textarea#note", text)
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Add note").click()

    @property
    def notice(self) -> Locator:
        return self.page.locator(".alert.success")

    @property
    def voice_players(self) -> Locator:
        return self.attachments.locator("audio")

    def download_link(self, file_name: str) -> Locator:
        return self.attachments.filter(has_text=file_name).locator("a[download]")

    def wait_for_voice_notes(self) -> None:
        """Until every voice note's player has read the note's length (a player with nothing to play has
        none); the players load nothing by themselves (preload="none")."""
        self.page.eval_on_selector_all("li.attachment audio", "players => players.forEach(a => a.load())")
        self.page.wait_for_function(
            "() => [...document.querySelectorAll('li.attachment audio')]"
            ".every(a => a.readyState >= 1 && a.duration > 0)"
        )

    @property
    def last_delivery(self) -> Locator:
        """Where the newest reply sent through a channel stands ("Delivered to Telegram", ...)."""
        return self.page.locator("ol.thread li.message.outbound .delivery").last

    def reload_until_delivery_is(self, state: str, *, seconds: float = 20.0) -> None:
        """The outbox sends in the background and the page does not refresh itself: reload until the newest
        reply's delivery is in `state` (queued, retrying, sent, failed)."""
        deadline = time.monotonic() + seconds
        while self.last_delivery.get_attribute("data-delivery") != state:
            assert time.monotonic() < deadline, f"the reply's delivery is not {state} within {seconds} s"
            self.page.wait_for_timeout(200)
            self.page.reload()


@dataclass
class DeskAdmin:
    page: Page

    def open(self) -> DeskAdmin:
        self.page.goto("/desk/admin")
        return self

    def create_operator(self, username: str) -> None:
        self.page.fill("#new-username", username)
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Create operator").click()

    @property
    def qr(self) -> Locator:
        return self.page.locator(".qr svg")


@dataclass
class DeskAccount:
    page: Page

    def open(self) -> DeskAccount:
        self.page.goto("/desk/account")
        return self

    @property
    def sessions(self) -> Locator:
        return self.page.locator("table.sessions tbody tr")

    def end_other_sessions(self) -> None:
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="End every other session").click()

    @property
    def notice(self) -> Locator:
        return self.page.locator(".alert.success")


def revoke(admin: DeskAdmin, username: str) -> None:
    """Open the operator's "Revoke …" disclosure (no JavaScript needed) and confirm."""
    details = admin.page.locator("details.revoke", has_text=f"Revoke {username}")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    with admin.page.expect_navigation():
        admin.page.get_by_role("button", name=f"Revoke {username} now").click()


@dataclass
class DeskRetention:
    """The retention section of the admin page: the rules, the next purge, "purge now"."""

    page: Page

    def open(self) -> DeskRetention:
        self.page.goto("/desk/admin#retention")
        return self

    @property
    def rules(self) -> Locator:
        return self.page.locator("table.retention-rules tbody tr")

    @property
    def expiring(self) -> Locator:
        return self.page.locator("table.expiring tbody tr")

    @property
    def section(self) -> Locator:
        return self.page.locator("section.retention")

    def purge_now(self) -> None:
        with self.page.expect_navigation():
            self.page.locator("form.purge-now button").click()

    @property
    def notice(self) -> Locator:
        return self.page.locator("section.retention .alert.success")


@dataclass
class DeskQueueAlerts:
    """What the queue flags: requesters who missed a check-in, overdue cases, a case handed away."""

    page: Page

    @property
    def missed_check_ins(self) -> Locator:
        return self.page.locator("#missed-check-ins li")

    @property
    def overdue_count(self) -> Locator:
        return self.page.locator("#overdue-count")

    def row(self, case_id: str) -> Locator:
        return self.page.locator(f"tr[data-case='{case_id}']")

    def flags(self, case_id: str) -> Locator:
        return self.row(case_id).locator(".flags .badge")

    def due(self, case_id: str) -> Locator:
        return self.row(case_id).locator("td.due")

    @property
    def handed_notice(self) -> Locator:
        return self.page.locator("#handed-notice")

    def open_missed(self, case_id: str) -> DeskProcedure:
        with self.page.expect_navigation():
            self.page.locator(f"#missed-check-ins li[data-case='{case_id}'] a").click()
        return DeskProcedure(self.page)


@dataclass
class DeskProcedure:
    """The case page's Procedure panel: the step, its guidance, the checklist form and the moves."""

    page: Page

    def open(self, case_id: str) -> DeskProcedure:
        self.page.goto(f"/desk/cases/{case_id}")
        return self

    @property
    def step_name(self) -> Locator:
        return self.page.locator("#step-name")

    @property
    def team(self) -> Locator:
        return self.page.locator("#step-team")

    @property
    def guidance(self) -> Locator:
        return self.page.locator("#step-guidance")

    @property
    def due(self) -> Locator:
        return self.page.locator("#step-due")

    @property
    def refusal(self) -> Locator:
        return self.page.locator("#step-refused")

    @property
    def notice(self) -> Locator:
        return self.page.locator(".alert.success")

    @property
    def check_in_alert(self) -> Locator:
        return self.page.locator("#check-in-alert")

    @property
    def ticked(self) -> Locator:
        return self.page.locator("fieldset.checklist input[type=checkbox]:checked")

    def tick(self, *labels: str) -> DeskProcedure:
        for label in labels:
            self.page.locator("fieldset.checklist label", has_text=label).locator("input").check()
        return self

    def finish_the_step(self) -> DeskProcedure:
        """Tick every item, take the first answer of every choice, write in every text field."""
        boxes = self.page.locator("fieldset.checklist input[type=checkbox]")
        for n in range(boxes.count()):
            boxes.nth(n).check()
        choices = self.page.locator("form.step-form select")
        for n in range(choices.count()):
            choices.nth(n).select_option(index=1)
        texts = self.page.locator("form.step-form textarea")
        for n in range(texts.count()):
            texts.nth(n).fill("Done.")
        return self

    def move_to(self, button: str) -> Response | None:
        """Press a move's button ("Screening", "End: withdrawn"); the ticks are sent with it."""
        with self.page.expect_navigation() as navigation:
            self.page.locator("form.step-form .moves button", has_text=button).click()
        return navigation.value

    @property
    def timeline(self) -> Locator:
        return self.page.locator("#timeline li")


@dataclass
class DeskStats:
    """The coordinators' statistics page: the view switch (plain links), the charts (inline SVG) with their
    tables, and "Publish"."""

    page: Page

    def open(self, query: str = "") -> DeskStats:
        self.page.goto(f"/desk/stats{query}")
        return self

    def choose(self, words: str) -> None:
        """Follow a link of the view switch ("week", "channel", "language", ...)."""
        with self.page.expect_navigation():
            self.page.locator(".view-switch a", has_text=words).click()

    @property
    def chosen(self) -> Locator:
        return self.page.locator(".view-switch a[aria-current]")

    @property
    def charts(self) -> Locator:
        return self.page.locator("svg.chart")

    def bars(self, chart: int = 0) -> Locator:
        return self.charts.nth(chart).locator("rect.bar")

    @property
    def stage_rows(self) -> Locator:
        return self.page.locator("#stages-table tbody tr")

    @property
    def period_rows(self) -> Locator:
        """Not split: each month's or week's funnel."""
        return self.page.locator("#funnel-periods tbody tr")

    @property
    def period_part_rows(self) -> Locator:
        """Split: each month or week, a column per part."""
        return self.page.locator("#per-period tbody tr")

    @property
    def part_rows(self) -> Locator:
        return self.page.locator("#funnel-parts tbody tr")

    def open_detail(self) -> Locator:
        """Unfold every month's or week's funnel per part (a <details>: no script)."""
        self.page.locator("details.detail summary").click()
        return self.page.locator("#funnel-detail")

    @property
    def published_rows(self) -> Locator:
        return self.page.locator("#published tbody tr")

    def publish(self) -> None:
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Publish", exact=True).click()

    @property
    def notice(self) -> Locator:
        return self.page.locator("#publish-notice")


@dataclass
class DeskLanguages(DeskStats):
    """The languages page: the same funnel split by language, opened with the coordinator's keys."""

    def open(self, query: str = "") -> DeskLanguages:
        self.page.goto(f"/desk/stats/languages{query}")
        return self

    @property
    def sealed_note(self) -> Locator:
        return self.page.locator("#sealed-note")

    @property
    def counted(self) -> Locator:
        return self.page.locator("#counted")


@dataclass
class PublicNumbers:
    page: Page

    def open(self, lang: str) -> PublicNumbers:
        self.page.goto(f"/{lang}/numbers")
        return self

    def open_from_home(self, lang: str) -> PublicNumbers:
        """The way a reader finds it: the link at the foot of the home page."""
        self.page.goto(f"/{lang}/")
        self.page.locator(".numbers-link a").click()
        return self

    @property
    def heading(self) -> Locator:
        return self.page.locator("main h1")

    @property
    def cells(self) -> Locator:
        """Every month's name and number."""
        return self.page.locator("#numbers-by-month tbody th, #numbers-by-month tbody td")

    @property
    def months(self) -> Locator:
        return self.page.locator("#numbers-by-month tbody tr")

    def month(self, month: str) -> Locator:
        """The row of one month, as YYYY-MM."""
        return self.page.locator(f'#numbers-by-month tr[data-month="{month}"]')

    def breakdown(self, breakdown: str) -> Locator:
        """The section of one breakdown: "type" or "channel"."""
        return self.page.locator(f"#numbers-by-{breakdown}")

    def part(self, breakdown: str, part: str, month: str = "all") -> Locator:
        """The row of one part ("type:legal") over every published month, or in one month (YYYY-MM)."""
        if month == "all":
            return self.page.locator(
                f'table[data-breakdown="{breakdown}"][data-group="all"] tr[data-part="{part}"]'
            )
        table = f'table[data-breakdown="{breakdown}"][data-group="months"]'
        return self.page.locator(f'{table} tbody[data-month="{month}"] tr[data-part="{part}"]')

    def part_cells(self, breakdown: str) -> Locator:
        """Every name and number of a breakdown's tables, with the months' group headings."""
        return self.breakdown(breakdown).locator("tbody th, tbody td")

    def open_months_of(self, breakdown: str) -> None:
        """Unfold a breakdown's month by month table (a <details>: no script needed)."""
        self.breakdown(breakdown).locator("details summary").click()

    def total(self, figure: str) -> Locator:
        return self.page.locator(f'.big-figure[data-figure="{figure}"] dd')

    @property
    def rules(self) -> Locator:
        return self.page.locator(".numbers-rules li")

    @property
    def none_yet(self) -> Locator:
        return self.page.locator("#numbers-none")
