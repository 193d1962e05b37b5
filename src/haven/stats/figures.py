"""The helpline's figures, from what the store holds in the clear: no case is opened to count it.

Counts come from the live cases plus the anonymous counters purged cases leave behind
(retention.services.case_totals), so last year's numbers do not shrink when last year's cases are shredded.
Service figures (first response, overdue steps, missed check-ins, workload) come from the live cases and
the audit log.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from haven.accounts.models import Operator, Team
from haven.audit.models import AuditEvent
from haven.cases.models import OPEN_CASES, Case
from haven.cases.procedure import Outcome
from haven.clock import now_minute
from haven.db import Database
from haven.retention.services import case_totals

# The funnel's columns, in the order they are shown: every case is contacted; then how it stands.
ENDINGS = (
    Outcome.COMPLETED.value,
    Outcome.WITHDRAWN.value,
    Outcome.NO_CONTACT.value,
    Outcome.REJECTED_PROVOCATION.value,
)
COLUMNS = ("contacted", "open", *ENDINGS, "closed_otherwise")


@dataclass
class Funnel:
    """How many cases came in (contacted), and how they stand: still open, or how they ended."""

    counts: Counter[str] = field(default_factory=Counter)

    def add(self, position: str, n: int) -> None:
        # A merged duplicate is one person counted in another case: not contacted twice.
        if position == Outcome.MERGED.value:
            return
        self.counts["contacted"] += n
        if position in ENDINGS:
            self.counts[position] += n
        elif position == "closed":
            self.counts["closed_otherwise"] += n  # closed before procedures, or by hand
        else:
            self.counts["open"] += n

    def row(self) -> list[int]:
        return [self.counts[c] for c in COLUMNS]


def funnel_by_month(*, db: Database, request_type: str | None = None) -> dict[date, Funnel]:
    """The funnel of each month cases came in (optionally of one request type), oldest first."""
    with db.read() as s:
        totals = case_totals(db_session=s)
    months: dict[date, Funnel] = defaultdict(Funnel)
    for (month, kind, position), n in totals.items():
        if request_type is None or kind == request_type:
            months[month].add(position, n)
    return dict(sorted(months.items()))


def funnel_by_type(*, db: Database) -> dict[str, Funnel]:
    """The funnel of every case ever taken in, by request type."""
    with db.read() as s:
        totals = case_totals(db_session=s)
    kinds: dict[str, Funnel] = defaultdict(Funnel)
    for (_month, kind, position), n in totals.items():
        kinds[kind].add(position, n)
    return dict(sorted(kinds.items()))


@dataclass(frozen=True)
class FirstResponse:
    cases: int  # answered cases that came in within the period
    median_minutes: float | None
    p90_minutes: float | None


def first_response(*, db: Database, since: datetime, until: datetime | None = None) -> FirstResponse:
    """Time from a request to the first reply, for the cases that came in from `since` (audit log)."""
    until = until or now_minute()
    with db.read() as s:
        came = (
            select(AuditEvent.case_id)
            .where(AuditEvent.action == "case.created", AuditEvent.at >= since, AuditEvent.at < until)
            .scalar_subquery()
        )
        created = {
            case_id: at
            for case_id, at in s.execute(
                select(AuditEvent.case_id, func.min(AuditEvent.at))
                .where(AuditEvent.action == "case.created", AuditEvent.case_id.in_(came))
                .group_by(AuditEvent.case_id)
            )
        }
        replied = s.execute(
            select(AuditEvent.case_id, func.min(AuditEvent.at))
            .where(AuditEvent.action == "case.outbound", AuditEvent.case_id.in_(came))
            .group_by(AuditEvent.case_id)
        )
        waits = sorted(
            (at - created[case_id]).total_seconds() / 60 for case_id, at in replied if case_id in created
        )
    if not waits:
        return FirstResponse(0, None, None)
    p90 = waits[min(len(waits) - 1, int(0.9 * len(waits)))]
    return FirstResponse(len(waits), statistics.median(waits), p90)


@dataclass(frozen=True)
class Workload:
    overdue_by_step: dict[tuple[str, str], int]  # (procedure, step) -> open cases past the step's due time
    missed_check_ins: int  # open cases whose requester missed a check-in now
    by_team: dict[str, int]  # open cases per owning team
    by_operator: dict[str, int]  # open cases per assignee ("" for nobody)


def workload(*, db: Database, now: datetime | None = None) -> Workload:
    """Where the open cases stand right now."""
    at = now_minute(now)
    with db.read() as s:
        overdue = s.execute(
            select(Case.procedure, Case.step, func.count())
            .where(OPEN_CASES, Case.due_at < at)
            .group_by(Case.procedure, Case.step)
        )
        missed = s.scalar(select(func.count()).where(OPEN_CASES, Case.check_in_missed.is_(True))) or 0
        teams = s.execute(
            select(Team.slug, func.count())
            .join(Case, Case.team_id == Team.id)
            .where(OPEN_CASES)
            .group_by(Team.slug)
        )
        people = s.execute(
            select(Operator.username, func.count())
            .select_from(Case)
            .outerjoin(Operator, Operator.id == Case.assignee_id)
            .where(OPEN_CASES)
            .group_by(Operator.username)
        )
        return Workload(
            overdue_by_step={(p, st): n for p, st, n in overdue},
            missed_check_ins=missed,
            by_team={slug: n for slug, n in teams},
            by_operator={name or "": n for name, n in people},
        )


CHANNELS = ("web", "telegram")


def contacted_by_channel(*, db: Database, length: str = "month") -> dict[date, Counter[str]]:
    """Requests that came in per week (from Monday) or month, by channel, oldest first. Read from the audit
    log's `case.created` events, whose detail names the channel (none: the web) and which outlive a purge."""
    with db.read() as s:
        days = s.execute(
            select(func.date(AuditEvent.at), AuditEvent.detail, func.count())
            .where(AuditEvent.action == "case.created")
            .group_by(func.date(AuditEvent.at), AuditEvent.detail)
        )
        periods: dict[date, Counter[str]] = defaultdict(Counter)
        for day, detail, n in days:
            when = day if isinstance(day, date) else date.fromisoformat(str(day))
            start = when - timedelta(days=when.weekday()) if length == "week" else when.replace(day=1)
            periods[start][detail or "web"] += n
    return dict(sorted(periods.items()))
