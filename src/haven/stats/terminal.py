"""The funnel as `haven stats` prints it: a plain-text table, one row per month or week (and part of a
breakdown), every stage and how the requests stand, and a row of totals; by language, once the account
named with --as is unlocked at the terminal, with a progress bar while its tallies are opened."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from haven.accounts.lockout import AccountLocked
from haven.accounts.models import Role
from haven.accounts.services import LoginFailed
from haven.console import ProgressBar, ask_secret, unlock_operator
from haven.runtime import Runtime
from haven.stats.figures import COLUMN_WORDS, COLUMNS, Funnel, Period
from haven.stats.languages import count_languages
from haven.stats.tables import by_language

Table = Mapping[tuple[date | None, str], Funnel]

# The desk's words, two shortened so that the table fits a terminal.
HEADINGS = {**COLUMN_WORDS, "rejected_provocation": "provocation", "closed_otherwise": "closed other"}
PERIOD_HEADINGS = {"month": "month", "week": "week from"}
SPLITS = {"type": "request type", "channel": "channel", "language": "language"}


def period_text(per: Period, start: date) -> str:
    """A month as 2025-03; a week as the date of its Monday, 2025-03-10."""
    return f"{start:%Y-%m}" if per == "month" else start.isoformat()


def funnel_table(table: Table, *, per: Period, part_heading: str = "") -> list[str]:
    """The lines of the table: headings, a row per (period, part) in the order given, then the totals.
    Words are aligned left and numbers right, so columns read down."""
    total = Funnel()
    rows: list[list[str]] = []
    for (period, part), funnel in table.items():
        if period is None or not funnel.counts["contacted"]:
            continue
        total.merge(funnel)
        rows.append([period_text(per, period), *([part] if part_heading else []), *_numbers(funnel)])
    words = 2 if part_heading else 1
    headings = [PERIOD_HEADINGS[per], *([part_heading] if part_heading else []), *HEADINGS.values()]
    rows.append(["all", *([""] if part_heading else []), *_numbers(total)])
    widths = [max(len(cell) for cell in column) for column in zip(headings, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        aligned = (
            cell.ljust(width) if i < words else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )
        return "  ".join(aligned).rstrip()

    return [line(headings), *(line(row) for row in rows)]


def _numbers(funnel: Funnel) -> list[str]:
    return [f"{funnel.counts[c]:,}" for c in COLUMNS]


class NotCounted(Exception):
    """The languages could not be counted; the message says why, and is safe to print."""


def languages(runtime: Runtime, username: str, *, per: Period) -> tuple[Table, list[str]]:
    """Ask for `username`'s passphrase and one-time code, unlock the account and count the languages of
    the requests its teams received, showing progress on stderr. Returns the table and what to say about
    it (whose keys, which teams, what could not be opened). Raises NotCounted."""
    try:
        operator = unlock_operator(
            runtime,
            username=username,
            passphrase=ask_secret(f"Passphrase of {username}: "),
            code=ask_secret("One-time code from the authenticator app: "),
        )
    except LoginFailed:
        raise NotCounted(
            "the username, passphrase or one-time code is not right; nothing was counted."
        ) from None
    except AccountLocked as locked:
        raise NotCounted(locked.message()) from None
    except (EOFError, KeyboardInterrupt):
        raise NotCounted("stopped before the account was unlocked; nothing was counted.") from None
    if operator.role not in (Role.COORDINATOR, Role.ADMIN):
        # As on the desk: the languages page is for coordinators and admins.
        raise NotCounted(f"only coordinators and admins count languages; {username} is an operator.")
    counts = count_languages(
        db=runtime.db, operator=operator, progress=ProgressBar("opening language tallies")
    )
    notes = [
        f"Languages are sealed: they were opened with {operator.username}'s keys, for the requests received "
        f"by {', '.join(counts.teams) or 'their teams, and they are in none'}.",
    ]
    if counts.unreadable:
        notes.append(
            f"{counts.unreadable:,} could not be opened: sealed to a key of the team that "
            f"{operator.username} does not hold."
        )
    return by_language(counts, per=per), notes
