"""Operator sessions over the JSON API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from haven.accounts.devices import device_label
from haven.accounts.lockout import AccountLocked
from haven.accounts.login import end_session as end_own_session
from haven.accounts.login import log_in, log_out, sessions_of, set_session_cookie
from haven.accounts.schemas import LoginIn, OpenSessionOut, SessionOut
from haven.accounts.services import LoginFailed
from haven.dependencies import OPERATOR_COOKIE, OperatorDep, RuntimeDep, WritingOperatorDep, limited
from haven.problems import Problem
from haven.security.ratelimit import Action

router = APIRouter(prefix="/api/v1/session", tags=["session"])
sessions_router = APIRouter(prefix="/api/v1/sessions", tags=["session"])


@router.post("", response_model=SessionOut, dependencies=[limited(Action.LOGIN)])
async def start_session(
    body: LoginIn, request: Request, response: Response, runtime: RuntimeDep
) -> SessionOut:
    """Log in with username, passphrase and a one-time code; unlocks the operator's keys for this session.

    After five failed logins in a row the account is locked for a while (423), whatever is typed.
    """
    try:
        # Argon2id takes most of a second: never on the event loop.
        operator, token, csrf = await run_in_threadpool(
            lambda: log_in(
                runtime,
                username=body.username,
                passphrase=body.passphrase,
                code=body.totp,
                device=device_label(request.headers.get("user-agent")),
            )
        )
    except AccountLocked as locked:
        raise Problem(423, locked.message(), title="Locked") from None
    except LoginFailed:
        raise Problem(401, "Username, passphrase or one-time code is wrong.") from None
    set_session_cookie(response, runtime, OPERATOR_COOKIE, token)
    return SessionOut(csrf_token=csrf, username=operator.username, role=operator.role.value)


@router.delete("", status_code=204)
def end_session(request: Request, response: Response, runtime: RuntimeDep) -> None:
    """Log out: the session and its unlocked keys are forgotten at once."""
    log_out(runtime, response, request.cookies.get(OPERATOR_COOKIE))


@sessions_router.get("", response_model=list[OpenSessionOut])
def list_sessions(runtime: RuntimeDep, context: OperatorDep) -> list[OpenSessionOut]:
    """Every open session of the logged-in operator, most recently active first."""
    return [
        OpenSessionOut(
            id=s.id,
            device=s.device,
            started_at=s.started_at,
            idle_seconds=int(s.idle_seconds),
            current=s.id == context.session_id,
        )
        for s in sessions_of(runtime, context.operator)
    ]


@sessions_router.delete("/{session_id}", status_code=204)
def end_session_by_id(
    session_id: Annotated[str, Path(max_length=200)], runtime: RuntimeDep, context: WritingOperatorDep
) -> None:
    """End one of your own sessions (a lost phone): it is logged out at once."""
    if not end_own_session(runtime, context.operator, session_id):
        raise Problem(404, "You have no open session with that id.")
