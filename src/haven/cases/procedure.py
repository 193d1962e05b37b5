"""A procedure: the ordered steps a case goes through, who owns each, and what must be done to leave it.

Procedures are data (docs/procedures.md; loaded and checked by procedure_files.py). This module holds what
a loaded one is, and the one table of moves each procedure defines: a step's `next`, the outcomes that can
end a case anywhere, and the reopening of an ended case into the first step.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    """How a procedure ends. A case in an outcome is closed."""

    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"
    NO_CONTACT = "no_contact"
    REJECTED_PROVOCATION = "rejected_provocation"  # a probable provocation
    # Not an ending of the procedure: a duplicate whose content was merged into another case
    # (cases/merge.py). Never offered as a move.
    MERGED = "merged"


# The outcomes that can end a case from any step; `completed` only where a step's `next` names it.
ANYWHERE = (Outcome.WITHDRAWN, Outcome.NO_CONTACT, Outcome.REJECTED_PROVOCATION)
OUTCOMES = frozenset(o.value for o in Outcome)


class Stage(StrEnum):
    """How far a case got, for the statistics' funnel: every case is contacted; a procedure's steps say
    which stage a case has reached once it enters them (a step's `stage`). Ordered: a case that reached a
    later stage counts in every earlier one."""

    CONTACTED = "contacted"
    SCREENED = "screened"
    VERIFIED = "verified"
    IN_PROGRESS = "in_progress"

    @property
    def rank(self) -> int:
        return list(Stage).index(self)

    def at_least(self, other: Stage) -> Stage:
        """The further of the two stages."""
        return self if self.rank >= other.rank else other


class FieldKind(StrEnum):
    CHOICE = "choice"
    TEXT = "text"


@dataclass(frozen=True)
class Choice:
    id: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class Field:
    id: str
    kind: FieldKind
    required: bool
    labels: Mapping[str, str]
    options: tuple[Choice, ...] = ()

    def accepts(self, value: str) -> bool:
        if self.kind is FieldKind.CHOICE:
            return any(o.id == value for o in self.options)
        return bool(value.strip())


@dataclass(frozen=True)
class ChecklistItem:
    id: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class CannedReply:
    id: str
    texts: Mapping[str, str]


@dataclass(frozen=True)
class Step:
    id: str
    names: Mapping[str, str]
    guidance: Mapping[str, str]
    team: str
    due_hours: int
    next: tuple[str, ...]
    checklist: tuple[ChecklistItem, ...] = ()
    fields: tuple[Field, ...] = ()
    replies: tuple[CannedReply, ...] = ()
    check_in_hours: int | None = None
    compartmentalised: bool = False
    # The funnel stage a case has reached once it enters this step (None: entering it proves nothing new).
    stage: Stage | None = None

    def field(self, field_id: str) -> Field | None:
        return next((f for f in self.fields if f.id == field_id), None)

    def reply(self, reply_id: str) -> CannedReply | None:
        return next((r for r in self.replies if r.id == reply_id), None)


@dataclass(frozen=True)
class Procedure:
    id: str
    names: Mapping[str, str]
    steps: tuple[Step, ...]
    source: str = ""  # the file it came from, for messages

    @property
    def first(self) -> Step:
        return self.steps[0]

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def moves_from(self, position: str) -> tuple[str, ...]:
        """Where a case at `position` (a step or an outcome) may go, in the order to offer them."""
        if position in OUTCOMES:
            return (self.first.id,)
        step = self.step(position)
        if step is None:
            return ()
        return step.next + tuple(o.value for o in ANYWHERE if o.value not in step.next)

    def may_move(self, position: str, target: str) -> bool:
        return target in self.moves_from(position)


@dataclass(frozen=True)
class Procedures:
    """Every loaded procedure, by id."""

    by_id: Mapping[str, Procedure]

    def __iter__(self) -> Iterator[Procedure]:
        return iter(self.by_id.values())

    def get(self, procedure_id: str) -> Procedure | None:
        return self.by_id.get(procedure_id)

    def teams(self) -> set[str]:
        return {step.team for procedure in self for step in procedure.steps}
