"""Security headers on every response: a strict CSP with no other origin, no referrer, no framing,
no caching of anything that could hold a receipt or a message."""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self' data:",
        # Voice notes from the Telegram bot, played on the case page.
        "media-src 'self'",
        "font-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
# The same, plus scripts from our own origin: only for a page that asks (the request form's proof of work).
OWN_SCRIPTS_POLICY = f"{CONTENT_SECURITY_POLICY}; script-src 'self'"
_CSP = b"content-security-policy"
_OWN_SCRIPTS = (_CSP, OWN_SCRIPTS_POLICY.encode())
# The same, plus `sandbox`: a file handed out (attachments/responses.py), should a browser open it on its
# own, runs no script and gets an origin of its own.
SANDBOX_POLICY = f"{CONTENT_SECURITY_POLICY}; sandbox"
_SANDBOX = (_CSP, SANDBOX_POLICY.encode())

HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
)
NO_STORE = (b"cache-control", b"no-store")


def allow_own_scripts(response: Response) -> None:
    """Let this one response run scripts from our own origin; every other page runs none."""
    response.headers["content-security-policy"] = OWN_SCRIPTS_POLICY


def sandbox(response: Response) -> None:
    """Put this one response in a sandbox (it is a file, never a page of ours)."""
    response.headers["content-security-policy"] = SANDBOX_POLICY


class SecurityHeaders:
    """ASGI middleware: HEADERS on every response, and `Cache-Control: no-store` on all but static files."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                own = next((h for h in message.get("headers", []) if h in (_OWN_SCRIPTS, _SANDBOX)), None)
                headers = [h for h in message.get("headers", []) if h[0].lower() not in (b"server", _CSP)]
                # A response keeps no policy of its own but the one allow_own_scripts or sandbox sets.
                headers.extend(own if own and h[0] == _CSP else h for h in HEADERS)
                if not cacheable:
                    headers = [h for h in headers if h[0].lower() != b"cache-control"]
                    headers.append(NO_STORE)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
