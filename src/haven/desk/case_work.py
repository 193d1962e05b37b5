"""The case's procedure and triage on the desk: the page's Procedure, Triage and Timeline panels, and the
forms behind them. Each form answers 303 back to the case, except a refused move: the page again, 409,
with the reason and the ticks as they were sent, so nothing typed is lost."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from haven.cases import links, merge, steps, tags, timeline, triage
from haven.cases import services as cases
from haven.cases.procedure import OUTCOMES, FieldKind, Procedure, Step
from haven.cases.states import TRANSITIONS, CaseState, Priority
from haven.channels import replies
from haven.dependencies import NotPermitted, OperatorContext, OperatorDep, RuntimeDep
from haven.desk.case_words import OUTCOME_WORDS, move_label, row_words, timeline_lines
from haven.desk.pages import Csrf, Text, back, checked, render
from haven.runtime import Runtime
from haven.security.csrf import FIELD

router = APIRouter(prefix="/desk", include_in_schema=False)

FIELD_PREFIX = "field."  # a step field's form name: field.<id>
Short = Annotated[str, Form(max_length=100)]


def show_case(
    request: Request,
    runtime: Runtime,
    context: OperatorContext,
    case_id: str,
    *,
    status_code: int = 200,
    notice: str = "",
    error: str = "",
    error_title: str = "",
    work: steps.StepWork | None = None,
    reply_id: str = "",
) -> Response:
    """The case page; `work` (ticks and fields as sent) stands in for the saved work after a refusal."""
    operator = context.operator
    view = cases.open_for_operator(db=runtime.db, operator=operator, case_id=case_id)
    runtime.resume_case_deliveries(view)
    position = steps.position_of(
        procedure_id=view.procedure, position=view.step, procedures=runtime.procedures, records=view.records
    )
    canned = position.step.reply(reply_id) if position.step and reply_id else None
    state_moves = sorted(TRANSITIONS[view.state])
    if position.procedure is not None:
        # A case with a procedure closes through an outcome and reopens into its first step.
        closed = view.state is CaseState.CLOSED
        state_moves = [m for m in state_moves if m is not CaseState.CLOSED and not closed]
    return render(
        request,
        runtime,
        "case.html",
        context,
        status_code,
        case=view,
        kind=runtime.catalogue.types.get(view.request_type),
        moves=state_moves,
        deliveries=replies.deliveries(db=runtime.db, case_id=case_id),
        notice=notice,
        error=error,
        error_title=error_title,
        unsaved=work is not None,
        position=position,
        work=work if work is not None else position.work,
        move_label=move_label,
        outcomes=OUTCOME_WORDS,
        **row_words(runtime),
        tags=tags.tags_of(view.records),
        linked=links.linked(db=runtime.db, operator=operator, case_id=case_id),
        timeline=timeline_lines(
            timeline.timeline(db=runtime.db, operator=operator, case_id=case_id), position.procedure
        ),
        canned=canned,
        prefill=(canned.texts.get(view.language) or canned.texts["en"]) if canned else "",
        sees_restricted=cases.sees_restricted(operator),
        priorities=list(Priority),
        assignable=triage.assignable(db=runtime.db, operator=operator, case_id=case_id),
        verifications=list(triage.Verification),
    )


def _value(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _work_sent(form: FormData, step: Step) -> steps.StepWork:
    ticked = frozenset(v for v in form.getlist("checklist") if isinstance(v, str))
    fields = {f.id: _value(form, FIELD_PREFIX + f.id) for f in step.fields}
    return steps.StepWork(step.id, ticked, fields)


def _refusal(
    procedure: Procedure, position: str, target: str, work: steps.StepWork | None, limit: int
) -> str:
    """Why the form cannot be taken as sent, in our own words (a forged form's values are never echoed)."""
    if target != position and not procedure.may_move(position, target):
        return "That move is not offered from here: choose one of the buttons below."
    step = procedure.step(position)
    if step is None or work is None:
        return ""
    if not work.checklist <= {item.id for item in step.checklist}:
        return "The checklist sent is not this step's: reload the page and tick again."
    for f in step.fields:
        value = work.fields.get(f.id, "")
        if f.kind is FieldKind.TEXT and len(value) > limit:
            return f"“{f.labels['en']}” takes at most {limit} characters."
    return ""


def _work_on_step(
    request: Request, runtime: Runtime, context: OperatorContext, case_id: str, form: FormData
) -> Response:
    rows = cases.queue_rows(db=runtime.db, operator=context.operator, case_ids=[case_id])
    if not rows:
        raise cases.CaseNotFound(case_id)
    row, page = rows[0], f"/desk/cases/{case_id}"
    procedure = runtime.procedures.get(row.procedure)
    if procedure is None:
        return back(page, "no_procedure")
    step = procedure.step(row.step)
    target = _value(form, "to") or row.step
    work = _work_sent(form, step) if step is not None else None

    def refuse(why: str, kept: steps.StepWork | None = work) -> Response:
        title = "Not saved." if target == row.step else "Not moved."
        return show_case(
            request, runtime, context, case_id, status_code=409, error=why, error_title=title, work=kept
        )

    if _value(form, "step") != row.step:
        return refuse("Someone moved this case since the page was loaded: here it is as it stands now.", None)
    problem = _refusal(procedure, row.step, target, work, runtime.settings.max_message_chars)
    if problem:
        return refuse(problem)
    try:
        result = steps.move_to_step(
            db=runtime.db,
            operator=context.operator,
            case_id=case_id,
            procedures=runtime.procedures,
            target=target,
            work=work,
        )
    except steps.StepRefused as refused:
        return refuse(refused.detail)
    if result.handed_to and not cases.queue_rows(
        db=runtime.db, operator=context.operator, case_ids=[case_id]
    ):
        # Handed to a team the operator is not in (a compartmentalised step): the case is theirs no more.
        return RedirectResponse(f"/desk/?handed={result.handed_to}", status_code=303)
    if not result.moved:
        return back(page, "saved")
    if result.moved and replies.ask_whether_we_helped(
        db=runtime.db, operator=context.operator, case_id=case_id, outbox=runtime.outbox
    ):
        return back(page, "ended_asked")
    if result.missing_team or result.handed_to:
        return back(page, "missing_team" if result.missing_team else "handed")
    return back(page, "ended" if target in OUTCOMES else "moved")


@router.post("/cases/{case_id}/step")
async def work_on_step(request: Request, case_id: str, runtime: RuntimeDep, context: OperatorDep) -> Response:
    """Save the current step's checklist and fields (`to` = the current step), or save them and move the
    case (`to` = a step or an outcome the procedure offers)."""
    form = await request.form()
    checked(context, _value(form, FIELD))
    return await run_in_threadpool(_work_on_step, request, runtime, context, case_id, form)


@router.post("/cases/{case_id}/priority")
def set_priority(
    case_id: str, runtime: RuntimeDep, context: OperatorDep, priority: Short = "", csrf_token: Csrf = ""
) -> Response:
    checked(context, csrf_token)
    if priority not in {p.value for p in Priority}:
        return back(f"/desk/cases/{case_id}", "bad_input")
    triage.set_priority(
        db=runtime.db, operator=context.operator, case_id=case_id, priority=Priority(priority)
    )
    return back(f"/desk/cases/{case_id}", "priority")


@router.post("/cases/{case_id}/assignee")
def set_assignee(
    case_id: str, runtime: RuntimeDep, context: OperatorDep, assignee: Short = "", csrf_token: Csrf = ""
) -> Response:
    """Take the case, assign it to a member of its team, or to nobody (an empty choice)."""
    checked(context, csrf_token)
    page = f"/desk/cases/{case_id}"
    try:
        triage.assign(db=runtime.db, operator=context.operator, case_id=case_id, username=assignee or None)
    except triage.TriageRefused:
        return back(page, "bad_input")
    return back(page, "assigned")


@router.post("/cases/{case_id}/verification")
def set_verification(
    case_id: str,
    runtime: RuntimeDep,
    context: OperatorDep,
    verification: Short = "",
    reason: Text = "",
    csrf_token: Csrf = "",
) -> Response:
    checked(context, csrf_token)
    page = f"/desk/cases/{case_id}"
    if verification not in {v.value for v in triage.Verification}:
        return back(page, "bad_input")
    if len(reason) > runtime.settings.max_message_chars:
        return back(page, "reason_long")
    try:
        triage.set_verification(
            db=runtime.db,
            operator=context.operator,
            case_id=case_id,
            verification=triage.Verification(verification),
            reason=reason,
        )
    except triage.TriageRefused:
        return back(page, "reason_needed")
    return back(page, "verification")


@router.post("/cases/{case_id}/restriction")
def set_restriction(
    case_id: str, runtime: RuntimeDep, context: OperatorDep, restricted: Short = "", csrf_token: Csrf = ""
) -> Response:
    """Restrict the case to coordinators and admins (`restricted=yes`) or lift that (`no`)."""
    checked(context, csrf_token)
    if restricted not in ("yes", "no"):
        return back(f"/desk/cases/{case_id}", "bad_input")
    try:
        triage.set_restricted(
            db=runtime.db, operator=context.operator, case_id=case_id, restricted=restricted == "yes"
        )
    except triage.TriageForbidden:
        raise NotPermitted from None
    return back(f"/desk/cases/{case_id}", "restricted" if restricted == "yes" else "unrestricted")


@router.post("/cases/{case_id}/tags")
def set_tags(
    case_id: str,
    runtime: RuntimeDep,
    context: OperatorDep,
    tags_text: Annotated[str, Form(alias="tags", max_length=2000)] = "",
    csrf_token: Csrf = "",
) -> Response:
    checked(context, csrf_token)
    try:
        chosen = tags.parse_tags(tags_text)
    except tags.TagsRefused:
        return back(f"/desk/cases/{case_id}", "tags_refused")
    tags.set_tags(db=runtime.db, operator=context.operator, case_id=case_id, tags=chosen)
    return back(f"/desk/cases/{case_id}", "tags")


def _other_case_unknown(missing: cases.CaseNotFound | cases.CaseForbidden, case_id: str) -> Response:
    """Linking or merging named a case the operator cannot reach. If it is the other case, say so on this
    case's page; if it is this case itself, it answers like any case not shared with them (raised again)."""
    if missing.args and missing.args[0] == case_id:
        raise missing
    return back(f"/desk/cases/{case_id}", "link_unknown")


def _link_or_unlink(
    runtime: Runtime, context: OperatorContext, case_id: str, other: str, *, link: bool
) -> Response:
    page = f"/desk/cases/{case_id}"
    action = links.link if link else links.unlink
    try:
        action(db=runtime.db, operator=context.operator, case_id=case_id, other_id=other)
    except links.LinkRefused:
        return back(page, "link_self")
    except (cases.CaseNotFound, cases.CaseForbidden) as missing:
        return _other_case_unknown(missing, case_id)
    return back(page, "linked" if link else "unlinked")


@router.post("/cases/{case_id}/links")
def link_case(
    case_id: str, runtime: RuntimeDep, context: OperatorDep, other: Short = "", csrf_token: Csrf = ""
) -> Response:
    """Link another case (its id, as in its address) to this one."""
    checked(context, csrf_token)
    return _link_or_unlink(runtime, context, case_id, other, link=True)


@router.post("/cases/{case_id}/unlink")
def unlink_case(
    case_id: str, runtime: RuntimeDep, context: OperatorDep, other: Short = "", csrf_token: Csrf = ""
) -> Response:
    checked(context, csrf_token)
    return _link_or_unlink(runtime, context, case_id, other, link=False)


@router.post("/cases/{case_id}/merge")
def merge_case(
    case_id: str, runtime: RuntimeDep, context: OperatorDep, into: Short = "", csrf_token: Csrf = ""
) -> Response:
    """Merge this case (a duplicate) into another: its thread is copied there and it ends as merged."""
    checked(context, csrf_token)
    page = f"/desk/cases/{case_id}"
    try:
        copied = merge.merge(db=runtime.db, operator=context.operator, duplicate_id=case_id, into_id=into)
    except merge.MergeRefused:
        return back(page, "merge_refused")
    except (cases.CaseNotFound, cases.CaseForbidden) as missing:
        return _other_case_unknown(missing, case_id)
    with runtime.db.read() as s:
        target = links.resolve(s, into)
    return back(f"/desk/cases/{target}", "merged_in" if copied else "linked")
