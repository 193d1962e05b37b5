"""The requester's JSON API: a request in, a receipt out; with the receipt, the thread and follow-ups."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header

from haven.dependencies import RuntimeDep, limited
from haven.i18n import Translator
from haven.intake import services
from haven.intake.schemas import MessageIn, ReceiptOut, RequestIn, ThreadMessage, ThreadOut
from haven.problems import Problem
from haven.security.ratelimit import Action

router = APIRouter(prefix="/api/v1/requests", tags=["requests"])

RECEIPT_SCHEME = "receipt"


def _intake_problem(exc: services.IntakeError, language: str) -> Problem:
    t = Translator(language)
    detail = t(exc.reason)
    return Problem(422, f"{exc.field}: {detail}" if exc.field else detail, extra={"field": exc.field})


def _access(runtime: RuntimeDep, authorization: str | None) -> services.RequesterAccess:
    scheme, _, code = (authorization or "").partition(" ")
    if scheme.lower() != RECEIPT_SCHEME or not code.strip():
        raise Problem(401, "Send your receipt as the header 'Authorization: Receipt <your seven words>'.")
    access = services.open_with_receipt(
        db=runtime.db, receipt_text=code, pepper=runtime.secrets.receipt_pepper
    )
    if access is None:
        raise Problem(401, "That receipt does not open any case. Check the seven words and try again.")
    return access


@router.post("", status_code=201, response_model=ReceiptOut, dependencies=[limited(Action.INTAKE)])
def submit(body: RequestIn, runtime: RuntimeDep) -> ReceiptOut:
    """Submit a request. The receipt comes back only once the encrypted case is durably stored."""
    try:
        issued = services.submit_request(
            db=runtime.db,
            submission=services.Submission(body.type, body.language, body.answers, body.message),
            catalogue=runtime.catalogue,
            pepper=runtime.secrets.receipt_pepper,
            max_message_chars=runtime.settings.max_message_chars,
            writer=runtime.writer,
            receiving=runtime.receiving,
        )
    except services.IntakeError as exc:
        raise _intake_problem(exc, body.language) from None
    except services.IntakeClosed:
        raise Problem(503, "This helpline is not accepting requests yet.") from None
    return ReceiptOut(receipt=issued.receipt)


@router.get("/me", response_model=ThreadOut, dependencies=[limited(Action.RECEIPT)])
def my_thread(runtime: RuntimeDep, authorization: Annotated[str | None, Header()] = None) -> ThreadOut:
    """The requester's thread: their messages and the replies (never internal notes)."""
    thread = services.read_thread(db=runtime.db, access=_access(runtime, authorization))
    if thread is None:
        raise Problem(404, "This case no longer exists.")
    return ThreadOut(
        state=thread.state.value,
        language=thread.language,
        messages=[
            ThreadMessage(direction=m.kind.value, text=str(m.content.get("text", "")), at=m.created_at)
            for m in thread.messages
        ],
    )


@router.post(
    "/me/messages", status_code=201, dependencies=[limited(Action.RECEIPT), limited(Action.FOLLOW_UP)]
)
def follow_up(
    body: MessageIn, runtime: RuntimeDep, authorization: Annotated[str | None, Header()] = None
) -> dict[str, str]:
    """Add a message to the requester's own case."""
    access = _access(runtime, authorization)
    try:
        services.add_follow_up(
            db=runtime.db,
            access=access,
            message=body.message,
            max_message_chars=runtime.settings.max_message_chars,
            writer=runtime.writer,
        )
    except services.IntakeError as exc:
        raise _intake_problem(exc, "en") from None
    return {"status": "stored"}
