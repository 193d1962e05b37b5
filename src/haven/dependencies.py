"""FastAPI dependencies shared by the routers: the runtime, the logged-in operator, the requester."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from haven.accounts.models import Role
from haven.accounts.services import UnlockedOperator
from haven.intake.services import RequesterAccess
from haven.runtime import Runtime
from haven.security.csrf import HEADER, token_matches
from haven.security.ratelimit import Action

OPERATOR_COOKIE = "haven_session"
REQUESTER_COOKIE = "haven_requester"


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def limited(action: Action) -> Any:
    """A route's dependency that counts the request against `action`'s rate limits (RateLimited if over)."""

    async def count(request: Request, runtime: RuntimeDep) -> None:
        runtime.limits.check_request(action, request)

    return Depends(count)


class NotLoggedIn(Exception):
    pass


class CsrfRejected(Exception):
    pass


class NotPermitted(Exception):
    pass


@dataclass(frozen=True)
class OperatorContext:
    operator: UnlockedOperator
    csrf_token: str
    session_id: str  # the session's opaque handle (SessionStore.alive tells if it is still open)


def operator_context(request: Request, runtime: RuntimeDep) -> OperatorContext:
    session = runtime.sessions.resolve(request.cookies.get(OPERATOR_COOKIE), kind="operator")
    if session is None:
        raise NotLoggedIn
    role_name, _, username = session.label.partition(":")
    operator = UnlockedOperator(int(session.subject), username, Role(role_name), session.key)
    return OperatorContext(operator=operator, csrf_token=session.csrf_token, session_id=session.id)


OperatorDep = Annotated[OperatorContext, Depends(operator_context)]


def api_operator_writing(request: Request, context: OperatorDep) -> OperatorContext:
    """The operator, for a state-changing API call: the X-CSRF-Token header must match the session."""
    if not token_matches(context.csrf_token, request.headers.get(HEADER)):
        raise CsrfRejected
    return context


WritingOperatorDep = Annotated[OperatorContext, Depends(api_operator_writing)]


def admin(context: OperatorDep) -> OperatorContext:
    if context.operator.role is not Role.ADMIN:
        raise NotPermitted
    return context


AdminDep = Annotated[OperatorContext, Depends(admin)]


@dataclass(frozen=True)
class RequesterContext:
    access: RequesterAccess
    csrf_token: str


def requester_context(request: Request, runtime: RuntimeDep) -> RequesterContext | None:
    session = runtime.sessions.resolve(request.cookies.get(REQUESTER_COOKIE), kind="requester")
    if session is None:
        return None
    return RequesterContext(RequesterAccess(session.subject, session.key), session.csrf_token)


RequesterDep = Annotated[RequesterContext | None, Depends(requester_context)]
