"""Retention: cases expire a number of days after their last activity, by request type and state, and are
crypto-shredded whole (keys, records, every row of theirs); their numbers live on as anonymous counters."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from haven.audit.models import AuditEvent
from haven.cases.models import Case, CaseKey, Record
from haven.cases.services import add_note, change_state, reply
from haven.cases.states import CaseState
from haven.config import Settings
from haven.db import Database
from haven.intake.services import IssuedReceipt, Submission, add_follow_up, open_with_receipt, submit_request
from haven.retention.models import CaseCount
from haven.retention.purger import Purger
from haven.retention.rules import RetentionRules, Rule
from haven.retention.services import Expiring, case_totals, expiring, purge
from haven.retention.shredding import case_tables
from haven.runtime import Runtime
from haven.schema import metadata
from tests.conftest import Org, api_login

NOW = datetime(2026, 6, 1, 12, 0)
RULES = RetentionRules(default=Rule(closed_days=90, open_days=365))


def ago(days: int, minutes: int = 0) -> datetime:
    return NOW - timedelta(days=days, minutes=minutes)


def take_in(
    runtime: Runtime, at: datetime, *, request_type: str = "legal", message: str = "Please help"
) -> IssuedReceipt:
    answers = {"danger_now": "no", "topic": "contract"} if request_type == "legal" else {"danger_now": "no"}
    return submit_request(
        db=runtime.db,
        submission=Submission(request_type=request_type, language="en", answers=answers, message=message),
        catalogue=runtime.catalogue,
        pepper=runtime.secrets.receipt_pepper,
        max_message_chars=10_000,
        now=at,
    )


def closed_case(runtime: Runtime, org: Org, closed_at: datetime, *, request_type: str = "legal") -> str:
    """A case that came in a week before `closed_at`, was answered, and was closed then."""
    case_id = take_in(runtime, closed_at - timedelta(days=7), request_type=request_type).access.case_id
    reply(db=runtime.db, operator=org.intake.unlocked, case_id=case_id, text="We read you", now=closed_at)
    change_state(
        db=runtime.db, operator=org.intake.unlocked, case_id=case_id, target=CaseState.CLOSED, now=closed_at
    )
    return case_id


def live_ids(runtime: Runtime) -> set[str]:
    with runtime.db.read() as s:
        return set(s.scalars(select(Case.id)))


def test_a_closed_case_past_its_days_is_purged_and_one_a_day_short_is_kept(
    runtime: Runtime, org: Org
) -> None:
    expired = closed_case(runtime, org, ago(90))
    kept = closed_case(runtime, org, ago(89))

    report = purge(db=runtime.db, rules=RULES, now=NOW)

    assert report.cases == 1
    assert live_ids(runtime) == {kept}
    assert expired not in live_ids(runtime)


def test_an_open_case_follows_the_open_rule_not_the_closed_one(runtime: Runtime, org: Org) -> None:
    silent = take_in(runtime, ago(365)).access.case_id
    quiet = take_in(runtime, ago(364)).access.case_id
    # Open, and long past the closed rule's 90 days: still within the open rule's 365.
    answered = take_in(runtime, ago(300)).access.case_id
    reply(db=runtime.db, operator=org.intake.unlocked, case_id=answered, text="Wait for us", now=ago(200))

    purge(db=runtime.db, rules=RULES, now=NOW)

    assert live_ids(runtime) == {quiet, answered}
    assert silent not in live_ids(runtime)


def test_any_activity_starts_the_count_again(runtime: Runtime, org: Org) -> None:
    old = take_in(runtime, ago(800))
    add_note(db=runtime.db, operator=org.intake.unlocked, case_id=old.access.case_id, text="n", now=ago(500))
    add_follow_up(db=runtime.db, access=old.access, message="Still here", max_message_chars=100, now=ago(10))

    purge(db=runtime.db, rules=RULES, now=NOW)

    assert live_ids(runtime) == {old.access.case_id}


def test_a_request_types_own_rule_overrides_the_default(runtime: Runtime, org: Org) -> None:
    rules = RetentionRules(default=Rule(closed_days=90, open_days=365), by_type={"legal": Rule(180, 365)})
    legal_kept = closed_case(runtime, org, ago(179), request_type="legal")
    legal_gone = closed_case(runtime, org, ago(180), request_type="legal")
    other_gone = closed_case(runtime, org, ago(100), request_type="other")

    report = purge(db=runtime.db, rules=rules, now=NOW)

    assert live_ids(runtime) == {legal_kept}
    assert {(line.request_type, line.cases) for line in report.purged} == {("legal", 1), ("other", 1)}
    assert not {legal_gone, other_gone} & live_ids(runtime)


def test_never_keeps_open_cases_for_ever(runtime: Runtime, org: Org) -> None:
    rules = RetentionRules(default=Rule(closed_days=90, open_days=None))
    ancient = take_in(runtime, ago(3000)).access.case_id
    closed = closed_case(runtime, org, ago(91))

    purge(db=runtime.db, rules=rules, now=NOW)

    assert live_ids(runtime) == {ancient}
    assert closed not in live_ids(runtime)


def test_the_dry_run_changes_nothing_and_reports_what_the_purge_then_removes(
    runtime: Runtime, org: Org
) -> None:
    closed_case(runtime, org, ago(120), request_type="other")
    closed_case(runtime, org, ago(95), request_type="other")
    take_in(runtime, ago(400))
    closed_case(runtime, org, ago(10))
    before = live_ids(runtime)

    planned = expiring(db=runtime.db, rules=RULES, now=NOW)
    assert live_ids(runtime) == before
    assert planned == [
        Expiring("legal", CaseState.NEW, 1, ago(400)),
        Expiring("other", CaseState.CLOSED, 2, ago(120)),
    ]

    report = purge(db=runtime.db, rules=RULES, now=NOW)

    assert report.purged == planned
    assert len(live_ids(runtime)) == len(before) - 3
    assert expiring(db=runtime.db, rules=RULES, now=NOW) == []


def test_every_row_of_a_purged_case_goes_with_it(runtime: Runtime, org: Org) -> None:
    gone = closed_case(runtime, org, ago(100))
    add_note(db=runtime.db, operator=org.intake.unlocked, case_id=gone, text="internal", now=ago(100))
    kept = closed_case(runtime, org, ago(1))

    purge(db=runtime.db, rules=RULES, now=NOW)

    with runtime.db.read() as s:
        for table_name in case_tables():
            table = metadata.tables[table_name]
            column = table.c.id if table_name == "cases" else table.c.case_id
            assert s.scalar(select(func.count()).where(column == gone)) == 0, table_name
        assert s.scalar(select(func.count()).select_from(CaseKey).where(CaseKey.case_id == kept)) == 1
        assert s.scalar(select(func.count()).select_from(Record).where(Record.case_id == kept)) == 3


def test_every_table_that_refers_to_a_case_is_emptied_with_it() -> None:
    # A table added later that points at cases without ON DELETE CASCADE would make every purge fail.
    for table in metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == "cases":
                assert fk.ondelete == "CASCADE", f"{table.name}.{fk.parent.name} must be ON DELETE CASCADE"


def test_a_purged_cases_receipt_opens_nothing(runtime: Runtime, org: Org, client: TestClient) -> None:
    receipt = take_in(runtime, ago(400)).receipt
    assert open_with_receipt(db=runtime.db, receipt_text=receipt, pepper=runtime.secrets.receipt_pepper)

    purge(db=runtime.db, rules=RULES, now=NOW)

    assert (
        open_with_receipt(db=runtime.db, receipt_text=receipt, pepper=runtime.secrets.receipt_pepper) is None
    )
    thread = client.get("/api/v1/requests/me", headers={"Authorization": f"Receipt {receipt}"})
    assert thread.status_code == 401, thread.text


def test_the_desk_answers_a_purged_case_with_not_found(
    runtime: Runtime, org: Org, client: TestClient
) -> None:
    gone = closed_case(runtime, org, ago(100))
    api_login(client, org.intake)
    assert client.get(f"/api/v1/cases/{gone}").status_code == 200

    purge(db=runtime.db, rules=RULES, now=NOW)

    assert client.get(f"/api/v1/cases/{gone}").status_code == 404
    assert client.get(f"/desk/cases/{gone}").status_code == 404
    assert gone not in {c["id"] for c in client.get("/api/v1/cases", params={"closed": "true"}).json()}


def test_the_requester_session_of_a_purged_case_ends(runtime: Runtime, org: Org) -> None:
    issued = take_in(runtime, ago(400))
    token, _csrf = runtime.sessions.start(
        kind="requester", subject=issued.access.case_id, key=issued.access.case_private_key, idle_seconds=600
    )
    assert runtime.sessions.resolve(token, kind="requester") is not None

    purge(db=runtime.db, rules=RULES, now=NOW, forget=runtime.forget_cases)

    assert runtime.sessions.resolve(token, kind="requester") is None


def test_a_purged_case_leaves_the_search_index_at_once(runtime: Runtime, org: Org) -> None:
    take_in(runtime, ago(400), message="pelican-marker-4410 old")
    take_in(runtime, ago(1), message="pelican-marker-4410 new")
    token, _csrf = runtime.sessions.start(
        kind="operator", subject=str(org.intake.id), key=org.intake.unlocked.private_key, idle_seconds=600
    )
    session = runtime.sessions.resolve(token, kind="operator")
    assert session is not None
    found = runtime.search.search(
        operator=org.intake.unlocked, session_id=session.id, query="pelican-marker-4410"
    )
    assert (found.total, runtime.search.cases_held()) == (2, 2)

    purge(db=runtime.db, rules=RULES, now=NOW, forget=runtime.forget_cases)

    assert runtime.search.cases_held() == 1


def test_the_counters_keep_the_totals_of_the_purged_cases(runtime: Runtime, org: Org) -> None:
    closed_case(runtime, org, ago(200))  # came in 207 days ago
    closed_case(runtime, org, ago(200))
    take_in(runtime, ago(400), request_type="other")
    closed_case(runtime, org, ago(5))
    with runtime.db.read() as s:
        before = case_totals(db_session=s)

    purge(db=runtime.db, rules=RULES, now=NOW)

    with runtime.db.read() as s:
        counted = {(c.month, c.request_type, c.final_state): c.count for c in s.scalars(select(CaseCount))}
        assert case_totals(db_session=s) == before
    arrived_closed, arrived_open = ago(207), ago(400)
    assert counted == {
        (date(arrived_closed.year, arrived_closed.month, 1), "legal", "closed"): 2,
        (date(arrived_open.year, arrived_open.month, 1), "other", "new"): 1,
    }


def test_purging_twice_counts_each_case_once(runtime: Runtime, org: Org) -> None:
    for _ in range(3):
        closed_case(runtime, org, ago(100))

    first = purge(db=runtime.db, rules=RULES, now=NOW)
    second = purge(db=runtime.db, rules=RULES, now=NOW + timedelta(days=1))

    assert (first.cases, second.cases) == (3, 0)
    with runtime.db.read() as s:
        assert s.scalar(select(func.sum(CaseCount.count))) == 3


def test_later_purges_add_to_the_same_counter(runtime: Runtime, org: Org) -> None:
    closed_case(runtime, org, ago(91))  # came in on Monday 23 February
    closed_case(runtime, org, ago(89))  # came in two days later, the same week; expires two days later

    purge(db=runtime.db, rules=RULES, now=NOW)
    purge(db=runtime.db, rules=RULES, now=NOW + timedelta(days=3))

    with runtime.db.read() as s:
        assert [c.count for c in s.scalars(select(CaseCount))] == [2]


def test_a_purge_in_batches_purges_everything_expired(runtime: Runtime, org: Org) -> None:
    for _ in range(7):
        take_in(runtime, ago(366))

    report = purge(db=runtime.db, rules=RULES, now=NOW, batch_size=3)

    assert report.cases == 7
    assert live_ids(runtime) == set()


def test_a_stopped_purge_ends_after_the_batch_in_progress_and_counts_what_went(
    runtime: Runtime, org: Org
) -> None:
    for _ in range(5):
        take_in(runtime, ago(400))
    stop = threading.Event()

    report = purge(
        db=runtime.db, rules=RULES, now=NOW, batch_size=2, forget=lambda _ids: stop.set(), stop=stop
    )

    assert report.cases == 2
    assert len(live_ids(runtime)) == 3
    with runtime.db.read() as s:
        assert s.scalar(select(func.sum(CaseCount.count))) == 2
        details = s.scalars(select(AuditEvent.detail).where(AuditEvent.action == "retention.purged"))
        assert list(details) == ["2 cases"]


def test_one_audit_event_per_purge_says_how_many_and_never_which(runtime: Runtime, org: Org) -> None:
    gone = [closed_case(runtime, org, ago(100)) for _ in range(2)]

    purge(db=runtime.db, rules=RULES, now=NOW, batch_size=1)
    purge(db=runtime.db, rules=RULES, now=NOW)  # nothing left: no event

    with runtime.db.read() as s:
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "retention.purged")))
    assert [(e.actor_kind, e.case_id, e.detail) for e in events] == [("system", None, "2 cases")]
    assert not any(case_id in events[0].detail for case_id in gone)


def test_two_purgers_at_once_count_each_case_once(runtime: Runtime, org: Org, settings: Settings) -> None:
    for _ in range(24):
        take_in(runtime, ago(400))
    other = Database.from_url(settings.resolved_database_url)
    start = threading.Barrier(2)
    reports = []

    def purger(db: Database) -> None:
        start.wait()
        reports.append(purge(db=db, rules=RULES, now=NOW, batch_size=2))

    try:
        threads = [threading.Thread(target=purger, args=(db,)) for db in (runtime.db, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        other.dispose()

    assert len(reports) == 2
    assert sum(report.cases for report in reports) == 24
    assert live_ids(runtime) == set()
    with runtime.db.read() as s:
        assert s.scalar(select(func.sum(CaseCount.count))) == 24


def test_the_server_purges_on_its_own(runtime: Runtime, org: Org) -> None:
    # The purger uses the real clock: a case closed 100 days before now.
    real_now = datetime.now(UTC).replace(tzinfo=None)
    gone = closed_case(runtime, org, real_now - timedelta(days=100))
    kept = closed_case(runtime, org, real_now - timedelta(days=1))
    purger = Purger(runtime.db, RULES, interval=0.05, forget=runtime.forget_cases).start()
    try:
        deadline = time.monotonic() + 30
        while gone in live_ids(runtime):
            assert time.monotonic() < deadline, "the purger did not purge within 30 s"
            time.sleep(0.05)
    finally:
        purger.stop()
    assert live_ids(runtime) == {kept}


def test_no_purge_runs_in_the_server_when_its_interval_is_zero(runtime: Runtime) -> None:
    purger = Purger(runtime.db, RULES, interval=0).start()
    try:
        assert "haven-retention-purge" not in {thread.name for thread in threading.enumerate()}
    finally:
        purger.stop()
