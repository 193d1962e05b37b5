"""Cases over the JSON API, decrypted for the logged-in operator of one of the case's teams."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Query
from fastapi.responses import Response

from haven.attachments import services as attachments
from haven.attachments.responses import file_response
from haven.cases import services
from haven.cases.schemas import (
    CaseOut,
    FileOut,
    QueueItem,
    RecordOut,
    SearchIn,
    SearchOut,
    StateIn,
    TextIn,
)
from haven.cases.search import MAX_QUERY_CHARS, QueryRejected
from haven.cases.states import InvalidTransition
from haven.channels import replies
from haven.dependencies import OperatorDep, RuntimeDep, WritingOperatorDep
from haven.intake.services import IntakeError, check_message
from haven.problems import Problem

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])

T = TypeVar("T")


def _guarded(call: Callable[[], T]) -> T:
    try:
        return call()
    except (services.CaseNotFound, services.CaseForbidden):
        # Another team's case answers exactly like a case that does not exist: a stolen account must not
        # learn which case ids are real.
        raise Problem(404, "There is no case with that id shared with your teams.") from None
    except InvalidTransition as exc:
        raise Problem(409, str(exc)) from None


def _text(body: TextIn, runtime: RuntimeDep) -> str:
    try:
        return check_message(body.text, max_chars=runtime.settings.max_message_chars, field="text")
    except IntakeError:
        raise Problem(
            422, f"text: write between 1 and {runtime.settings.max_message_chars} characters."
        ) from None


def _item(row: services.QueueRow) -> QueueItem:
    return QueueItem(
        id=row.id,
        type=row.request_type,
        state=row.state.value,
        priority=row.priority,
        team=row.team,
        assignee=row.assignee,
        needs_reply=row.needs_reply,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@router.get("", response_model=list[QueueItem])
def list_cases(
    runtime: RuntimeDep,
    context: OperatorDep,
    closed: Annotated[bool, Query()] = False,
    page: Annotated[int, Query(ge=1, le=100_000, description="pages of 50 cases, from 1")] = 1,
) -> list[QueueItem]:
    """The queue of the operator's teams: most urgent first, newest first within a priority, 50 a page."""
    rows = services.queue(
        db=runtime.db,
        operator=context.operator,
        closed=closed,
        offset=(page - 1) * services.QUEUE_PAGE,
    )
    return [_item(r) for r in rows]


@router.post("/search", response_model=SearchOut)
def search_cases(body: SearchIn, runtime: RuntimeDep, context: OperatorDep) -> SearchOut:
    """The cases of the operator's teams holding every word of `q` (any case, in any part), newest first.

    A POST, so the words never appear in a URL (and so in no proxy log). The first search after logging
    in decrypts the teams' cases and takes a while.
    """
    try:
        result = runtime.search.search(operator=context.operator, session_id=context.session_id, query=body.q)
    except QueryRejected:
        raise Problem(422, f"q: write between 1 and {MAX_QUERY_CHARS} characters.") from None
    return SearchOut(total=result.total, cases=[_item(r) for r in result.rows])


@router.get("/{case_id}", response_model=CaseOut)
def get_case(case_id: str, runtime: RuntimeDep, context: OperatorDep) -> CaseOut:
    """One case, decrypted: the questionnaire answers and the whole thread with internal notes."""
    view = _guarded(
        lambda: services.open_for_operator(db=runtime.db, operator=context.operator, case_id=case_id)
    )
    runtime.resume_deliveries(context.operator, case_id=case_id)
    deliveries = replies.deliveries(db=runtime.db, case_id=case_id)
    return CaseOut(
        id=view.id,
        type=view.request_type,
        state=view.state.value,
        priority=view.priority,
        team=view.team,
        language=view.language,
        created_at=view.created_at,
        answers=view.answers,
        thread=[
            RecordOut(
                id=r.id,
                kind=r.kind.value,
                author=view.authors.get(r.author_id) if r.author_id is not None else None,
                at=r.created_at,
                text=str(r.content.get("text", "")),
                files=[
                    FileOut(
                        id=f.id, name=f.name, type=f.media_type, size=f.size, width=f.width, height=f.height
                    )
                    for f in attachments.files_of(r)
                ],
                delivery=deliveries[r.id].state.value if r.id in deliveries else None,
            )
            for r in view.thread
        ],
    )


@router.get(
    "/{case_id}/files/{file_id}",
    response_class=Response,
    responses={
        200: {
            "content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}},
            "description": "The photo, re-encoded without metadata when it was received",
        },
        404: {"description": "No such file in a case shared with your teams"},
    },
)
def get_file(case_id: str, file_id: str, runtime: RuntimeDep, context: OperatorDep) -> Response:
    """One file of the case (listed in its message's `files`), decrypted, as an attachment to save."""
    opened = _guarded(
        lambda: attachments.open_for_operator(
            db=runtime.db, operator=context.operator, case_id=case_id, file_id=file_id
        )
    )
    return file_response(opened)


@router.post("/{case_id}/messages", status_code=201)
def reply(case_id: str, body: TextIn, runtime: RuntimeDep, context: WritingOperatorDep) -> dict[str, str]:
    """Reply to the requester; they read it with their receipt."""
    text = _text(body, runtime)
    _guarded(
        lambda: replies.reply(
            db=runtime.db, operator=context.operator, case_id=case_id, text=text, outbox=runtime.outbox
        )
    )
    return {"status": "stored"}


@router.post("/{case_id}/notes", status_code=201)
def add_note(case_id: str, body: TextIn, runtime: RuntimeDep, context: WritingOperatorDep) -> dict[str, str]:
    """Add an internal note that the requester never sees."""
    text = _text(body, runtime)
    _guarded(lambda: services.add_note(db=runtime.db, operator=context.operator, case_id=case_id, text=text))
    return {"status": "stored"}


@router.post("/{case_id}/state")
def change_state(
    case_id: str, body: StateIn, runtime: RuntimeDep, context: WritingOperatorDep
) -> dict[str, str]:
    """Move the case to another state; 409 when the transition table does not allow it."""
    _guarded(
        lambda: services.change_state(
            db=runtime.db, operator=context.operator, case_id=case_id, target=body.state
        )
    )
    return {"state": body.state.value}
