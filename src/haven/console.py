"""What a `haven` command needs to deal with the person at the terminal: a secret typed without echo (or read
from stdin when that is a pipe, so a script can hand it over), an operator unlocked with it, and a progress
bar on stderr for work that takes a while."""

from __future__ import annotations

import getpass
import sys
from typing import TextIO

from haven.accounts.login import check_credentials
from haven.accounts.services import UnknownOperator, UnlockedOperator
from haven.runtime import Runtime


def ask_secret(prompt: str, *, stdin: TextIO | None = None) -> str:
    """At a terminal, typed without echo (getpass, prompting on the terminal); from a pipe, its next line.

    getpass itself would fall back to stdin only when it cannot open /dev/tty, which a command run from a
    terminal always can, so a pipe is read here instead.
    """
    source = stdin or sys.stdin
    if source.isatty():
        return getpass.getpass(prompt)
    return source.readline().rstrip("\r\n")


def unlock_operator(runtime: Runtime, *, username: str, passphrase: str, code: str) -> UnlockedOperator:
    """Open an operator's private key as the desk's login does (accounts.login.log_in), a failure counting
    towards the same lockout, but start no session: the key lives only as long as this command.

    Raises LoginFailed (which never says what was wrong) or AccountLocked.
    """
    try:
        return check_credentials(runtime, username=username, passphrase=passphrase, code=code)
    except UnknownOperator:
        raise  # no account to count the failure on (the desk counts those in its own memory)


class ProgressBar:
    """`opening language tallies [#####.....] 1,200/2,400` on stderr, as a `progress(done, total)` callback.

    On a terminal the line is redrawn in place (carriage return) and ended when the work is; in a log or a
    pipe, where a redrawn line would pile up, a line is written each tenth of the way and at the end.
    """

    def __init__(self, label: str, *, stream: TextIO | None = None, width: int = 20) -> None:
        self._label = label
        self._stream = stream or sys.stderr
        self._width = width
        self._redraw = self._stream.isatty()
        self._tenths_shown = -1

    def line(self, done: int, total: int) -> str:
        filled = self._width if total <= 0 else min(self._width, self._width * done // total)
        return f"{self._label} [{'#' * filled}{'.' * (self._width - filled)}] {done:,}/{total:,}"

    def __call__(self, done: int, total: int) -> None:
        finished = done >= total
        if self._redraw:
            self._stream.write(f"\r{self.line(done, total)}" + ("\n" if finished else ""))
        else:
            tenths = 10 if finished or total <= 0 else 10 * done // total
            if tenths <= self._tenths_shown:
                return
            self._tenths_shown = tenths
            self._stream.write(self.line(done, total) + "\n")
        self._stream.flush()
