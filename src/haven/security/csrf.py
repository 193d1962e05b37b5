"""CSRF: every state-changing desk or requester request carries the session's token, in a form field
(`csrf_token`) or the `X-CSRF-Token` header. Cookies are also SameSite=Strict."""

from __future__ import annotations

import hmac

HEADER = "X-CSRF-Token"
FIELD = "csrf_token"


def token_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())
