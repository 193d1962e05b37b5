"""Re-wrapping case keys to a team's new keypair after a revocation, in the background.

Each case key sealed to a retired team key is unsealed with a remaining member's copy of that key and sealed
again to the team's current public key. It needs a member's unlocked key, so it runs while one is logged in
(it starts at their login, and at the revocation itself when the admin is a member), and stops as soon as
their session ends. When no case key of a generation is left, that generation's key is deleted everywhere:
from then on a copy the revoked operator took opens nothing in the store.

Intake caches a team's public key for a few seconds (intake.services.ReceivingTeam), so a case can still
arrive sealed to the old key just after a rotation: the old key is deleted only once GRACE has passed since
the rotation (stored to the minute, hence minutes) and no case key is left on it, in one transaction.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, delete, exists, func, select, update

from haven.accounts.keyring import held_team_keys
from haven.accounts.models import RetiredMembership, RetiredTeamKey, Team
from haven.accounts.services import UnlockedOperator
from haven.audit.services import SYSTEM, record_event
from haven.cases.models import CaseKey
from haven.clock import now_minute
from haven.crypto.keys import DecryptionError, seal
from haven.db import Database
from haven.stats.languages import reseal_tallies, tallies_left

GRACE = timedelta(minutes=2)
BATCH = 500
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pending:
    team_id: int
    generation: int


@dataclass
class RewrapResult:
    rewrapped: int = 0
    tallies: int = 0  # sealed language tallies of the statistics sealed again
    unreadable: int = 0  # case keys the retired key does not open (damaged): left as they are
    retired: int = 0  # generations whose key was deleted


def pending_for(*, db: Database, operator_id: int) -> list[Pending]:
    """The retired team keys this operator holds a copy of: the re-wraps their key can carry out."""
    with db.read() as s:
        rows = s.execute(
            select(RetiredMembership.team_id, RetiredMembership.generation)
            .where(RetiredMembership.operator_id == operator_id)
            .order_by(RetiredMembership.team_id, RetiredMembership.generation)
        )
        return [Pending(team_id, generation) for team_id, generation in rows]


def rewrap_generation(
    *,
    db: Database,
    operator: UnlockedOperator,
    pending: Pending,
    keep_going: Callable[[], bool] = lambda: True,
    batch: int = BATCH,
) -> RewrapResult:
    """Re-seal every case key of the team still on `pending.generation` to the team's current key,
    a batch per short write transaction (intake never waits long for the single writer)."""
    result = RewrapResult()
    after = ""
    while keep_going():
        with db.read() as s:
            keys = held_team_keys(db_session=s, operator=operator, team_id=pending.team_id)
            team = s.get(Team, pending.team_id)
            rows = s.execute(
                select(CaseKey.case_id, CaseKey.sealed_private_key)
                .where(
                    CaseKey.team_id == pending.team_id,
                    CaseKey.key_generation == pending.generation,
                    CaseKey.case_id > after,
                )
                .order_by(CaseKey.case_id)
                .limit(batch)
            ).all()
        if keys is None or team is None or not rows:
            break
        after = rows[-1].case_id
        resealed = []
        for case_id, sealed in rows:
            try:
                resealed.append(
                    (case_id, seal(keys.open_case_key(sealed, pending.generation), team.public_key))
                )
            except DecryptionError:
                result.unreadable += 1
        with db.write() as s:
            for case_id, sealed in resealed:
                # Only if nobody re-wrapped it meanwhile (another worker, another member's login).
                done: CursorResult[Any] = s.execute(  # type: ignore[assignment]
                    update(CaseKey)
                    .where(
                        CaseKey.case_id == case_id,
                        CaseKey.team_id == pending.team_id,
                        CaseKey.key_generation == pending.generation,
                    )
                    .values(sealed_private_key=sealed, key_generation=team.key_generation)
                )
                result.rewrapped += done.rowcount
    # The sealed language tallies of the statistics too (stats/languages.py), or they could not be counted
    # once the retired key is deleted.
    with db.read() as s:
        keys = held_team_keys(db_session=s, operator=operator, team_id=pending.team_id)
        team = s.get(Team, pending.team_id)
    if keys is not None and team is not None:
        tallies, unopened = reseal_tallies(
            db=db,
            keys=keys,
            team_id=pending.team_id,
            generation=pending.generation,
            public_key=team.public_key,
            new_generation=team.key_generation,
            keep_going=keep_going,
            batch=batch,
        )
        result.tallies += tallies
        result.unreadable += unopened
    return result


def retire_if_done(
    *, db: Database, pending: Pending, grace: timedelta = GRACE, now: datetime | None = None
) -> bool:
    """Delete a retired team key (every copy of it) once no case key is sealed to it and the grace time
    since the rotation is over. True if it was deleted."""
    with db.write() as s:
        retired = s.get(RetiredTeamKey, (pending.team_id, pending.generation))
        if retired is None:
            return False
        if retired.retired_at > now_minute(now) - grace:
            return False
        left = s.scalar(
            select(
                exists().where(
                    CaseKey.team_id == pending.team_id, CaseKey.key_generation == pending.generation
                )
            )
        )
        if left or tallies_left(db_session=s, team_id=pending.team_id, generation=pending.generation):
            return False
        s.execute(
            delete(RetiredMembership).where(
                RetiredMembership.team_id == pending.team_id,
                RetiredMembership.generation == pending.generation,
            )
        )
        s.delete(retired)
        record_event(
            db_session=s,
            actor=SYSTEM,
            action="team.key_retired",
            detail=f"team={pending.team_id} generation={pending.generation}",
            now=now,
        )
    return True


def rewrap_all(
    *,
    db: Database,
    operator: UnlockedOperator,
    keep_going: Callable[[], bool] = lambda: True,
    grace: timedelta = GRACE,
    batch: int = BATCH,
) -> RewrapResult:
    """Every re-wrap this operator's keys can do, then delete the retired keys that are done."""
    total = RewrapResult()
    for pending in pending_for(db=db, operator_id=operator.id):
        if not keep_going():
            break
        done = rewrap_generation(
            db=db, operator=operator, pending=pending, keep_going=keep_going, batch=batch
        )
        total.rewrapped += done.rewrapped
        total.tallies += done.tallies
        total.unreadable += done.unreadable
        if keep_going() and done.unreadable == 0 and retire_if_done(db=db, pending=pending, grace=grace):
            total.retired += 1
    return total


class Rewrapper:
    """Runs rewrap_all in a background thread for a logged-in member, one operator at a time per process.

    The thread holds the operator's key only while their session is open (`alive`), and retries after the
    grace time when a retired key could not be deleted yet."""

    def __init__(
        self,
        db: Database,
        *,
        alive: Callable[[str], bool],
        grace: timedelta = GRACE,
        retry_seconds: float = 150,
    ) -> None:
        self._db = db
        self._alive = alive
        self._grace = grace
        self._retry_seconds = retry_seconds
        self._lock = threading.Lock()
        self._running: set[int] = set()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start_for(self, operator: UnlockedOperator, session_id: str) -> bool:
        """Start re-wrapping with this operator's keys if they hold a retired key; True if started."""
        if not pending_for(db=self._db, operator_id=operator.id):
            return False
        with self._lock:
            if operator.id in self._running or self._stopping.is_set():
                return False
            self._running.add(operator.id)
            thread = threading.Thread(
                target=self._run, args=(operator, session_id), name="haven-rewrap", daemon=True
            )
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return True

    def _run(self, operator: UnlockedOperator, session_id: str) -> None:
        def keep_going() -> bool:
            return not self._stopping.is_set() and self._alive(session_id)

        try:
            while keep_going():
                result = rewrap_all(db=self._db, operator=operator, keep_going=keep_going, grace=self._grace)
                log.info("re-wrapped %d case keys, retired %d team keys", result.rewrapped, result.retired)
                if not pending_for(db=self._db, operator_id=operator.id) or result.unreadable:
                    break
                self._stopping.wait(self._retry_seconds)  # a retired key still inside its grace time
        except Exception as exc:
            # The next login tries again; nothing is lost, the old keys stay until the re-wrap is done.
            # Only the kind of error is logged: a database error's text can quote the statement's values.
            log.error("re-wrap stopped: %s", type(exc).__name__)
        finally:
            with self._lock:
                self._running.discard(operator.id)

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=10)


def waiting_case_keys(*, db: Database) -> dict[int, int]:
    """Per team, how many case keys are still sealed to a retired team key (for the admin page)."""
    with db.read() as s:
        rows = s.execute(
            select(CaseKey.team_id, func.count())
            .join(Team, Team.id == CaseKey.team_id)
            .where(CaseKey.key_generation < Team.key_generation)
            .group_by(CaseKey.team_id)
        )
        return {team_id: count for team_id, count in rows}
