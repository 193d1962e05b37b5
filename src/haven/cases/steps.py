"""Moving a case through its procedure: the one way a case changes step, each move one audit event.

What was done in a step (its ticked checklist and filled fields) is sealed in the case as a STEP record,
like a note, so checking that a step may be left needs the case key, which the operator moving it holds.
A move into a step owned by another team hands the case to that team (its key sealed to the team); into a
compartmentalised step, the team it came from loses its copy. Moving into an outcome closes the case; an
ended case moves back only into the first step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from haven.accounts.models import Team
from haven.accounts.services import UnlockedOperator
from haven.audit.services import Actor, record_event
from haven.cases.models import Case, CaseKey
from haven.cases.procedure import ANYWHERE, OUTCOMES, Outcome, Procedure, Procedures, Stage, Step
from haven.cases.records import RecordKind, build_record, read_records
from haven.cases.services import accessible_case, case_private_key
from haven.cases.states import CaseState
from haven.clock import now_minute
from haven.crypto.keys import seal
from haven.db import Database

# Endings that need no finished checklist: the person withdrew, vanished, or was never genuine.
EARLY_ENDINGS = frozenset(o.value for o in ANYWHERE)


class StepRefused(Exception):
    """The move is not allowed; `detail` says why, in words an operator can act on (a 409)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Entry:
    """Where a new case starts: its procedure's first step (or nowhere, for a type without one)."""

    procedure: str = ""
    step: str = ""
    due_hours: int = 24
    check_in_hours: int | None = None


NO_PROCEDURE = Entry()


def entry(procedure: Procedure | None) -> Entry:
    if procedure is None:
        return NO_PROCEDURE
    first = procedure.first
    return Entry(procedure.id, first.id, first.due_hours, first.check_in_hours)


def enter(case: Case, *, position: str, step: Step | None, now: datetime | None = None) -> None:
    """Put the case at `position` (a step, or an outcome when `step` is None) from this minute on."""
    at = now_minute(now)
    case.step = position
    case.step_entered_at = at
    case.due_at = at + timedelta(hours=step.due_hours) if step is not None else at
    hours = step.check_in_hours if step is not None else None
    case.check_in_hours = hours
    case.check_in_due_at = at + timedelta(hours=hours) if hours else None
    case.check_in_missed = False


def reach(case: Case, stage: Stage) -> None:
    """Note that the case got at least this far, for the funnel; it never goes back."""
    case.reached = Stage(case.reached).at_least(stage).value


@dataclass(frozen=True)
class StepWork:
    """What was done in a step: the checklist items ticked and the fields filled."""

    step: str
    checklist: frozenset[str] = frozenset()
    fields: Mapping[str, str] = field(default_factory=dict)

    def content(self) -> dict[str, Any]:
        return {"step": self.step, "checklist": sorted(self.checklist), "fields": dict(self.fields)}

    @classmethod
    def of(cls, content: Mapping[str, Any]) -> StepWork:
        return cls(
            str(content.get("step", "")),
            frozenset(str(i) for i in content.get("checklist", [])),
            {str(k): str(v) for k, v in dict(content.get("fields", {})).items()},
        )


def unmet(step: Step, work: StepWork | None, language: str = "en") -> list[str]:
    """What must still be done before the case may leave `step`, one sentence each."""
    ticked = work.checklist if work else frozenset()
    filled = work.fields if work else {}
    missing = [f"tick “{item.labels[language]}”" for item in step.checklist if item.id not in ticked]
    for f in step.fields:
        value = filled.get(f.id, "")
        if f.required and not value:
            missing.append(f"fill in “{f.labels[language]}”")
        elif value and not f.accepts(value):
            missing.append(f"choose one of the offered answers for “{f.labels[language]}”")
    return missing


def check_work(step: Step, work: StepWork) -> StepWork:
    """Refuse items and fields this step does not have, or a choice it does not offer (StepRefused)."""
    known_items = {item.id for item in step.checklist}
    if work.checklist - known_items:
        raise StepRefused(f"The step “{step.names['en']}” has no such checklist item.")
    for field_id, value in work.fields.items():
        f = step.field(field_id)
        if f is None:
            raise StepRefused(f"The step “{step.names['en']}” has no such field.")
        if value and not f.accepts(value):
            raise StepRefused(f"“{f.labels['en']}” does not take that value.")
    return StepWork(step.id, work.checklist, {k: v.strip() for k, v in work.fields.items() if v.strip()})


@dataclass(frozen=True)
class Position:
    """Where a case stands, for the desk and the API."""

    procedure: Procedure | None
    step: Step | None  # None at an outcome, or without a procedure
    position: str
    work: StepWork | None
    moves: tuple[str, ...]

    @property
    def ended(self) -> bool:
        return self.position in OUTCOMES


def latest_work(records: list[Any], step_id: str) -> StepWork | None:
    """The last saved work of `step_id` among a case's opened records."""
    works = [StepWork.of(r.content) for r in records if r.kind is RecordKind.STEP]
    return next((w for w in reversed(works) if w.step == step_id), None)


def position_of(*, procedure_id: str, position: str, procedures: Procedures, records: list[Any]) -> Position:
    """Where a case stands in its procedure, from its opened records (for the saved step work)."""
    procedure = procedures.get(procedure_id)
    step = procedure.step(position) if procedure else None
    moves = procedure.moves_from(position) if procedure and (step or position in OUTCOMES) else ()
    return Position(procedure, step, position, latest_work(records, position), moves)


def save_work(
    *,
    db: Database,
    operator: UnlockedOperator,
    case_id: str,
    procedures: Procedures,
    work: StepWork,
    now: datetime | None = None,
) -> None:
    """Seal what was done in the case's current step (ticks and fields), replacing what was saved before."""
    with db.write() as s:
        case, _key = accessible_case(s, operator, case_id, for_writing=True)
        step = _current_step(case, procedures)
        if work.step != step.id:
            raise StepRefused(f"The case is no longer in “{work.step}”: reload it and try again.")
        _seal_work(s, case, check_work(step, work), operator, now)


def _current_step(case: Case, procedures: Procedures) -> Step:
    procedure = procedures.get(case.procedure)
    if procedure is None:
        raise StepRefused(f"This case follows no loaded procedure ({case.procedure or 'none'}).")
    step = procedure.step(case.step)
    if step is None:
        raise StepRefused("The case has ended: move it back to the first step to work on it again.")
    return step


def _seal_work(
    s: Session, case: Case, work: StepWork, operator: UnlockedOperator, now: datetime | None
) -> None:
    s.add(
        build_record(case=case, kind=RecordKind.STEP, content=work.content(), author_id=operator.id, now=now)
    )
    case.updated_at = now_minute(now)


@dataclass(frozen=True)
class MoveResult:
    position: str
    moved: bool = True  # False when the call only saved the current step's work
    handed_to: str = ""  # the team the case was handed to, if any
    # A step whose team does not exist: the case stayed with its team, and the desk says so.
    missing_team: str = ""


def move_to_step(
    *,
    db: Database,
    operator: UnlockedOperator,
    case_id: str,
    procedures: Procedures,
    target: str,
    work: StepWork | None = None,
    now: datetime | None = None,
) -> MoveResult:
    """Move the case to `target` (a step or an outcome), saving `work` for the current step first; a
    `target` that is the current step only saves the work (no move, no event).

    Raises StepRefused (unknown step, a move the procedure does not allow, an unfinished checklist,
    missing fields), CaseNotFound or CaseForbidden. One audit event per move."""
    with db.read() as s:
        key = case_private_key(db_session=s, operator=operator, case_id=case_id)
        records = read_records(db_session=s, case_id=case_id, case_private_key=key, kinds=(RecordKind.STEP,))
    with db.write() as s:
        case, _key = accessible_case(s, operator, case_id, for_writing=True)
        procedure = procedures.get(case.procedure)
        if procedure is None:
            raise StepRefused(f"This case follows no loaded procedure ({case.procedure or 'none'}).")
        if target not in OUTCOMES and procedure.step(target) is None:
            raise StepRefused(f"There is no such step in the procedure “{procedure.names['en']}”.")
        if work is not None and work.step != case.step:
            raise StepRefused("The case has moved on since this form was loaded: reload it and try again.")
        current = procedure.step(case.step)
        # An ended case its requester wrote in again (open, still at its outcome) may end the same way again.
        ends_again = target == case.step and target in OUTCOMES and case.state != CaseState.CLOSED.value
        if target == case.step and not ends_again:
            if current is not None and work is not None:
                _seal_work(s, case, check_work(current, work), operator, now)
            return MoveResult(target, moved=False)
        if not ends_again and not procedure.may_move(case.step, target):
            allowed = ", ".join(procedure.moves_from(case.step)) or "nowhere"
            raise StepRefused(
                f"A case cannot move from “{case.step}” to “{target}”; it may move to: {allowed}."
            )
        current = procedure.step(case.step)
        done = latest_work(records, case.step)
        if current is not None and work is not None:
            done = check_work(current, work)
            _seal_work(s, case, done, operator, now)
        # Ending a case early (withdrawn, no contact, a provocation) needs no finished checklist.
        if current is not None and target not in EARLY_ENDINGS:
            missing = unmet(current, done)
            if missing:
                raise StepRefused(f"Before leaving “{current.names['en']}”: {'; '.join(missing)}.")
        return _move(s, case, procedure, target, key, operator.actor, now)


def _move(
    s: Session,
    case: Case,
    procedure: Procedure,
    target: str,
    case_key: bytes,
    actor: Actor,
    now: datetime | None,
) -> MoveResult:
    before = case.step
    step = procedure.step(target)
    enter(case, position=target, step=step, now=now)
    if step is not None and step.stage is not None:
        reach(case, step.stage)
    elif target == Outcome.COMPLETED.value:
        reach(case, Stage.IN_PROGRESS)  # whatever its steps said, a completed case went the whole way
    if target in OUTCOMES:
        case.state = CaseState.CLOSED.value
    elif case.state in (CaseState.CLOSED.value, CaseState.NEW.value):
        # Work on the case has begun (or begun again).
        case.state = CaseState.IN_PROGRESS.value
    case.updated_at = now_minute(now)
    result = MoveResult(target)
    if step is not None:
        result = _hand_over(s, case, step, case_key, result)
    detail = f"{before or '-'}->{target}" + (f" to {result.handed_to}" if result.handed_to else "")
    record_event(db_session=s, actor=actor, action="case.step", case_id=case.id, detail=detail, now=now)
    return result


def _hand_over(s: Session, case: Case, step: Step, case_key: bytes, result: MoveResult) -> MoveResult:
    """Give the step's team the case (its key sealed to them); a compartmentalised step takes it from the
    team it came from."""
    team = s.scalars(select(Team).where(Team.slug == step.team)).first()
    if team is None:
        return MoveResult(result.position, missing_team=step.team)
    if team.id == case.team_id:
        return result
    held = s.get(CaseKey, (case.id, team.id))
    if held is None:
        s.add(
            CaseKey(
                case_id=case.id,
                team_id=team.id,
                sealed_private_key=seal(case_key, team.public_key),
                key_generation=team.key_generation,
            )
        )
    if step.compartmentalised:
        s.execute(delete(CaseKey).where(CaseKey.case_id == case.id, CaseKey.team_id == case.team_id))
    case.team_id = team.id
    return MoveResult(result.position, handed_to=team.slug)
