"""A case walks through its procedure over the API: where a new request starts, what a step asks before the
case may leave it, hand-overs to another team (compartmentalised or not), ending and reopening, and what
is stored of the work done in a step (sealed, never in the clear)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from haven.cases.procedure import FieldKind, Procedure, Step
from haven.db import Base, Database
from haven.intake import services as intake
from haven.runtime import Runtime
from tests.conftest import PROBLEM, Org, Person, api_login
from tests.functional.seizure_scan import files_under, scan
from tests.unit.cases.test_procedure_moves import add_team

# Answers each request type needs (questionnaires.toml).
ANSWERS = {
    "leave_service": {"danger_now": "no", "where_now": "front"},
    "avoid_mobilisation": {"danger_now": "no", "summons": "no"},
    "relative": {"danger_now": "no", "relation": "partner", "their_situation": "front"},
    "legal": {"danger_now": "no", "topic": "other"},
    "other": {"danger_now": "no"},
}


def submit(client: TestClient, request_type: str, message: str = "Please help") -> str:
    """A web request of this type; returns its receipt."""
    response = client.post(
        "/api/v1/requests",
        json={"type": request_type, "language": "en", "answers": ANSWERS[request_type], "message": message},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["receipt"])


def case_of(runtime: Runtime, receipt: str) -> str:
    access = intake.open_with_receipt(
        db=runtime.db, receipt_text=receipt, pepper=runtime.secrets.receipt_pepper
    )
    assert access is not None
    return access.case_id


def as_requester(receipt: str) -> dict[str, str]:
    return {"Authorization": f"Receipt {receipt}"}


def procedure_of(runtime: Runtime, request_type: str) -> Procedure:
    procedure = runtime.procedures.get(runtime.catalogue.types[request_type].procedure)
    assert procedure is not None
    return procedure


def full_work(step: Step, text: str = "noted") -> dict[str, Any]:
    """The body that saves everything `step` asks for: each item ticked, each field filled."""
    return {
        "checklist": [item.id for item in step.checklist],
        "fields": {f.id: f.options[0].id if f.kind is FieldKind.CHOICE else text for f in step.fields},
    }


def path_to(procedure: Procedure, goal: str, start: str = "") -> list[str]:
    """The shortest walk along the steps' `next` from `start` (default: the first step) to `goal`."""
    begin = start or procedure.first.id
    came_from: dict[str, str] = {begin: ""}
    queue = deque([begin])
    while queue:
        here = queue.popleft()
        if here == goal:
            walk = []
            while here != begin:
                walk.append(here)
                here = came_from[here]
            return walk[::-1]
        step = procedure.step(here)
        for there in step.next if step else ():
            if there not in came_from:
                came_from[there] = here
                queue.append(there)
    raise AssertionError(f"{procedure.id} has no way from {begin} to {goal}")


@dataclass
class Desk:
    """An operator's own browser on the API, logged in."""

    client: TestClient
    headers: dict[str, str]

    def case(self, case_id: str) -> httpx.Response:
        return self.client.get(f"/api/v1/cases/{case_id}")

    def opened(self, case_id: str) -> dict[str, Any]:
        response = self.case(case_id)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def move(self, case_id: str, step: str, **work: Any) -> httpx.Response:
        return self.client.post(
            f"/api/v1/cases/{case_id}/step", json={"step": step, **work}, headers=self.headers
        )

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.client.post(path, json=body, headers=self.headers)

    def queue_ids(self, *, closed: bool = False) -> list[str]:
        response = self.client.get("/api/v1/cases", params={"closed": closed})
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()]

    def walk(self, procedure: Procedure, case_id: str, *targets: str) -> dict[str, Any]:
        """Move the case step by step, doing all each step asks first; returns the last answer."""
        answer: dict[str, Any] = {}
        for target in targets:
            step = procedure.step(self.opened(case_id)["step"])
            assert step is not None
            moved = self.move(case_id, target, **full_work(step))
            assert moved.status_code == 200, moved.text
            answer = moved.json()
        return answer


def desk(app: FastAPI, person: Person, steps_ahead: int = 0) -> Desk:
    client = TestClient(app, base_url="https://testserver")
    return Desk(client, api_login(client, person, steps_ahead))


def assert_refused(response: httpx.Response, *naming: str) -> str:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    detail = str(response.json()["detail"])
    for words in naming:
        assert words in detail, detail
    return detail


@pytest.fixture
def olena(app: FastAPI, org: Org) -> Desk:
    return desk(app, org.intake)


@pytest.fixture
def leave_service(runtime: Runtime) -> Procedure:
    return procedure_of(runtime, "leave_service")


@pytest.fixture
def leaving(client: TestClient, runtime: Runtime, org: Org) -> str:
    """A new leave-service case, in its first step."""
    return case_of(runtime, submit(client, "leave_service"))


@pytest.mark.parametrize("request_type", sorted(ANSWERS))
def test_a_new_request_starts_in_the_first_step_of_its_procedure(
    request_type: str, client: TestClient, runtime: Runtime, olena: Desk
) -> None:
    case_id = case_of(runtime, submit(client, request_type))
    procedure = procedure_of(runtime, request_type)
    case = olena.opened(case_id)
    assert (case["procedure"], case["step"]) == (procedure.id, procedure.first.id)
    created, due = datetime.fromisoformat(case["created_at"]), datetime.fromisoformat(case["due_at"])
    assert due - created == timedelta(hours=procedure.first.due_hours)
    assert case["overdue"] is False


def test_a_case_cannot_leave_a_step_with_an_unticked_checklist(
    leaving: str, leave_service: Procedure, olena: Desk
) -> None:
    first = leave_service.first
    work = full_work(first)
    forgotten = first.checklist[-1]
    work["checklist"].remove(forgotten.id)
    refused = olena.move(leaving, first.next[0], **work)
    assert_refused(refused, forgotten.labels["en"])
    assert olena.opened(leaving)["step"] == first.id


def test_a_case_cannot_leave_a_step_with_a_required_field_empty(
    leaving: str, leave_service: Procedure, olena: Desk
) -> None:
    first = leave_service.first
    required = next(f for f in first.fields if f.required)
    work = full_work(first)
    del work["fields"][required.id]
    assert_refused(olena.move(leaving, first.next[0], **work), required.labels["en"])
    assert olena.opened(leaving)["step"] == first.id


def test_a_choice_the_field_does_not_offer_is_refused(
    leaving: str, leave_service: Procedure, olena: Desk
) -> None:
    first = leave_service.first
    choice = next(f for f in first.fields if f.kind is FieldKind.CHOICE)
    work = full_work(first)
    work["fields"][choice.id] = "maybe_later"
    assert_refused(olena.move(leaving, first.next[0], **work), choice.labels["en"])
    assert olena.opened(leaving)["step"] == first.id


def test_a_step_the_procedure_does_not_have_is_refused(leaving: str, olena: Desk) -> None:
    detail = assert_refused(olena.move(leaving, "teleport"), "no such step", "Leave service")
    assert "teleport" not in detail  # nothing the caller typed is echoed


def test_a_move_the_step_does_not_offer_is_refused_listing_the_moves_it_does(
    leaving: str, leave_service: Procedure, olena: Desk
) -> None:
    first = leave_service.first
    elsewhere = next(s.id for s in leave_service.steps[1:] if s.id not in first.next)
    refused = olena.move(leaving, elsewhere, **full_work(first))
    assert_refused(refused, elsewhere, *leave_service.moves_from(first.id))
    assert olena.opened(leaving)["step"] == first.id


def test_work_saved_in_a_step_counts_when_the_case_moves_on(
    leaving: str, leave_service: Procedure, olena: Desk
) -> None:
    first = leave_service.first
    saved = olena.move(leaving, first.id, **full_work(first))
    assert saved.status_code == 200, saved.text
    assert saved.json() == {"step": first.id}
    work = olena.opened(leaving)["step_work"]
    assert sorted(work["checklist"]) == sorted(i.id for i in first.checklist)
    moved = olena.move(leaving, first.next[0])
    assert moved.status_code == 200, moved.text
    assert olena.opened(leaving)["step"] == first.next[0]


def test_a_move_into_another_teams_step_hands_the_case_over_and_its_team_keeps_it(
    app: FastAPI, client: TestClient, runtime: Runtime, org: Org, olena: Desk
) -> None:
    procedure = procedure_of(runtime, "avoid_mobilisation")
    case_id = case_of(runtime, submit(client, "avoid_mobilisation"))
    walk = path_to(procedure, "legal_options")
    legal_step = procedure.step(walk[-1])
    assert legal_step is not None
    assert legal_step.team == "legal"
    assert not legal_step.compartmentalised
    answer = olena.walk(procedure, case_id, *walk)
    assert answer == {"step": "legal_options", "handed_to": "legal"}
    lawyer = desk(app, org.legal)
    case = lawyer.opened(case_id)
    assert (case["team"], case["step"]) == ("legal", "legal_options")
    assert case_id in lawyer.queue_ids()
    assert olena.case(case_id).status_code == 200


def test_a_move_into_a_compartmentalised_step_takes_the_case_from_the_sending_team(
    app: FastAPI, runtime: Runtime, org: Org, leaving: str, leave_service: Procedure, olena: Desk
) -> None:
    add_team(runtime, "routes", [org.admin, org.coordinator])
    walk = path_to(leave_service, "risk_assessment")
    sealed_off = leave_service.step(walk[-1])
    assert sealed_off is not None
    assert (sealed_off.team, sealed_off.compartmentalised) == ("routes", True)
    answer = olena.walk(leave_service, leaving, *walk)
    assert answer["handed_to"] == "routes"
    assert olena.case(leaving).status_code == 404
    assert leaving not in olena.queue_ids()
    coordinator = desk(app, org.coordinator)
    assert coordinator.opened(leaving)["team"] == "routes"
    assert leaving in coordinator.queue_ids()


def test_a_step_whose_team_does_not_exist_keeps_the_case_with_its_team_and_says_so(
    leaving: str, leave_service: Procedure, olena: Desk
) -> None:
    walk = path_to(leave_service, "risk_assessment")
    answer = olena.walk(leave_service, leaving, *walk)
    assert answer["step"] == "risk_assessment"
    assert "routes" in answer["warning"]
    assert "handed_to" not in answer
    assert olena.opened(leaving)["team"] == "intake"


def test_ending_a_case_as_completed_closes_it(client: TestClient, runtime: Runtime, olena: Desk) -> None:
    procedure = procedure_of(runtime, "other")
    case_id = case_of(runtime, submit(client, "other"))
    olena.walk(procedure, case_id, *path_to(procedure, "completed"))
    case = olena.opened(case_id)
    assert (case["step"], case["state"], case["moves"]) == ("completed", "closed", [procedure.first.id])
    assert case_id in olena.queue_ids(closed=True)
    assert case_id not in olena.queue_ids()


def test_a_case_can_end_early_from_any_step_without_finishing_it(leaving: str, olena: Desk) -> None:
    moved = olena.move(leaving, "no_contact")
    assert moved.status_code == 200, moved.text
    assert olena.opened(leaving)["state"] == "closed"


def test_a_requester_writing_in_an_ended_case_reopens_it_into_the_first_step_only(
    client: TestClient, runtime: Runtime, olena: Desk
) -> None:
    procedure = procedure_of(runtime, "other")
    receipt = submit(client, "other")
    case_id = case_of(runtime, receipt)
    olena.walk(procedure, case_id, *path_to(procedure, "completed"))
    wrote = client.post(
        "/api/v1/requests/me/messages", json={"message": "I need help again"}, headers=as_requester(receipt)
    )
    assert wrote.status_code == 201, wrote.text
    case = olena.opened(case_id)
    assert case["state"] == "in_progress"
    assert case["moves"] == [procedure.first.id]
    assert_refused(olena.move(case_id, procedure.steps[1].id), procedure.first.id)
    moved = olena.move(case_id, procedure.first.id)
    assert moved.status_code == 200, moved.text
    case = olena.opened(case_id)
    assert (case["step"], case["state"]) == (procedure.first.id, "in_progress")


SEALED_MARKER = "pangolin-step-marker-5821"


def rows_holding(db: Database, marker: str) -> list[str]:
    """Table and column of every stored value holding the marker in the clear."""
    found = []
    needle = marker.encode()
    with db.read() as s:
        for table in Base.metadata.sorted_tables:
            for row in s.execute(select(table)).mappings():
                for column, value in row.items():
                    raw = value if isinstance(value, bytes) else str(value).encode()
                    if needle in raw:
                        found.append(f"{table.name}.{column}")
    return found


def test_work_typed_in_a_step_is_stored_sealed_never_in_the_clear(
    client: TestClient, runtime: Runtime, olena: Desk
) -> None:
    procedure = procedure_of(runtime, "avoid_mobilisation")
    case_id = case_of(runtime, submit(client, "avoid_mobilisation"))
    olena.walk(procedure, case_id, "screening")
    screening = procedure.step("screening")
    assert screening is not None
    text_field = next(f for f in screening.fields if f.kind is FieldKind.TEXT)
    saved = olena.move(case_id, "screening", **full_work(screening, text=f"Called up {SEALED_MARKER}"))
    assert saved.status_code == 200, saved.text
    assert olena.opened(case_id)["step_work"]["fields"][text_field.id] == f"Called up {SEALED_MARKER}"
    assert rows_holding(runtime.db, SEALED_MARKER) == []
    if runtime.db.is_sqlite:
        assert scan(files_under(runtime.settings.data_dir), [SEALED_MARKER]) == []
