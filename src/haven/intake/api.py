"""The requester's JSON API: a request in, a receipt out; with the receipt, the thread and follow-ups."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header

from haven.attachments.services import files_of
from haven.dependencies import RuntimeDep, limited
from haven.i18n import Translator
from haven.intake import feedback, services
from haven.intake.schemas import (
    ChallengeOut,
    FeedbackIn,
    MessageIn,
    ProofIn,
    ReceiptOut,
    RequestIn,
    ThreadMessage,
    ThreadOut,
)
from haven.problems import Problem
from haven.security.pow import LIFETIME_SECONDS, Challenge, ProofRefused, TooEarly
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


_FRESH = "get a fresh challenge from GET /api/v1/requests/challenge"
_PROOF_REFUSED = {
    "pow_missing": f"This request needs a proof of work: {_FRESH} and send it back as `proof`.",
    "pow_invalid": f"The proof's token was not issued by this server, or was altered: {_FRESH}.",
    "pow_expired": f"The proof's token is more than {LIFETIME_SECONDS // 60} minutes old: {_FRESH}.",
    "pow_spent": f"The proof's token was already used for a request: {_FRESH}.",
}


def _proven(runtime: RuntimeDep, proof: ProofIn | None) -> Challenge | None:
    try:
        return runtime.pow.verify(proof.token if proof else "", proof.solution if proof else "")
    except TooEarly as early:
        seconds = early.retry_after
        raise Problem(
            429,
            f"The proof has no solution giving {early.challenge.bits} leading zero bits of "
            f"SHA-256(token + solution), and its wait is not over: send a solution, or send it again in "
            f"{seconds} seconds. Nothing was stored.",
            extra={"retry_after": seconds},
            headers={"Retry-After": str(seconds)},
        ) from None
    except ProofRefused as refused:
        raise Problem(400, f"{_PROOF_REFUSED[refused.reason]} Nothing was stored.") from None


@router.get("/challenge", response_model=ChallengeOut)
def challenge(runtime: RuntimeDep) -> ChallengeOut:
    """A proof-of-work challenge for one request: find a `solution` (decimal digits) such that
    SHA-256(token + solution) starts with `bits` zero bits, or wait `wait_seconds`; then send the token
    (and the solution) as the request's `proof`. Issuing one stores nothing."""
    issued = runtime.pow.issue()
    return ChallengeOut(
        token=issued.token,
        bits=issued.bits,
        wait_seconds=issued.wait_seconds,
        expires_in_seconds=LIFETIME_SECONDS,
    )


@router.post(
    "",
    status_code=201,
    response_model=ReceiptOut,
    dependencies=[limited(Action.INTAKE)],
    responses={
        400: {"description": "No proof of work, or one that is altered, expired or already used"},
        429: {"description": "The proof's wait is not over and it has no solution; or too many requests"},
    },
)
def submit(body: RequestIn, runtime: RuntimeDep) -> ReceiptOut:
    """Submit a request with the proof of work for a challenge. The receipt comes back only once the
    encrypted case is durably stored; a request refused for what it says leaves its proof good to resend."""
    proof = _proven(runtime, body.proof)
    try:
        issued = services.submit_request(
            db=runtime.db,
            submission=services.Submission(body.type, body.language, body.answers, body.message),
            catalogue=runtime.catalogue,
            pepper=runtime.secrets.receipt_pepper,
            max_message_chars=runtime.settings.max_message_chars,
            writer=runtime.writer,
            receiving=runtime.receiving,
            procedures=runtime.procedures,
        )
    except services.IntakeError as exc:
        runtime.pow.release(proof)
        raise _intake_problem(exc, body.language) from None
    except services.IntakeClosed:
        runtime.pow.release(proof)
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
            ThreadMessage(
                direction=m.kind.value,
                text=str(m.content.get("text", "")),
                at=m.created_at,
                files=[f.name for f in files_of(m)],
            )
            for m in thread.messages
        ],
        feedback_wanted=feedback.wanted(db=runtime.db, case_id=thread.case_id),
    )


@router.post("/me/feedback", status_code=201, dependencies=[limited(Action.RECEIPT)])
def answer_feedback(
    body: FeedbackIn, runtime: RuntimeDep, authorization: Annotated[str | None, Header()] = None
) -> dict[str, str]:
    """Answer "Did we help?" once the case ended (409 if it is not asking: open again, or answered)."""
    access = _access(runtime, authorization)
    try:
        feedback.record_answer(
            db=runtime.db, case_id=access.case_id, helped=body.helped, comment=body.comment
        )
    except services.IntakeError as exc:
        if exc.reason == "feedback_not_asked":
            raise Problem(409, Translator("en")("feedback_not_asked")) from None
        raise _intake_problem(exc, "en") from None
    return {"status": "stored"}


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
