import itertools
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import delete, func, select, update

from haven.audit.models import AuditEvent
from haven.audit.services import SYSTEM, Actor, first_broken_link, record_event
from haven.db import Database


def _record_five(db: Database) -> list[int]:
    with db.write() as s:
        events = [
            record_event(db_session=s, actor=Actor("operator", 7), action="case.opened", case_id="c1"),
            record_event(db_session=s, actor=SYSTEM, action="org.created"),
            record_event(db_session=s, actor=SYSTEM, action="case.state", case_id="c1", detail="new->closed"),
            record_event(db_session=s, actor=SYSTEM, action="case.note", case_id="c2"),
            record_event(db_session=s, actor=SYSTEM, action="case.inbound", case_id="c2"),
        ]
        return events


def test_the_chain_is_intact_after_several_events(db: Database) -> None:
    _record_five(db)
    with db.read() as s:
        assert first_broken_link(db_session=s) is None


def test_an_edited_detail_breaks_the_chain_at_that_event(db: Database) -> None:
    ids = _record_five(db)
    with db.write() as s:
        s.execute(update(AuditEvent).where(AuditEvent.id == ids[2]).values(detail="new->in_progress"))
    with db.read() as s:
        assert first_broken_link(db_session=s) == ids[2]


def test_a_deleted_event_breaks_the_chain_at_the_next_one(db: Database) -> None:
    ids = _record_five(db)
    with db.write() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.id == ids[1]))
    with db.read() as s:
        assert first_broken_link(db_session=s) == ids[2]


def test_each_event_links_to_the_one_before(db: Database) -> None:
    _record_five(db)
    with db.read() as s:
        events = list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(events))


def test_concurrent_writers_keep_one_unbroken_chain(db: Database) -> None:
    """Many transactions appending at once (several workers on PostgreSQL) still make one line."""
    writers, each = 8, 10

    def append(writer: int) -> None:
        for n in range(each):
            with db.write() as s:
                record_event(
                    db_session=s, actor=Actor("operator", writer), action="case.opened", detail=str(n)
                )

    with ThreadPoolExecutor(max_workers=writers) as pool:
        list(pool.map(append, range(writers)))

    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == writers * each
        assert first_broken_link(db_session=s) is None
