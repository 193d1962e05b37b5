from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ProofIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(max_length=200, description="The token of GET /api/v1/requests/challenge")
    solution: str = Field(
        default="",
        max_length=40,
        description="Decimal digits (at most 16) such that SHA-256(token + solution) starts with `bits` "
        "zero bits; may be left out once the challenge's wait is over",
    )


class ChallengeOut(BaseModel):
    token: str = Field(description="Send it back as `proof.token` with the request; accepted once")
    bits: int = Field(description="Leading zero bits SHA-256(token + solution) must have; 0: no proof needed")
    wait_seconds: int = Field(description="After this many seconds the token is accepted without a solution")
    expires_in_seconds: int = Field(description="The token is refused after this many seconds")


class RequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(max_length=40, description="A request type id, e.g. leave_service")
    language: str = Field(max_length=5, description="ru, uk or en")
    answers: dict[str, str] = Field(default_factory=dict, max_length=40)
    message: str = Field(max_length=20_000)
    proof: ProofIn | None = Field(
        default=None, description="Proof of work for a challenge; required unless the server has it off"
    )


class ReceiptOut(BaseModel):
    receipt: str = Field(description="Seven words. Shown once: the only way back to this case.")


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(max_length=20_000)


class ThreadMessage(BaseModel):
    direction: str = Field(description="inbound (from the requester) or outbound (a reply)")
    text: str
    at: datetime
    files: list[str] = Field(default_factory=list, description="The names of the photos sent with it")


class ThreadOut(BaseModel):
    state: str
    language: str
    messages: list[ThreadMessage]
    feedback_wanted: bool = Field(
        default=False,
        description='The case ended and asks "Did we help?": answer with POST /api/v1/requests/me/feedback',
    )


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    helped: bool
    comment: str = Field(default="", max_length=2000, description="Optional; stored encrypted")
