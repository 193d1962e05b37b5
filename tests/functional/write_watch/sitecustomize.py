"""Imported by every Python process started with this folder on its PYTHONPATH (Python imports a module
named sitecustomize at start-up): when WRITE_WATCH_LOG names a file, each file the process then opens for
writing, and each temporary file it makes, is noted there, one line each. Tests run a real server this
way to see that an upload never touches the disk (test_uploads_seizure.py).

Python's audit hooks see every open() and os.open(), including the unnamed files tempfile makes with
O_TMPFILE, which no look at a directory afterwards would find. (SQLite and PostgreSQL write from C, to
the store's own files; those are what the seizure scan reads.)
"""

from __future__ import annotations

import os
import sys
from typing import Any

_LOG = os.environ.get("WRITE_WATCH_LOG")
_WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_TMPFILE = getattr(os, "O_TMPFILE", 0)


def _writes(mode: Any, flags: Any) -> bool:
    if isinstance(flags, int) and flags >= 0:
        return bool(flags & _WRITING) or (_TMPFILE != 0 and flags & _TMPFILE == _TMPFILE)
    return isinstance(mode, str) and any(c in mode for c in "wax+")


if _LOG:
    # Opened before the hook is installed, and written with os.write, which is not audited.
    _fd = os.open(_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def _note(*fields: object) -> None:
        os.write(_fd, ("\t".join(str(f) for f in (os.getpid(), *fields)) + "\n").encode())

    def _watch(event: str, args: tuple[Any, ...]) -> None:
        if event == "open" and len(args) == 3 and not isinstance(args[0], int) and _writes(args[1], args[2]):
            _note("open", args[0], args[1], args[2])
        elif event in ("tempfile.mkstemp", "tempfile.mkdtemp"):
            _note(event, args[0])

    sys.addaudithook(_watch)
    # So that a test can tell that this process was watched at all.
    _note("watching", " ".join(sys.argv))
