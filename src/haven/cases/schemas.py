from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from haven.cases.states import CaseState


class QueueItem(BaseModel):
    id: str
    type: str
    state: str
    priority: str
    team: str
    assignee: str | None
    needs_reply: bool
    created_at: datetime
    updated_at: datetime


class SearchIn(BaseModel):
    q: str = Field(description="Words that must all occur in a case (parts of words match too)")


class SearchOut(BaseModel):
    total: int = Field(description="How many cases match; at most `limit` of them are listed")
    cases: list[QueueItem] = Field(description="The matching cases, newest first")


class FileOut(BaseModel):
    id: str = Field(description="GET /api/v1/cases/{case_id}/files/{id} returns the file")
    name: str = Field(description="The name the requester's device gave the file")
    type: str = Field(
        description="image/jpeg, image/png, image/webp; from Telegram also audio/ogg, application/pdf"
    )
    size: int = Field(description="Bytes, as stored: re-encoded without metadata")
    width: int
    height: int


class RecordOut(BaseModel):
    id: str
    kind: str
    author: str | None = Field(description="The operator's username; null for the requester")
    at: datetime
    text: str
    files: list[FileOut] = Field(
        default_factory=list, description="Photos (and, from Telegram, voice notes and PDFs) sent with it"
    )
    delivery: str | None = Field(
        default=None,
        description="For a reply the requester gets through a channel (Telegram): queued, retrying, sent or "
        "failed; null otherwise",
    )


class CaseOut(BaseModel):
    id: str
    type: str
    state: str
    priority: str
    team: str
    language: str
    created_at: datetime
    answers: dict[str, Any]
    thread: list[RecordOut]


class TextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=20_000)


class StateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: CaseState
