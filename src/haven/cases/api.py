"""Cases over the JSON API, decrypted for the logged-in operator of one of the case's teams."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy import select

from haven.attachments import services as attachments
from haven.attachments.responses import file_response
from haven.cases import links, merge, services, steps, tags, timeline, triage
from haven.cases.models import Case
from haven.cases.procedure import Outcome, Procedure
from haven.cases.schemas import (
    AssigneeIn,
    CannedReplyOut,
    CaseOut,
    ChecklistItemOut,
    ChoiceOut,
    FieldOut,
    FileOut,
    LinkIn,
    MergeIn,
    MomentOut,
    PriorityIn,
    ProcedureOut,
    QueueItem,
    RecordOut,
    RestrictionIn,
    SearchIn,
    SearchOut,
    StateIn,
    StepIn,
    StepOut,
    StepWorkOut,
    TagsIn,
    TextIn,
    VerificationIn,
)
from haven.cases.search import MAX_QUERY_CHARS, QueryRejected
from haven.cases.states import CaseState, InvalidTransition
from haven.channels import replies
from haven.clock import now_minute
from haven.dependencies import OperatorDep, RuntimeDep, WritingOperatorDep
from haven.intake.services import IntakeError, check_message
from haven.problems import Problem

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])
procedures_router = APIRouter(prefix="/api/v1/procedures", tags=["procedures"])

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
    except (steps.StepRefused, tags.TagsRefused, links.LinkRefused, merge.MergeRefused) as exc:
        raise Problem(409, exc.detail) from None
    except triage.TriageForbidden as exc:
        raise Problem(403, exc.detail) from None
    except triage.TriageRefused as exc:
        raise Problem(409, exc.detail) from None


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
        procedure=row.procedure,
        step=row.step,
        due_at=row.due_at,
        overdue=row.overdue(now_minute()),
        verification=row.verification,
        check_in_missed=row.check_in_missed,
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
    runtime.resume_case_deliveries(view)
    deliveries = replies.deliveries(db=runtime.db, case_id=case_id)
    position = steps.position_of(
        procedure_id=view.procedure, position=view.step, procedures=runtime.procedures, records=view.records
    )
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
        procedure=view.procedure,
        step=view.step,
        step_entered_at=view.step_entered_at,
        due_at=view.due_at,
        overdue=view.state is not CaseState.CLOSED and view.due_at is not None and view.due_at < now_minute(),
        verification=view.verification,
        restricted=view.restricted,
        check_in_due_at=view.check_in_due_at,
        check_in_missed=view.check_in_missed,
        step_work=StepWorkOut(checklist=sorted(position.work.checklist), fields=dict(position.work.fields))
        if position.work
        else None,
        moves=list(position.moves),
        tags=tags.tags_of(view.records),
        linked=[r.id for r in links.linked(db=runtime.db, operator=context.operator, case_id=case_id)],
    )


@router.post("/{case_id}/step")
def move_step(case_id: str, body: StepIn, runtime: RuntimeDep, context: WritingOperatorDep) -> dict[str, str]:
    """Move the case to another step or outcome of its procedure, after saving `checklist` and `fields` for
    the current step when given. 409 with the reason when the move is not allowed: an unknown step, a move
    the procedure does not offer, an unfinished checklist or missing fields."""
    work = None
    if body.checklist is not None or body.fields is not None:
        with runtime.db.read() as s:
            current = s.scalar(select(Case.step).where(Case.id == case_id)) or ""
        work = steps.StepWork(current, frozenset(body.checklist or ()), dict(body.fields or {}))
    result = _guarded(
        lambda: steps.move_to_step(
            db=runtime.db,
            operator=context.operator,
            case_id=case_id,
            procedures=runtime.procedures,
            target=body.step,
            work=work,
        )
    )
    answer = {"step": result.position}
    if result.moved and replies.ask_whether_we_helped(
        db=runtime.db, operator=context.operator, case_id=case_id, outbox=runtime.outbox
    ):
        answer["asked"] = "Did we help? was sent to the requester's chat"
    if result.handed_to:
        answer["handed_to"] = result.handed_to
    if result.missing_team:
        answer["warning"] = f"No team {result.missing_team!r} exists, so the case stayed with its team."
    return answer


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


@router.post("/{case_id}/priority")
def set_priority(
    case_id: str, body: PriorityIn, runtime: RuntimeDep, context: WritingOperatorDep
) -> dict[str, str]:
    """Re-prioritise the case by hand."""
    _guarded(
        lambda: triage.set_priority(
            db=runtime.db, operator=context.operator, case_id=case_id, priority=body.priority
        )
    )
    return {"priority": body.priority.value}


@router.post("/{case_id}/assignee")
def set_assignee(
    case_id: str, body: AssigneeIn, runtime: RuntimeDep, context: WritingOperatorDep
) -> dict[str, str | None]:
    """Assign the case to a member of the team that owns it (your own username takes it), or to nobody."""
    _guarded(
        lambda: triage.assign(
            db=runtime.db, operator=context.operator, case_id=case_id, username=body.username
        )
    )
    return {"assignee": body.username}


@router.post("/{case_id}/verification")
def set_verification(
    case_id: str, body: VerificationIn, runtime: RuntimeDep, context: WritingOperatorDep
) -> dict[str, str]:
    """Mark the case unverified, verified or suspicious (with a reason, kept sealed as an internal note)."""
    _guarded(
        lambda: triage.set_verification(
            db=runtime.db,
            operator=context.operator,
            case_id=case_id,
            verification=triage.Verification(body.verification),
            reason=body.reason,
        )
    )
    return {"verification": body.verification}


@router.post("/{case_id}/restriction")
def set_restriction(
    case_id: str, body: RestrictionIn, runtime: RuntimeDep, context: WritingOperatorDep
) -> dict[str, bool]:
    """Restrict the case to coordinators and admins, or lift that (coordinators and admins only)."""
    _guarded(
        lambda: triage.set_restricted(
            db=runtime.db, operator=context.operator, case_id=case_id, restricted=body.restricted
        )
    )
    return {"restricted": body.restricted}


@router.put("/{case_id}/tags")
def set_tags(
    case_id: str, body: TagsIn, runtime: RuntimeDep, context: WritingOperatorDep
) -> dict[str, list[str]]:
    """Replace the case's tags (sealed in the case; search finds them)."""
    stored = _guarded(
        lambda: tags.set_tags(db=runtime.db, operator=context.operator, case_id=case_id, tags=body.tags)
    )
    return {"tags": stored}


@router.post("/{case_id}/links", status_code=201)
def add_link(case_id: str, body: LinkIn, runtime: RuntimeDep, context: WritingOperatorDep) -> dict[str, str]:
    """Link another case to this one (both must be shared with your teams)."""
    _guarded(
        lambda: links.link(db=runtime.db, operator=context.operator, case_id=case_id, other_id=body.case_id)
    )
    return {"linked": body.case_id}


@router.delete("/{case_id}/links/{other_id}", status_code=204)
def remove_link(case_id: str, other_id: str, runtime: RuntimeDep, context: WritingOperatorDep) -> Response:
    """Undo a link."""
    _guarded(
        lambda: links.unlink(db=runtime.db, operator=context.operator, case_id=case_id, other_id=other_id)
    )
    return Response(status_code=204)


@router.post("/{case_id}/merge")
def merge_case(
    case_id: str, body: MergeIn, runtime: RuntimeDep, context: WritingOperatorDep
) -> dict[str, Any]:
    """Merge this case (a duplicate) into `into`: its messages, replies, notes and files are copied there,
    the two are linked and this one ends as merged. Its requester's receipt still opens it."""
    copied = _guarded(
        lambda: merge.merge(db=runtime.db, operator=context.operator, duplicate_id=case_id, into_id=body.into)
    )
    return {"merged_into": body.into, "copied": copied}


@router.get("/{case_id}/timeline", response_model=list[MomentOut])
def get_timeline(case_id: str, runtime: RuntimeDep, context: OperatorDep) -> list[MomentOut]:
    """Everything that happened to the case, from the audit log (no content): messages, notes, steps,
    states, hand-overs, priority and verification changes, missed check-ins."""
    moments = _guarded(lambda: timeline.timeline(db=runtime.db, operator=context.operator, case_id=case_id))
    return [MomentOut(at=m.at, who=m.who, action=m.action, detail=m.detail) for m in moments]


@procedures_router.get("", response_model=list[ProcedureOut])
def list_procedures(runtime: RuntimeDep, context: OperatorDep) -> list[ProcedureOut]:
    """Every procedure loaded: its steps, who owns each, their checklists, fields, canned replies, moves."""
    return [procedure_out(p) for p in runtime.procedures]


def procedure_out(p: Procedure) -> ProcedureOut:
    return ProcedureOut(
        id=p.id,
        names=dict(p.names),
        steps=[
            StepOut(
                id=s.id,
                names=dict(s.names),
                guidance=dict(s.guidance),
                team=s.team,
                due_hours=s.due_hours,
                check_in_hours=s.check_in_hours,
                compartmentalised=s.compartmentalised,
                checklist=[ChecklistItemOut(id=c.id, labels=dict(c.labels)) for c in s.checklist],
                fields=[
                    FieldOut(
                        id=f.id,
                        kind=f.kind.value,
                        required=f.required,
                        labels=dict(f.labels),
                        options=[ChoiceOut(id=o.id, labels=dict(o.labels)) for o in f.options],
                    )
                    for f in s.fields
                ],
                replies=[CannedReplyOut(id=r.id, texts=dict(r.texts)) for r in s.replies],
                next=list(s.next),
            )
            for s in p.steps
        ],
        # A merged duplicate is not how a procedure ends: never offered as a move, not listed.
        outcomes=[o.value for o in Outcome if o is not Outcome.MERGED],
    )
