"""The closing question: "Did we help?", asked once a case ends, answered yes or no with an optional comment.

The answer is the requester's, so it is sealed in the case like their messages (a FEEDBACK record, written
with the case's public key only). That a case was answered is visible from the record's kind, never how.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from haven.audit.services import REQUESTER, record_event
from haven.cases.models import Case, Record
from haven.cases.procedure import Outcome
from haven.cases.records import RecordKind, build_record
from haven.cases.states import CaseState
from haven.db import Database
from haven.intake.services import IntakeError

# The endings after which the requester is asked (not a probable provocation, not a merged duplicate).
ASKED_AFTER = frozenset({Outcome.COMPLETED.value, Outcome.WITHDRAWN.value, Outcome.NO_CONTACT.value})
MAX_COMMENT_CHARS = 2000


def wanted(*, db: Database, case_id: str) -> bool:
    """Whether the requester is asked now: the case ended in one of ASKED_AFTER and was not answered."""
    with db.read() as s:
        case = s.get(Case, case_id)
        return case is not None and asking(db_session=s, case=case)


def asking(*, db_session: Session, case: Case) -> bool:
    """`wanted`, for a case already read in the caller's transaction."""
    if case.state != CaseState.CLOSED.value or case.step not in ASKED_AFTER:
        return False
    answered = db_session.scalar(
        select(exists().where(Record.case_id == case.id, Record.kind == RecordKind.FEEDBACK.value))
    )
    return not answered


def record_answer(
    *, db: Database, case_id: str, helped: bool, comment: str = "", now: datetime | None = None
) -> None:
    """Store the requester's answer, sealed. Raises IntakeError("feedback_not_asked") if the case is not
    asking (still open, or answered already), "feedback_too_long" for a comment over the limit, or
    "case_gone".

    Whether it is asking is checked under the case's row lock, in the transaction that stores the answer:
    two answers at once (a double tap, the page and the chat) wait for each other, and the second finds
    the first."""
    comment = comment.strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise IntakeError("feedback_too_long", "comment")
    with db.write() as s:
        case = s.get(Case, case_id, with_for_update=True)
        if case is None:
            raise IntakeError("case_gone")
        if not asking(db_session=s, case=case):
            raise IntakeError("feedback_not_asked")
        s.add(
            build_record(
                case=case,
                kind=RecordKind.FEEDBACK,
                content={"helped": helped, "comment": comment},
                now=now,
            )
        )
        record_event(db_session=s, actor=REQUESTER, action="case.feedback", case_id=case.id, now=now)
