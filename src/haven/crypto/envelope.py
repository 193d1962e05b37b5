"""A record's content: a fresh key per record, sealed to the case; the content bound to case and record ids.

`label` separates kinds of sealed things (a message record, a file) so that a ciphertext moved from one
table to another with the same id does not open there.

Plaintext is padded to a multiple of PAD_BLOCK bytes first, so the stored length tells little about what
was written.
"""

from __future__ import annotations

import secrets
import struct
from dataclasses import dataclass

from haven.crypto.keys import DecryptionError, lock, seal, unlock, unseal

PAD_BLOCK = 256
RECORD_KEY_BYTES = 32


@dataclass(frozen=True)
class SealedRecord:
    sealed_key: bytes
    ciphertext: bytes


def associated_data(case_id: str, record_id: str, label: str = "record") -> bytes:
    return f"haven/{label}\x00{case_id}\x00{record_id}".encode()


def pad(plaintext: bytes) -> bytes:
    body = struct.pack(">I", len(plaintext)) + plaintext
    return body + bytes(-len(body) % PAD_BLOCK)


def unpad(padded: bytes) -> bytes:
    if len(padded) < 4:
        raise DecryptionError("padded record is too short")
    (length,) = struct.unpack(">I", padded[:4])
    if length > len(padded) - 4:
        raise DecryptionError("padded record has a bad length")
    return padded[4 : 4 + length]


def seal_record(
    plaintext: bytes, *, case_public_key: bytes, case_id: str, record_id: str, label: str = "record"
) -> SealedRecord:
    """Encrypt a record so that only the case's private key opens it; no secret is needed to write."""
    record_key = secrets.token_bytes(RECORD_KEY_BYTES)
    return SealedRecord(
        sealed_key=seal(record_key, case_public_key),
        ciphertext=lock(pad(plaintext), record_key, context=associated_data(case_id, record_id, label)),
    )


def open_record(
    record: SealedRecord, *, case_private_key: bytes, case_id: str, record_id: str, label: str = "record"
) -> bytes:
    record_key = unseal(record.sealed_key, case_private_key)
    return unpad(unlock(record.ciphertext, record_key, context=associated_data(case_id, record_id, label)))
