"""Key derivation: slow Argon2id for low-entropy secrets, keyed BLAKE2b for high-entropy ones."""

from __future__ import annotations

from dataclasses import dataclass

import nacl.hash
import nacl.pwhash.argon2id as argon2id

SALT_BYTES = argon2id.SALTBYTES
KEY_BYTES = 32


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost, stored beside each wrapped key so it can be raised later without breaking old keys."""

    opslimit: int
    memlimit: int


def passphrase_key(passphrase: str, salt: bytes, params: KdfParams) -> bytes:
    """Stretch a passphrase into a 32-byte key; costs what `params` says (about a second in production)."""
    return bytes(
        argon2id.kdf(
            KEY_BYTES,
            passphrase.encode("utf-8"),
            salt,
            opslimit=params.opslimit,
            memlimit=params.memlimit,
        )
    )


def keyed_hash(data: bytes, *, key: bytes, purpose: bytes, size: int = 32) -> bytes:
    """BLAKE2b keyed with a server secret; `purpose` (at most 16 bytes) separates its uses."""
    return bytes(
        nacl.hash.blake2b(data, digest_size=size, key=key, person=purpose, encoder=nacl.encoding.RawEncoder)
    )
