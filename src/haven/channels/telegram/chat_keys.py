"""From a chat id to what the store knows the chat by: a slow keyed hash, split in two.

A Telegram chat id is a number of about ten digits: a fast hash of it would be reversed by trying them all.
Argon2id under the server pepper makes each try cost what `KdfParams` says (about 16 ms on one core by
default, so the 10^10 possible ids cost years). Its 64 bytes give the `lookup` stored in the clear and a
`key` that locks the chat's state and is never stored.

Process memory may hold the result for chats seen recently (a live server is not what DESIGN.md protects):
a conversation of ten updates then pays the slow hash once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import nacl.pwhash.argon2id as argon2id

from haven.crypto.kdf import KdfParams, keyed_hash

_PURPOSE = b"haven/tg-chat"


@dataclass(frozen=True)
class ChatKeys:
    lookup: bytes
    key: bytes


def derive(chat_id: int, *, pepper: bytes, params: KdfParams) -> ChatKeys:
    """The slow hash of one chat id (Argon2id, salted with a value derived from the pepper)."""
    salt = keyed_hash(b"", key=pepper, purpose=_PURPOSE, size=argon2id.SALTBYTES)
    out = argon2id.kdf(
        64, str(chat_id).encode("ascii"), salt, opslimit=params.opslimit, memlimit=params.memlimit
    )
    return ChatKeys(lookup=bytes(out[:32]), key=bytes(out[32:]))


class ChatKeyCache:
    """The keys of the chats seen most recently, in memory only."""

    def __init__(self, *, pepper: bytes, params: KdfParams, size: int = 4096) -> None:
        self._pepper = pepper
        self._params = params
        self._size = size
        self._lock = threading.Lock()
        self._keys: OrderedDict[int, ChatKeys] = OrderedDict()

    def of(self, chat_id: int) -> ChatKeys:
        with self._lock:
            found = self._keys.get(chat_id)
            if found is not None:
                self._keys.move_to_end(chat_id)
                return found
        keys = derive(chat_id, pepper=self._pepper, params=self._params)
        with self._lock:
            self._keys[chat_id] = keys
            while len(self._keys) > self._size:
                self._keys.popitem(last=False)
        return keys

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()
