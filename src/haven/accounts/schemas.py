from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(max_length=100)
    passphrase: str = Field(max_length=1000)
    totp: str = Field(max_length=20)


class SessionOut(BaseModel):
    csrf_token: str
    username: str
    role: str


class OpenSessionOut(BaseModel):
    id: str
    device: str = Field(description="The browser's family and system only, e.g. 'Firefox on Linux'.")
    started_at: datetime = Field(description="When the session was opened, UTC, to the minute.")
    idle_seconds: int
    current: bool = Field(description="True for the session this request was made with.")
