"""Operator sessions over the JSON API."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from haven.accounts.lockout import AccountLocked
from haven.accounts.login import log_in, log_out, set_session_cookie
from haven.accounts.schemas import LoginIn, SessionOut
from haven.accounts.services import LoginFailed
from haven.dependencies import OPERATOR_COOKIE, RuntimeDep, limited
from haven.problems import Problem
from haven.security.ratelimit import Action

router = APIRouter(prefix="/api/v1/session", tags=["session"])


@router.post("", response_model=SessionOut, dependencies=[limited(Action.LOGIN)])
async def start_session(body: LoginIn, response: Response, runtime: RuntimeDep) -> SessionOut:
    """Log in with username, passphrase and a one-time code; unlocks the operator's keys for this session.

    After five failed logins in a row the account is locked for a while (423), whatever is typed.
    """
    try:
        # Argon2id takes most of a second: never on the event loop.
        operator, token, csrf = await run_in_threadpool(
            log_in, runtime, username=body.username, passphrase=body.passphrase, code=body.totp
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
