"""Body size limit, enforced while the body is read: a missing or lying Content-Length gets no further.

Reading past the limit raises BodyTooLarge inside the route, where the error handlers turn it into a
413 in the requester's language or as a problem document.

One limit for every route; a route that takes files raises it for its own request (`allow_body`) before
reading the body, so that no other route ever reads more than the default.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_ALLOWED = "haven.max_body_bytes"


class BodyTooLarge(Exception):
    pass


def allow_body(scope: Scope, max_bytes: int) -> None:
    """Let this request's body be up to `max_bytes`; call it before the first byte is read."""
    scope[_ALLOWED] = max_bytes


class BodySizeLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length", b"0")
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            # Read on each call: the route may have raised the limit before it read the body.
            max_bytes = scope.get(_ALLOWED, self.max_bytes)
            if not declared.isdigit() or int(declared) > max_bytes:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    raise BodyTooLarge
            return message

        await self.app(scope, limited_receive, send)
