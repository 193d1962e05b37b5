"""The operator's own account: their passphrase, and the sessions open in their name (a lost phone, a
shared computer left logged in) with a button to end each one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from haven.accounts import services as accounts
from haven.accounts.login import clear_cookie, end_session, sessions_of
from haven.dependencies import OPERATOR_COOKIE, OperatorContext, OperatorDep, RuntimeDep
from haven.desk.pages import Csrf, checked, render
from haven.runtime import Runtime

router = APIRouter(prefix="/desk", include_in_schema=False)

NOTICES = {
    "passphrase": "Passphrase changed. Your keys are now locked under the new one.",
    "ended": "That session is over: whoever had it must log in again.",
    "others": "Every other session is over. Only this one is still open.",
}


def _account_page(
    request: Request, runtime: Runtime, context: OperatorContext, status_code: int = 200, **values: Any
) -> Response:
    values.setdefault("error", None)
    values.setdefault("notice", NOTICES.get(request.query_params.get("done", ""), ""))
    return render(
        request,
        runtime,
        "account.html",
        context,
        status_code,
        sessions=sessions_of(runtime, context.operator),
        this_session=context.session_id,
        **values,
    )


@router.get("/account")
def account(request: Request, runtime: RuntimeDep, context: OperatorDep) -> Response:
    return _account_page(request, runtime, context)


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
    checked(context, csrf_token)
    if new != repeat:
        return _account_page(request, runtime, context, 400, error="The two new passphrases differ.")

    def change() -> None:
        with runtime.db.write() as s:
            accounts.change_passphrase(
                db_session=s, operator=context.operator, current=current, new=new, kdf=runtime.kdf
            )

    try:
        await run_in_threadpool(change)
    except accounts.AccountError as exc:
        return _account_page(request, runtime, context, 400, error=str(exc))
    return RedirectResponse("/desk/account?done=passphrase", status_code=303)


@router.post("/account/sessions/end")
def end_one_session(
    request: Request,
    runtime: RuntimeDep,
    context: OperatorDep,
    session_id: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Csrf = "",
) -> Response:
    checked(context, csrf_token)
    if not end_session(runtime, context.operator, session_id):
        return _account_page(request, runtime, context, 404, error="That session is already over.")
    if session_id == context.session_id:
        response = RedirectResponse("/desk/login", status_code=303)
        clear_cookie(response, runtime, OPERATOR_COOKIE)
        return response
    return RedirectResponse("/desk/account?done=ended", status_code=303)


@router.post("/account/sessions/end-others")
def end_other_sessions(
    request: Request, runtime: RuntimeDep, context: OperatorDep, csrf_token: Csrf = ""
) -> Response:
    checked(context, csrf_token)
    for session in sessions_of(runtime, context.operator):
        if session.id != context.session_id:
            end_session(runtime, context.operator, session.id)
    return RedirectResponse("/desk/account?done=others", status_code=303)
