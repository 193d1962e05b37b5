"""Purging expired cases: crypto-shredding each one whole and counting it, exactly once.

A batch is one transaction that deletes the expired cases it picks (their keys, records and every row
that refers to them go with them: ON DELETE CASCADE) and adds them to the anonymous counters. The case
rows picked are locked with SKIP LOCKED on PostgreSQL, and only the rows the DELETE really removed are
counted, so two purgers at once (several workers, or `haven purge` beside a server) share the work and
never count a case twice; a case that someone writes in meanwhile is locked by them, skipped, and has a
new last activity by the next run. The purger never waits on a case another transaction holds, so it
cannot deadlock with intake.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, delete, false, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from haven.audit.services import SYSTEM, Actor, record_event
from haven.cases.models import Case
from haven.cases.procedure import OUTCOMES
from haven.cases.states import CaseState
from haven.channels.telegram.services import forget_idle_chats
from haven.clock import now_minute
from haven.db import Database
from haven.retention.counting import CountKey, final_position
from haven.retention.models import CaseCount
from haven.retention.rules import RetentionRules, Rule
from haven.retention.shredding import ShredResult, shred_deleted
from haven.stats.languages import unhook_tallies

log = logging.getLogger(__name__)

# Cases per transaction: small enough that intake, waiting on SQLite's one writer, hardly notices.
BATCH = 200


@dataclass(frozen=True)
class Expiring:
    """One line of a purge or its dry run: the cases of one request type in one state."""

    request_type: str
    state: CaseState
    cases: int
    oldest_activity: datetime


@dataclass(frozen=True)
class PurgeReport:
    purged: list[Expiring]  # by request type, then state
    shredded: ShredResult | None  # what was done to the files afterwards; None when nothing went

    @property
    def cases(self) -> int:
        return sum(line.cases for line in self.purged)


def _rule_expired(rule: Rule, now: datetime) -> ColumnElement[bool] | None:
    parts = []
    closed_cutoff = rule.cutoff(CaseState.CLOSED, now)
    if closed_cutoff is not None:
        parts.append(and_(Case.state == CaseState.CLOSED.value, Case.updated_at <= closed_cutoff))
    open_cutoff = rule.cutoff(CaseState.NEW, now)
    if open_cutoff is not None:
        parts.append(and_(Case.state != CaseState.CLOSED.value, Case.updated_at <= open_cutoff))
    return or_(*parts) if parts else None


def expired(rules: RetentionRules, now: datetime) -> ColumnElement[bool]:
    """The cases past their rule at `now` (a minute), as a condition on `cases`."""
    clauses = []
    for request_type, rule in rules.by_type.items():
        clause = _rule_expired(rule, now)
        if clause is not None:
            clauses.append(and_(Case.request_type == request_type, clause))
    default = _rule_expired(rules.default, now)
    if default is not None:
        clauses.append(
            and_(Case.request_type.not_in(list(rules.by_type)), default) if rules.by_type else default
        )
    cutoffs = [
        cutoff
        for rule in (rules.default, *rules.by_type.values())
        for state in (CaseState.CLOSED, CaseState.NEW)
        if (cutoff := rule.cutoff(state, now)) is not None
    ]
    if not clauses:
        return false()
    # The latest cutoff bounds them all: a range on the updated_at index, so only old cases are read.
    return and_(Case.updated_at <= max(cutoffs), or_(*clauses))


def expiring(*, db: Database, rules: RetentionRules, now: datetime | None = None) -> list[Expiring]:
    """The dry run: what a purge at `now` would remove, by request type and state. Changes nothing."""
    query = (
        select(Case.request_type, Case.state, func.count(), func.min(Case.updated_at))
        .where(expired(rules, now_minute(now)))
        .group_by(Case.request_type, Case.state)
        .order_by(Case.request_type, Case.state)
    )
    with db.read() as s:
        return [Expiring(t, CaseState(state), n, oldest) for t, state, n, oldest in s.execute(query)]


@dataclass(frozen=True)
class _Gone:
    id: str
    request_type: str
    state: str
    step: str
    created_at: datetime
    updated_at: datetime
    channel: str
    reached: str

    @property
    def final(self) -> str:
        """How it ended (an outcome of its procedure), or the state it was left in."""
        return self.step if self.step in OUTCOMES else self.state

    @property
    def count_key(self) -> CountKey:
        return CountKey.of(self.created_at.date(), self.request_type, self.channel, self.reached, self.final)


def _purge_batch(s: Session, rules: RetentionRules, now: datetime, batch_size: int) -> list[_Gone]:
    picked = list(
        s.scalars(
            select(Case.id)
            .where(expired(rules, now))
            .order_by(Case.updated_at, Case.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has one writer and ignores it
        )
    )
    if not picked:
        return []
    # Before the cases go: their sealed language tallies keep what the counters keep, and stay.
    unhook_tallies(db_session=s, case_ids=picked)
    removed = s.execute(
        delete(Case)
        .where(Case.id.in_(picked))
        .returning(
            Case.id,
            Case.request_type,
            Case.state,
            Case.step,
            Case.created_at,
            Case.updated_at,
            Case.channel,
            Case.reached,
        )
        .execution_options(synchronize_session=False)
    )
    gone = [_Gone(**row._asdict()) for row in removed]
    _add_counts(s, Counter(g.count_key for g in gone))
    return gone


def _add_counts(s: Session, counts: Counter[CountKey]) -> None:
    if not counts:
        return
    dialect = s.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # In key order, so that two purgers adding to the same counters lock them in the same order.
    rows = [
        {
            "month": key.month,
            "week": key.week,
            "request_type": key.request_type,
            "channel": key.channel,
            "reached": key.reached,
            "final_state": key.position,
            "count": n,
        }
        for key, n in sorted(counts.items())
    ]
    statement = insert(CaseCount).values(rows)
    s.execute(
        statement.on_conflict_do_update(
            index_elements=["month", "week", "request_type", "final_state", "channel", "reached"],
            set_={"count": CaseCount.count + statement.excluded["count"]},
        )
    )


class _Tally:
    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.oldest: dict[tuple[str, str], datetime] = {}

    @property
    def cases(self) -> int:
        return sum(self.counts.values())

    def add(self, gone: list[_Gone]) -> None:
        for g in gone:
            key = (g.request_type, g.state)
            self.counts[key] += 1
            self.oldest[key] = min(self.oldest.get(key, g.updated_at), g.updated_at)

    def lines(self) -> list[Expiring]:
        return [
            Expiring(t, CaseState(s), self.counts[(t, s)], self.oldest[(t, s)])
            for t, s in sorted(self.counts)
        ]


def purge(
    *,
    db: Database,
    rules: RetentionRules,
    now: datetime | None = None,
    batch_size: int = BATCH,
    actor: Actor = SYSTEM,
    forget: Callable[[Collection[str]], None] | None = None,
    stop: threading.Event | None = None,
) -> PurgeReport:
    """Crypto-shred every case past its rule at `now`, batch by batch, and count each one once.

    `forget` is told the ids of each committed batch, to drop what this process still holds of them
    (requester sessions, search indexes). `stop`, once set, ends the run after the batch in progress.
    Afterwards the deleted pages are pushed out of the files (see shredding.py) and one audit event
    records how many cases went, never which. Telegram chats that never became a case are forgotten first.
    """
    at = now_minute(now)
    with db.write() as s:
        forget_idle_chats(db_session=s, now=at)
    tally = _Tally()
    while True:
        stopping = stop is not None and stop.is_set()
        with db.write() as s:
            gone = [] if stopping else _purge_batch(s, rules, at, batch_size)
            tally.add(gone)
            if not gone and tally.cases:
                # The run's one event, in its last transaction: it holds no case, so waiting for the
                # audit chain cannot deadlock with a writer that holds the chain and wants a case.
                record_event(
                    db_session=s,
                    actor=actor,
                    action="retention.purged",
                    detail=f"{tally.cases} cases",
                    now=now,
                )
        if not gone:
            break
        if forget is not None:
            forget([g.id for g in gone])
    if not tally.cases:
        return PurgeReport(purged=[], shredded=None)
    shredded = shred_deleted(db)
    log.info("retention: purged %d expired cases", tally.cases)
    return PurgeReport(purged=tally.lines(), shredded=shredded)


def case_totals(*, db_session: Session) -> dict[CountKey, int]:
    """Every case ever taken in, by when it came in, request type, channel, how far it got and how it
    stands (its outcome once ended, else its state; for purged ones, how they stood when purged): the live
    cases plus the counters. A purge moves a case from one to the other in one transaction, so these
    totals never change because of it."""
    totals: Counter[CountKey] = Counter()
    day = func.date(Case.created_at)
    position = final_position()
    live = select(day, Case.request_type, Case.channel, Case.reached, position, func.count()).group_by(
        day, Case.request_type, Case.channel, Case.reached, position
    )
    for created, request_type, channel, reached, state, n in db_session.execute(live):
        when = created if isinstance(created, date) else date.fromisoformat(str(created))
        totals[CountKey.of(when, request_type, channel, reached, state)] += n
    for row in db_session.scalars(select(CaseCount)):
        key = CountKey(row.month, row.week, row.request_type, row.channel, row.reached, row.final_state)
        totals[key] += row.count
    return dict(totals)
