"""Starting and ending an operator's session, shared by the desk's login page and the JSON API."""

from __future__ import annotations

from fastapi import Response

from haven.accounts.services import UnlockedOperator, authenticate
from haven.dependencies import OPERATOR_COOKIE
from haven.runtime import Runtime


def log_in(
    runtime: Runtime, *, username: str, passphrase: str, code: str
) -> tuple[UnlockedOperator, str, str]:
    """Check the credentials (raises LoginFailed) and open a session: (operator, cookie token, CSRF token)."""
    with runtime.db.write() as s:
        operator = authenticate(
            db_session=s,
            username=username,
            passphrase=passphrase,
            code=code,
            totp_key=runtime.secrets.totp_key,
            kdf=runtime.kdf,
        )
    token, csrf = runtime.sessions.start(
        kind="operator",
        subject=str(operator.id),
        key=operator.private_key,
        idle_seconds=runtime.settings.session_idle_minutes * 60,
        label=f"{operator.role.value}:{operator.username}",
    )
    return operator, token, csrf


def set_session_cookie(response: Response, runtime: Runtime, name: str, token: str) -> None:
    # A session cookie (no Max-Age): gone when the browser closes.
    response.set_cookie(
        name, token, httponly=True, samesite="strict", secure=runtime.settings.secure_cookies, path="/"
    )


def clear_cookie(response: Response, runtime: Runtime, name: str) -> None:
    response.delete_cookie(
        name, path="/", httponly=True, samesite="strict", secure=runtime.settings.secure_cookies
    )


def log_out(runtime: Runtime, response: Response, token: str | None) -> None:
    """End the session, and free the search indexes no other open session uses."""
    session = runtime.sessions.resolve(token, kind="operator")
    runtime.sessions.end(token)
    if session is not None:
        runtime.search.forget_session(session.id)
    clear_cookie(response, runtime, OPERATOR_COOKIE)
