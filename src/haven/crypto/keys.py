"""Keypairs and the two ways a secret is wrapped: sealed to a public key, or locked under a symmetric key."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import nacl.bindings as sodium
import nacl.exceptions
from nacl.public import PrivateKey, PublicKey, SealedBox

from haven.crypto.kdf import SALT_BYTES, KdfParams, passphrase_key

NONCE_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES


class DecryptionError(Exception):
    """The key does not open this ciphertext, or the ciphertext was altered."""


@dataclass(frozen=True)
class KeyPair:
    public: bytes
    private: bytes

    @classmethod
    def generate(cls) -> KeyPair:
        key = PrivateKey.generate()
        return cls(public=bytes(key.public_key), private=bytes(key))


def seal(secret: bytes, public_key: bytes) -> bytes:
    """Encrypt to a public key (X25519 sealed box): anyone may write, only the private key reads."""
    return bytes(SealedBox(PublicKey(public_key)).encrypt(secret))


def unseal(sealed: bytes, private_key: bytes) -> bytes:
    try:
        return bytes(SealedBox(PrivateKey(private_key)).decrypt(sealed))
    except (nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
        raise DecryptionError("sealed box does not open with this key") from exc


def lock(secret: bytes, key: bytes, *, context: bytes) -> bytes:
    """XChaCha20-Poly1305 under a symmetric key; `context` is bound as associated data."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(secret, context, nonce, key)


def unlock(locked: bytes, key: bytes, *, context: bytes) -> bytes:
    nonce, ciphertext = locked[:NONCE_BYTES], locked[NONCE_BYTES:]
    try:
        return bytes(sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, context, nonce, key))
    except (nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
        raise DecryptionError("ciphertext does not open with this key") from exc


_PASSPHRASE_CONTEXT = b"haven/operator-private-key"


def lock_with_passphrase(secret: bytes, passphrase: str, params: KdfParams) -> bytes:
    """Wrap an operator's private key under Argon2id(passphrase); the salt travels in front."""
    salt = secrets.token_bytes(SALT_BYTES)
    return salt + lock(secret, passphrase_key(passphrase, salt, params), context=_PASSPHRASE_CONTEXT)


def unlock_with_passphrase(locked: bytes, passphrase: str, params: KdfParams) -> bytes:
    if len(locked) < SALT_BYTES:
        # Argon2id would refuse the short salt with its own ValueError: a damaged key is a DecryptionError.
        raise DecryptionError("wrapped key is too short")
    salt, rest = locked[:SALT_BYTES], locked[SALT_BYTES:]
    return unlock(rest, passphrase_key(passphrase, salt, params), context=_PASSPHRASE_CONTEXT)
