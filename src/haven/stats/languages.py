"""The languages requests were written in, counted without a language ever being in the clear.

A new case adds a LanguageTally row: `{"ru": 1}` sealed to the receiving team's public key (padded, so
its length says nothing), as everything else in the case is. Counting opens those rows with a team
member's keys (a coordinator's, on the desk or in `haven stats --as`), so a seized store says how many
requests there were, never in which language.

The row outlives its case: a purge writes into it what the anonymous counters keep (how far the case got
and how it ended; when it came in, what for and by which channel are there from the start) and unhooks it
from the case. Counting then merges the unhooked rows of one key and team into one, sealed again, so the
count stays and the store holds one row per key, no longer one per purged request.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session

from haven.accounts.keyring import TeamKeys
from haven.accounts.models import Team
from haven.accounts.services import UnlockedOperator
from haven.cases import services as cases
from haven.cases.models import Case
from haven.crypto.envelope import pad, unpad
from haven.crypto.keys import DecryptionError, seal, unseal
from haven.db import Database
from haven.retention.counting import CountKey, final_position
from haven.stats.models import LanguageTally

# Rows opened between two reports of progress.
_PROGRESS_EVERY = 500


def _sealed_counts(counts: Counter[str], public_key: bytes) -> bytes:
    return seal(pad(json.dumps(dict(sorted(counts.items()))).encode()), public_key)


def _opened_counts(sealed: bytes, team_key: bytes) -> Counter[str]:
    content = json.loads(unpad(unseal(sealed, team_key)))
    if not isinstance(content, dict):
        raise DecryptionError("a language tally holds no counts")
    return Counter({str(k): int(v) for k, v in content.items()})


def tally_row(*, case: Case, language: str, team_public_key: bytes, key_generation: int) -> LanguageTally:
    """The sealed language of a new case, to insert with it."""
    # How far it gets and how it ends are read from the case while it lives: "" here.
    key = CountKey.of(case.created_at.date(), case.request_type, case.channel, "", "")
    sealed = _sealed_counts(Counter({language: 1}), team_public_key)
    return _tally(case.team_id, key_generation, case.id, key, sealed)


def _tally(team_id: int, generation: int, case_id: str | None, key: CountKey, sealed: bytes) -> LanguageTally:
    return LanguageTally(
        team_id=team_id,
        key_generation=generation,
        case_id=case_id,
        month=key.month,
        week=key.week,
        request_type=key.request_type,
        channel=key.channel,
        reached=key.reached,
        final_state=key.position,
        sealed=sealed,
    )


def unhook_tallies(*, db_session: Session, case_ids: Collection[str]) -> None:
    """Before these cases are purged: their tallies keep how far each got and how it stood, and no longer
    point at it. Each value is read from the tally's own case (SET sees the row as it was)."""
    if not case_ids:
        return
    of_case = Case.id == LanguageTally.case_id
    db_session.execute(
        update(LanguageTally)
        .where(LanguageTally.case_id.in_(list(case_ids)))
        .values(
            reached=select(Case.reached).where(of_case).scalar_subquery(),
            final_state=select(final_position()).where(of_case).scalar_subquery(),
            case_id=None,
        )
        .execution_options(synchronize_session=False)
    )


Progress = Callable[[int, int], None]  # (rows opened, rows to open)


@dataclass
class LanguageCounts:
    """The languages of the requests received by some teams, per count key."""

    by_key: Counter[tuple[CountKey, str]] = field(default_factory=Counter)
    teams: list[str] = field(default_factory=list)  # the teams whose requests were counted
    unreadable: int = 0  # rows sealed to a team key generation the coordinator does not hold

    def totals(self, language: str) -> dict[CountKey, int]:
        """The counts of one language, keyed like retention's case_totals."""
        return {key: n for (key, lang), n in self.by_key.items() if lang == language}

    @property
    def languages(self) -> list[str]:
        return sorted({lang for _key, lang in self.by_key})


def count_languages(
    *, db: Database, operator: UnlockedOperator, progress: Progress | None = None
) -> LanguageCounts:
    """Open the language tallies of every team the operator belongs to (the requests those teams
    received), and merge the tallies of purged cases as it goes. Nothing opened is kept."""
    result = LanguageCounts()
    with db.read() as s:
        team_ids = cases.team_ids(db_session=s, operator=operator)
        total = (
            s.scalar(select(func.count()).where(LanguageTally.team_id.in_(team_ids))) if team_ids else 0
        ) or 0
    done = 0
    for team_id in team_ids:
        with db.read() as s:
            team = s.get(Team, team_id)
            assert team is not None
            result.teams.append(team.slug)
            keys = cases.team_keys(db_session=s, operator=operator, team_id=team_id)
            rows = _rows(s, team_id)
            public_key, generation = team.public_key, team.key_generation
        merged: dict[CountKey, tuple[list[int], Counter[str]]] = defaultdict(lambda: ([], Counter()))
        for row in rows:
            done += 1
            if progress is not None and (done % _PROGRESS_EVERY == 0 or done == total):
                progress(done, total)
            opened = _open(keys, row.sealed, row.key_generation)
            if opened is None:
                result.unreadable += 1
                continue
            for language, n in opened.items():
                result.by_key[(row.key, language)] += n
            if not row.live:
                ids, counts = merged[row.key]
                ids.append(row.id)
                counts.update(opened)
        for key, (ids, counts) in merged.items():
            if len(ids) > 1:
                _merge(db, team_id, key, ids, _sealed_counts(counts, public_key), generation)
    if progress is not None and done != total:
        progress(total, total)
    return result


@dataclass(frozen=True)
class _Row:
    id: int
    sealed: bytes
    key_generation: int
    live: bool
    key: CountKey


def _rows(s: Session, team_id: int) -> list[_Row]:
    """The team's tallies: of live cases (counted as their case stands now), then of purged ones."""
    live = s.execute(
        select(
            LanguageTally.id,
            LanguageTally.sealed,
            LanguageTally.key_generation,
            func.date(Case.created_at),
            Case.request_type,
            Case.channel,
            Case.reached,
            final_position(),
        )
        .join(Case, Case.id == LanguageTally.case_id)
        .where(LanguageTally.team_id == team_id)
    )
    rows = [
        _Row(i, sealed, g, True, CountKey.of(_day(day), kind, channel, reached, position))
        for i, sealed, g, day, kind, channel, reached, position in live
    ]
    purged = s.scalars(
        select(LanguageTally).where(LanguageTally.team_id == team_id, LanguageTally.case_id.is_(None))
    )
    rows += [
        _Row(
            t.id,
            t.sealed,
            t.key_generation,
            False,
            CountKey(t.month, t.week, t.request_type, t.channel, t.reached, t.final_state),
        )
        for t in purged
    ]
    return rows


def _day(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _open(keys: TeamKeys, sealed: bytes, generation: int) -> Counter[str] | None:
    try:
        return _opened_counts(sealed, keys.key(generation))
    except (DecryptionError, ValueError):
        return None


class _Raced(Exception):
    """Someone else merged these rows first."""


def _merge(db: Database, team_id: int, key: CountKey, ids: list[int], sealed: bytes, generation: int) -> None:
    """Replace the purged cases' tallies of one key by one holding their sum. If another counter merged
    some of them meanwhile, leave it: the rows it made hold the same counts."""
    try:
        with db.write() as s:
            gone = s.execute(
                delete(LanguageTally).where(LanguageTally.id.in_(ids), LanguageTally.case_id.is_(None))
            )
            if gone.rowcount != len(ids):  # type: ignore[attr-defined]
                raise _Raced
            s.add(_tally(team_id, generation, None, key, sealed))
    except _Raced:
        return


def reseal_tallies(
    *,
    db: Database,
    keys: TeamKeys,
    team_id: int,
    generation: int,
    public_key: bytes,
    new_generation: int,
    keep_going: Callable[[], bool] = lambda: True,
    batch: int = 500,
) -> tuple[int, int]:
    """After a revocation (cases/rewrap.py): seal the team's tallies still on a retired key to its current
    one, so that they stay countable once the retired key is deleted. Returns (resealed, unreadable)."""
    resealed = unreadable = 0
    after = 0
    while keep_going():
        with db.read() as s:
            rows = s.execute(
                select(LanguageTally.id, LanguageTally.sealed)
                .where(
                    LanguageTally.team_id == team_id,
                    LanguageTally.key_generation == generation,
                    LanguageTally.id > after,
                )
                .order_by(LanguageTally.id)
                .limit(batch)
            ).all()
        if not rows:
            break
        after = rows[-1].id
        sealed_again = []
        for row_id, sealed in rows:
            opened = _open(keys, sealed, generation)
            if opened is None:
                unreadable += 1
            else:
                sealed_again.append((row_id, _sealed_counts(opened, public_key)))
        with db.write() as s:
            for row_id, sealed in sealed_again:
                # Only if it is still there, on the old key (a count may have merged it meanwhile).
                done = s.execute(
                    update(LanguageTally)
                    .where(LanguageTally.id == row_id, LanguageTally.key_generation == generation)
                    .values(sealed=sealed, key_generation=new_generation)
                )
                resealed += done.rowcount  # type: ignore[attr-defined]
    return resealed, unreadable


def tallies_left(*, db_session: Session, team_id: int, generation: int) -> bool:
    """Whether any tally of the team is still sealed to that generation of its key."""
    return bool(
        db_session.scalar(
            select(
                exists().where(LanguageTally.team_id == team_id, LanguageTally.key_generation == generation)
            )
        )
    )
