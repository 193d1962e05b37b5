"""The retention rules and a purge (or its dry run) as plain-text tables, for `haven purge`."""

from __future__ import annotations

from collections.abc import Iterable

from haven.retention.rules import RetentionRules
from haven.retention.services import Expiring


def days(value: int | None) -> str:
    return "never" if value is None else str(value)


def rules_table(rules: RetentionRules, request_types: Iterable[str]) -> list[str]:
    """The default rule, then each request type whose rule differs."""
    lines = [f"  {'request type':<22}{'closed':>8}{'open':>8}"]
    lines.append(
        f"  {'(every type)':<22}{days(rules.default.closed_days):>8}{days(rules.default.open_days):>8}"
    )
    for request_type in request_types:
        rule = rules.for_type(request_type)
        if rule != rules.default:
            lines.append(f"  {request_type:<22}{days(rule.closed_days):>8}{days(rule.open_days):>8}")
    return lines


def expiring_table(found: Iterable[Expiring]) -> list[str]:
    """One line per request type and state: how many cases, and the oldest last activity (UTC)."""
    lines = [f"  {'request type':<22}{'state':<13}{'cases':>7}  oldest last activity"]
    for line in found:
        oldest = line.oldest_activity.strftime("%Y-%m-%d %H:%M")
        lines.append(f"  {line.request_type:<22}{line.state.value:<13}{line.cases:>7}  {oldest} UTC")
    return lines
