"""A long stream sealed to a public key, for backups: anyone holding the public key writes one, only the
private key (kept offline) reads it.

A fresh random key encrypts the stream with libsodium's secretstream (XChaCha20-Poly1305, in messages);
that key travels in front, sealed to the public key. Every message is padded to the same size, so the
file's length says only roughly how much it holds, and the last message carries the FINAL tag: a stream
that was truncated, reordered, extended or altered anywhere does not open.

    magic | version | sealed stream key | secretstream header | message | message | ... | final message
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO

import nacl.bindings as sodium
import nacl.exceptions

from haven.crypto.keys import DecryptionError, seal, unseal

VERSION = 1
MESSAGE_BYTES = 64 * 1024
_LENGTH = struct.Struct(">I")
CAPACITY = MESSAGE_BYTES - _LENGTH.size
SEALED_KEY_BYTES = sodium.crypto_secretstream_xchacha20poly1305_KEYBYTES + sodium.crypto_box_SEALBYTES
_HEADER_BYTES = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES
_BLOCK_BYTES = MESSAGE_BYTES + sodium.crypto_secretstream_xchacha20poly1305_ABYTES
_TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL


class NotASealedStream(ValueError):
    """The file does not start the way this format (or this version of it) does."""


class WrongKey(DecryptionError):
    """The private key does not open the stream's key."""


class StreamAltered(DecryptionError):
    """A message does not authenticate, is missing, or follows the final one."""


class SealedStreamWriter:
    """Writes messages of at most CAPACITY bytes; `close()` ends the stream (without it, it never opens)."""

    def __init__(self, out: BinaryIO, *, public_key: bytes, magic: bytes) -> None:
        key = sodium.crypto_secretstream_xchacha20poly1305_keygen()
        # The prefix is bound to every message, so no byte of it can be changed unnoticed.
        self._prefix = magic + bytes([VERSION]) + seal(key, public_key)
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        header = sodium.crypto_secretstream_xchacha20poly1305_init_push(self._state, key)
        self._out = out
        self._closed = False
        out.write(self._prefix + header)

    def write(self, message: bytes) -> None:
        self._push(message, _TAG_MESSAGE)

    def close(self) -> None:
        if not self._closed:
            self._push(b"", _TAG_FINAL)
            self._closed = True

    def _push(self, message: bytes, tag: int) -> None:
        if self._closed:
            raise ValueError("the stream is closed")
        if len(message) > CAPACITY:
            raise ValueError(f"a message holds at most {CAPACITY} bytes")
        padded = _LENGTH.pack(len(message)) + message
        padded += bytes(MESSAGE_BYTES - len(padded))
        self._out.write(
            sodium.crypto_secretstream_xchacha20poly1305_push(self._state, padded, self._prefix, tag)
        )


def read_sealed_stream(source: BinaryIO, *, private_key: bytes, magic: bytes) -> Iterator[bytes]:
    """The stream's messages in order; raises as soon as something does not open or is out of place."""
    prefix = source.read(len(magic) + 1 + SEALED_KEY_BYTES)
    if len(prefix) < len(magic) + 1 or prefix[: len(magic)] != magic:
        raise NotASealedStream("not this kind of file")
    if prefix[len(magic)] != VERSION:
        raise NotASealedStream(f"version {prefix[len(magic)]} of this format is not supported")
    header = source.read(_HEADER_BYTES)
    if len(prefix) < len(magic) + 1 + SEALED_KEY_BYTES or len(header) < _HEADER_BYTES:
        raise StreamAltered("the stream ends inside its header")
    try:
        key = unseal(prefix[len(magic) + 1 :], private_key)
    except DecryptionError:
        raise WrongKey("the key does not open this stream") from None
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    try:
        sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, header, key)
    except (nacl.exceptions.CryptoError, ValueError) as exc:
        raise StreamAltered("the stream header is damaged") from exc
    while True:
        block = source.read(_BLOCK_BYTES)
        if len(block) < _BLOCK_BYTES:
            raise StreamAltered("the stream ends before its final message")
        try:
            padded, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(state, block, prefix)
        except (nacl.exceptions.CryptoError, ValueError) as exc:
            raise StreamAltered("a message does not authenticate") from exc
        (length,) = _LENGTH.unpack_from(padded)
        if length > CAPACITY:
            raise StreamAltered("a message has an impossible length")
        if tag == _TAG_FINAL:
            if source.read(1):
                raise StreamAltered("there is more after the final message")
            return
        if tag != _TAG_MESSAGE:
            raise StreamAltered("a message has an unexpected tag")
        yield padded[_LENGTH.size : _LENGTH.size + length]
