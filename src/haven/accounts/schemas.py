from __future__ import annotations

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
