"""The helpline's figures, from what the store holds in the clear: no case is opened to count it.

Counts come from the live cases plus the anonymous counters purged cases leave behind
(retention.services.case_totals), so last year's numbers do not shrink when last year's cases are shredded.
Service figures (first response, overdue steps, missed check-ins, workload) come from the live cases and
the audit log.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from sqlalchemy import func, select

from haven.accounts.models import Operator, Team
from haven.audit.models import AuditEvent
from haven.cases.models import OPEN_CASES, Case
from haven.cases.procedure import Outcome, Stage
from haven.clock import now_minute
from haven.db import Database
from haven.retention.counting import CountKey
from haven.retention.services import case_totals

# The funnel's columns, in the order they are shown. Stages first: every case is contacted, and each
# later stage counts the cases that got at least that far (cases.procedure.Stage). Then how the cases
# stand: still open, or how they ended; these split the contacted cases between them.
STAGES = tuple(s.value for s in Stage)
ENDINGS = (
    Outcome.COMPLETED.value,
    Outcome.WITHDRAWN.value,
    Outcome.NO_CONTACT.value,
    Outcome.REJECTED_PROVOCATION.value,
)
POSITIONS = ("open", *ENDINGS, "closed_otherwise")
COLUMNS = (*STAGES, *POSITIONS)
# Each column in the words a coordinator reads (the desk, the terminal, the CSV's readers).
COLUMN_WORDS = {
    "contacted": "contacted",
    "screened": "screened",
    "verified": "verified",
    "in_progress": "in progress",
    "open": "open",
    "completed": "completed",
    "withdrawn": "withdrawn",
    "no_contact": "no contact",
    "rejected_provocation": "probable provocation",
    "closed_otherwise": "closed otherwise",
}

Period = Literal["month", "week"]
Breakdown = Literal["type", "channel"]
PERIODS: tuple[Period, ...] = ("month", "week")
BREAKDOWNS: tuple[Breakdown, ...] = ("type", "channel")
CHANNELS = ("web", "telegram")  # where requests come in (cases.channel)


@dataclass
class Funnel:
    """How many cases came in (contacted), how far they got, and how they stand: still open, or how
    they ended."""

    counts: Counter[str] = field(default_factory=Counter)

    def add(self, reached: str, position: str, n: int) -> None:
        # A merged duplicate is one person counted in another case: not contacted twice.
        if position == Outcome.MERGED.value:
            return
        furthest = _stage(reached)
        for stage in Stage:
            if stage.rank <= furthest.rank:
                self.counts[stage.value] += n
        if position in ENDINGS:
            self.counts[position] += n
        elif position == "closed":
            self.counts["closed_otherwise"] += n  # closed before procedures, or by hand
        else:
            self.counts["open"] += n

    def merge(self, other: Funnel) -> None:
        self.counts.update(other.counts)

    def row(self) -> list[int]:
        return [self.counts[c] for c in COLUMNS]


def _stage(reached: str) -> Stage:
    try:
        return Stage(reached)
    except ValueError:
        return Stage.CONTACTED


def tabulate(
    totals: Mapping[CountKey, int], *, per: Period | None = "month", by: Breakdown | None = None
) -> dict[tuple[date | None, str], Funnel]:
    """The funnels of `totals` (retention's case_totals, or one language's counts) per period (None: all
    time) and per part of a breakdown ("" when none), sorted by period then part."""
    table: dict[tuple[date | None, str], Funnel] = defaultdict(Funnel)
    for key, n in totals.items():
        period = key.month if per == "month" else key.week if per == "week" else None
        part = key.request_type if by == "type" else key.channel if by == "channel" else ""
        table[(period, part)].add(key.reached, key.position, n)
    return dict(sorted(table.items(), key=lambda item: (item[0][0] or date.min, item[0][1])))


def funnel(
    *, db: Database, per: Period | None = "month", by: Breakdown | None = None
) -> dict[tuple[date | None, str], Funnel]:
    """The funnel of every case ever taken in, from the store (see tabulate)."""
    with db.read() as s:
        totals = case_totals(db_session=s)
    return tabulate(totals, per=per, by=by)


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
