"""`haven seed`: many realistic cases for benchmarks and load tests, with the real crypto.

Each case goes through `intake.services.seal_new_case`, as a request from the web form does: its own
X25519 keypair sealed to the intake team, a receipt lookup and the key locked under the receipt, the
answers and the first message each sealed to the case. Worker processes do the sealing (it is nearly all
of the cost); the parent only inserts, a batch per transaction, so a million cases take minutes.

The history is that of a busy helpline: cases spread evenly over the past two years (1,500 a day is
about a million), most of them closed, the open ones among the newest.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from haven.accounts.models import Membership
from haven.accounts.services import intake_team
from haven.audit.services import REQUESTER, Actor, PastEvent, record_events
from haven.cases.models import Case, CaseKey, Record
from haven.cases.procedure import Outcome, Stage
from haven.cases.procedure_files import SHIPPED, load_all
from haven.cases.states import CaseState
from haven.db import Database, values_of
from haven.intake.questionnaires import Catalogue, default_catalogue
from haven.intake.services import entry_for, seal_new_case
from haven.seeding_texts import LANGUAGE_WEIGHTS, message
from haven.stats.models import LanguageTally

HISTORY = timedelta(days=730)
OPEN_STATES = ((CaseState.NEW, 0.2), (CaseState.IN_PROGRESS, 0.5), (CaseState.WAITING, 0.3))
DANGER = (("no", 0.7), ("unsure", 0.2), ("yes", 0.1))
TYPE_WEIGHTS = {
    "leave_service": 3,
    "avoid_mobilisation": 4,
    "relative": 3,
    "legal": 2,
    "support": 1,
    "other": 1,
}


class SeedingError(RuntimeError):
    """The data directory cannot be seeded (no organisation, or no team that receives intake)."""


@dataclass(frozen=True)
class Batch:
    """One worker's share: cases number `start` to `start + count - 1` of `total`, oldest first."""

    start: int
    count: int
    total: int
    closed_share: float
    until: datetime
    team_id: int
    team_public_key: bytes
    team_key_generation: int
    pepper: bytes
    assignees: tuple[int, ...]
    seed: int


@dataclass
class SealedBatch:
    cases: list[dict[str, Any]] = field(default_factory=list)
    case_keys: list[dict[str, Any]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    tallies: list[dict[str, Any]] = field(default_factory=list)
    events: list[PastEvent] = field(default_factory=list)
    receipts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0


# How far cases that are not new got (a case that completed went all the way).
REACHED = ((Stage.CONTACTED, 0.3), (Stage.SCREENED, 0.3), (Stage.VERIFIED, 0.2), (Stage.IN_PROGRESS, 0.2))
TELEGRAM_SHARE = 0.6  # as on the helplines that run a bot beside a web form

CLOSED_OUTCOMES = (
    (Outcome.COMPLETED, 0.35),
    (Outcome.NO_CONTACT, 0.35),
    (Outcome.WITHDRAWN, 0.2),
    (Outcome.REJECTED_PROVOCATION, 0.1),
)


def _weighted(rng: random.Random, choices: tuple[tuple[Any, float], ...]) -> Any:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def _answers(rng: random.Random, catalogue: Catalogue, request_type: str) -> dict[str, str]:
    answers: dict[str, str] = {}
    for question in catalogue.types[request_type].questions:
        if question.id == "danger_now":
            answers[question.id] = _weighted(rng, DANGER)
        elif question.required or rng.random() < 0.7:
            answers[question.id] = rng.choice(question.options).id
    return catalogue.validate(request_type, answers)


def seal_batch(batch: Batch) -> SealedBatch:
    """Build and seal one batch of cases (runs in a worker process)."""
    rng = random.Random(batch.seed * 1_000_003 + batch.start)
    catalogue = default_catalogue()
    procedures = load_all([SHIPPED])
    types = tuple(TYPE_WEIGHTS.items())
    step = HISTORY / batch.total
    begin = batch.until - HISTORY
    # The open cases are drawn from the newest ones: open_from is where that window starts.
    open_share = 1.0 - batch.closed_share
    window = min(1.0, 2 * open_share)
    open_from = batch.total * (1.0 - window)
    out = SealedBatch()
    for index in range(batch.start, batch.start + batch.count):
        created = begin + step * (index + rng.random())
        request_type = _weighted(rng, types)
        language = _weighted(rng, LANGUAGE_WEIGHTS)
        answers = _answers(rng, catalogue, request_type)
        channel = "telegram" if rng.random() < TELEGRAM_SHARE else "web"
        sealed = seal_new_case(
            request_type=request_type,
            language=language,
            answers=answers,
            message=message(rng, language, request_type),
            priority=catalogue.priority(answers),
            team_id=batch.team_id,
            team_public_key=batch.team_public_key,
            team_key_generation=batch.team_key_generation,
            pepper=batch.pepper,
            entry=entry_for(request_type, catalogue, procedures),
            channel=channel,
            now=created,
        )
        case = sealed.rows[0]
        assert isinstance(case, Case)
        is_open = window > 0 and index >= open_from and rng.random() < open_share / window
        state = _weighted(rng, OPEN_STATES) if is_open else CaseState.CLOSED
        if state is not CaseState.NEW:
            case.state = state.value
            case.assignee_id = rng.choice(batch.assignees) if batch.assignees else None
            case.needs_reply = state is CaseState.IN_PROGRESS and rng.random() < 0.5
            later = created + timedelta(minutes=rng.randint(10, 60 * 24 * 30))
            case.updated_at = min(later, batch.until).replace(second=0, microsecond=0)
            if state is CaseState.CLOSED and case.procedure:
                # Ended in one of the procedure's outcomes, as often as busy helplines report them.
                case.step = _weighted(rng, CLOSED_OUTCOMES).value
                case.step_entered_at = case.due_at = case.updated_at
            completed = case.step == Outcome.COMPLETED.value
            case.reached = (Stage.IN_PROGRESS if completed else _weighted(rng, REACHED)).value
        cases, keys, *records, tally = (values_of(r) for r in sealed.rows)
        out.cases.append(cases)
        out.case_keys.append(keys)
        out.records.extend(records)
        out.tallies.append(tally)
        created_by = "" if channel == "web" else channel
        out.events.append(PastEvent(case.created_at, REQUESTER, "case.created", case.id, created_by))
        if state is not CaseState.NEW:
            actor = Actor("operator", case.assignee_id)
            detail = f"{CaseState.NEW}->{state}"
            out.events.append(PastEvent(case.updated_at, actor, "case.state", case.id, detail))
        if len(out.receipts) < 3:
            out.receipts.append(sealed.receipt)
    return out


def _insert(s: Session, sealed: SealedBatch) -> None:
    # Core inserts on the tables: one executemany each, with no primary keys fetched back.
    tables = (
        (Case, sealed.cases),
        (CaseKey, sealed.case_keys),
        (Record, sealed.records),
        (LanguageTally, sealed.tallies),
    )
    for model, rows in tables:
        s.execute(insert(cast(Table, model.__table__)), rows)
    record_events(db_session=s, events=sealed.events)


def _sealed_in_order(jobs: list[Batch], workers: int) -> Iterator[SealedBatch]:
    """Seal the batches in worker processes, at most two per worker in flight, yielding them in order."""
    if workers <= 1:
        yield from map(seal_batch, jobs)
        return
    # spawn, not fork: the parent may hold database connections and threads.
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pending: deque[Any] = deque()
        queued = iter(jobs)
        for job in queued:
            pending.append(pool.apply_async(seal_batch, (job,)))
            if len(pending) >= 2 * workers:
                break
        while pending:
            done = pending.popleft().get()
            next_job = next(queued, None)
            if next_job is not None:
                pending.append(pool.apply_async(seal_batch, (next_job,)))
            yield done


def seed_cases(
    *,
    db: Database,
    pepper: bytes,
    count: int,
    closed_share: float = 0.9,
    workers: int | None = None,
    batch_size: int = 1000,
    until: datetime | None = None,
    seed: int | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> list[str]:
    """Add `count` sealed cases to the intake team; returns a few of their receipts."""
    if not 0.0 <= closed_share <= 1.0:
        raise ValueError("closed_share is a fraction between 0 and 1")
    with db.read() as s:
        team = intake_team(db_session=s)
        if team is None:
            raise SeedingError("no team receives intake here: make the organisation first (haven demo)")
        assignees = tuple(s.scalars(select(Membership.operator_id).where(Membership.team_id == team.id)))
        team_id, team_public_key, generation = team.id, team.public_key, team.key_generation
    end = (until or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None, second=0, microsecond=0)
    base_seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
    jobs = [
        Batch(
            start=start,
            count=min(batch_size, count - start),
            total=count,
            closed_share=closed_share,
            until=end,
            team_id=team_id,
            team_public_key=team_public_key,
            team_key_generation=generation,
            pepper=pepper,
            assignees=assignees,
            seed=base_seed,
        )
        for start in range(0, count, batch_size)
    ]
    workers = workers if workers is not None else os.cpu_count() or 1
    started = time.monotonic()
    done = 0
    receipts: list[str] = []
    for sealed in _sealed_in_order(jobs, min(workers, len(jobs))):
        with db.write() as s:
            _insert(s, sealed)
        done += len(sealed.cases)
        receipts.extend(sealed.receipts[: max(0, 5 - len(receipts))])
        if progress is not None:
            progress(Progress(done, count, time.monotonic() - started))
    if not db.is_sqlite:
        # PostgreSQL's autovacuum would analyse the new rows soon anyway; do it now so plans are settled.
        with db.write() as s:
            s.connection().exec_driver_sql("ANALYZE")
    return receipts
