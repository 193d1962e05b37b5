"""Uniform picks from the operating system's CSPRNG, several at a time.

`secrets.choice` makes one getrandom() call per pick; a receipt (7 words) and a case id (16 characters)
made that 23 system calls a request, a tenth of intake's time. Here one call serves all the picks, and
rejection sampling keeps every pick exactly uniform.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def choices(population: Sequence[T], count: int) -> list[T]:
    """`count` independent, uniform picks from `population`."""
    size = len(population)
    if size == 0:
        raise ValueError("nothing to choose from")
    width = max(1, ((size - 1).bit_length() + 7) // 8)  # bytes a draw takes
    limit = (1 << (8 * width)) // size * size  # draws at or above it would favour the first items
    picks: list[T] = []
    while len(picks) < count:
        pool = secrets.token_bytes(width * (count - len(picks)) * 2)
        for start in range(0, len(pool), width):
            draw = int.from_bytes(pool[start : start + width], "big")
            if draw < limit:
                picks.append(population[draw % size])
                if len(picks) == count:
                    break
    return picks
