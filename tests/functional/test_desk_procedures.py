"""The desk's procedure and triage panels: the step and its guidance, the checklist form, moves and their
refusals, hand-overs, priority, verification, restriction, tags, links, canned replies, the timeline, and
the queue's due times and missed check-in alert."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from fastapi.testclient import TestClient

from haven.accounts.models import Operator
from haven.accounts.services import UnlockedOperator, create_team
from haven.cases import check_ins, steps
from haven.cases import services as cases
from haven.cases.procedure import FieldKind, Step
from haven.desk.case_words import due_words
from haven.intake.services import Submission, submit_request
from haven.runtime import Runtime
from tests.conftest import Org, Person

ANSWERS = {
    "leave_service": {"danger_now": "no", "where_now": "front"},
    "legal": {"danger_now": "no", "topic": "other"},
    "other": {"danger_now": "no"},
}
# Leave service, from first contact to the routes team's first step (compartmentalised: intake loses it).
TO_ROUTES = ("screening", "verification", "risk_assessment")


def take_in(
    runtime: Runtime,
    *,
    request_type: str = "leave_service",
    language: str = "en",
    danger: str = "no",
    now: datetime | None = None,
) -> str:
    """A new request through intake, as the web form stores it; returns the case id."""
    answers = {**ANSWERS[request_type], "danger_now": danger}
    issued = submit_request(
        db=runtime.db,
        submission=Submission(request_type, language, answers, "Please help me"),
        catalogue=runtime.catalogue,
        pepper=runtime.secrets.receipt_pepper,
        max_message_chars=10_000,
        procedures=runtime.procedures,
        now=now,
    )
    return issued.access.case_id


def add_team(runtime: Runtime, slug: str, *people: Person) -> None:
    with runtime.db.write() as s:
        members = [s.get(Operator, p.id) for p in people]
        create_team(db_session=s, slug=slug, name=slug.title(), members=[m for m in members if m])


def finished(step: Step) -> steps.StepWork:
    """Everything a step asks for: every item ticked, each choice its first option, each text filled."""
    fields = {f.id: f.options[0].id if f.kind is FieldKind.CHOICE else "Done." for f in step.fields}
    return steps.StepWork(step.id, frozenset(i.id for i in step.checklist), fields)


def walk(
    runtime: Runtime, operator: UnlockedOperator, case_id: str, *targets: str, now: datetime | None = None
) -> None:
    """Move a case through `targets`, finishing each step's work on the way (through the services)."""
    for target in targets:
        row = cases.queue_rows(db=runtime.db, operator=operator, case_ids=[case_id])[0]
        procedure = runtime.procedures.get(row.procedure)
        assert procedure is not None
        step = procedure.step(row.step)
        steps.move_to_step(
            db=runtime.db,
            operator=operator,
            case_id=case_id,
            procedures=runtime.procedures,
            target=target,
            work=finished(step) if step else None,
            now=now,
        )


def step_of(runtime: Runtime, operator: UnlockedOperator, case_id: str) -> str:
    return cases.queue_rows(db=runtime.db, operator=operator, case_ids=[case_id])[0].step


def desk_login(client: TestClient, person: Person, steps_ahead: int = 0) -> str:
    """Log in on the desk; returns the CSRF token of the session."""
    client.cookies.clear()
    response = client.post(
        "/desk/login",
        data={"username": person.username, "passphrase": person.passphrase, "code": person.code(steps_ahead)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_in(client.get("/desk/").text)


def csrf_in(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def text_of(html: str) -> str:
    """The page's words, without tags and with entities decoded, in one line."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def ticked(html: str) -> set[str]:
    return set(re.findall(r'name="checklist" value="([a-z0-9_]+)" checked', html))


def step_form(
    csrf: str, step: str, to: str, checklist: tuple[str, ...] = (), **fields: str
) -> dict[str, object]:
    return {
        "csrf_token": csrf,
        "step": step,
        "to": to,
        "checklist": list(checklist),
        **{f"field.{k}": v for k, v in fields.items()},
    }


FIRST_CONTACT_DONE = ("replied", "no_identifying_data", "danger_checked")


@pytest.fixture
def olena(client: TestClient, org: Org) -> str:
    """Olena (intake) logged in on the desk; the CSRF token."""
    return desk_login(client, org.intake)


# -- the Procedure panel ---------------------------------------------------------------------------------


def test_the_case_page_shows_the_step_its_guidance_team_and_due_time(
    client: TestClient, runtime: Runtime, olena: str
) -> None:
    case_id = take_in(runtime)
    page = text_of(client.get(f"/desk/cases/{case_id}").text)
    assert "Procedure: Leave service" in page
    assert "First contact" in page
    assert "Answer the first message within two hours" in page
    assert "Team intake" in page
    assert re.search(r"Due \d{4}-\d\d-\d\d \d\d:\d\d UTC · due in (2 h|1 h)", page), page


def test_saving_keeps_the_ticks_and_the_answers(client: TestClient, runtime: Runtime, olena: str) -> None:
    case_id = take_in(runtime)
    saved = client.post(
        f"/desk/cases/{case_id}/step",
        data=step_form(olena, "first_contact", "first_contact", ("replied",), safe_contact="limited"),
        follow_redirects=False,
    )
    assert (saved.status_code, saved.headers["location"]) == (303, f"/desk/cases/{case_id}?notice=saved")
    page = client.get(saved.headers["location"]).text
    assert ticked(page) == {"replied"}
    assert '<option value="limited" selected>' in page
    assert "Checklist and fields saved." in page


def test_a_move_with_an_unticked_checklist_is_refused_with_409_the_reason_and_the_ticks_kept(
    client: TestClient, runtime: Runtime, org: Org, olena: str
) -> None:
    case_id = take_in(runtime)
    refused = client.post(
        f"/desk/cases/{case_id}/step",
        data=step_form(
            olena, "first_contact", "screening", ("replied", "danger_checked"), safe_contact="confirmed"
        ),
    )
    assert refused.status_code == 409
    words = text_of(refused.text)
    assert "Not moved. Before leaving “First contact”: tick “Asked them not to send names" in words
    assert ticked(refused.text) == {"replied", "danger_checked"}
    assert '<option value="confirmed" selected>' in refused.text
    assert step_of(runtime, org.intake.unlocked, case_id) == "first_contact"


def test_a_move_with_the_checklist_done_moves_the_case_to_the_next_step(
    client: TestClient, runtime: Runtime, org: Org, olena: str
) -> None:
    case_id = take_in(runtime)
    moved = client.post(
        f"/desk/cases/{case_id}/step",
        data=step_form(olena, "first_contact", "screening", FIRST_CONTACT_DONE, safe_contact="confirmed"),
        follow_redirects=False,
    )
    assert (moved.status_code, moved.headers["location"]) == (303, f"/desk/cases/{case_id}?notice=moved")
    assert step_of(runtime, org.intake.unlocked, case_id) == "screening"
    page = text_of(client.get(moved.headers["location"]).text)
    assert "Case moved to Screening." in page
    assert "Understood their situation and what they are asking for" in page


def test_ending_as_withdrawn_needs_no_checklist_and_closes_the_case(
    client: TestClient, runtime: Runtime, org: Org, olena: str
) -> None:
    case_id = take_in(runtime)
    ended = client.post(
        f"/desk/cases/{case_id}/step",
        data=step_form(olena, "first_contact", "withdrawn"),
        follow_redirects=False,
    )
    assert ended.headers["location"] == f"/desk/cases/{case_id}?notice=ended"
    row = cases.queue_rows(db=runtime.db, operator=org.intake.unlocked, case_ids=[case_id])[0]
    assert (row.step, row.state.value) == ("withdrawn", "closed")
    page = text_of(client.get(ended.headers["location"]).text)
    assert "Case ended: withdrawn." in page
    assert "Reopen: First contact" in page


def test_the_outcome_buttons_are_worded_and_the_provocation_one_stands_apart(
    client: TestClient, runtime: Runtime, olena: str
) -> None:
    page = client.get(f"/desk/cases/{take_in(runtime)}").text
    for words in ("End: withdrawn", "End: no contact"):
        assert f'class="button secondary">{words}</button>' in page
    assert 'value="rejected_provocation" class="button danger">End: probable provocation</button>' in page


def test_an_ended_case_reopens_into_its_first_step(
    client: TestClient, runtime: Runtime, org: Org, olena: str
) -> None:
    case_id = take_in(runtime)
    walk(runtime, org.intake.unlocked, case_id, "no_contact")
    reopened = client.post(
        f"/desk/cases/{case_id}/step",
        data=step_form(olena, "no_contact", "first_contact"),
        follow_redirects=False,
    )
    assert reopened.status_code == 303
    row = cases.queue_rows(db=runtime.db, operator=org.intake.unlocked, case_ids=[case_id])[0]
    assert (row.step, row.state.value) == ("first_contact", "in_progress")


def test_a_case_with_a_procedure_has_no_old_close_button_but_keeps_waiting(
    client: TestClient, runtime: Runtime, olena: str
) -> None:
    page = client.get(f"/desk/cases/{take_in(runtime)}").text
    assert 'name="state" value="waiting"' in page
    assert 'name="state" value="closed"' not in page


def test_a_form_for_a_step_the_case_has_left_is_refused_with_409(
    client: TestClient, runtime: Runtime, org: Org, olena: str
) -> None:
    case_id = take_in(runtime)
    walk(runtime, org.intake.unlocked, case_id, "screening")
    stale = client.post(
        f"/desk/cases/{case_id}/step", data=step_form(olena, "first_contact", "screening", FIRST_CONTACT_DONE)
    )
    assert stale.status_code == 409
    assert "Someone moved this case since the page was loaded" in stale.text
    assert step_of(runtime, org.intake.unlocked, case_id) == "screening"


@pytest.mark.parametrize(
    ("to", "checklist", "said"),
    [
        ("nowhere-step-zzz", (), "That move is not offered from here"),
        ("screening", ("forged-item-zzz",), "The checklist sent is not this step"),
    ],
)
def test_a_forged_move_or_item_is_refused_without_echoing_it(
    client: TestClient, runtime: Runtime, olena: str, to: str, checklist: tuple[str, ...], said: str
) -> None:
    case_id = take_in(runtime)
    refused = client.post(
        f"/desk/cases/{case_id}/step", data=step_form(olena, "first_contact", to, checklist)
    )
    assert refused.status_code == 409
    assert said in unescape(refused.text)
    assert "zzz" not in refused.text


def test_a_step_form_without_the_csrf_token_is_403_and_moves_nothing(
    client: TestClient, runtime: Runtime, org: Org, olena: str
) -> None:
    case_id = take_in(runtime)
    form = step_form("wrong", "first_contact", "withdrawn")
    assert client.post(f"/desk/cases/{case_id}/step", data=form).status_code == 403
    assert step_of(runtime, org.intake.unlocked, case_id) == "first_contact"


def test_a_step_form_for_another_teams_case_is_404(client: TestClient, runtime: Runtime, org: Org) -> None:
    case_id = take_in(runtime)
    csrf = desk_login(client, org.legal)
    refused = client.post(f"/desk/cases/{case_id}/step", data=step_form(csrf, "first_contact", "withdrawn"))
    assert refused.status_code == 404
    assert step_of(runtime, org.intake.unlocked, case_id) == "first_contact"


# -- hand-overs -------------------------------------------------------------------------------------------


def test_a_hand_over_to_legal_is_shown_to_the_coordinator(
    client: TestClient, runtime: Runtime, org: Org
) -> None:
    case_id = take_in(runtime, request_type="legal")
    csrf = desk_login(client, org.coordinator)
    done = ("question_clear", "no_documents_yet", "provocation_check")
    handed = client.post(
        f"/desk/cases/{case_id}/step",
        data=step_form(csrf, "screening", "consultation", done, time_pressure="weeks"),
        follow_redirects=False,
    )
    assert handed.headers["location"] == f"/desk/cases/{case_id}?notice=handed"
    page = text_of(client.get(handed.headers["location"]).text)
    assert "Case handed to legal." in page
    assert "Consultation" in page
    assert "Team legal" in page


def test_after_a_compartmentalised_hand_over_olena_gets_the_queue_with_a_notice(
    client: TestClient, runtime: Runtime, org: Org, olena: str
) -> None:
    add_team(runtime, "routes", org.coordinator)
    case_id = take_in(runtime)
    walk(runtime, org.intake.unlocked, case_id, "screening", "verification")
    done = ("identity_consistent", "no_provocation_pattern", "no_probing", "doubts_reviewed")
    handed = client.post(
        f"/desk/cases/{case_id}/step",
        data=step_form(olena, "verification", "risk_assessment", done, confidence="high"),
        follow_redirects=False,
    )
    assert (handed.status_code, handed.headers["location"]) == (303, "/desk/?handed=routes")
    queue = client.get(handed.headers["location"]).text
    assert "Case handed to routes." in text_of(queue)
    assert case_id not in queue
    assert client.get(f"/desk/cases/{case_id}").status_code == 404


def test_a_move_into_a_step_of_a_team_that_does_not_exist_says_the_case_stayed(
    client: TestClient, runtime: Runtime, org: Org, olena: str
) -> None:
    case_id = take_in(runtime)  # no routes team in this organisation
    walk(runtime, org.intake.unlocked, case_id, "screening", "verification")
    done = ("identity_consistent", "no_provocation_pattern", "no_probing", "doubts_reviewed")
    moved = client.post(
        f"/desk/cases/{case_id}/step",
        data=step_form(olena, "verification", "risk_assessment", done, confidence="high"),
        follow_redirects=False,
    )
    assert moved.headers["location"] == f"/desk/cases/{case_id}?notice=missing_team"
    page = text_of(client.get(moved.headers["location"]).text)
    assert "no team “routes” exists, so it stayed with intake" in page
    assert "Risk assessment" in page


def test_the_queue_notice_names_only_a_team_a_procedure_knows(client: TestClient, olena: str) -> None:
    assert "handed to" not in client.get("/desk/", params={"handed": "<b>anyone</b>"}).text


# -- triage -----------------------------------------------------------------------------------------------


def test_the_priority_form_reprioritises_the_case(
    client: TestClient, runtime: Runtime, org: Org, olena: str
) -> None:
    case_id = take_in(runtime)
    changed = client.post(
        f"/desk/cases/{case_id}/priority",
        data={"csrf_token": olena, "priority": "urgent"},
        follow_redirects=False,
    )
    assert changed.headers["location"] == f"/desk/cases/{case_id}?notice=priority"
    assert (
        cases.queue_rows(db=runtime.db, operator=org.intake.unlocked, case_ids=[case_id])[0].priority
        == "urgent"
    )
    assert '<option value="urgent" selected>' in client.get(f"/desk/cases/{case_id}").text


def test_suspicious_without_a_reason_is_refused_and_changes_nothing(
    client: TestClient, runtime: Runtime, org: Org, olena: str
) -> None:
    case_id = take_in(runtime)
    refused = client.post(
        f"/desk/cases/{case_id}/verification",
        data={"csrf_token": olena, "verification": "suspicious", "reason": "  "},
        follow_redirects=False,
    )
    assert refused.headers["location"] == f"/desk/cases/{case_id}?notice=reason_needed"
    assert "say why the case looks suspicious" in client.get(refused.headers["location"]).text
    assert cases.queue_rows(db=runtime.db, operator=org.intake.unlocked, case_ids=[case_id])[
        0
    ].verification == ("unverified")


def test_a_suspicious_case_is_flagged_and_its_reason_kept_as_a_note(
    client: TestClient, runtime: Runtime, olena: str
) -> None:
    case_id = take_in(runtime)
    client.post(
        f"/desk/cases/{case_id}/verification",
        data={"csrf_token": olena, "verification": "suspicious", "reason": "Asks for volunteers' names"},
    )
    assert "Marked suspicious: Asks for volunteers&#39; names" in client.get(f"/desk/cases/{case_id}").text
    row = client.get("/desk/").text
    assert '<span class="badge suspicious">Suspicious</span>' in row


def test_a_coordinator_restricts_a_case_and_olena_loses_it(
    client: TestClient, runtime: Runtime, org: Org
) -> None:
    case_id = take_in(runtime)
    csrf = desk_login(client, org.coordinator)
    restricted = client.post(
        f"/desk/cases/{case_id}/restriction",
        data={"csrf_token": csrf, "restricted": "yes"},
        follow_redirects=False,
    )
    assert restricted.headers["location"] == f"/desk/cases/{case_id}?notice=restricted"
    assert '<span class="badge restricted">Restricted</span>' in client.get("/desk/").text
    desk_login(client, org.intake, steps_ahead=1)
    assert case_id not in client.get("/desk/").text
    assert client.get(f"/desk/cases/{case_id}").status_code == 404


def test_an_operator_sees_no_restrict_button_and_may_not_restrict(
    client: TestClient, runtime: Runtime, org: Org, olena: str
) -> None:
    case_id = take_in(runtime)
    assert "Restrict to coordinators" not in client.get(f"/desk/cases/{case_id}").text
    refused = client.post(
        f"/desk/cases/{case_id}/restriction", data={"csrf_token": olena, "restricted": "yes"}
    )
    assert refused.status_code == 403
    assert not cases.queue_rows(db=runtime.db, operator=org.intake.unlocked, case_ids=[case_id])[0].restricted


def test_tags_are_saved_and_shown_as_chips(client: TestClient, runtime: Runtime, olena: str) -> None:
    case_id = take_in(runtime)
    saved = client.post(
        f"/desk/cases/{case_id}/tags",
        data={"csrf_token": olena, "tags": "Needs Lawyer, relative-of-1234, needs lawyer"},
        follow_redirects=False,
    )
    assert saved.headers["location"] == f"/desk/cases/{case_id}?notice=tags"
    page = client.get(f"/desk/cases/{case_id}").text
    assert '<ul class="chips" id="tags"><li>needs-lawyer</li><li>relative-of-1234</li></ul>' in page
    assert 'value="needs-lawyer, relative-of-1234"' in page


def test_too_long_a_tag_is_refused(client: TestClient, runtime: Runtime, olena: str) -> None:
    case_id = take_in(runtime)
    refused = client.post(f"/desk/cases/{case_id}/tags", data={"csrf_token": olena, "tags": "x" * 41})
    assert "Tags not saved" in refused.text
    assert 'class="chips"' not in refused.text


def test_linking_and_unlinking_a_case(client: TestClient, runtime: Runtime, olena: str) -> None:
    case_id, other = take_in(runtime), take_in(runtime, request_type="other")
    linked = client.post(
        f"/desk/cases/{case_id}/links", data={"csrf_token": olena, "other": other}, follow_redirects=False
    )
    assert linked.headers["location"] == f"/desk/cases/{case_id}?notice=linked"
    assert f'<li data-case="{other}">' in client.get(f"/desk/cases/{case_id}").text
    assert f'<li data-case="{case_id}">' in client.get(f"/desk/cases/{other}").text
    client.post(f"/desk/cases/{case_id}/unlink", data={"csrf_token": olena, "other": other})
    assert f'<li data-case="{other}">' not in client.get(f"/desk/cases/{case_id}").text


@pytest.mark.parametrize(("other", "notice"), [("nosuchcase234567", "link_unknown"), ("self", "link_self")])
def test_a_link_to_an_unknown_case_or_to_itself_is_refused(
    client: TestClient, runtime: Runtime, olena: str, other: str, notice: str
) -> None:
    case_id = take_in(runtime)
    refused = client.post(
        f"/desk/cases/{case_id}/links",
        data={"csrf_token": olena, "other": case_id if other == "self" else other},
        follow_redirects=False,
    )
    assert refused.headers["location"] == f"/desk/cases/{case_id}?notice={notice}"


def test_a_canned_reply_fills_the_reply_in_the_cases_language(
    client: TestClient, runtime: Runtime, olena: str
) -> None:
    case_id = take_in(runtime, language="ru")
    page = client.get(f"/desk/cases/{case_id}").text
    link = re.search(rf'href="/desk/cases/{case_id}\?reply=([a-z0-9_]+)#reply-form"', page)
    assert link, page
    filled = client.get(f"/desk/cases/{case_id}", params={"reply": link.group(1)}).text
    reply = re.search(r'<textarea id="reply" name="text" rows="5" required>([^<]+)</textarea>', filled)
    assert reply, filled
    assert re.search("[а-яё]", reply.group(1))
    assert (
        '<textarea id="reply" name="text" rows="5" required></textarea>'
        in client.get(f"/desk/cases/{case_id}", params={"reply": "no-such-reply"}).text
    )


def test_the_timeline_words_moves_hand_overs_and_messages(
    client: TestClient, runtime: Runtime, org: Org
) -> None:
    case_id = take_in(runtime, request_type="legal")
    walk(runtime, org.intake.unlocked, case_id, "consultation")
    desk_login(client, org.coordinator)
    page = client.get(f"/desk/cases/{case_id}").text
    timeline = re.search(r'<ol class="timeline" id="timeline">(.*?)</ol>', page, re.S)
    assert timeline, page
    lines = [text_of(li) for li in re.findall(r"<li>(.*?)</li>", timeline.group(1), re.S)]
    assert [line[17:] for line in lines] == [
        "Request received",
        "olena moved the case from Screening to Consultation",
        "Handed to legal",
    ]
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d ", line) for line in lines)


# -- the queue --------------------------------------------------------------------------------------------


def test_the_queue_shows_an_overdue_case_first_within_its_priority_with_the_badge(
    client: TestClient, runtime: Runtime, olena: str
) -> None:
    fresh = take_in(runtime)
    late = take_in(runtime, now=datetime.now(UTC) - timedelta(hours=5))  # first contact is due in 2 h
    urgent = take_in(runtime, danger="yes")
    queue = client.get("/desk/").text
    order = re.findall(r'<tr class="[^"]*" data-case="([a-z0-9]+)"', queue)
    assert order == [urgent, late, fresh]
    row = re.search(rf'<tr class="([^"]*)" data-case="{late}">(.*?)</tr>', queue, re.S)
    assert row
    assert "overdue" in row.group(1).split()
    assert '<span class="badge overdue">Overdue</span>' in row.group(2)
    assert "overdue by 3 h" in row.group(2)
    assert "First contact" in row.group(2)
    assert "1 case on this page is past the due time of its step." in text_of(queue)


def test_a_missed_check_in_is_an_alert_at_the_top_of_the_queue_and_on_the_case(
    client: TestClient, runtime: Runtime, org: Org
) -> None:
    add_team(runtime, "routes", org.coordinator)
    case_id, other = take_in(runtime), take_in(runtime)
    walk(runtime, org.coordinator.unlocked, case_id, *TO_ROUTES, "plan", "in_transit")  # check-ins every 12 h
    assert check_ins.mark_missed(db=runtime.db, now=datetime.now(UTC) + timedelta(hours=13)) == [case_id]
    desk_login(client, org.coordinator)
    queue = client.get("/desk/").text
    alert = re.search(r'<section class="alerts" id="missed-check-ins".*?</section>', queue, re.S)
    assert alert
    assert queue.index("Missed check-ins") < queue.index('<table class="queue">')
    assert f'href="/desk/cases/{case_id}"' in alert.group(0)
    assert other not in alert.group(0)
    assert "In transit" in alert.group(0)
    case_page = text_of(client.get(f"/desk/cases/{case_id}").text)
    assert "Check-in missed. The requester should have written by" in case_page
    assert "Check-in missed (In transit)" in case_page


def test_no_missed_check_in_means_no_alert(client: TestClient, runtime: Runtime, olena: str) -> None:
    take_in(runtime)
    assert "Missed check-ins" not in client.get("/desk/").text


@pytest.mark.parametrize(
    ("minutes", "words"),
    [
        (45, "due in 45 min"),
        (180, "due in 3 h"),
        (119, "due in 1 h 59 min"),
        (20 * 60 + 30, "due in 20 h"),
        (3 * 24 * 60, "due in 3 days"),
        (-125, "overdue by 2 h 5 min"),
    ],
)
def test_due_times_are_worded_from_now(minutes: int, words: str) -> None:
    now = datetime(2026, 6, 1, 12, 0)
    assert due_words(now + timedelta(minutes=minutes), now) == words
