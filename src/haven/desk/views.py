"""The desk: thin routes that parse a form, call one service and render or redirect (POST-redirect-GET)."""

from __future__ import annotations

from typing import Annotated, Any

import segno
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from haven.accounts import services as accounts
from haven.accounts import totp
from haven.accounts.lockout import AccountLocked, is_locked, unlock_operator
from haven.accounts.login import log_in, log_out, set_session_cookie
from haven.accounts.models import Operator, Role
from haven.cases import services as cases
from haven.cases.search import MAX_QUERY_CHARS, QueryRejected
from haven.cases.states import TRANSITIONS, CaseState, InvalidTransition
from haven.crypto.receipts import diceware
from haven.dependencies import (
    OPERATOR_COOKIE,
    AdminDep,
    CsrfRejected,
    OperatorContext,
    OperatorDep,
    RuntimeDep,
)
from haven.i18n import Translator
from haven.intake.services import IntakeError, check_message
from haven.runtime import Runtime
from haven.security.csrf import FIELD, token_matches
from haven.security.ratelimit import Action, RateLimited

router = APIRouter(prefix="/desk", include_in_schema=False)

MAX_PAGE = 100_000

Csrf = Annotated[str, Form(alias=FIELD, max_length=200)]
Text = Annotated[str, Form(max_length=40_000)]


def _render(
    request: Request,
    runtime: Runtime,
    template: str,
    context: OperatorContext | None = None,
    status_code: int = 200,
    **values: Any,
) -> Response:
    return runtime.templates.TemplateResponse(
        request,
        f"desk/{template}",
        {
            "t": Translator("en"),
            "me": context.operator if context else None,
            "csrf_token": context.csrf_token if context else "",
            "catalogue": runtime.catalogue,
            **values,
        },
        status_code=status_code,
    )


def _checked(context: OperatorContext, token: str) -> OperatorContext:
    if not token_matches(context.csrf_token, token):
        raise CsrfRejected
    return context


def _back(path: str, notice: str = "") -> RedirectResponse:
    return RedirectResponse(f"{path}?notice={notice}" if notice else path, status_code=303)


@router.get("/login")
def login_form(request: Request, runtime: RuntimeDep) -> Response:
    return _render(request, runtime, "login.html", error=None, username="")


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
            log_in, runtime, username=username, passphrase=passphrase, code=code
        )
    except RateLimited as exc:
        message = Translator("en")(
            "rate_limited_busy" if exc.busy else "rate_limited", seconds=exc.retry_after
        )
        status = 503 if exc.busy else 429
        response = _render(
            request, runtime, "login.html", status_code=status, error=message, username=username
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except AccountLocked as locked:
        return _render(
            request, runtime, "login.html", status_code=423, error=locked.message(), username=username
        )
    except accounts.LoginFailed:
        return _render(
            request, runtime, "login.html", status_code=401, error="login_failed", username=username
        )
    response = RedirectResponse("/desk/", status_code=303)
    set_session_cookie(response, runtime, OPERATOR_COOKIE, token)
    return response


@router.post("/logout")
def logout(request: Request, runtime: RuntimeDep, context: OperatorDep, csrf_token: Csrf = "") -> Response:
    _checked(context, csrf_token)
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
) -> Response:
    # One more row than a page, to know whether there is a next page without counting every case.
    rows = cases.queue(
        db=runtime.db,
        operator=context.operator,
        closed=closed,
        limit=cases.QUEUE_PAGE + 1,
        offset=(page - 1) * cases.QUEUE_PAGE,
    )
    return _render(
        request,
        runtime,
        "queue.html",
        context,
        rows=rows[: cases.QUEUE_PAGE],
        closed=closed,
        page=page,
        first=(page - 1) * cases.QUEUE_PAGE + 1,
        has_next=len(rows) > cases.QUEUE_PAGE,
        max_query_chars=MAX_QUERY_CHARS,
    )


def _search_page(
    request: Request, runtime: Runtime, context: OperatorContext, status_code: int = 200, **values: Any
) -> Response:
    values = {"q": "", "result": None, "error": None, "max_query_chars": MAX_QUERY_CHARS, **values}
    return _render(request, runtime, "search.html", context, status_code, **values)


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
    _checked(context, csrf)
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
def case_page(request: Request, case_id: str, runtime: RuntimeDep, context: OperatorDep) -> Response:
    view = cases.open_for_operator(db=runtime.db, operator=context.operator, case_id=case_id)
    kind = runtime.catalogue.types.get(view.request_type)
    return _render(
        request,
        runtime,
        "case.html",
        context,
        case=view,
        kind=kind,
        moves=sorted(TRANSITIONS[view.state]),
        notice=request.query_params.get("notice", ""),
    )


def _write(runtime: Runtime, context: OperatorContext, case_id: str, text: str, *, note: bool) -> Response:
    try:
        clean = check_message(text, max_chars=runtime.settings.max_message_chars, field="text")
    except IntakeError:
        return _back(f"/desk/cases/{case_id}", "empty")
    service = cases.add_note if note else cases.reply
    service(db=runtime.db, operator=context.operator, case_id=case_id, text=clean)
    return _back(f"/desk/cases/{case_id}", "note" if note else "reply")


@router.post("/cases/{case_id}/reply")
def reply(
    case_id: str, runtime: RuntimeDep, context: OperatorDep, text: Text = "", csrf_token: Csrf = ""
) -> Response:
    return _write(runtime, _checked(context, csrf_token), case_id, text, note=False)


@router.post("/cases/{case_id}/note")
def note(
    case_id: str, runtime: RuntimeDep, context: OperatorDep, text: Text = "", csrf_token: Csrf = ""
) -> Response:
    return _write(runtime, _checked(context, csrf_token), case_id, text, note=True)


@router.post("/cases/{case_id}/state")
def change_state(
    case_id: str,
    runtime: RuntimeDep,
    context: OperatorDep,
    state: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Csrf = "",
) -> Response:
    _checked(context, csrf_token)
    try:
        target = CaseState(state)
        cases.change_state(db=runtime.db, operator=context.operator, case_id=case_id, target=target)
    except (ValueError, InvalidTransition):
        return _back(f"/desk/cases/{case_id}", "bad_state")
    return _back(f"/desk/cases/{case_id}", "state")


@router.get("/account")
def account(request: Request, runtime: RuntimeDep, context: OperatorDep) -> Response:
    return _render(
        request, runtime, "account.html", context, error=None, done=request.query_params.get("done") == "1"
    )


@router.post("/account/passphrase")
async def change_passphrase(
    request: Request,
    runtime: RuntimeDep,
    context: OperatorDep,
    current: Annotated[str, Form(max_length=1000)] = "",
    new: Annotated[str, Form(max_length=1000)] = "",
    repeat: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Csrf = "",
) -> Response:
    _checked(context, csrf_token)
    if new != repeat:
        return _render(
            request,
            runtime,
            "account.html",
            context,
            400,
            error="The two new passphrases differ.",
            done=False,
        )

    def change() -> None:
        with runtime.db.write() as s:
            accounts.change_passphrase(
                db_session=s, operator=context.operator, current=current, new=new, kdf=runtime.kdf
            )

    try:
        await run_in_threadpool(change)
    except accounts.AccountError as exc:
        return _render(request, runtime, "account.html", context, 400, error=str(exc), done=False)
    return RedirectResponse("/desk/account?done=1", status_code=303)


def _admin_page(
    request: Request, runtime: Runtime, context: OperatorContext, status_code: int = 200, **values: Any
) -> Response:
    with runtime.db.read() as s:
        operators = accounts.list_operators(db_session=s)
        teams = accounts.list_teams(db_session=s)
        members = accounts.memberships(db_session=s)
    values.setdefault("error", None)
    values.setdefault("locked", {op.id for op in operators if is_locked(op)})
    values.setdefault("created", None)
    return _render(
        request,
        runtime,
        "admin.html",
        context,
        status_code,
        operators=operators,
        teams=teams,
        members=members,
        roles=list(Role),
        **values,
    )


@router.get("/admin")
def admin_page(request: Request, runtime: RuntimeDep, context: AdminDep) -> Response:
    return _admin_page(request, runtime, context)


@router.post("/admin/teams")
def create_team(
    request: Request,
    runtime: RuntimeDep,
    context: AdminDep,
    slug: Annotated[str, Form(max_length=40)] = "",
    name: Annotated[str, Form(max_length=120)] = "",
    csrf_token: Csrf = "",
) -> Response:
    _checked(context, csrf_token)
    try:
        with runtime.db.write() as s:
            me = s.get(Operator, context.operator.id)
            accounts.create_team(
                db_session=s, slug=slug, name=name, members=[me] if me else [], by=context.operator.actor
            )
    except accounts.AccountError as exc:
        return _admin_page(request, runtime, context, 400, error=str(exc))
    return RedirectResponse("/desk/admin", status_code=303)


@router.post("/admin/operators")
async def create_operator(
    request: Request,
    runtime: RuntimeDep,
    context: AdminDep,
    username: Annotated[str, Form(max_length=40)] = "",
    role: Annotated[str, Form(max_length=20)] = "operator",
    csrf_token: Csrf = "",
) -> Response:
    _checked(context, csrf_token)
    passphrase = diceware(6)

    def create() -> accounts.NewOperator:
        with runtime.db.write() as s:
            return accounts.create_operator(
                db_session=s,
                username=username,
                passphrase=passphrase,
                role=Role(role) if role in Role.__members__.values() else Role.OPERATOR,
                kdf=runtime.kdf,
                totp_key=runtime.secrets.totp_key,
                must_change_passphrase=True,
                by=context.operator.actor,
            )

    try:
        new = await run_in_threadpool(create)
    except accounts.AccountError as exc:
        return _admin_page(request, runtime, context, 400, error=str(exc))
    uri = totp.provisioning_uri(
        new.totp_secret, username=new.operator.username, issuer=runtime.settings.org_name
    )
    created = {
        "username": new.operator.username,
        "passphrase": passphrase,
        "totp_secret": new.totp_secret,
        "qr_svg": segno.make(uri, error="m").svg_inline(scale=4),
    }
    return _admin_page(request, runtime, context, 201, created=created)


@router.post("/admin/unlock")
def unlock(
    request: Request,
    runtime: RuntimeDep,
    context: AdminDep,
    operator_id: Annotated[int, Form()] = 0,
    csrf_token: Csrf = "",
) -> Response:
    """Lift a lockout after too many failed logins (and forget the failures)."""
    _checked(context, csrf_token)
    with runtime.db.write() as s:
        found = unlock_operator(db_session=s, operator_id=operator_id, by=context.operator.actor)
    if not found:
        return _admin_page(request, runtime, context, 400, error="No such operator.")
    return RedirectResponse("/desk/admin", status_code=303)


@router.post("/admin/grants")
def grant(
    request: Request,
    runtime: RuntimeDep,
    context: AdminDep,
    operator_id: Annotated[int, Form()] = 0,
    team_id: Annotated[int, Form()] = 0,
    csrf_token: Csrf = "",
) -> Response:
    _checked(context, csrf_token)
    try:
        with runtime.db.write() as s:
            accounts.grant_membership(
                db_session=s, team_id=team_id, operator_id=operator_id, by=context.operator
            )
    except accounts.AccountError as exc:
        return _admin_page(request, runtime, context, 400, error=str(exc))
    return RedirectResponse("/desk/admin", status_code=303)
