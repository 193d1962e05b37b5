"""The server's own secret: 32 random bytes in DATA_DIR/server.key (mode 0600), from which the receipt
pepper and the key that locks TOTP seeds are derived. It protects nothing on its own: receipts are
high-entropy and every content key is sealed to operators, teams or receipts."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from haven.crypto.kdf import keyed_hash

SERVER_KEY_BYTES = 32


@dataclass(frozen=True)
class ServerSecrets:
    receipt_pepper: bytes
    totp_key: bytes
    session_key: bytes
    pow_key: bytes  # authenticates proof-of-work challenges (security/pow.py)

    @classmethod
    def from_key(cls, key: bytes) -> ServerSecrets:
        return cls(
            receipt_pepper=keyed_hash(b"", key=key, purpose=b"haven/pepper"),
            totp_key=keyed_hash(b"", key=key, purpose=b"haven/totp"),
            session_key=keyed_hash(b"", key=key, purpose=b"haven/sessions"),
            pow_key=keyed_hash(b"", key=key, purpose=b"haven/pow-key"),
        )


def load_or_create(path: Path) -> ServerSecrets:
    """Read the server key, creating it (0600, never overwritten) on first start."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(SERVER_KEY_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
    key = path.read_bytes()
    if len(key) != SERVER_KEY_BYTES:
        raise ValueError(f"{path} is not a Haven server key ({len(key)} bytes, expected {SERVER_KEY_BYTES})")
    return ServerSecrets.from_key(key)
