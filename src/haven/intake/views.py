"""The requester's pages. They work with JavaScript off, load nothing from elsewhere, and never
redirect with anything secret in a URL."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from haven.accounts.login import clear_cookie, set_session_cookie
from haven.dependencies import REQUESTER_COOKIE, RequesterDep, RuntimeDep
from haven.i18n import Translator
from haven.intake import lang_path, services
from haven.runtime import Runtime
from haven.security.csrf import FIELD, token_matches
from haven.security.ratelimit import Action, RateLimited

lang_path.register()
router = APIRouter(include_in_schema=False)

Lang = Annotated[str, Path()]


def _render(
    request: Request, runtime: Runtime, lang: str, template: str, status_code: int = 200, **context: Any
) -> Response:
    return runtime.templates.TemplateResponse(
        request,
        f"public/{template}",
        {"t": Translator(lang), "lang": lang, "catalogue": runtime.catalogue, **context},
        status_code=status_code,
    )


def _over_limit(
    request: Request, runtime: Runtime, lang: str, template: str, exc: RateLimited, **context: Any
) -> Response:
    """The page again, saying when to try again; whatever the requester typed stays in the form."""
    key = "rate_limited_busy" if exc.busy else "rate_limited"
    message = Translator(lang)(key, seconds=exc.retry_after)
    status = 503 if exc.busy else 429
    response = _render(request, runtime, lang, template, status, limited=message, **context)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _start_requester_session(runtime: Runtime, response: Response, access: services.RequesterAccess) -> None:
    token, _csrf = runtime.sessions.start(
        kind="requester",
        subject=access.case_id,
        key=access.case_private_key,
        idle_seconds=runtime.settings.requester_session_minutes * 60,
    )
    set_session_cookie(response, runtime, REQUESTER_COOKIE, token)


@router.get("/")
def choose_language(request: Request, runtime: RuntimeDep) -> Response:
    return runtime.templates.TemplateResponse(
        request, "public/languages.html", {"t": Translator("en"), "lang": "en"}
    )


@router.get("/{lang:lang}/")
def home(request: Request, lang: Lang, runtime: RuntimeDep) -> Response:
    return _render(request, runtime, lang, "home.html")


@router.get("/{lang:lang}/request/{request_type}")
def request_form(request: Request, lang: Lang, request_type: str, runtime: RuntimeDep) -> Response:
    kind = runtime.catalogue.types.get(request_type)
    if kind is None:
        raise HTTPException(404)
    return _render(request, runtime, lang, "request.html", kind=kind, answers={}, message="", errors={})


def _answers_from(form: FormData, question_ids: set[str]) -> dict[str, str]:
    return {
        key[2:]: str(value) for key, value in form.items() if key.startswith("q_") and key[2:] in question_ids
    }


@router.post("/{lang:lang}/request/{request_type}")
async def submit_request(request: Request, lang: Lang, request_type: str, runtime: RuntimeDep) -> Response:
    kind = runtime.catalogue.types.get(request_type)
    if kind is None:
        raise HTTPException(404)
    form = await request.form()
    answers = _answers_from(form, {q.id for q in kind.questions})
    message = str(form.get("message", ""))
    try:
        runtime.limits.check_request(Action.INTAKE, request)
    except RateLimited as exc:
        kept = {"kind": kind, "answers": answers, "message": message, "errors": {}}
        return _over_limit(request, runtime, lang, "request.html", exc, **kept)
    submission = services.Submission(request_type, lang, answers, message)
    try:
        issued = await run_in_threadpool(
            lambda: services.submit_request(
                db=runtime.db,
                submission=submission,
                catalogue=runtime.catalogue,
                pepper=runtime.secrets.receipt_pepper,
                max_message_chars=runtime.settings.max_message_chars,
                writer=runtime.writer,
                receiving=runtime.receiving,
            )
        )
    except services.IntakeError as exc:
        errors = {exc.field or "form": exc.reason}
        return _render(
            request,
            runtime,
            lang,
            "request.html",
            400,
            kind=kind,
            answers=answers,
            message=message,
            errors=errors,
        )
    except services.IntakeClosed:
        return _render(
            request, runtime, lang, "error.html", 503, status=503, message=Translator(lang)("intake_closed")
        )
    response = _render(request, runtime, lang, "receipt.html", 201, receipt=issued.receipt)
    _start_requester_session(runtime, response, issued.access)
    return response


@router.get("/{lang:lang}/return")
def return_form(request: Request, lang: Lang, runtime: RuntimeDep) -> Response:
    return _render(request, runtime, lang, "return.html", error=None)


@router.post("/{lang:lang}/return")
def check_receipt(
    request: Request, lang: Lang, runtime: RuntimeDep, receipt: Annotated[str, Form(max_length=400)] = ""
) -> Response:
    try:
        runtime.limits.check_request(Action.RECEIPT, request)
    except RateLimited as exc:
        return _over_limit(request, runtime, lang, "return.html", exc, error=None)
    access = services.open_with_receipt(
        db=runtime.db, receipt_text=receipt, pepper=runtime.secrets.receipt_pepper
    )
    if access is None:
        return _render(request, runtime, lang, "return.html", 400, error="receipt_wrong")
    response = RedirectResponse(f"/{lang}/thread", status_code=303)
    _start_requester_session(runtime, response, access)
    return response


@router.get("/{lang:lang}/thread")
def thread(request: Request, lang: Lang, runtime: RuntimeDep, requester: RequesterDep) -> Response:
    if requester is None:
        return RedirectResponse(f"/{lang}/return", status_code=303)
    view = services.read_thread(db=runtime.db, access=requester.access)
    if view is None:
        return _render(request, runtime, lang, "return.html", 404, error="case_gone")
    sent = request.query_params.get("sent") == "1"
    return _render(
        request,
        runtime,
        lang,
        "thread.html",
        thread=view,
        csrf_token=requester.csrf_token,
        sent=sent,
        error=None,
    )


@router.post("/{lang:lang}/thread")
def follow_up(
    request: Request,
    lang: Lang,
    runtime: RuntimeDep,
    requester: RequesterDep,
    message: Annotated[str, Form(max_length=40_000)] = "",
    csrf_token: Annotated[str, Form(alias=FIELD, max_length=200)] = "",
) -> Response:
    if requester is None:
        return _render(request, runtime, lang, "return.html", 401, error="session_over")
    if not token_matches(requester.csrf_token, csrf_token):
        return _render(
            request, runtime, lang, "error.html", 403, status=403, message=Translator(lang)("error_form_old")
        )
    try:
        runtime.limits.check_request(Action.FOLLOW_UP, request)
    except RateLimited as exc:
        view = services.read_thread(db=runtime.db, access=requester.access)
        if view is None:
            return _render(request, runtime, lang, "return.html", 404, error="case_gone")
        return _over_limit(
            request,
            runtime,
            lang,
            "thread.html",
            exc,
            thread=view,
            csrf_token=requester.csrf_token,
            sent=False,
            error=None,
            message=message,
        )
    try:
        services.add_follow_up(
            db=runtime.db,
            access=requester.access,
            message=message,
            max_message_chars=runtime.settings.max_message_chars,
            writer=runtime.writer,
        )
    except services.IntakeError as exc:
        view = services.read_thread(db=runtime.db, access=requester.access)
        return _render(
            request,
            runtime,
            lang,
            "thread.html",
            400,
            thread=view,
            csrf_token=requester.csrf_token,
            sent=False,
            error=exc.reason,
            message=message,
        )
    return RedirectResponse(f"/{lang}/thread?sent=1", status_code=303)


@router.post("/{lang:lang}/leave")
def leave(request: Request, lang: Lang, runtime: RuntimeDep) -> Response:
    runtime.sessions.end(request.cookies.get(REQUESTER_COOKIE))
    response = RedirectResponse(f"/{lang}/", status_code=303)
    clear_cookie(response, runtime, REQUESTER_COOKIE)
    return response
