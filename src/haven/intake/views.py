"""The requester's pages. They work with JavaScript off, load nothing from elsewhere, and never
redirect with anything secret in a URL."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from haven.accounts.login import clear_cookie, set_session_cookie
from haven.attachments.forms import FILE_ERRORS, FileLimits, receive_form
from haven.dependencies import REQUESTER_COOKIE, RequesterContext, RequesterDep, RuntimeDep
from haven.i18n import Translator
from haven.intake import feedback, lang_path, services
from haven.runtime import Runtime
from haven.security.csrf import FIELD, token_matches
from haven.security.headers import allow_own_scripts
from haven.security.pow import SOLUTION_FIELD, TOKEN_FIELD, ProofRefused, TooEarly
from haven.security.ratelimit import Action, RateLimited

lang_path.register()
router = APIRouter(include_in_schema=False)

Lang = Annotated[str, Path()]


def _render(
    request: Request, runtime: Runtime, lang: str, template: str, status_code: int = 200, **context: Any
) -> Response:
    # Every rendering of the request form carries a proof-of-work challenge: the one given (still good
    # for the text it holds), else a fresh one; only that page may run our script that solves it.
    challenge = None
    if template == "request.html":
        challenge = context.get("challenge") or runtime.pow.issue()
        context.update(challenge=challenge, pow_wait=runtime.pow.seconds_left(challenge))
    response = runtime.templates.TemplateResponse(
        request,
        f"public/{template}",
        {"t": Translator(lang), "lang": lang, "catalogue": runtime.catalogue, **context},
        status_code=status_code,
    )
    if challenge is not None and challenge.active:
        allow_own_scripts(response)
    return response


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


def _text_field(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


@router.post("/{lang:lang}/request/{request_type}")
async def submit_request(request: Request, lang: Lang, request_type: str, runtime: RuntimeDep) -> Response:
    kind = runtime.catalogue.types.get(request_type)
    if kind is None:
        raise HTTPException(404)
    file_limits = FileLimits.of(runtime.settings)
    received = await receive_form(request, limits=file_limits)
    form = received.fields
    answers = _answers_from(form, {q.id for q in kind.questions})
    message = str(form.get("message", ""))
    token = _text_field(form, TOKEN_FIELD)
    kept = {"kind": kind, "answers": answers, "message": message, "errors": {}}
    try:
        runtime.limits.check_request(Action.INTAKE, request)
    except RateLimited as exc:
        unspent = runtime.pow.still_good(token)
        return _over_limit(request, runtime, lang, "request.html", exc, challenge=unspent, **kept)
    if received.refused:
        # Too many files, or too large: left out while reading, and the requester hears which.
        unspent = runtime.pow.still_good(token)
        kept["errors"] = {"files": received.refused}
        return _render(request, runtime, lang, "request.html", received.status, challenge=unspent, **kept)
    try:
        proof = runtime.pow.verify(token, _text_field(form, SOLUTION_FIELD))
    except TooEarly as early:
        # 429, as for a rate limit: the same form, unchanged, is accepted after Retry-After seconds.
        notice = Translator(lang)("pow_too_early", seconds=early.retry_after)
        response = _render(
            request, runtime, lang, "request.html", 429, challenge=early.challenge, too_early=notice, **kept
        )
        response.headers["Retry-After"] = str(early.retry_after)
        return response
    except ProofRefused as refused:
        # 400: this form's token will never be accepted; a fresh one comes with the form.
        notice = Translator(lang)(refused.reason)
        return _render(request, runtime, lang, "request.html", 400, proof_refused=notice, **kept)
    submission = services.Submission(request_type, lang, answers, message, received.files)
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
                procedures=runtime.procedures,
                file_limits=file_limits,
            )
        )
    except services.IntakeError as exc:
        # Nothing was stored: the proof stays good, so the corrected form goes through without a new wait.
        runtime.pow.release(proof)
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
            challenge=proof,
        )
    except services.IntakeClosed:
        runtime.pow.release(proof)
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
        answered=request.query_params.get("answered") == "1",
        feedback_wanted=feedback.wanted(db=runtime.db, case_id=view.case_id),
        error=None,
    )


def _thread_again(
    request: Request,
    runtime: Runtime,
    lang: str,
    requester: RequesterContext,
    status_code: int,
    *,
    message: str,
    error: str | None = None,
    limited: RateLimited | None = None,
) -> Response:
    """The thread page again after a follow-up was not stored, with what the requester wrote."""
    view = services.read_thread(db=runtime.db, access=requester.access)
    if view is None:
        return _render(request, runtime, lang, "return.html", 404, error="case_gone")
    page = {"thread": view, "csrf_token": requester.csrf_token, "sent": False, "message": message}
    if limited is not None:
        return _over_limit(request, runtime, lang, "thread.html", limited, error=None, **page)
    # An error about the files is shown by the file field, any other above the form.
    file_error, error = (error, None) if error in FILE_ERRORS else (None, error)
    return _render(
        request, runtime, lang, "thread.html", status_code, error=error, file_error=file_error, **page
    )


@router.post("/{lang:lang}/thread")
async def follow_up(request: Request, lang: Lang, runtime: RuntimeDep, requester: RequesterDep) -> Response:
    if requester is None:
        return _render(request, runtime, lang, "return.html", 401, error="session_over")
    file_limits = FileLimits.of(runtime.settings)
    received = await receive_form(request, limits=file_limits)
    message = _text_field(received.fields, "message")
    if not token_matches(requester.csrf_token, _text_field(received.fields, FIELD)):
        return _render(
            request, runtime, lang, "error.html", 403, status=403, message=Translator(lang)("error_form_old")
        )
    again = partial(_thread_again, request, runtime, lang, requester, message=message)
    try:
        runtime.limits.check_request(Action.FOLLOW_UP, request)
    except RateLimited as exc:
        return await run_in_threadpool(again, 429, limited=exc)
    if received.refused:
        return await run_in_threadpool(again, received.status, error=received.refused)
    try:
        # Decoding and re-encoding photos takes a while: never on the event loop.
        await run_in_threadpool(
            lambda: services.add_follow_up(
                db=runtime.db,
                access=requester.access,
                message=message,
                max_message_chars=runtime.settings.max_message_chars,
                writer=runtime.writer,
                files=received.files,
                file_limits=file_limits,
            )
        )
    except services.IntakeError as exc:
        return await run_in_threadpool(again, 400, error=exc.reason)
    return RedirectResponse(f"/{lang}/thread?sent=1", status_code=303)


@router.post("/{lang:lang}/thread/feedback")
def answer_feedback(
    request: Request,
    lang: Lang,
    runtime: RuntimeDep,
    requester: RequesterDep,
    helped: Annotated[str, Form()] = "",
    comment: Annotated[str, Form(max_length=20_000)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """The requester's answer to "Did we help?" once their case ended."""
    if requester is None:
        return _render(request, runtime, lang, "return.html", 401, error="session_over")
    if not token_matches(requester.csrf_token, csrf_token):
        return _render(
            request, runtime, lang, "error.html", 403, status=403, message=Translator(lang)("error_form_old")
        )
    view = services.read_thread(db=runtime.db, access=requester.access)
    if view is None:
        return _render(request, runtime, lang, "return.html", 404, error="case_gone")
    page = {"thread": view, "csrf_token": requester.csrf_token, "sent": False, "comment": comment}
    if helped not in ("yes", "no"):
        return _render(
            request, runtime, lang, "thread.html", 400, error="feedback_choose", feedback_wanted=True, **page
        )
    try:
        feedback.record_answer(db=runtime.db, case_id=view.case_id, helped=helped == "yes", comment=comment)
    except services.IntakeError as exc:
        wanted = feedback.wanted(db=runtime.db, case_id=view.case_id)
        return _render(
            request, runtime, lang, "thread.html", 400, error=exc.reason, feedback_wanted=wanted, **page
        )
    return RedirectResponse(f"/{lang}/thread?answered=1", status_code=303)


@router.post("/{lang:lang}/leave")
def leave(request: Request, lang: Lang, runtime: RuntimeDep) -> Response:
    runtime.sessions.end(request.cookies.get(REQUESTER_COOKIE))
    response = RedirectResponse(f"/{lang}/", status_code=303)
    clear_cookie(response, runtime, REQUESTER_COOKIE)
    return response
