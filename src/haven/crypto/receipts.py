"""The requester's receipt: seven or more diceware words, never stored.

A receipt finds its case through a peppered keyed hash, and a second keyed hash of it is the key that
wraps the requester's own copy of the case key. Receipts carry > 90 bits, so fast hashing is safe here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from xkcdpass import xkcd_password

from haven.crypto.kdf import keyed_hash
from haven.crypto.randomness import choices

RECEIPT_WORDS = 7
_SEPARATORS = re.compile(r"[^a-z]+")


@cache
def wordlist() -> tuple[str, ...]:
    """EFF's long diceware list as xkcdpass ships it, keeping only plain a-z words (7,772 of them)."""
    path = Path(xkcd_password.locate_wordfile("eff-long"))
    words = {line.strip() for line in path.read_text(encoding="utf-8").splitlines()}
    return tuple(sorted(w for w in words if w.isascii() and w.isalpha() and w.islower()))


def entropy_bits(words: int = RECEIPT_WORDS) -> float:
    return words * math.log2(len(wordlist()))


def diceware(count: int) -> str:
    words = wordlist()
    return " ".join(choices(words, count))


def new_receipt() -> str:
    return diceware(RECEIPT_WORDS)


def normalise(text: str) -> str | None:
    """The canonical form of what a requester typed, or None if it cannot be a receipt.

    Case, punctuation and spacing are forgiven; every word must be on the list.
    """
    parts = [p for p in _SEPARATORS.split(text.strip().lower()) if p]
    if len(parts) != RECEIPT_WORDS:
        return None
    known = _word_set()
    if any(p not in known for p in parts):
        return None
    return " ".join(parts)


@cache
def _word_set() -> frozenset[str]:
    return frozenset(wordlist())


@dataclass(frozen=True)
class ReceiptKeys:
    lookup: bytes
    wrapping_key: bytes


def receipt_keys(receipt: str, *, pepper: bytes) -> ReceiptKeys:
    """Derive the stored lookup hash and the key-wrapping key from a normalised receipt."""
    data = receipt.encode("ascii")
    return ReceiptKeys(
        lookup=keyed_hash(data, key=pepper, purpose=b"haven/receipt-id"),
        wrapping_key=keyed_hash(data, key=pepper, purpose=b"haven/receipt-ky"),
    )
