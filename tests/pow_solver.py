"""What static/pow.js does, in Python: for tests that send a solved proof of work."""

from __future__ import annotations

import hashlib
import itertools
import re

from haven.security.pow import leading_zero_bits


def solve(token: str, bits: int) -> str:
    """The first counter such that SHA-256(token || counter) starts with `bits` zero bits."""
    for counter in itertools.count():
        digest = hashlib.sha256(f"{token}{counter}".encode("ascii")).digest()
        if leading_zero_bits(digest) >= bits:
            return str(counter)
    raise AssertionError("unreachable")


def not_a_solution(token: str, bits: int) -> str:
    """A counter that does not solve the challenge."""
    for counter in itertools.count():
        digest = hashlib.sha256(f"{token}{counter}".encode("ascii")).digest()
        if leading_zero_bits(digest) < bits:
            return str(counter)
    raise AssertionError("unreachable")


def challenge_in(html: str) -> tuple[str, int]:
    """The token and the bits of the challenge a request form carries."""
    token = re.search(r'name="pow_token" value="([^"]+)"', html)
    bits = re.search(r'data-bits="(\d+)"', html)
    assert token, html
    assert bits, html
    return token.group(1), int(bits.group(1))


def solved_fields(html: str) -> dict[str, str]:
    """The hidden fields of a request form, with the challenge it carries solved."""
    token, bits = challenge_in(html)
    return {"pow_token": token, "pow_solution": solve(token, bits)}


class Clock:
    """A clock for the proof of work that a test moves by hand (seconds since the epoch)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
