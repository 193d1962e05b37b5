from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from haven.cases.states import CaseState, Priority


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
    procedure: str = Field(default="", description="The procedure the case follows (GET /api/v1/procedures)")
    step: str = Field(default="", description="Its current step, or the outcome it ended in")
    due_at: datetime | None = Field(default=None, description="When the current step is due (its SLA)")
    overdue: bool = False
    verification: str = "unverified"
    check_in_missed: bool = Field(default=False, description="The requester missed a required check-in")


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


class StepWorkOut(BaseModel):
    checklist: list[str] = Field(description="The checklist items ticked in the current step")
    fields: dict[str, str] = Field(description="The current step's fields filled so far")


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
    procedure: str = Field(description='The procedure the case follows; "" for none')
    step: str = Field(description="The current step, or the outcome the case ended in")
    step_entered_at: datetime | None = None
    due_at: datetime | None = Field(description="When the current step is due (its SLA)")
    overdue: bool
    verification: str = Field(description="unverified, verified or suspicious")
    restricted: bool = Field(description="Only coordinators and admins open it")
    check_in_due_at: datetime | None = Field(
        description="When the requester must write next, in a step that asks"
    )
    check_in_missed: bool
    step_work: StepWorkOut | None = Field(description="What was done in the current step")
    moves: list[str] = Field(description="The steps and outcomes POST .../step may move the case to")
    tags: list[str] = Field(default_factory=list)
    linked: list[str] = Field(default_factory=list, description="Linked cases shared with your teams")


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: str = Field(max_length=40, description="The step or outcome to move to")
    checklist: list[str] | None = Field(
        default=None, max_length=50, description="Checklist items of the current step to save as ticked first"
    )
    fields: dict[str, str] | None = Field(
        default=None, description="Fields of the current step to save first (replacing what was saved)"
    )


class ChoiceOut(BaseModel):
    id: str
    labels: dict[str, str]


class FieldOut(BaseModel):
    id: str
    kind: str = Field(description="choice or text")
    required: bool
    labels: dict[str, str]
    options: list[ChoiceOut]


class ChecklistItemOut(BaseModel):
    id: str
    labels: dict[str, str]


class CannedReplyOut(BaseModel):
    id: str
    texts: dict[str, str]


class StepOut(BaseModel):
    id: str
    names: dict[str, str]
    guidance: dict[str, str]
    team: str
    due_hours: int
    check_in_hours: int | None
    compartmentalised: bool
    checklist: list[ChecklistItemOut]
    fields: list[FieldOut]
    replies: list[CannedReplyOut]
    next: list[str] = Field(
        description="Where a case may move from here, besides the outcomes any step allows"
    )


class ProcedureOut(BaseModel):
    id: str
    names: dict[str, str]
    steps: list[StepOut]
    outcomes: list[str] = Field(description="How a case of this procedure may end")


class TextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=20_000)


class StateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: CaseState


class PriorityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    priority: Priority


class VerificationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verification: Literal["unverified", "verified", "suspicious"]
    reason: str = Field(
        default="", max_length=2000, description="Why it looks suspicious (required then); sealed"
    )


class RestrictionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    restricted: bool = Field(description="True: only coordinators and admins open the case")


class TagsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tags: list[Annotated[str, Field(max_length=40)]] = Field(max_length=20)


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: str = Field(max_length=24, description="The other case")


class MomentOut(BaseModel):
    at: datetime
    who: str = Field(description="An operator's username, requester or system")
    action: str = Field(description="step, state, inbound, outbound, note, check_in_missed, priority, ...")
    detail: str


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    into: str = Field(max_length=24, description="The case this one repeats: its thread is copied there")


class AssigneeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str | None = Field(max_length=80, description="A member of the case's team; null: nobody")
