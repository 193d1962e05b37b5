"""Retention rules: per request type, how many days a closed case and a silent open case are kept.

The rules live beside the request types in questionnaires.toml (one file for the organisation to edit): a
`[retention]` table for every type, and a `[types.X.retention]` table where one type needs otherwise.
Days count from a case's last activity (cases.updated_at: a message, a reply, a note, a change of state),
never from its creation, so a case someone still writes in is never taken from under them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from haven.cases.states import CaseState

NEVER = "never"
KEYS = ("closed_days", "open_days")

# Shipped defaults when the file has no [retention] table (it does: these only guard a trimmed copy).
# Closed: three months lets a requester come back for the last reply and an operator look something up.
# Open and silent: a year, because a route out can take months of silence between two messages.
DEFAULT_CLOSED_DAYS = 90
DEFAULT_OPEN_DAYS = 365


@dataclass(frozen=True)
class Rule:
    """Days a case is kept after its last activity, closed or open; None keeps it for ever."""

    closed_days: int | None = DEFAULT_CLOSED_DAYS
    open_days: int | None = DEFAULT_OPEN_DAYS

    def days_for(self, state: CaseState) -> int | None:
        return self.closed_days if state is CaseState.CLOSED else self.open_days

    def cutoff(self, state: CaseState, now: datetime) -> datetime | None:
        """A case in `state` whose last activity is at or before this minute has expired."""
        days = self.days_for(state)
        return None if days is None else now - timedelta(days=days)


@dataclass(frozen=True)
class RetentionRules:
    default: Rule = Rule()
    # Only the request types whose rule differs from the default, each fully resolved.
    by_type: Mapping[str, Rule] = field(default_factory=dict)

    def for_type(self, request_type: str) -> Rule:
        """The rule of a request type; a type no longer in the catalogue follows the default."""
        return self.by_type.get(request_type, self.default)


def _days(raw: Any, where: str) -> int | None:
    if raw == NEVER:
        return None
    # bool is an int in Python: `closed_days = true` is a mistake, not one day.
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise ValueError(f'{where}: must be a whole number of days (1 or more) or "{NEVER}", not {raw!r}')
    return raw


def parse_rule(raw: Any, where: str, *, base: Rule) -> Rule:
    """A `[retention]` table read over `base`: the keys it leaves out keep base's values."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: must be a table with {' and/or '.join(KEYS)}")
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(KEYS)})")
    return Rule(
        closed_days=_days(raw["closed_days"], f"{where}.closed_days")
        if "closed_days" in raw
        else base.closed_days,
        open_days=_days(raw["open_days"], f"{where}.open_days") if "open_days" in raw else base.open_days,
    )


def parse_rules(default: Any, per_type: Mapping[str, Any], where: str) -> RetentionRules:
    """The rules of a catalogue: its `[retention]` table (or None) and each type's own (only those given)."""
    base = Rule() if default is None else parse_rule(default, f"{where}:retention", base=Rule())
    by_type = {
        type_id: parse_rule(raw, f"{where}:types.{type_id}.retention", base=base)
        for type_id, raw in per_type.items()
    }
    return RetentionRules(default=base, by_type={t: r for t, r in by_type.items() if r != base})
