"""The procedure and triage API: the loaded procedures, a case's place in its procedure, every refusal of a
move as a problem with a clear detail, priority, verification, restriction to coordinators, tags, links
between cases and the case's timeline."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from haven.cases.procedure import ANYWHERE, Outcome, Procedure
from haven.cases.procedure_files import SHIPPED, load_all
from haven.runtime import Runtime
from tests.conftest import PROBLEM, Org, assert_problem
from tests.functional.test_authorization import seal_case_for
from tests.functional.test_procedure_steps import (
    Desk,
    case_of,
    desk,
    full_work,
    procedure_of,
    rows_holding,
    submit,
)

MARKER = "okapi-api-marker-3307"


@pytest.fixture
def olena(app: FastAPI, org: Org) -> Desk:
    return desk(app, org.intake)


@pytest.fixture
def coordinator(app: FastAPI, org: Org) -> Desk:
    return desk(app, org.coordinator)


@pytest.fixture
def leave_service(runtime: Runtime) -> Procedure:
    return procedure_of(runtime, "leave_service")


@pytest.fixture
def leaving(client: TestClient, runtime: Runtime, org: Org) -> str:
    return case_of(runtime, submit(client, "leave_service", message=f"Get me out {MARKER}"))


# -- GET /api/v1/procedures ---------------------------------------------------------------------------


def test_the_procedures_list_holds_every_shipped_procedure(olena: Desk) -> None:
    listed = olena.client.get("/api/v1/procedures")
    assert listed.status_code == 200, listed.text
    assert {p["id"] for p in listed.json()} == {p.id for p in load_all([SHIPPED])}


def test_a_listed_procedure_has_its_steps_checklists_fields_replies_and_outcomes(
    olena: Desk, leave_service: Procedure
) -> None:
    listed = {p["id"]: p for p in olena.client.get("/api/v1/procedures").json()}["leave_service"]
    assert listed["names"] == dict(leave_service.names)
    assert [s["id"] for s in listed["steps"]] == [s.id for s in leave_service.steps]
    first, shipped = listed["steps"][0], leave_service.first
    assert (first["team"], first["due_hours"], first["next"]) == (
        shipped.team,
        shipped.due_hours,
        list(shipped.next),
    )
    assert [c["id"] for c in first["checklist"]] == [c.id for c in shipped.checklist]
    assert first["checklist"][0]["labels"] == dict(shipped.checklist[0].labels)
    assert [(f["id"], f["kind"], [o["id"] for o in f["options"]]) for f in first["fields"]] == [
        (f.id, f.kind.value, [o.id for o in f.options]) for f in shipped.fields
    ]
    assert [r["id"] for r in first["replies"]] == [r.id for r in shipped.replies]
    assert set(first["guidance"]) == {"en", "ru", "uk"}
    in_transit = next(s for s in listed["steps"] if s["id"] == "in_transit")
    assert (in_transit["check_in_hours"], in_transit["compartmentalised"]) == (12, True)
    assert {o.value for o in (Outcome.COMPLETED, *ANYWHERE)} <= set(listed["outcomes"])


def test_the_procedures_list_needs_a_login(client: TestClient, org: Org) -> None:
    assert_problem(client.get("/api/v1/procedures"), 401, not_echoing=MARKER)


# -- GET /api/v1/cases/{id} ---------------------------------------------------------------------------


def test_a_case_says_where_it_stands_in_its_procedure(
    leaving: str, leave_service: Procedure, olena: Desk
) -> None:
    case = olena.opened(leaving)
    first = leave_service.first
    assert (case["procedure"], case["step"]) == ("leave_service", first.id)
    assert (case["verification"], case["priority"], case["restricted"]) == ("unverified", "normal", False)
    assert case["due_at"]
    assert case["step_entered_at"]
    assert case["overdue"] is False
    assert case["moves"] == list(leave_service.moves_from(first.id))
    assert case["step_work"] is None
    assert (case["check_in_due_at"], case["check_in_missed"]) == (None, False)
    assert (case["tags"], case["linked"]) == ([], [])


def test_a_case_shows_the_work_saved_in_its_current_step(
    leaving: str, leave_service: Procedure, olena: Desk
) -> None:
    first = leave_service.first
    work = full_work(first)
    work["checklist"] = work["checklist"][:1]
    assert olena.move(leaving, first.id, **work).status_code == 200
    assert olena.opened(leaving)["step_work"] == {"checklist": work["checklist"], "fields": work["fields"]}


# -- POST /api/v1/cases/{id}/step: every refusal a 409 problem ----------------------------------------


def _refusals(procedure: Procedure) -> dict[str, dict[str, Any]]:
    first = procedure.first
    unticked = full_work(first)
    unticked["checklist"] = []
    unfilled = full_work(first)
    unfilled["fields"] = {}
    wrong_choice = full_work(first)
    wrong_choice["fields"] = {f: "not_offered" for f in wrong_choice["fields"]}
    return {
        "an unknown step": {"step": "no_such_step"},
        "a move not offered": {"step": procedure.steps[-1].id, **full_work(first)},
        "an unticked checklist": {"step": first.next[0], **unticked},
        "a missing field": {"step": first.next[0], **unfilled},
        "a choice not offered": {"step": first.next[0], **wrong_choice},
        "a checklist item the step lacks": {"step": first.next[0], "checklist": ["made_tea"]},
        "a field the step lacks": {"step": first.id, "fields": {"shoe_size": "42"}},
        "merged, which is no move": {"step": "merged"},
    }


@pytest.mark.parametrize(
    "refusal",
    [
        "an unknown step",
        "a move not offered",
        "an unticked checklist",
        "a missing field",
        "a choice not offered",
        "a checklist item the step lacks",
        "a field the step lacks",
        "merged, which is no move",
    ],
)
def test_a_refused_move_is_a_409_problem_with_a_detail_and_changes_nothing(
    refusal: str, leaving: str, leave_service: Procedure, olena: Desk
) -> None:
    before = olena.opened(leaving)
    response = olena.post(f"/api/v1/cases/{leaving}/step", _refusals(leave_service)[refusal])
    body = assert_problem(response, 409, not_echoing=MARKER)
    assert len(body["detail"]) > 20
    after = olena.opened(leaving)
    assert (after["step"], after["state"], after["team"], after["step_work"]) == (
        before["step"],
        before["state"],
        before["team"],
        before["step_work"],
    )


def test_a_move_in_a_case_of_another_team_is_404(app: FastAPI, org: Org, leaving: str) -> None:
    lawyer = desk(app, org.legal)
    assert_problem(lawyer.move(leaving, "withdrawn"), 404, not_echoing=MARKER)


# -- priority ------------------------------------------------------------------------------------------


def test_an_operator_re_prioritises_a_case_and_the_queue_follows(
    client: TestClient, runtime: Runtime, leaving: str, olena: Desk
) -> None:
    other = case_of(runtime, submit(client, "other"))
    assert olena.post(f"/api/v1/cases/{other}/priority", {"priority": "high"}).status_code == 200
    assert olena.queue_ids() == [other, leaving]
    changed = olena.post(f"/api/v1/cases/{leaving}/priority", {"priority": "urgent"})
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"priority": "urgent"}
    assert olena.opened(leaving)["priority"] == "urgent"
    assert olena.queue_ids() == [leaving, other]


def test_a_priority_that_does_not_exist_is_refused(leaving: str, olena: Desk) -> None:
    assert_problem(
        olena.post(f"/api/v1/cases/{leaving}/priority", {"priority": "panic"}), 422, not_echoing=MARKER
    )


# -- verification --------------------------------------------------------------------------------------


def test_a_case_is_marked_verified(leaving: str, olena: Desk) -> None:
    marked = olena.post(f"/api/v1/cases/{leaving}/verification", {"verification": "verified"})
    assert marked.status_code == 200, marked.text
    assert olena.opened(leaving)["verification"] == "verified"


def test_suspicious_needs_a_reason(leaving: str, olena: Desk) -> None:
    refused = olena.post(
        f"/api/v1/cases/{leaving}/verification", {"verification": "suspicious", "reason": "  "}
    )
    assert "reason" in assert_problem(refused, 409, not_echoing=MARKER)["detail"]
    assert olena.opened(leaving)["verification"] == "unverified"


REASON = "asks-for-volunteer-names-9913"


def test_the_reason_for_suspicion_is_an_internal_note_sealed_in_the_case(
    runtime: Runtime, leaving: str, olena: Desk
) -> None:
    body = {"verification": "suspicious", "reason": f"Keeps asking {REASON}"}
    assert olena.post(f"/api/v1/cases/{leaving}/verification", body).status_code == 200
    case = olena.opened(leaving)
    assert case["verification"] == "suspicious"
    notes = [r for r in case["thread"] if r["kind"] == "note"]
    assert [(n["author"], REASON in n["text"]) for n in notes] == [("olena", True)]
    assert rows_holding(runtime.db, REASON) == []
    assert REASON not in olena.client.get(f"/api/v1/cases/{leaving}/timeline").text


def test_a_suspicious_case_is_flagged_in_the_queue(leaving: str, olena: Desk) -> None:
    olena.post(f"/api/v1/cases/{leaving}/verification", {"verification": "suspicious", "reason": "odd"})
    [item] = olena.client.get("/api/v1/cases").json()
    assert item["verification"] == "suspicious"


# -- restriction ---------------------------------------------------------------------------------------


def test_an_operator_cannot_restrict_a_case(leaving: str, olena: Desk) -> None:
    refused = olena.post(f"/api/v1/cases/{leaving}/restriction", {"restricted": True})
    assert_problem(refused, 403, not_echoing=MARKER)
    assert olena.opened(leaving)["restricted"] is False


def test_a_restricted_case_is_gone_for_operators_and_stays_for_coordinators(
    leaving: str, olena: Desk, coordinator: Desk
) -> None:
    restricted = coordinator.post(f"/api/v1/cases/{leaving}/restriction", {"restricted": True})
    assert restricted.status_code == 200, restricted.text
    assert_problem(olena.case(leaving), 404, not_echoing=MARKER)
    assert leaving not in olena.queue_ids()
    assert_problem(olena.move(leaving, "withdrawn"), 404, not_echoing=MARKER)
    assert coordinator.opened(leaving)["restricted"] is True
    assert leaving in coordinator.queue_ids()


def test_lifting_a_restriction_gives_the_case_back_to_its_team(
    leaving: str, olena: Desk, coordinator: Desk
) -> None:
    coordinator.post(f"/api/v1/cases/{leaving}/restriction", {"restricted": True})
    lifted = coordinator.post(f"/api/v1/cases/{leaving}/restriction", {"restricted": False})
    assert lifted.status_code == 200, lifted.text
    assert olena.opened(leaving)["restricted"] is False


# -- tags ----------------------------------------------------------------------------------------------


def _put_tags(desk: Desk, case_id: str, tags: list[str]) -> list[str]:
    response = desk.client.put(f"/api/v1/cases/{case_id}/tags", json={"tags": tags}, headers=desk.headers)
    assert response.status_code == 200, response.text
    stored: list[str] = response.json()["tags"]
    return stored


def test_putting_tags_replaces_the_cases_tags(leaving: str, olena: Desk) -> None:
    assert _put_tags(olena, leaving, ["Needs Lawyer", "relative-of-1234"]) == [
        "needs-lawyer",
        "relative-of-1234",
    ]
    assert _put_tags(olena, leaving, ["urgent-docs"]) == ["urgent-docs"]
    assert olena.opened(leaving)["tags"] == ["urgent-docs"]


def _search(desk: Desk, words: str) -> list[str]:
    found = desk.post("/api/v1/cases/search", {"q": words})
    assert found.status_code == 200, found.text
    return [c["id"] for c in found.json()["cases"]]


def test_search_finds_a_case_by_its_tag(
    client: TestClient, runtime: Runtime, leaving: str, olena: Desk
) -> None:
    case_of(runtime, submit(client, "other"))
    _put_tags(olena, leaving, ["needs-lawyer"])
    assert _search(olena, "needs-lawyer") == [leaving]


def test_search_finds_a_tag_added_after_the_first_search(leaving: str, olena: Desk) -> None:
    assert _search(olena, "grey-van") == []
    _put_tags(olena, leaving, ["grey-van"])
    assert _search(olena, "grey-van") == [leaving]


def test_search_no_longer_finds_a_case_by_a_tag_taken_off_it(leaving: str, olena: Desk) -> None:
    _put_tags(olena, leaving, ["mistaken-tag"])
    _put_tags(olena, leaving, ["right-tag"])
    assert _search(olena, "mistaken-tag") == []


def test_too_many_tags_are_refused(leaving: str, olena: Desk) -> None:
    response = olena.client.put(
        f"/api/v1/cases/{leaving}/tags", json={"tags": [f"t{i}" for i in range(21)]}, headers=olena.headers
    )
    assert_problem(response, 422, not_echoing=MARKER)


# -- links ---------------------------------------------------------------------------------------------


def test_two_cases_of_ones_teams_are_linked_both_ways_and_unlinked(
    client: TestClient, runtime: Runtime, leaving: str, olena: Desk
) -> None:
    relative = case_of(runtime, submit(client, "relative"))
    linked = olena.post(f"/api/v1/cases/{relative}/links", {"case_id": leaving})
    assert linked.status_code == 201, linked.text
    assert olena.opened(relative)["linked"] == [leaving]
    assert olena.opened(leaving)["linked"] == [relative]
    gone = olena.client.delete(f"/api/v1/cases/{relative}/links/{leaving}", headers=olena.headers)
    assert gone.status_code == 204, gone.text
    assert olena.opened(relative)["linked"] == []
    assert olena.opened(leaving)["linked"] == []


def test_a_case_cannot_be_linked_to_itself(leaving: str, olena: Desk) -> None:
    refused = olena.post(f"/api/v1/cases/{leaving}/links", {"case_id": leaving})
    assert "itself" in assert_problem(refused, 409, not_echoing=MARKER)["detail"]


def test_linking_needs_both_cases_shared_with_ones_teams(runtime: Runtime, leaving: str, olena: Desk) -> None:
    lawyers = seal_case_for(runtime, "legal", "A question for a lawyer").case_id
    assert_problem(
        olena.post(f"/api/v1/cases/{leaving}/links", {"case_id": lawyers}), 404, not_echoing=MARKER
    )
    assert olena.opened(leaving)["linked"] == []


def test_each_operator_sees_only_the_linked_cases_of_their_teams(
    runtime: Runtime, leaving: str, olena: Desk, coordinator: Desk
) -> None:
    lawyers = seal_case_for(runtime, "legal", "A question for a lawyer").case_id
    assert coordinator.post(f"/api/v1/cases/{leaving}/links", {"case_id": lawyers}).status_code == 201
    assert coordinator.opened(leaving)["linked"] == [lawyers]
    assert olena.opened(leaving)["linked"] == []


# -- timeline ------------------------------------------------------------------------------------------


def test_the_timeline_shows_moves_hand_overs_and_priority_changes_by_whom_without_content(
    app: FastAPI, client: TestClient, runtime: Runtime, org: Org, olena: Desk
) -> None:
    procedure = procedure_of(runtime, "avoid_mobilisation")
    case_id = case_of(runtime, submit(client, "avoid_mobilisation", message=f"Summons came {MARKER}"))
    olena.post(f"/api/v1/cases/{case_id}/priority", {"priority": "high"})
    olena.post(f"/api/v1/cases/{case_id}/notes", {"text": f"Internal {MARKER}"})
    olena.walk(procedure, case_id, "screening", "legal_options")
    lawyer = desk(app, org.legal)
    timeline = lawyer.client.get(f"/api/v1/cases/{case_id}/timeline")
    assert timeline.status_code == 200, timeline.text
    moments = [(m["who"], m["action"], m["detail"]) for m in timeline.json()]
    assert ("requester", "created", "") in moments
    assert ("olena", "priority", "normal->high") in moments
    assert ("olena", "step", "first_contact->screening") in moments
    assert ("olena", "step", "screening->legal_options to legal") in moments
    assert [a for _w, a, _d in moments].index("priority") < [a for _w, a, _d in moments].index("step")
    assert MARKER not in timeline.text


def test_the_timeline_of_another_teams_case_is_404(app: FastAPI, org: Org, leaving: str) -> None:
    lawyer = desk(app, org.legal)
    response = lawyer.client.get(f"/api/v1/cases/{leaving}/timeline")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM)
