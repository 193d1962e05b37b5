"""Errors as the caller can read them: `application/problem+json` under /api, a page in the requester's
language elsewhere. Nothing a caller sent is echoed back, and no traceback ever leaves the process."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from haven.i18n import LANGUAGES, Translator, from_accept_language
from haven.security.limits import BodyTooLarge

log = logging.getLogger("haven.errors")

PROBLEM_TYPE = "application/problem+json"


class Problem(Exception):
    """An API error with a human-readable detail, safe to show."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str = "",
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title
        self.extra = extra or {}
        self.headers = headers or {}


_TITLES = {
    400: "Bad request",
    401: "Not logged in",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Server error",
    503: "Unavailable",
}


def problem_response(status: int, detail: str, *, title: str = "", **extra: Any) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE)


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def page_language(request: Request) -> str:
    first = request.url.path.strip("/").split("/", 1)[0]
    return first if first in LANGUAGES else from_accept_language(request.headers.get("accept-language"))


def error_page(request: Request, status: int, message_key: str) -> Response:
    from haven.runtime import Runtime  # the runtime imports this module's siblings; import late

    runtime: Runtime = request.app.state.runtime
    language = page_language(request)
    t = Translator(language)
    template = "desk/error.html" if request.url.path.startswith("/desk") else "public/error.html"
    return runtime.templates.TemplateResponse(
        request,
        template,
        {"t": t, "lang": language, "status": status, "message": t(message_key)},
        status_code=status,
    )


_PAGE_MESSAGES = {
    404: "error_not_found",
    405: "error_not_allowed",
    413: "error_too_large",
    500: "error_server",
}


def _validation_detail(exc: RequestValidationError) -> str:
    # Name the field and the rule, never the value that was sent.
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "The request body is not valid."


async def on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    response = problem_response(exc.status, exc.detail, title=exc.title, **exc.extra)
    response.headers.update(exc.headers)
    return response


async def on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if is_api(request):
        return problem_response(422, _validation_detail(exc))
    return error_page(request, 400, "error_bad_request")


async def on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if isinstance(exc.__cause__, BodyTooLarge):
        # FastAPI wraps any error met while reading a declared body in a 400; the limit was the cause.
        return await on_too_large(request, exc.__cause__)
    if is_api(request):
        detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "Error")
        return problem_response(exc.status_code, detail)
    return error_page(request, exc.status_code, _PAGE_MESSAGES.get(exc.status_code, "error_bad_request"))


async def on_too_large(request: Request, exc: Exception) -> Response:
    if is_api(request):
        return problem_response(413, "The request body is larger than this server accepts.")
    return error_page(request, 413, "error_too_large")


async def on_crash(request: Request, exc: Exception) -> Response:
    # The exception's message may hold input; log its type and the route only.
    route = getattr(request.scope.get("route"), "path", "?")
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, route)
    if is_api(request):
        return problem_response(500, "Something went wrong on our side. Nothing you sent was lost or logged.")
    return error_page(request, 500, "error_server")


HANDLERS: dict[int | type[Exception], Callable[[Request, Exception], Coroutine[Any, Any, Response]]] = {
    Problem: on_problem,
    RequestValidationError: on_validation,
    HTTPException: on_http,
    BodyTooLarge: on_too_large,
}


class LastResort:
    """Middleware that stops any unhandled exception before Starlette's own error middleware, which
    would re-raise it to the server to be logged with its traceback (and whatever its message holds)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if scope["type"] != "http":
                return
            request = Request(scope)
            if started:
                log.error("unhandled %s after the response started", type(exc).__name__)
                return
            response = await on_crash(request, exc)
            await response(scope, receive, send)
