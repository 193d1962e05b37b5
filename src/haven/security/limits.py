"""Body size limit, enforced while the body is read: a missing or lying Content-Length gets no further.

Reading past the limit raises BodyTooLarge inside the route, where the error handlers turn it into a
413 in the requester's language or as a problem document.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length", b"0")
        too_large = not declared.isdigit() or int(declared) > self.max_bytes
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            if too_large:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge
            return message

        await self.app(scope, limited_receive, send)
