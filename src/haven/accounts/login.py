"""Starting and ending an operator's session, shared by the desk's login page and the JSON API."""

from __future__ import annotations

import threading

from fastapi import Response

from haven.accounts.lockout import AccountLocked, record_failed_login
from haven.accounts.services import LoginFailed, UnknownOperator, UnlockedOperator, authenticate
from haven.dependencies import OPERATOR_COOKIE
from haven.runtime import Runtime
from haven.security.sessions import SessionInfo

# Argon2id takes 128 MiB and most of a second: a burst of logins waits its turn rather than exhausting
# memory (the thread pool would otherwise run dozens at once).
_ARGON2_AT_ONCE = threading.BoundedSemaphore(2)


def check_credentials(runtime: Runtime, *, username: str, passphrase: str, code: str) -> UnlockedOperator:
    """Open the operator's private key. A wrong passphrase or code counts towards the account's lockout.

    Raises UnknownOperator (the caller decides how to count those), LoginFailed or AccountLocked."""
    try:
        return authenticate(
            db=runtime.db,
            username=username,
            passphrase=passphrase,
            code=code,
            totp_key=runtime.secrets.totp_key,
            kdf=runtime.kdf,
        )
    except UnknownOperator:
        raise
    except LoginFailed:
        with runtime.db.write() as s:
            locked_until = record_failed_login(db_session=s, username=username)
        if locked_until is not None:
            raise AccountLocked(locked_until) from None
        raise


def log_in(
    runtime: Runtime, *, username: str, passphrase: str, code: str, device: str = ""
) -> tuple[UnlockedOperator, str, str]:
    """Check the credentials and open a session: (operator, cookie token, CSRF token).

    Blocks (Argon2id): call it in a thread. Raises LoginFailed, or AccountLocked once too many logins for
    this username have failed in a row; a username nobody has locks the same way, so neither the answer
    nor its timing tells who has an account.
    """
    runtime.unknown_names.refuse_if_locked(username)
    try:
        with _ARGON2_AT_ONCE:
            operator = check_credentials(runtime, username=username, passphrase=passphrase, code=code)
    except UnknownOperator:
        locked_until = runtime.unknown_names.failed(username)
        if locked_until is not None:
            raise AccountLocked(locked_until) from None
        raise
    token, csrf = runtime.sessions.start(
        kind="operator",
        subject=str(operator.id),
        key=operator.private_key,
        idle_seconds=runtime.settings.session_idle_minutes * 60,
        label=f"{operator.role.value}:{operator.username}",
        device=device,
    )
    session = runtime.sessions.resolve(token, kind="operator")
    if session is not None:
        # Their copies of retired team keys let the background re-wrap finish a revocation's work.
        runtime.rewrap.start_for(operator, session.id)
    # Replies a restart left undelivered: only a member of their team can open what to send.
    runtime.resume_deliveries(operator)
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


def sessions_of(runtime: Runtime, operator: UnlockedOperator) -> list[SessionInfo]:
    """The operator's open sessions, most recently active first."""
    return runtime.sessions.list(kind="operator", subject=str(operator.id), key=operator.private_key)


def end_session(runtime: Runtime, operator: UnlockedOperator, session_id: str) -> bool:
    """End one of the operator's own sessions (a lost phone, a shared computer); False if none such."""
    ended = runtime.sessions.end_one(kind="operator", subject=str(operator.id), session_id=session_id)
    if ended:
        runtime.search.forget_session(session_id)
    return ended
