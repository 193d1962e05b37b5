"""A case holds metadata in the clear (DESIGN.md lists what is allowed) and everything else sealed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column, validates

from haven.cases.states import PRIORITY_RANK, Priority
from haven.db import Base


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    request_type: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20))
    priority: Mapped[str] = mapped_column(String(10))
    # The queue's sort key (urgent first), kept in step with `priority` so that an index can serve it.
    priority_rank: Mapped[int] = mapped_column(SmallInteger)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    # The last activity; indexed so that retention finds expired cases without reading the others.
    updated_at: Mapped[datetime] = mapped_column(index=True)
    last_requester_at: Mapped[datetime | None]
    # True from a requester's message until an operator replies.
    needs_reply: Mapped[bool] = mapped_column(default=True)
    # The case keypair: public half in the clear (anyone may write), private half only ever sealed.
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    # Keyed hash of the receipt, to find the case; and the case key locked under a key derived from it.
    receipt_lookup: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    receipt_locked_key: Mapped[bytes] = mapped_column(LargeBinary)
    # Where the case is in its procedure (cases/procedure.py): a step id, or an outcome once it ended; ""
    # for a case from before procedures that was already closed. When it entered the step, and when the
    # step is due (its SLA); the queue sorts by it within a priority.
    procedure: Mapped[str] = mapped_column(String(40), default="")
    step: Mapped[str] = mapped_column(String(40), default="")
    step_entered_at: Mapped[datetime]
    due_at: Mapped[datetime]
    # A step that needs the requester to write every N hours: the deadline, and whether it was missed.
    check_in_hours: Mapped[int | None]
    check_in_due_at: Mapped[datetime | None] = mapped_column(index=True)
    check_in_missed: Mapped[bool] = mapped_column(default=False)
    # unverified, verified or suspicious (cases/triage.py); the reason for suspicion is sealed, as a note.
    verification: Mapped[str] = mapped_column(String(12), default="unverified")
    # Only coordinators and admins open a restricted case (a probable provocation, typically).
    restricted: Mapped[bool] = mapped_column(default=False)
    # Where the request came in (web or telegram), and the furthest funnel stage it reached (cases/procedure
    # Stage): contacted, screened, verified, in_progress. Both for the statistics, which count them without
    # opening a case; both were already readable from the audit log and the procedure step.
    channel: Mapped[str] = mapped_column(String(10), default="web")
    reached: Mapped[str] = mapped_column(String(12), default="contacted")

    @validates("priority")
    def _keep_rank(self, _key: str, priority: str) -> str:
        self.priority_rank = PRIORITY_RANK[Priority(priority)]
        return priority


# The queue reads these in order and stops at a page: most urgent first, newest first within a priority.
# Partial indexes, one for open cases and one for closed, because a desk looks at one or the other; a
# query uses them when it filters on the same literal (see cases.services.OPEN_CASES).
OPEN_CASES = text("state <> 'closed'")
CLOSED_CASES = text("state = 'closed'")
for _name, _where in (("ix_cases_open_queue", OPEN_CASES), ("ix_cases_closed_queue", CLOSED_CASES)):
    Index(
        _name,
        *((Case.priority_rank, Case.due_at) if _where is OPEN_CASES else (Case.priority_rank,)),
        Case.created_at.desc(),
        Case.id,
        sqlite_where=_where,
        postgresql_where=_where,
    )


class CaseKey(Base):
    """The case's private key sealed to one team's public key."""

    __tablename__ = "case_keys"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    # Indexed on its own too: "which cases does this team hold" is how a small team's queue starts.
    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    sealed_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    # Which of the team's keypairs it is sealed to (Team.key_generation when sealed).
    key_generation: Mapped[int] = mapped_column(default=1)


class CaseLink(Base):
    """Two cases an operator linked: a relative's request and the person's own, or a duplicate merged
    into another. Stored once per pair, the smaller id first."""

    __tablename__ = "case_links"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    linked_id: Mapped[str] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime]


class Record(Base):
    """One message, note or answer set: a fresh key sealed to the case, content under AEAD."""

    __tablename__ = "records"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(24), unique=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    sealed_key: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
