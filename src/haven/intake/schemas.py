from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class RequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(max_length=40, description="A request type id, e.g. leave_service")
    language: str = Field(max_length=5, description="ru, uk or en")
    answers: dict[str, str] = Field(default_factory=dict, max_length=40)
    message: str = Field(max_length=20_000)


class ReceiptOut(BaseModel):
    receipt: str = Field(description="Seven words. Shown once: the only way back to this case.")


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(max_length=20_000)


class ThreadMessage(BaseModel):
    direction: str = Field(description="inbound (from the requester) or outbound (a reply)")
    text: str
    at: datetime


class ThreadOut(BaseModel):
    state: str
    language: str
    messages: list[ThreadMessage]
