"""What someone who copies a stopped server's disk would grep for: each marker in the encodings a
careless program might write it in (plain text, UTF-16, hex, base64 at any alignment)."""

from __future__ import annotations

import base64
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Hit:
    path: Path
    marker: str
    encoding: str

    def __str__(self) -> str:
        return f"{self.path}: marker {self.marker!r} found as {self.encoding}"


def _base64_inner(marker: bytes, prefix_length: int, *, urlsafe: bool) -> bytes:
    """The base64 characters that depend only on the marker when it sits `prefix_length` bytes into a
    3-byte group, so they match wherever the marker lies inside a larger base64 blob."""
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    encoded = encode(b"x" * prefix_length + marker)
    first = math.ceil(prefix_length * 8 / 6)
    last = (prefix_length + len(marker)) * 8 // 6
    return encoded[first:last]


def encodings_of(marker: str) -> dict[str, bytes]:
    """Every byte pattern the marker is searched as, named by encoding."""
    raw = marker.encode("utf-8")
    patterns = {
        "utf-8": raw,
        "utf-16-le": marker.encode("utf-16-le"),
        "utf-16-be": marker.encode("utf-16-be"),
        "hex": raw.hex().encode(),
        "HEX": raw.hex().upper().encode(),
    }
    for prefix_length in (0, 1, 2):
        patterns[f"base64@{prefix_length}"] = _base64_inner(raw, prefix_length, urlsafe=False)
        patterns[f"base64url@{prefix_length}"] = _base64_inner(raw, prefix_length, urlsafe=True)
    return patterns


def files_under(*roots: Path) -> Iterator[Path]:
    """Every regular file below the roots, hidden ones and SQLite -wal/-shm files included."""
    for root in roots:
        for directory, _subdirs, names in os.walk(root):
            for name in names:
                path = Path(directory) / name
                if path.is_file() and not path.is_symlink():
                    yield path


def scan(paths: Iterable[Path], markers: Iterable[str]) -> list[Hit]:
    """Every (file, marker, encoding) whose bytes occur in the file as it is on disk."""
    patterns = [
        (marker, name, pattern) for marker in markers for name, pattern in encodings_of(marker).items()
    ]
    hits: list[Hit] = []
    for path in paths:
        try:
            content = path.read_bytes()
        except FileNotFoundError:  # a running PostgreSQL removes some of its files (pg_internal.init)
            continue
        hits.extend(Hit(path, marker, name) for marker, name, pattern in patterns if pattern in content)
    return hits
