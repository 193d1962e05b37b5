"""The desk: thin routes that parse a form, call one service and render or redirect (POST-redirect-GET)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from haven.accounts import services as accounts
from haven.accounts.devices import device_label
from haven.accounts.lockout import AccountLocked
from haven.accounts.login import log_in, log_out, set_session_cookie
from haven.attachments import services as attachments
from haven.attachments.responses import file_response
from haven.cases import check_ins
from haven.cases import services as cases
from haven.cases.search import MAX_QUERY_CHARS, QueryRejected
from haven.cases.states import CaseState, InvalidTransition
from haven.channels import replies
from haven.clock import now_minute
from haven.dependencies import (
    OPERATOR_COOKIE,
    OperatorContext,
    OperatorDep,
    RuntimeDep,
)
from haven.desk import case_words, case_work
from haven.desk.pages import Csrf, Text, back, checked, render
from haven.i18n import Translator
from haven.intake.services import IntakeError, check_message
from haven.runtime import Runtime
from haven.security.ratelimit import Action, RateLimited

router = APIRouter(prefix="/desk", include_in_schema=False)

MAX_PAGE = 100_000


@router.get("/login")
def login_form(request: Request, runtime: RuntimeDep) -> Response:
    return render(request, runtime, "login.html", error=None, username="")


@router.post("/login")
async def login(
    request: Request,
    runtime: RuntimeDep,
    username: Annotated[str, Form(max_length=100)] = "",
    passphrase: Annotated[str, Form(max_length=1000)] = "",
    code: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    try:
        runtime.limits.check_request(Action.LOGIN, request)
        # Argon2id takes most of a second: never on the event loop.
        _operator, token, _csrf = await run_in_threadpool(
            lambda: log_in(
                runtime,
                username=username,
                passphrase=passphrase,
                code=code,
                device=device_label(request.headers.get("user-agent")),
            )
        )
    except RateLimited as exc:
        message = Translator("en")(
            "rate_limited_busy" if exc.busy else "rate_limited", seconds=exc.retry_after
        )
        status = 503 if exc.busy else 429
        response = render(
            request, runtime, "login.html", status_code=status, error=message, username=username
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except AccountLocked as locked:
        return render(
            request, runtime, "login.html", status_code=423, error=locked.message(), username=username
        )
    except accounts.LoginFailed:
        return render(
            request, runtime, "login.html", status_code=401, error="login_failed", username=username
        )
    response = RedirectResponse("/desk/", status_code=303)
    set_session_cookie(response, runtime, OPERATOR_COOKIE, token)
    return response


@router.post("/logout")
def logout(request: Request, runtime: RuntimeDep, context: OperatorDep, csrf_token: Csrf = "") -> Response:
    checked(context, csrf_token)
    response = RedirectResponse("/desk/login", status_code=303)
    log_out(runtime, response, request.cookies.get(OPERATOR_COOKIE))
    return response


@router.get("/")
def queue(
    request: Request,
    runtime: RuntimeDep,
    context: OperatorDep,
    closed: bool = False,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    handed: str = "",
) -> Response:
    # One more row than a page, to know whether there is a next page without counting every case.
    rows = cases.queue(
        db=runtime.db,
        operator=context.operator,
        closed=closed,
        limit=cases.QUEUE_PAGE + 1,
        offset=(page - 1) * cases.QUEUE_PAGE,
    )
    now = now_minute()
    shown = rows[: cases.QUEUE_PAGE]
    return render(
        request,
        runtime,
        "queue.html",
        context,
        rows=shown,
        closed=closed,
        page=page,
        first=(page - 1) * cases.QUEUE_PAGE + 1,
        has_next=len(rows) > cases.QUEUE_PAGE,
        max_query_chars=MAX_QUERY_CHARS,
        missed=[] if closed else check_ins.missed(db=runtime.db, operator=context.operator),
        overdue=sum(1 for row in shown if row.overdue(now)),
        # Only a team some procedure names: the address never puts other words on the page.
        handed=handed if handed in runtime.procedures.teams() else "",
        **case_words.row_words(runtime, now),
    )


def _search_page(
    request: Request, runtime: Runtime, context: OperatorContext, status_code: int = 200, **values: Any
) -> Response:
    values = {
        "q": "",
        "result": None,
        "error": None,
        "max_query_chars": MAX_QUERY_CHARS,
        **case_words.row_words(runtime),
        **values,
    }
    return render(request, runtime, "search.html", context, status_code, **values)


@router.get("/search")
def search_form(request: Request, runtime: RuntimeDep, context: OperatorDep) -> Response:
    return _search_page(request, runtime, context)


@router.post("/search")
def search(
    request: Request,
    runtime: RuntimeDep,
    context: OperatorDep,
    csrf: Csrf = "",
    q: Annotated[str, Form(max_length=4 * MAX_QUERY_CHARS)] = "",
) -> Response:
    """The words searched for come in a POST body: never in a URL, so never in history or a proxy log."""
    checked(context, csrf)
    if not q.strip():
        return _search_page(request, runtime, context)
    try:
        result = runtime.search.search(operator=context.operator, session_id=context.session_id, query=q)
    except QueryRejected:
        return _search_page(
            request, runtime, context, 400, error=f"Write between 1 and {MAX_QUERY_CHARS} characters."
        )
    return _search_page(request, runtime, context, q=q, result=result)


@router.get("/cases/{case_id}")
def case_page(
    request: Request,
    case_id: str,
    runtime: RuntimeDep,
    context: OperatorDep,
    notice: str = "",
    reply: str = "",
) -> Response:
    """The case; `?reply=<id>` fills the reply with one of the step's canned replies, in their language."""
    return case_work.show_case(request, runtime, context, case_id, notice=notice, reply_id=reply)


@router.get("/cases/{case_id}/files/{file_id}")
def case_file(case_id: str, file_id: str, runtime: RuntimeDep, context: OperatorDep) -> Response:
    """One file of the case, decrypted: to an operator of the case's teams only, else 404 as for no case."""
    opened = attachments.open_for_operator(
        db=runtime.db, operator=context.operator, case_id=case_id, file_id=file_id
    )
    return file_response(opened)


def _write(runtime: Runtime, context: OperatorContext, case_id: str, text: str, *, note: bool) -> Response:
    try:
        clean = check_message(text, max_chars=runtime.settings.max_message_chars, field="text")
    except IntakeError:
        return back(f"/desk/cases/{case_id}", "empty")
    if note:
        cases.add_note(db=runtime.db, operator=context.operator, case_id=case_id, text=clean)
    else:
        replies.reply(
            db=runtime.db, operator=context.operator, case_id=case_id, text=clean, outbox=runtime.outbox
        )
    return back(f"/desk/cases/{case_id}", "note" if note else "reply")


@router.post("/cases/{case_id}/reply")
def reply(
    case_id: str, runtime: RuntimeDep, context: OperatorDep, text: Text = "", csrf_token: Csrf = ""
) -> Response:
    return _write(runtime, checked(context, csrf_token), case_id, text, note=False)


@router.post("/cases/{case_id}/note")
def note(
    case_id: str, runtime: RuntimeDep, context: OperatorDep, text: Text = "", csrf_token: Csrf = ""
) -> Response:
    return _write(runtime, checked(context, csrf_token), case_id, text, note=True)


@router.post("/cases/{case_id}/state")
def change_state(
    case_id: str,
    runtime: RuntimeDep,
    context: OperatorDep,
    state: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Csrf = "",
) -> Response:
    checked(context, csrf_token)
    try:
        target = CaseState(state)
        cases.change_state(db=runtime.db, operator=context.operator, case_id=case_id, target=target)
    except (ValueError, InvalidTransition):
        return back(f"/desk/cases/{case_id}", "bad_state")
    return back(f"/desk/cases/{case_id}", "state")
