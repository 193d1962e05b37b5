"""Time-based one-time codes (RFC 6238), each accepted once: a replayed code is refused."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime

import pyotp

STEP_SECONDS = 30
DRIFT_STEPS = 1


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, *, username: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def current_code(secret: str, now: datetime | None = None) -> str:
    return str(pyotp.TOTP(secret).at(now or datetime.now(UTC)))


def matching_step(secret: str, code: str, *, last_step: int, now: datetime | None = None) -> int | None:
    """The time step `code` belongs to, if it is valid now (±30 s) and newer than the last one used."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    moment = now or datetime.now(UTC)
    totp = pyotp.TOTP(secret)
    here = totp.timecode(moment)
    for step in range(here - DRIFT_STEPS, here + DRIFT_STEPS + 1):
        if step > last_step and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None
