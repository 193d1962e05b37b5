"""Procedures on the desk, JavaScript off: the queue flags overdue cases and missed check-ins, a coordinator
walks a case through its steps until it is handed to another team, and a refused move says why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from haven.cases import check_ins
from haven.runtime import Runtime
from tests.browser.conftest import OpenPage, Shot
from tests.browser.pages import DeskLogin, DeskProcedure, DeskQueueAlerts
from tests.conftest import Org
from tests.functional.test_desk_procedures import TO_ROUTES, add_team, take_in, walk

pytestmark = pytest.mark.browser


def test_the_queue_shows_an_overdue_case_and_a_missed_check_in_alert(
    new_page: OpenPage, org: Org, runtime: Runtime, shot: Shot
) -> None:
    add_team(runtime, "routes", org.coordinator, org.admin)
    take_in(runtime, request_type="legal")
    take_in(runtime, danger="yes")
    late = take_in(runtime, now=datetime.now(UTC) - timedelta(hours=5))
    silent = take_in(runtime)
    walk(runtime, org.coordinator.unlocked, silent, *TO_ROUTES, "plan", "in_transit")
    check_ins.mark_missed(db=runtime.db, now=datetime.now(UTC) + timedelta(hours=13))
    page = new_page(javascript=False)
    DeskLogin(page).open().log_in(org.coordinator)
    queue = DeskQueueAlerts(page)

    expect(queue.missed_check_ins).to_have_count(1)
    expect(queue.missed_check_ins).to_contain_text("In transit")
    expect(queue.flags(late)).to_contain_text(["Overdue"])
    expect(queue.due(late)).to_contain_text("overdue by 3 h")
    expect(queue.flags(silent)).to_contain_text(["Missed check-in"])
    expect(queue.overdue_count).to_contain_text("1 case on this page")
    shot(page, "procedures-queue")

    case = queue.open_missed(silent)

    expect(case.check_in_alert).to_contain_text("Check-in missed.")
    expect(case.step_name).to_have_text("In transit")


def test_a_coordinator_walks_a_case_through_its_steps_until_it_is_handed_to_routes(
    new_page: OpenPage, org: Org, runtime: Runtime, shot: Shot
) -> None:
    add_team(runtime, "routes", org.coordinator, org.admin)
    case_id = take_in(runtime)
    page = new_page(javascript=False)
    DeskLogin(page).open().log_in(org.coordinator)
    case = DeskProcedure(page).open(case_id)
    expect(case.guidance).to_contain_text("Answer the first message within two hours")

    for step in ("Screening", "Verification", "Risk assessment"):
        case.finish_the_step().move_to(step)
        expect(case.step_name).to_have_text(step)

    expect(case.notice).to_have_text("Case handed to routes.")
    expect(case.team).to_contain_text("routes")
    expect(case.timeline.last).to_contain_text("Handed to routes")
    shot(page, "procedures-case")


def test_a_move_with_an_unticked_checklist_is_refused_with_its_reason(
    new_page: OpenPage, org: Org, runtime: Runtime, shot: Shot
) -> None:
    case_id = take_in(runtime)
    page = new_page(javascript=False)
    DeskLogin(page).open().log_in(org.intake)
    case = DeskProcedure(page).open(case_id)

    response = case.tick("Replied and explained").move_to("Screening")

    assert response is not None
    assert response.status == 409
    expect(case.refusal).to_contain_text("Before leaving “First contact”: tick “Asked them not to send names")
    expect(case.ticked).to_have_count(1)
    expect(case.step_name).to_have_text("First contact")
    shot(page, "procedures-refused")
