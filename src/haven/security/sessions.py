"""Sessions held in process memory only, each bound to a secret that lives only in the cookie.

The store keeps, per session, the unlocked key (an operator's private key, or a requester's case key)
locked under a key derived from the cookie's token; the store is indexed by a keyed hash of that token.
So neither the store nor the cookie alone opens anything, and a restart forgets every session.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

from haven.crypto.kdf import keyed_hash
from haven.crypto.keys import DecryptionError, lock, unlock

TOKEN_BYTES = 32


@dataclass
class _Entry:
    kind: str  # "operator" or "requester"
    subject: str  # operator id or case id
    locked_key: bytes
    csrf_token: str
    idle_seconds: float
    last_seen: float
    label: str = ""


@dataclass(frozen=True)
class OpenSession:
    kind: str
    subject: str
    key: bytes
    csrf_token: str
    label: str


class SessionStore:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._entries: dict[bytes, _Entry] = {}
        self._lock = threading.Lock()

    def _index(self, token: str) -> bytes:
        return keyed_hash(token.encode("ascii", "replace"), key=self._secret, purpose=b"haven/session-id")

    @staticmethod
    def _key(token: str) -> bytes:
        return keyed_hash(token.encode("ascii", "replace"), key=bytes(32), purpose=b"haven/session-ky")

    def start(
        self, *, kind: str, subject: str, key: bytes, idle_seconds: float, label: str = ""
    ) -> tuple[str, str]:
        """Open a session; returns (cookie token, CSRF token)."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        csrf = secrets.token_urlsafe(TOKEN_BYTES)
        entry = _Entry(
            kind=kind,
            subject=subject,
            locked_key=lock(key, self._key(token), context=kind.encode()),
            csrf_token=csrf,
            idle_seconds=idle_seconds,
            last_seen=time.monotonic(),
            label=label,
        )
        with self._lock:
            self._sweep()
            self._entries[self._index(token)] = entry
        return token, csrf

    def resolve(self, token: str | None, *, kind: str) -> OpenSession | None:
        if not token or len(token) > 100:
            return None
        index = self._index(token)
        with self._lock:
            entry = self._entries.get(index)
            if entry is None or entry.kind != kind:
                return None
            now = time.monotonic()
            if now - entry.last_seen > entry.idle_seconds:
                del self._entries[index]
                return None
            entry.last_seen = now
        try:
            key = unlock(entry.locked_key, self._key(token), context=kind.encode())
        except DecryptionError:
            return None
        return OpenSession(
            kind=entry.kind, subject=entry.subject, key=key, csrf_token=entry.csrf_token, label=entry.label
        )

    def end(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._entries.pop(self._index(token), None)

    def end_all(self, *, kind: str, subject: str) -> int:
        with self._lock:
            doomed = [i for i, e in self._entries.items() if e.kind == kind and e.subject == subject]
            for index in doomed:
                del self._entries[index]
        return len(doomed)

    def _sweep(self) -> None:
        now = time.monotonic()
        for index in [i for i, e in self._entries.items() if now - e.last_seen > e.idle_seconds]:
            del self._entries[index]

    def __len__(self) -> int:
        return len(self._entries)
