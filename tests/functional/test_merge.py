"""Merging a duplicate into the case it repeats (cases/merge.py, POST /api/v1/cases/{id}/merge): the target
gets the duplicate's whole thread with its times and files, the two are linked, the duplicate ends as
`merged` and its requester still reads it with their receipt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from haven.cases import services as cases
from haven.cases.models import Case
from haven.cases.records import RecordKind
from haven.cases.services import open_for_operator
from haven.clock import now_minute
from haven.intake import services as intake
from haven.runtime import Runtime
from tests.conftest import PROBLEM, Org
from tests.functional.photos import attach_photo
from tests.functional.seizure_scan import files_under, scan
from tests.functional.test_authorization import seal_case_for
from tests.functional.test_procedure_steps import (
    Desk,
    as_requester,
    case_of,
    desk,
    rows_holding,
    submit,
)

FIRST = "I asked before. marker-merge-first-2291"
FOLLOW_UP = "Writing again, marker-merge-follow-up-2291"
REPLY = "We have your message, marker-merge-reply-2291"
NOTE = "Same person as the other case, marker-merge-note-2291"
MARKERS = [f"marker-merge-{part}-2291" for part in ("first", "follow-up", "reply", "note")]


@dataclass(frozen=True)
class Pair:
    into: str
    duplicate: str
    duplicate_receipt: str
    photo: str  # the duplicate's file id


@pytest.fixture
def olena(app: FastAPI, org: Org) -> Desk:
    return desk(app, org.intake)


@pytest.fixture
def pair(client: TestClient, runtime: Runtime, org: Org) -> Pair:
    """Two requests of the intake team; the second (the duplicate) has a follow-up, a reply, a note and a
    photo, written on days in the past."""
    into = case_of(runtime, submit(client, "other", "My request"))
    receipt = submit(client, "other", FIRST)
    duplicate = case_of(runtime, receipt)
    days_ago = now_minute() - timedelta(days=3)
    access = intake.open_with_receipt(
        db=runtime.db, receipt_text=receipt, pepper=runtime.secrets.receipt_pepper
    )
    assert access is not None
    intake.add_follow_up(
        db=runtime.db, access=access, message=FOLLOW_UP, max_message_chars=4000, now=days_ago
    )
    operator = org.intake.unlocked
    cases.reply(
        db=runtime.db, operator=operator, case_id=duplicate, text=REPLY, now=days_ago + timedelta(hours=2)
    )
    cases.add_note(
        db=runtime.db, operator=operator, case_id=duplicate, text=NOTE, now=days_ago + timedelta(days=1)
    )
    photo = attach_photo(runtime, duplicate)
    return Pair(into, duplicate, receipt, photo)


def merge(olena: Desk, duplicate: str, into: str) -> httpx.Response:
    return olena.post(f"/api/v1/cases/{duplicate}/merge", {"into": into})


def merged(olena: Desk, pair: Pair) -> dict[str, Any]:
    response = merge(olena, pair.duplicate, pair.into)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def thread_items(olena: Desk, case_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = olena.opened(case_id)["thread"]
    return items


def kind_text_time_author(item: dict[str, Any]) -> tuple[str, str, str, str | None]:
    return (item["kind"], item["text"], item["at"], item["author"])


def assert_refused(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["detail"]
    return body


# -- what the case merged into receives ------------------------------------------------------------------


def test_merging_copies_the_duplicates_messages_replies_and_notes_with_their_times(
    olena: Desk, pair: Pair
) -> None:
    before = thread_items(olena, pair.duplicate)
    assert {i["kind"] for i in before} == {"inbound", "outbound", "note"}

    answer = merged(olena, pair)

    assert answer == {"merged_into": pair.into, "copied": len(before)}
    into = [kind_text_time_author(i) for i in thread_items(olena, pair.into)]
    for item in before:
        assert kind_text_time_author(item) in into, item


def test_the_copied_thread_keeps_the_days_it_was_written(olena: Desk, pair: Pair) -> None:
    merged(olena, pair)

    times = {i["text"]: datetime.fromisoformat(i["at"]) for i in thread_items(olena, pair.into)}

    today = now_minute().replace(tzinfo=None)
    assert today - times[FOLLOW_UP].replace(tzinfo=None) >= timedelta(days=3)
    assert times[FOLLOW_UP] < times[REPLY] < times[NOTE]


def test_the_case_merged_into_gets_a_note_saying_where_the_thread_came_from(olena: Desk, pair: Pair) -> None:
    merged(olena, pair)

    notes = [i["text"] for i in thread_items(olena, pair.into) if i["kind"] == "note"]

    shown = f"{pair.duplicate[:4]}-{pair.duplicate[4:8]}"
    assert any(text.startswith(f"Merged from case {shown}") for text in notes), notes


def test_a_photo_of_the_duplicate_opens_from_the_case_merged_into(olena: Desk, pair: Pair) -> None:
    original = olena.client.get(f"/api/v1/cases/{pair.duplicate}/files/{pair.photo}")
    assert original.status_code == 200, original.text

    merged(olena, pair)

    [copy] = [f for i in thread_items(olena, pair.into) for f in i["files"]]
    assert copy["id"] != pair.photo
    opened = olena.client.get(f"/api/v1/cases/{pair.into}/files/{copy['id']}")
    assert opened.status_code == 200, opened.text
    assert opened.content == original.content
    assert opened.headers["content-type"] == original.headers["content-type"]


def test_the_duplicates_notes_stay_internal_in_the_case_merged_into(
    client: TestClient, runtime: Runtime, olena: Desk, pair: Pair
) -> None:
    into_receipt = submit(client, "other", "A third person's request")
    third = case_of(runtime, into_receipt)

    assert merge(olena, pair.duplicate, third).status_code == 200

    seen = client.get("/api/v1/requests/me", headers=as_requester(into_receipt)).json()
    texts = [m["text"] for m in seen["messages"]]
    assert FOLLOW_UP in texts
    assert REPLY in texts
    assert NOTE not in texts
    assert not any(text.startswith("Merged from case") for text in texts)


def test_the_copied_thread_is_stored_sealed_never_in_the_clear(
    runtime: Runtime, org: Org, olena: Desk, pair: Pair
) -> None:
    merged(olena, pair)
    view = open_for_operator(db=runtime.db, operator=org.intake.unlocked, case_id=pair.into)
    assert {r.content.get("text") for r in view.records if r.kind is RecordKind.NOTE} >= {NOTE}

    for marker in MARKERS:
        assert rows_holding(runtime.db, marker) == [], marker
    if runtime.db.is_sqlite:
        assert scan(files_under(runtime.settings.data_dir), MARKERS) == []


# -- what becomes of the duplicate ----------------------------------------------------------------------


def test_merged_cases_are_linked_both_ways(olena: Desk, pair: Pair) -> None:
    merged(olena, pair)

    assert olena.opened(pair.into)["linked"] == [pair.duplicate]
    assert olena.opened(pair.duplicate)["linked"] == [pair.into]


def test_the_duplicate_ends_closed_at_the_step_merged(olena: Desk, pair: Pair) -> None:
    merged(olena, pair)

    case = olena.opened(pair.duplicate)
    assert (case["step"], case["state"]) == ("merged", "closed")
    assert pair.duplicate in olena.queue_ids(closed=True)
    assert pair.duplicate not in olena.queue_ids()
    assert olena.opened(pair.into)["state"] != "closed"


def test_the_duplicates_requester_still_reads_their_thread_with_their_receipt(
    client: TestClient, olena: Desk, pair: Pair
) -> None:
    merged(olena, pair)

    response = client.get("/api/v1/requests/me", headers=as_requester(pair.duplicate_receipt))

    assert response.status_code == 200, response.text
    thread = response.json()
    assert thread["state"] == "closed"
    # A thread reads by time: the fixture wrote the follow-up and the reply days before "now".
    assert [m["text"] for m in thread["messages"]][:3] == [FOLLOW_UP, REPLY, FIRST]
    assert thread["feedback_wanted"] is False


def test_the_duplicates_requester_writing_again_reopens_it_still_linked_to_the_case_it_joined(
    client: TestClient, olena: Desk, pair: Pair
) -> None:
    merged(olena, pair)

    wrote = client.post(
        "/api/v1/requests/me/messages",
        json={"message": "Are you there?"},
        headers=as_requester(pair.duplicate_receipt),
    )

    assert wrote.status_code == 201, wrote.text
    case = olena.opened(pair.duplicate)
    assert case["state"] == "in_progress"
    assert case["linked"] == [pair.into]
    assert pair.duplicate in olena.queue_ids()


def test_the_timeline_of_the_duplicate_shows_the_merge(olena: Desk, pair: Pair) -> None:
    merged(olena, pair)

    response = olena.client.get(f"/api/v1/cases/{pair.duplicate}/timeline")

    assert response.status_code == 200, response.text
    moments = [(m["who"], m["action"], m["detail"]) for m in response.json()]
    assert ("olena", "merged", pair.into) in moments


def test_the_case_to_merge_into_may_be_written_with_dashes_and_capitals(olena: Desk, pair: Pair) -> None:
    written = "-".join(pair.into[i : i + 4] for i in range(0, len(pair.into), 4)).upper()

    response = merge(olena, pair.duplicate, written)

    assert response.status_code == 200, response.text
    assert olena.opened(pair.into)["linked"] == [pair.duplicate]


# -- what is refused ------------------------------------------------------------------------------------


def test_merging_again_into_the_same_case_copies_nothing(olena: Desk, pair: Pair) -> None:
    merged(olena, pair)
    before = thread_items(olena, pair.into)

    again = merge(olena, pair.duplicate, pair.into)

    assert again.status_code == 200, again.text
    assert again.json()["copied"] == 0
    assert thread_items(olena, pair.into) == before


def test_a_case_cannot_be_merged_into_itself(olena: Desk, pair: Pair) -> None:
    before = thread_items(olena, pair.into)

    assert_refused(merge(olena, pair.into, pair.into), 409)

    case = olena.opened(pair.into)
    assert (case["state"], case["step"], case["linked"]) == ("new", "first_contact", [])
    assert thread_items(olena, pair.into) == before


def test_a_merged_case_cannot_be_merged_into_a_third_case(
    client: TestClient, runtime: Runtime, olena: Desk, pair: Pair
) -> None:
    third = case_of(runtime, submit(client, "other", "A third request"))
    merged(olena, pair)
    before = thread_items(olena, third)

    assert_refused(merge(olena, pair.duplicate, third), 409)

    assert thread_items(olena, third) == before
    assert olena.opened(third)["linked"] == []
    assert olena.opened(pair.duplicate)["linked"] == [pair.into]


def test_nothing_can_be_merged_into_a_merged_case(
    client: TestClient, runtime: Runtime, olena: Desk, pair: Pair
) -> None:
    third = case_of(runtime, submit(client, "other", "A third request"))
    merged(olena, pair)

    assert_refused(merge(olena, third, pair.duplicate), 409)

    case = olena.opened(third)
    assert (case["step"], case["linked"]) == ("first_contact", [])


def test_a_case_of_another_team_answers_as_if_it_did_not_exist(
    runtime: Runtime, olena: Desk, pair: Pair
) -> None:
    lawyers = seal_case_for(runtime, "legal", "A legal question").case_id
    unknown = assert_refused(merge(olena, pair.duplicate, "zzzzzzzzzzzzzzzz"), 404)

    into_theirs = assert_refused(merge(olena, pair.duplicate, lawyers), 404)
    theirs_into = assert_refused(merge(olena, lawyers, pair.into), 404)

    assert into_theirs == theirs_into == unknown
    assert olena.opened(pair.duplicate)["step"] == "first_contact"
    with runtime.db.read() as s:
        assert s.scalar(select(Case.step).where(Case.id == lawyers)) == "screening"


def test_merging_needs_the_csrf_header(olena: Desk, pair: Pair) -> None:
    response = olena.client.post(f"/api/v1/cases/{pair.duplicate}/merge", json={"into": pair.into})

    assert response.status_code == 403, response.text
    assert olena.opened(pair.duplicate)["step"] == "first_contact"


def test_the_lawyer_cannot_merge_the_intake_teams_cases(app: FastAPI, org: Org, pair: Pair) -> None:
    lawyer = desk(app, org.legal)

    assert_refused(merge(lawyer, pair.duplicate, pair.into), 404)

    assert lawyer.case(pair.duplicate).status_code == 404
