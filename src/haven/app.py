"""create_app(settings) -> the ASGI app. Wiring only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from haven.accounts import api as session_api
from haven.cases import api as cases_api
from haven.cases.check_ins import CheckInWatch
from haven.cases.services import CaseForbidden, CaseNotFound
from haven.channels.telegram import webhook as telegram_webhook
from haven.config import Settings
from haven.db import Checkpointer, Database
from haven.dependencies import CsrfRejected, NotLoggedIn, NotPermitted
from haven.desk import account as desk_account
from haven.desk import admin as desk_admin
from haven.desk import case_work as desk_case_work
from haven.desk import purge as desk_purge
from haven.desk import stats as desk_stats
from haven.desk import views as desk_views
from haven.i18n import Translator
from haven.intake import api as intake_api
from haven.intake import views as intake_views
from haven.problems import HANDLERS, LastResort, error_page, is_api, page_language, problem_response
from haven.retention.purger import Purger
from haven.runtime import Runtime
from haven.security.headers import SecurityHeaders
from haven.security.limits import BodySizeLimit
from haven.security.ratelimit import RateLimited
from haven.stats import api as stats_api
from haven.stats import views as stats_views

STATIC_DIR = Path(__file__).with_name("static")


async def _not_logged_in(request: Request, exc: Exception) -> Response:
    if is_api(request):
        return problem_response(401, "Log in first: POST /api/v1/session.")
    return RedirectResponse("/desk/login", status_code=303)


async def _csrf_rejected(request: Request, exc: Exception) -> Response:
    if is_api(request):
        return problem_response(
            403, "Missing or wrong X-CSRF-Token header; use the token from POST /api/v1/session."
        )
    return error_page(request, 403, "error_form_old")


async def _not_permitted(request: Request, exc: Exception) -> Response:
    if is_api(request):
        return problem_response(403, "Your role does not allow this.")
    return error_page(request, 403, "error_forbidden")


async def _case_not_found(request: Request, exc: Exception) -> Response:
    # CaseForbidden too: another team's case answers exactly like a case that does not exist, so a stolen
    # account cannot learn which case ids are real.
    if is_api(request):
        return problem_response(404, "There is no case with that id shared with your teams.")
    return error_page(request, 404, "error_not_found")


async def _rate_limited(request: Request, exc: Exception) -> Response:
    # Nothing was stored: say so, and when to try again (pages that hold typed text keep it themselves).
    assert isinstance(exc, RateLimited)
    status = 503 if exc.busy else 429
    key = "rate_limited_busy" if exc.busy else "rate_limited"
    response: Response
    if is_api(request):
        detail = f"{Translator('en')(key, seconds=exc.retry_after)} Nothing was stored."
        response = problem_response(status, detail, retry_after=exc.retry_after)
    else:
        runtime: Runtime = request.app.state.runtime
        language = page_language(request)
        t = Translator(language)
        template = "desk/error.html" if request.url.path.startswith("/desk") else "public/error.html"
        response = runtime.templates.TemplateResponse(
            request,
            template,
            {"t": t, "lang": language, "status": status, "message": t(key, seconds=exc.retry_after)},
            status_code=status,
        )
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def app_from_environment() -> FastAPI:
    """The app of one worker among several (`haven serve --workers N` hands its settings over as HAVEN_*)."""
    return create_app(Settings.from_env())


def create_app(settings: Settings, *, db: Database | None = None) -> FastAPI:
    """Build the app; the schema must already be at the current migration (`haven db upgrade`)."""
    runtime = Runtime.start(settings, db=db)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        checkpointer = Checkpointer(runtime.db).start()
        runtime.writer.start()
        purger = Purger(
            runtime.db,
            runtime.catalogue.retention,
            interval=settings.purge_interval_minutes * 60,
            forget=runtime.forget_cases,
        ).start()
        runtime.start_channels()
        check_ins = CheckInWatch(runtime.db).start()
        yield
        check_ins.stop()
        purger.stop()
        runtime.writer.stop()
        checkpointer.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="Haven",
        version="1",
        docs_url=None,  # Swagger UI loads scripts from a CDN: never on a Haven server
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
        exception_handlers={
            **HANDLERS,
            NotLoggedIn: _not_logged_in,
            CsrfRejected: _csrf_rejected,
            NotPermitted: _not_permitted,
            CaseNotFound: _case_not_found,
            CaseForbidden: _case_not_found,
            RateLimited: _rate_limited,
        },
    )
    app.state.runtime = runtime
    for router in (
        intake_api.router,
        session_api.router,
        session_api.sessions_router,
        cases_api.router,
        cases_api.procedures_router,
        desk_views.router,
        desk_case_work.router,
        desk_account.router,
        desk_admin.router,
        desk_purge.router,
        desk_stats.router,
        stats_api.router,
        stats_views.router,
        intake_views.router,
        telegram_webhook.router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Added last runs first: headers on every response, then the last-resort catcher, then the body limit.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(LastResort)
    app.add_middleware(SecurityHeaders)
    return app
