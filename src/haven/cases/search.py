"""Finding cases by the words in them, with no plaintext index anywhere but process memory.

Each team gets an index, built the first time one of its operators searches: the team key is opened with
that operator's key, every record of every case shared with the team is decrypted, and the distinct
normalised words of each case are kept. Before each query the index takes in the records it has not seen
yet, cases newly shared with the team, and forgets cases deleted or no longer shared (a shredded case must
not live on here). An index is held only while one of the sessions that used it is open.

The index holds no metadata: hits are ordered by the number of each case's first record (a case and its
first records are written in one transaction, so this is the order the cases came in), and what a result
row shows is read from the store, for the operator's teams only.
"""

from __future__ import annotations

import heapq
import threading
import time
import unicodedata
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from haven.accounts.services import UnlockedOperator
from haven.cases import services
from haven.cases.records import OpenedRecord, RecordKind
from haven.db import Database
from haven.intake.questionnaires import Catalogue

MAX_QUERY_CHARS = 200
RESULT_LIMIT = 50
# Records numbered this far below the highest seen are looked for again: PostgreSQL hands out numbers
# before commit, so a record can become visible after one with a higher number.
LATE_WINDOW = 1000
# Record numbers read per transaction while an index is built.
BUILD_SLICE = 20_000
# How long an index may go without listing every case shared with its team (see _TeamIndex._catch_up).
RECONCILE_SECONDS = 300.0


class QueryRejected(ValueError):
    """An empty query, or one longer than MAX_QUERY_CHARS characters."""


class SessionLiveness(Protocol):
    def alive(self, session_id: str) -> bool: ...


@dataclass(frozen=True)
class SearchResult:
    rows: list[services.QueueRow]  # newest first, at most the limit asked for
    total: int  # every matching case


def normalise(text: str) -> str:
    """Case, compatibility forms and ё folded, whitespace collapsed: "Ёлка  ИВАН" reads "елка иван"."""
    return " ".join(unicodedata.normalize("NFKC", text.casefold()).replace("ё", "е").split())


def query_terms(query: str) -> tuple[str, ...]:
    """The distinct words of a query, longest (most telling) first. Raises QueryRejected."""
    if len(query) > MAX_QUERY_CHARS:
        raise QueryRejected(f"write at most {MAX_QUERY_CHARS} characters")
    terms = sorted(set(normalise(query).split()), key=len, reverse=True)
    if not terms:
        raise QueryRejected("write at least one word")
    return tuple(terms)


def answer_labels(catalogue: Catalogue) -> dict[tuple[str, str], str]:
    """Each (question, option) pair's labels in every language, so a case is found by the answer's words."""
    return {
        (question.id, option.id): normalise(" ".join(dict.fromkeys(option.labels.values())))
        for kind in catalogue.types.values()
        for question in kind.questions
        for option in question.options
    }


def record_text(record: OpenedRecord, labels: Mapping[tuple[str, str], str]) -> str:
    """The words a record adds to its case's text. Tags are not added: the last TAGS record replaces the
    case's tags (held apart, see _TeamIndex._tags)."""
    if record.kind is RecordKind.TAGS:
        return ""
    if record.kind is RecordKind.ANSWERS:
        answers = record.content.get("answers", {})
        if not isinstance(answers, dict):
            return ""
        return " ".join(labels.get((q, str(v)), normalise(str(v))) for q, v in answers.items())
    return normalise(str(record.content.get("text", "")))


class _TeamIndex:
    """One team's cases as their normalised words, in the order the cases came in. Use only while holding
    `lock`."""

    def __init__(self, team_id: int, *, reconcile_seconds: float) -> None:
        self.team_id = team_id
        self.reconcile_seconds = reconcile_seconds
        self.lock = threading.Lock()
        self.sessions: set[str] = set()  # guarded by the registry's lock, not this one
        self._clear()

    def _clear(self) -> None:
        self._built = False
        self._reconciled_at = 0.0
        self._ids: list[str] = []
        self._firsts: list[int] = []  # the number of each case's first record
        self._texts: list[str] = []
        self._at: dict[str, int] = {}
        # case id -> (number of its last TAGS record, its tags as words): replaced, never added to.
        self._tags: dict[str, tuple[int, str]] = {}
        self._highest = 0
        self._recent: dict[str, int] = {}  # record id -> number, for records within LATE_WINDOW of the top

    def refresh(
        self, *, db: Database, operator: UnlockedOperator, labels: Mapping[tuple[str, str], str]
    ) -> None:
        """Catch up with the store. Raises services.NotInTeam."""
        try:
            self._catch_up(db=db, operator=operator, labels=labels)
        except BaseException:
            # Half taken in, the index could not tell what it missed: start again next time.
            self._clear()
            raise

    def _catch_up(
        self, *, db: Database, operator: UnlockedOperator, labels: Mapping[tuple[str, str], str]
    ) -> None:
        if not self._built:
            self._build(db=db, operator=operator, labels=labels)
            return
        with db.read() as s:
            last = services.last_record_seq(db_session=s)
            unseen = [
                (seq, case_id)
                for seq, record_id, case_id in services.shared_record_seqs(
                    db_session=s, team_id=self.team_id, after_seq=self._highest - LATE_WINDOW
                )
                if record_id not in self._recent
            ]
            # A case not yet held is read whole: it may be an old case newly shared with the team.
            added = {case_id for _seq, case_id in unseen if case_id not in self._at}
            late = [seq for seq, case_id in unseen if case_id not in added]
            gone: set[str] = set()
            # Listing every shared case costs more than a query should, so it is done only when the count
            # shows a case shared or deleted, and now and then for a share and a deletion that cancel out.
            due = time.monotonic() - self._reconciled_at >= self.reconcile_seconds
            expected = len(self) + len(added)
            if due or services.shared_case_count(db_session=s, team_id=self.team_id) != expected:
                shared = services.shared_case_ids(db_session=s, team_id=self.team_id)
                gone = self._at.keys() - shared
                added |= shared - self._at.keys()
                self._reconciled_at = time.monotonic()
            if added or late:
                records = services.open_picked_records(
                    db_session=s, operator=operator, team_id=self.team_id, case_ids=added, seqs=late
                )
                self._take(records, labels)
        # Every record of the team up to `last` is now held: later queries need look back from there only.
        self._highest = max(self._highest, last)
        if gone:
            self._keep(lambda i: self._ids[i] not in gone)

    def _build(
        self, *, db: Database, operator: UnlockedOperator, labels: Mapping[tuple[str, str], str]
    ) -> None:
        # A read transaction per slice of record numbers, not one for the whole build: a long one would
        # hold back SQLite's checkpoints and PostgreSQL's vacuum. What changes meanwhile, the next query sees.
        self._reconciled_at = time.monotonic()
        with db.read() as s:
            last = services.last_record_seq(db_session=s)
        for after in range(0, last, BUILD_SLICE):
            with db.read() as s:
                records = services.open_shared_records(
                    db_session=s,
                    operator=operator,
                    team_id=self.team_id,
                    after_seq=after,
                    up_to_seq=after + BUILD_SLICE,
                )
                self._take(records, labels)
        self._highest = max(self._highest, last)
        self._built = True

    def _take(self, records: Iterable[services.SharedRecord], labels: Mapping[tuple[str, str], str]) -> None:
        in_order = True
        for shared in records:
            self._note(shared.record.id, shared.seq)
            if shared.record.kind is RecordKind.TAGS:
                held = self._tags.get(shared.case_id)
                if held is None or held[0] < shared.seq:
                    self._tags[shared.case_id] = (
                        shared.seq,
                        normalise(str(shared.record.content.get("text", ""))),
                    )
            words = record_text(shared.record, labels)
            at = self._at.get(shared.case_id)
            if at is not None:
                self._texts[at] = _with_words(self._texts[at], words)
                continue
            in_order = in_order and (not self._firsts or shared.seq > self._firsts[-1])
            self._at[shared.case_id] = len(self._ids)
            self._ids.append(shared.case_id)
            self._firsts.append(shared.seq)
            self._texts.append(_with_words("", words))
        if not in_order:
            self._keep(lambda _i: True)

    def _note(self, record_id: str, seq: int) -> None:
        self._highest = max(self._highest, seq)
        if seq > self._highest - LATE_WINDOW:
            self._recent[record_id] = seq
        if len(self._recent) > 4 * LATE_WINDOW:
            floor = self._highest - LATE_WINDOW
            self._recent = {r: n for r, n in self._recent.items() if n > floor}

    def _keep(self, wanted: Callable[[int], bool]) -> None:
        """Keep the cases at the positions `wanted` accepts, sorted again by their first record."""
        order = sorted((i for i in range(len(self._ids)) if wanted(i)), key=self._firsts.__getitem__)
        self._ids = [self._ids[i] for i in order]
        self._firsts = [self._firsts[i] for i in order]
        self._texts = [self._texts[i] for i in order]
        self._at = {case_id: i for i, case_id in enumerate(self._ids)}
        self._tags = {case_id: tags for case_id, tags in self._tags.items() if case_id in self._at}

    def matching(self, terms: tuple[str, ...]) -> list[int]:
        """Where the cases whose text holds every term are, oldest first."""
        first, rest = terms[0], terms[1:]
        texts = self._texts
        # The few tagged cases are matched on their text and their current tags together.
        tagged = {self._at[c]: f"{texts[self._at[c]]} {words}" for c, (_n, words) in self._tags.items()}
        if tagged:
            hits = [i for i, text in enumerate(texts) if first in tagged.get(i, text)]
        else:
            hits = [i for i, text in enumerate(texts) if first in text]
        if rest:
            hits = [i for i in hits if all(term in tagged.get(i, texts[i]) for term in rest)]
        return hits

    def forget(self, case_ids: Collection[str]) -> None:
        """Drop these cases (shredded) now rather than at the next search's reconciliation."""
        gone = set(case_ids) & self._at.keys()
        if gone:
            self._keep(lambda i: self._ids[i] not in gone)

    def newest(self, hits: list[int], limit: int) -> list[str]:
        return [self._ids[i] for i in reversed(hits[max(len(hits) - limit, 0) :])]

    def numbered(self, hits: list[int]) -> dict[str, int]:
        """Case id -> the number of its first record, to merge the hits of several teams."""
        return {self._ids[i]: self._firsts[i] for i in hits}

    def __len__(self) -> int:
        return len(self._ids)


def _with_words(text: str, words: str) -> str:
    """`text` and the words of `words` it lacks. A query term holds no space, so each distinct word need
    be kept once per case: the same matches, in less memory and time."""
    held = set(text.split())
    fresh = [w for w in dict.fromkeys(words.split()) if w not in held]
    return " ".join([text, *fresh] if text else fresh)


class SearchIndexes:
    """The process's search indexes, one per team, each held only while a session that used it is open."""

    def __init__(
        self,
        *,
        db: Database,
        sessions: SessionLiveness,
        catalogue: Catalogue,
        reconcile_seconds: float = RECONCILE_SECONDS,
    ) -> None:
        self._db = db
        self._reconcile_seconds = reconcile_seconds
        self._sessions = sessions
        self._labels = answer_labels(catalogue)
        self._indexes: dict[int, _TeamIndex] = {}
        self._lock = threading.Lock()

    def search(
        self, *, operator: UnlockedOperator, session_id: str, query: str, limit: int = RESULT_LIMIT
    ) -> SearchResult:
        """The cases shared with the operator's teams that hold every word of the query, newest first.

        The first search of a team decrypts all its cases and takes a while. Raises QueryRejected.
        """
        terms = query_terms(query)
        with self._db.read() as s:
            team_ids = services.team_ids(db_session=s, operator=operator)
        found: list[tuple[_TeamIndex, list[int]]] = []
        for index in self._claim(team_ids, session_id):
            with index.lock:
                try:
                    index.refresh(db=self._db, operator=operator, labels=self._labels)
                except services.NotInTeam:
                    continue  # left the team since the line above
                found.append((index, index.matching(terms)))
        if len(found) == 1:
            index, hits = found[0]
            total, newest = len(hits), index.newest(hits, limit)
        else:
            numbered = {case_id: n for index, hits in found for case_id, n in index.numbered(hits).items()}
            total, newest = len(numbered), heapq.nlargest(limit, numbered, key=numbered.__getitem__)
        rows = services.queue_rows(db=self._db, operator=operator, case_ids=newest)
        return SearchResult(rows=rows, total=total - (len(newest) - len(rows)))

    def forget_session(self, session_id: str) -> None:
        """A session ended: drop the indexes no open session uses any more."""
        with self._lock:
            for index in self._indexes.values():
                index.sessions.discard(session_id)
            self._sweep()

    def forget_cases(self, case_ids: Collection[str]) -> None:
        """Cases were shredded: drop their words from every index this process holds, at once."""
        with self._lock:
            indexes = list(self._indexes.values())
        for index in indexes:
            with index.lock:
                index.forget(case_ids)

    def indexed_teams(self) -> frozenset[int]:
        """The ids of the teams whose cases are held decrypted in memory right now."""
        with self._lock:
            return frozenset(self._indexes)

    def cases_held(self) -> int:
        """How many decrypted cases the indexes hold, counting a case once per team."""
        with self._lock:
            return sum(len(index) for index in self._indexes.values())

    def _claim(self, team_ids: Iterable[int], session_id: str) -> list[_TeamIndex]:
        with self._lock:
            self._sweep()
            claimed = []
            for team_id in team_ids:
                index = self._indexes.get(team_id)
                if index is None:
                    index = self._indexes[team_id] = _TeamIndex(
                        team_id, reconcile_seconds=self._reconcile_seconds
                    )
                index.sessions.add(session_id)
                claimed.append(index)
            return claimed

    def _sweep(self) -> None:
        for team_id, index in list(self._indexes.items()):
            index.sessions = {sid for sid in index.sessions if self._sessions.alive(sid)}
            if not index.sessions:
                del self._indexes[team_id]
