"""Sessions held only in volatile memory, each bound to a secret that lives only in the cookie.

A session's whole entry (what it belongs to, its CSRF token and the unlocked key: an operator's private
key or a requester's case key) is locked under a key derived from the cookie's token, and filed under a
keyed hash of that token. So neither the store nor the cookie alone opens anything.

Where the entries live is the backend's business: process memory for one process (a restart forgets every
session), or a Redis with persistence off for several workers (`HAVEN_REDIS_URL`), so that any worker can
serve any request while nothing reaches a disk.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from haven.clock import now_minute
from haven.crypto.kdf import keyed_hash
from haven.crypto.keys import DecryptionError, lock, unlock

TOKEN_BYTES = 32
_MAX_TOKEN_CHARS = 100
_CONTEXT = b"haven/session"
_ABOUT_CONTEXT = b"haven/session-about"


@dataclass(frozen=True)
class Member:
    """One session of a group, as a backend holds it: its index, its sealed description, its idle time."""

    index: bytes
    about: bytes
    idle_seconds: float


class SessionBackend(Protocol):
    """Opaque blobs under opaque ids, each forgotten once idle for its time to live.

    Sessions of one owner form a group; each member of a group also has a small sealed description
    (`about`), so that the owner can list their sessions without holding the other sessions' cookies."""

    def put(self, index: bytes, blob: bytes, *, ttl_seconds: float, group: bytes, about: bytes) -> None: ...

    def get(self, index: bytes) -> bytes | None: ...

    def touch(self, index: bytes, ttl_seconds: float) -> None: ...

    def delete(self, index: bytes) -> None: ...

    def delete_group(self, group: bytes) -> int: ...

    def members(self, group: bytes) -> list[Member]: ...

    def delete_member(self, group: bytes, index: bytes) -> bool: ...

    def exists(self, index: bytes) -> bool: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class OpenSession:
    id: str  # an opaque handle for this session (a keyed hash of its token), safe to keep in memory
    kind: str  # "operator" or "requester"
    subject: str  # operator id or case id
    key: bytes
    csrf_token: str
    label: str


@dataclass(frozen=True)
class SessionInfo:
    """What an owner is shown of one of their sessions."""

    id: str
    device: str
    started_at: datetime  # to the minute
    idle_seconds: float


class SessionStore:
    def __init__(self, secret: bytes, backend: SessionBackend | None = None) -> None:
        self._secret = secret
        self._backend: SessionBackend = backend or MemoryBackend()

    def _index(self, token: str) -> bytes:
        return keyed_hash(token.encode("ascii", "replace"), key=self._secret, purpose=b"haven/session-id")

    def _group(self, kind: str, subject: str) -> bytes:
        return keyed_hash(f"{kind}:{subject}".encode(), key=self._secret, purpose=b"haven/session-gr")

    @staticmethod
    def _key(token: str) -> bytes:
        return keyed_hash(token.encode("ascii", "replace"), key=bytes(32), purpose=b"haven/session-ky")

    @staticmethod
    def _about_key(key: bytes) -> bytes:
        # Every session of one owner holds the same key (an operator's private key, a requester's case
        # key), so any of them can read the descriptions of the others; the store alone cannot.
        return keyed_hash(key, key=bytes(32), purpose=b"haven/session-ab")

    def start(
        self,
        *,
        kind: str,
        subject: str,
        key: bytes,
        idle_seconds: float,
        label: str = "",
        device: str = "",
    ) -> tuple[str, str]:
        """Open a session; returns (cookie token, CSRF token). `device` is a coarse description of the
        browser ("Firefox on Linux") for the owner's list of sessions."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        csrf = secrets.token_urlsafe(TOKEN_BYTES)
        entry = {
            "kind": kind,
            "subject": subject,
            "key": key.hex(),
            "csrf": csrf,
            "label": label,
            "idle": idle_seconds,
        }
        blob = lock(json.dumps(entry).encode(), self._key(token), context=_CONTEXT)
        about = {"device": device, "started": now_minute().replace(tzinfo=UTC).timestamp()}
        self._backend.put(
            self._index(token),
            blob,
            ttl_seconds=idle_seconds,
            group=self._group(kind, subject),
            about=lock(json.dumps(about).encode(), self._about_key(key), context=_ABOUT_CONTEXT),
        )
        return token, csrf

    def resolve(self, token: str | None, *, kind: str) -> OpenSession | None:
        if not token or len(token) > _MAX_TOKEN_CHARS:
            return None
        index = self._index(token)
        blob = self._backend.get(index)
        if blob is None:
            return None
        try:
            entry = json.loads(unlock(blob, self._key(token), context=_CONTEXT))
        except DecryptionError:
            return None
        if entry["kind"] != kind:
            return None
        self._backend.touch(index, entry["idle"])
        return OpenSession(
            id=index.hex(),
            kind=entry["kind"],
            subject=entry["subject"],
            key=bytes.fromhex(entry["key"]),
            csrf_token=entry["csrf"],
            label=entry["label"],
        )

    def end(self, token: str | None) -> None:
        if token and len(token) <= _MAX_TOKEN_CHARS:
            self._backend.delete(self._index(token))

    def end_all(self, *, kind: str, subject: str) -> int:
        """End every session of one operator (or one case); returns how many were open."""
        return self._backend.delete_group(self._group(kind, subject))

    def list(self, *, kind: str, subject: str, key: bytes) -> list[SessionInfo]:
        """The open sessions of one owner, most recently active first; `key` is the owner's session key."""
        found = []
        for member in self._backend.members(self._group(kind, subject)):
            try:
                about = json.loads(unlock(member.about, self._about_key(key), context=_ABOUT_CONTEXT))
            except DecryptionError:
                continue
            found.append(
                SessionInfo(
                    id=member.index.hex(),
                    device=about["device"],
                    started_at=datetime.fromtimestamp(about["started"], UTC).replace(tzinfo=None),
                    idle_seconds=member.idle_seconds,
                )
            )
        return sorted(found, key=lambda info: info.idle_seconds)

    def end_one(self, *, kind: str, subject: str, session_id: str) -> bool:
        """End one session of this owner (and only of this owner); False if it was not theirs or not open."""
        try:
            index = bytes.fromhex(session_id)
        except ValueError:
            return False
        return self._backend.delete_member(self._group(kind, subject), index)

    def alive(self, session_id: str) -> bool:
        """Whether the session with this handle (`OpenSession.id`) is still open."""
        try:
            index = bytes.fromhex(session_id)
        except ValueError:
            return False
        return self._backend.exists(index)

    def close(self) -> None:
        self._backend.close()


@dataclass
class _Held:
    blob: bytes
    ttl_seconds: float
    last_seen: float
    group: bytes
    about: bytes


class MemoryBackend:
    """One process's memory: the default, and all a single process needs."""

    def __init__(self) -> None:
        self._held: dict[bytes, _Held] = {}
        self._lock = threading.Lock()

    def _live(self, index: bytes, now: float) -> _Held | None:
        held = self._held.get(index)
        if held is not None and now - held.last_seen > held.ttl_seconds:
            del self._held[index]
            return None
        return held

    def put(self, index: bytes, blob: bytes, *, ttl_seconds: float, group: bytes, about: bytes) -> None:
        now = time.monotonic()
        with self._lock:
            for stale in [i for i, h in self._held.items() if now - h.last_seen > h.ttl_seconds]:
                del self._held[stale]
            self._held[index] = _Held(blob, ttl_seconds, now, group, about)

    def get(self, index: bytes) -> bytes | None:
        with self._lock:
            held = self._live(index, time.monotonic())
            return held.blob if held else None

    def touch(self, index: bytes, ttl_seconds: float) -> None:
        now = time.monotonic()
        with self._lock:
            held = self._live(index, now)
            if held is not None:
                held.last_seen, held.ttl_seconds = now, ttl_seconds

    def delete(self, index: bytes) -> None:
        with self._lock:
            self._held.pop(index, None)

    def delete_group(self, group: bytes) -> int:
        now = time.monotonic()
        with self._lock:
            doomed = [i for i in list(self._held) if self._live(i, now) and self._held[i].group == group]
            for index in doomed:
                del self._held[index]
        return len(doomed)

    def members(self, group: bytes) -> list[Member]:
        now = time.monotonic()
        with self._lock:
            return [
                Member(index, held.about, now - held.last_seen)
                for index in list(self._held)
                if (held := self._live(index, now)) is not None and held.group == group
            ]

    def delete_member(self, group: bytes, index: bytes) -> bool:
        with self._lock:
            held = self._live(index, time.monotonic())
            if held is None or held.group != group:
                return False
            del self._held[index]
            return True

    def exists(self, index: bytes) -> bool:
        with self._lock:
            return self._live(index, time.monotonic()) is not None

    def close(self) -> None:
        with self._lock:
            self._held.clear()

    def blobs(self) -> list[bytes]:
        """Everything held, as stored (for tests that check nothing is held in the clear)."""
        with self._lock:
            return [held.blob for held in self._held.values()]
