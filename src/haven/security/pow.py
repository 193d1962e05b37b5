"""Proof of work on anonymous intake, with no third party and nothing about the client kept.

The request form carries a challenge: a token holding a random nonce, a difficulty in bits, the time it
was issued and how long a browser without JavaScript must wait, authenticated with a key derived from the
server's secret. Nothing is stored when a token is issued. A submission is accepted if either

- it carries a solution: a decimal counter such that SHA-256(token || counter) starts with `bits` zero
  bits (our own static/pow.js finds one in the browser; about 2**bits hashes), or
- the token's wait is over (the path for JavaScript off, or a browser too slow to solve in time),

and the token is authentic, less than LIFETIME_SECONDS old, and not spent. Each token is accepted once:
its nonce joins a spent set (this process's memory, or the Redis that several workers share) until it
would have expired anyway.

Difficulty rises with load: past each step of CURVE (requests accepted in the last minute, by this
process), new tokens need more bits and a longer wait. With the default 16 bits and 15 seconds:

    accepted in the last minute   bits   work (hashes, expected)   wait without JavaScript
    fewer than 30                  16      65 thousand               15 s
    30 or more                     18     262 thousand               30 s
    120 or more                    20       1 million                60 s
    300 or more                    22       4 million               120 s

A real helpline gets 70 to 1,500 requests a day, about one a minute at its peak: the first step is
already far above that. The wait bounds how soon a request can follow its form, not how many can: a
flood through the no-JavaScript path costs time, not work, and is held by the in-memory rate limits
(security/ratelimit.py), as is every flood.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import hmac
import math
import re
import secrets
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from haven.crypto.kdf import keyed_hash

LIFETIME_SECONDS = 30 * 60  # a slow, frightened typist is not punished
LOAD_WINDOW_SECONDS = 60
# How far a token's issue time may lie ahead of this process's clock (another worker's may run ahead).
CLOCK_SKEW_SECONDS = 5
MAX_BITS = 32
# The form's hidden fields; the API's `proof` object uses `token` and `solution`.
TOKEN_FIELD = "pow_token"  # noqa: S105 (a field name, not a secret)
SOLUTION_FIELD = "pow_solution"

_VERSION = 1
_NONCE_BYTES = 16
_MAC_BYTES = 16
_LAYOUT = struct.Struct(">B16sBQH")  # version, nonce, bits, issued at (Unix seconds), wait (seconds)
_TOKEN_CHARS = math.ceil((_LAYOUT.size + _MAC_BYTES) * 4 / 3)
_PURPOSE = b"haven/pow"
_SOLUTION = re.compile(r"[0-9]{1,16}", re.ASCII)


@dataclass(frozen=True)
class Step:
    """From `load` requests accepted in the last minute on: `extra_bits` more, and the wait times `factor`."""

    load: int
    extra_bits: int
    wait_factor: int


CURVE: tuple[Step, ...] = (Step(0, 0, 1), Step(30, 2, 2), Step(120, 4, 4), Step(300, 6, 8))


@dataclass(frozen=True)
class Challenge:
    """An issued token and what it asks for. `bits` 0 means proof of work is off and anything passes."""

    token: str
    nonce: bytes
    bits: int
    issued_at: int
    wait_seconds: int

    @property
    def not_before(self) -> int:
        """When the token is accepted without a solution (Unix seconds)."""
        return self.issued_at + self.wait_seconds

    @property
    def expires_at(self) -> int:
        return self.issued_at + LIFETIME_SECONDS

    @property
    def active(self) -> bool:
        return self.bits > 0


class ProofRefused(Exception):
    """A submission's proof is not accepted; `reason` is a message key (locale/*.json)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TooEarly(ProofRefused):
    """No valid solution and the wait is not over: the same token is accepted in `retry_after` seconds."""

    def __init__(self, challenge: Challenge, retry_after: int) -> None:
        super().__init__("pow_too_early")
        self.challenge = challenge
        self.retry_after = retry_after


class SpentTokens(Protocol):
    """The nonces of accepted tokens, each forgotten once its token would have expired anyway."""

    def spend(self, nonce: bytes, *, ttl_seconds: float) -> bool:
        """Mark `nonce` spent; False if it already was."""
        ...

    def release(self, nonce: bytes) -> None: ...

    def close(self) -> None: ...


class MemorySpentTokens:
    """One process's memory: the default, and all a single process needs."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._until: dict[bytes, float] = {}
        self._expiry: list[tuple[float, bytes]] = []
        self._lock = threading.Lock()

    def spend(self, nonce: bytes, *, ttl_seconds: float) -> bool:
        now = self._clock()
        with self._lock:
            while self._expiry and self._expiry[0][0] <= now:
                until, old = heapq.heappop(self._expiry)
                if self._until.get(old) == until:
                    del self._until[old]
            if nonce in self._until:
                return False
            until = now + ttl_seconds
            self._until[nonce] = until
            heapq.heappush(self._expiry, (until, nonce))
            return True

    def release(self, nonce: bytes) -> None:
        with self._lock:
            self._until.pop(nonce, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._until)

    def close(self) -> None:
        with self._lock:
            self._until.clear()
            self._expiry.clear()


def leading_zero_bits(digest: bytes) -> int:
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def solves(token: str, solution: str, bits: int) -> bool:
    """Whether SHA-256(token || solution) starts with `bits` zero bits (solution: 1 to 16 ASCII digits)."""
    if not _SOLUTION.fullmatch(solution):
        return False
    digest = hashlib.sha256(token.encode("ascii") + solution.encode("ascii")).digest()
    return leading_zero_bits(digest) >= bits


class ProofOfWork:
    """Issues and checks this server's challenges; thread-safe (sync routes run in a thread pool)."""

    def __init__(
        self,
        *,
        key: bytes,
        enabled: bool = True,
        base_bits: int = 16,
        base_wait_seconds: int = 15,
        spent: SpentTokens | None = None,
        clock: Callable[[], float] = time.time,
        curve: Sequence[Step] = CURVE,
    ) -> None:
        self.enabled = enabled
        self._key = key
        self._base_bits = base_bits
        self._base_wait = base_wait_seconds
        self._spent: SpentTokens = spent if spent is not None else MemorySpentTokens(clock=clock)
        self._clock = clock
        self._curve = tuple(sorted(curve, key=lambda step: step.load))
        # Only as many times as the top step needs: past it, more would change nothing.
        self._accepted: deque[float] = deque(maxlen=max(1, self._curve[-1].load))
        self._lock = threading.Lock()

    def load(self) -> int:
        """Requests accepted in the last minute by this process (counted up to the curve's top step)."""
        since = self._clock() - LOAD_WINDOW_SECONDS
        with self._lock:
            return sum(1 for at in self._accepted if at > since)

    def level(self) -> tuple[int, int]:
        """The bits and the wait (seconds) a token issued now asks for."""
        if not self.enabled:
            return 0, 0
        load = self.load()
        step = next(s for s in reversed(self._curve) if load >= s.load)
        return min(MAX_BITS, self._base_bits + step.extra_bits), self._base_wait * step.wait_factor

    def issue(self) -> Challenge:
        """A fresh challenge at the current difficulty. Nothing is stored."""
        bits, wait = self.level()
        nonce = secrets.token_bytes(_NONCE_BYTES)
        issued_at = int(self._clock())
        body = _LAYOUT.pack(_VERSION, nonce, bits, issued_at, wait)
        token = base64.urlsafe_b64encode(body + self._mac(body)).decode("ascii").rstrip("=")
        return Challenge(token, nonce, bits, issued_at, wait)

    def seconds_left(self, challenge: Challenge) -> int:
        """How long until `challenge` is accepted without a solution (0 if it already is)."""
        return max(0, math.ceil(challenge.not_before - self._clock()))

    def parse(self, token: str) -> Challenge:
        """The challenge a token carries, if this server issued it unaltered; else ProofRefused."""
        if not token:
            raise ProofRefused("pow_missing")
        if len(token) != _TOKEN_CHARS or not token.isascii():
            raise ProofRefused("pow_invalid")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise ProofRefused("pow_invalid") from None
        # Encoding it back refuses the other spellings the decoder tolerates: one token, one spelling.
        if base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") != token:
            raise ProofRefused("pow_invalid")
        body, mac = raw[: _LAYOUT.size], raw[_LAYOUT.size :]
        if not hmac.compare_digest(mac, self._mac(body)):
            raise ProofRefused("pow_invalid")
        version, nonce, bits, issued_at, wait = _LAYOUT.unpack(body)
        if version != _VERSION:
            raise ProofRefused("pow_invalid")
        return Challenge(token, nonce, bits, issued_at, wait)

    def still_good(self, token: str) -> Challenge | None:
        """The challenge `token` carries if it is authentic and not expired, else None: a form sent back
        for another reason (a rate limit) keeps it, and with it the wait already served."""
        if not self.enabled:
            return None
        try:
            challenge = self.parse(token)
        except ProofRefused:
            return None
        return challenge if self._clock() < challenge.expires_at else None

    def verify(self, token: str, solution: str = "") -> Challenge | None:
        """Accept a submission's proof once, or raise ProofRefused (TooEarly if only time is missing).

        Returns the spent challenge (None with proof of work off), which `release` gives back if the
        request is then refused for what it says, so that the requester can correct it and resend."""
        if not self.enabled:
            return None
        challenge = self.parse(token)
        now = self._clock()
        if challenge.issued_at > now + CLOCK_SKEW_SECONDS:
            raise ProofRefused("pow_invalid")
        if now >= challenge.expires_at:
            raise ProofRefused("pow_expired")
        if now < challenge.not_before and not solves(token, solution, challenge.bits):
            raise TooEarly(challenge, self.seconds_left(challenge))
        if not self._spent.spend(challenge.nonce, ttl_seconds=challenge.expires_at - now):
            raise ProofRefused("pow_spent")
        with self._lock:
            self._accepted.append(now)
        return challenge

    def release(self, challenge: Challenge | None) -> None:
        """Make a spent challenge good again (its request was refused and nothing was stored)."""
        if challenge is not None:
            self._spent.release(challenge.nonce)

    def close(self) -> None:
        self._spent.close()

    def _mac(self, body: bytes) -> bytes:
        return keyed_hash(body, key=self._key, purpose=_PURPOSE, size=_MAC_BYTES)
