"""Moves through a procedure, as property tests on a real store: whatever an operator tries, in any order
and with any work, a case only ever stands where its procedure allows, is closed exactly when it ended, and
every move it made is one audit event "case.step" (a refused try writes nothing).

Two procedures: the small synthetic one in tests/fixtures/procedures/escort.yaml (checklists, required
fields, a compartmentalised step of another team, check-in steps, a step whose team does not exist) and
the shipped leave_service (with a routes team, so that its compartmentalised steps hand the case over).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from haven.accounts.models import Operator, Team
from haven.accounts.services import create_team
from haven.audit.models import AuditEvent
from haven.cases import steps
from haven.cases.models import Case, CaseKey
from haven.cases.procedure import ANYWHERE, OUTCOMES, FieldKind, Procedure, Procedures, Step
from haven.cases.procedure_files import SHIPPED, load_all
from haven.cases.states import CaseState, Priority
from haven.intake import services as intake
from haven.runtime import Runtime
from tests.conftest import Org, Person

FIXTURES = Path(__file__).parents[2] / "fixtures" / "procedures"
ESCORT = FIXTURES / "escort.yaml"
EARLY_ENDINGS = {o.value for o in ANYWHERE}
JUNK_TARGETS = ("", "COMPLETED", "first_contact ", "merged", "nowhere", "../step", "risk_assessment")


def load_with_escort(directory: Path) -> Procedures:
    """The shipped procedures and the synthetic escort, as an organisation's directory adds it."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(ESCORT, directory / "escort.yaml")
    return load_all([SHIPPED, directory])


def add_team(runtime: Runtime, slug: str, people: list[Person]) -> None:
    with runtime.db.write() as s:
        members = [s.get(Operator, p.id) for p in people]
        create_team(db_session=s, slug=slug, name=slug.title(), members=[m for m in members if m])


def new_case(
    runtime: Runtime, procedure: Procedure, *, message: str = "Please help", now: datetime | None = None
) -> intake.SealedCase:
    """A case sealed to its procedure's first team and stored, in the first step, as intake makes one."""
    with runtime.db.read() as s:
        team = s.scalars(select(Team).where(Team.slug == procedure.first.team)).one()
        team_id, public_key, generation = team.id, team.public_key, team.key_generation
    sealed = intake.seal_new_case(
        request_type="other",
        language="en",
        answers={"danger_now": "no"},
        message=message,
        priority=Priority.NORMAL,
        team_id=team_id,
        team_public_key=public_key,
        team_key_generation=generation,
        pepper=runtime.secrets.receipt_pepper,
        entry=steps.entry(procedure),
        now=now,
    )
    with runtime.db.write() as s:
        s.add_all(sealed.rows)
    return sealed


def complete_work(step: Step, text: str = "done") -> steps.StepWork:
    """Everything the step asks for: every item ticked, every field filled (the first option of a choice)."""
    return steps.StepWork(
        step.id,
        frozenset(item.id for item in step.checklist),
        {f.id: f.options[0].id if f.kind is FieldKind.CHOICE else text for f in step.fields},
    )


@dataclass(frozen=True)
class Standing:
    step: str
    state: str
    team: str
    teams_holding: frozenset[str]
    events: int
    step_events: int


def standing(runtime: Runtime, case_id: str) -> Standing:
    with runtime.db.read() as s:
        case = s.get(Case, case_id)
        assert case is not None
        team = s.get(Team, case.team_id)
        assert team is not None
        holding = s.scalars(
            select(Team.slug).join(CaseKey, CaseKey.team_id == Team.id).where(CaseKey.case_id == case_id)
        )
        events = select(func.count()).select_from(AuditEvent).where(AuditEvent.case_id == case_id)
        return Standing(
            case.step,
            case.state,
            team.slug,
            frozenset(holding),
            s.scalar(events) or 0,
            s.scalar(events.where(AuditEvent.action == "case.step")) or 0,
        )


# -- what a move should do, worked out independently of cases/steps.py ---------------------------------


def work_is_valid(step: Step, work: steps.StepWork) -> bool:
    if not work.checklist <= {item.id for item in step.checklist}:
        return False
    for field_id, value in work.fields.items():
        field = step.field(field_id)
        if field is None:
            return False
        if value == "":
            continue
        if field.kind is FieldKind.CHOICE and value not in {o.id for o in field.options}:
            return False
        if field.kind is FieldKind.TEXT and not value.strip():
            return False
    return True


def work_is_complete(step: Step, work: steps.StepWork | None) -> bool:
    ticked = work.checklist if work else frozenset()
    filled = {k: v.strip() for k, v in work.fields.items()} if work else {}
    return all(item.id in ticked for item in step.checklist) and all(
        filled.get(f.id) for f in step.fields if f.required
    )


def expected(
    procedure: Procedure,
    position: str,
    target: str,
    work: steps.StepWork | None,
    saved: Mapping[str, steps.StepWork],
) -> str:
    """ "refused", "stays" (the current step: the work is only saved) or "moves"."""
    if target not in OUTCOMES and procedure.step(target) is None:
        return "refused"
    step = procedure.step(position)
    if step is not None and work is not None and not work_is_valid(step, work):
        return "refused"
    if target == position:
        return "stays"
    if not procedure.may_move(position, target):
        return "refused"
    done = work if work is not None else saved.get(position)
    if step is not None and target not in EARLY_ENDINGS and not work_is_complete(step, done):
        return "refused"
    return "moves"


# -- drawing moves ------------------------------------------------------------------------------------


def draw_work(data: st.DataObject, procedure: Procedure, position: str) -> steps.StepWork | None:
    step = procedure.step(position)
    kind = data.draw(st.sampled_from(["none", "complete", "complete", "complete", "some"]), label="work")
    if kind == "none":
        return None
    if step is None:  # an ended case: any work is ignored
        return steps.StepWork(position, frozenset({"anything"}), {})
    if kind == "complete":
        return complete_work(step, data.draw(st.sampled_from(["done", "  spaced  "]), label="text"))
    items = [item.id for item in step.checklist] + ["not_an_item"]
    ticked = data.draw(st.frozensets(st.sampled_from(items)), label="ticked")
    fields: dict[str, str] = {}
    for field in [*step.fields, None]:
        if not data.draw(st.booleans(), label="fill"):
            continue
        if field is None:
            fields["not_a_field"] = "x"
            continue
        offered = [o.id for o in field.options] if field.kind is FieldKind.CHOICE else ["some words"]
        fields[field.id] = data.draw(st.sampled_from([*offered, "", "   ", "not_an_option"]), label=field.id)
    return steps.StepWork(step.id, ticked, fields)


def draw_target(data: st.DataObject, procedure: Procedure, position: str) -> str:
    """Mostly a move along the procedure (so that walks go far), sometimes an ending, else anything."""
    offered = procedure.moves_from(position)
    onward = [m for m in offered if m not in EARLY_ENDINGS] or list(offered)
    known = [s.id for s in procedure.steps] + sorted(OUTCOMES)
    anything = st.sampled_from(known) | st.sampled_from(JUNK_TARGETS) | st.text(max_size=12)
    if not onward:
        return data.draw(anything, label="target")
    forward = st.sampled_from(onward)
    return data.draw(st.one_of(forward, forward, forward, st.sampled_from(offered), anything), label="target")


@pytest.fixture
def procedures(tmp_path: Path) -> Procedures:
    return load_with_escort(tmp_path / "org-procedures")


@pytest.fixture
def coordinator(runtime: Runtime, org: Org) -> Person:
    """The coordinator, in every team a move can hand a case to, so that no move loses them the case."""
    add_team(runtime, "routes", [org.admin, org.coordinator])
    return org.coordinator


MOVES = settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("procedure_id", ["escort", "leave_service"])
@MOVES
@given(data=st.data())
def test_random_moves_keep_a_case_where_its_procedure_allows_and_each_move_is_one_event(
    procedure_id: str, runtime: Runtime, procedures: Procedures, coordinator: Person, data: st.DataObject
) -> None:
    procedure = procedures.get(procedure_id)
    assert procedure is not None
    case_id = new_case(runtime, procedure).case_id
    saved: dict[str, steps.StepWork] = {}
    for _ in range(data.draw(st.integers(min_value=1, max_value=16), label="moves")):
        before = standing(runtime, case_id)
        target = draw_target(data, procedure, before.step)
        work = draw_work(data, procedure, before.step)
        should = expected(procedure, before.step, target, work, saved)
        event(should)
        event(f"at an outcome: {before.step in OUTCOMES}")
        try:
            steps.move_to_step(
                db=runtime.db,
                operator=coordinator.unlocked,
                case_id=case_id,
                procedures=procedures,
                target=target,
                work=work,
            )
        except steps.StepRefused:
            assert should == "refused", (before.step, target, work)
            assert standing(runtime, case_id) == before
            continue
        after = standing(runtime, case_id)
        assert should != "refused", (before.step, target, work)
        current = procedure.step(before.step)
        if current is not None and work is not None:
            saved[before.step] = work
        if should == "stays":
            assert after == before
            continue
        assert procedure.may_move(before.step, target)
        assert after.step == target
        event(f"reached {target}")
        assert (after.events, after.step_events) == (before.events + 1, before.step_events + 1)
        entered = procedure.step(target)
        if entered is not None and entered.team in {"intake", "legal", "routes"}:
            assert after.team == entered.team
            assert entered.team in after.teams_holding
            if entered.compartmentalised and entered.team != before.team:
                assert before.team not in after.teams_holding
        else:
            assert after.team == before.team
        assert (after.state == CaseState.CLOSED.value) == (after.step in OUTCOMES)


@pytest.mark.parametrize("procedure_id", ["escort", "leave_service"])
@MOVES
@given(data=st.data())
def test_a_case_is_closed_exactly_when_it_stands_at_an_outcome(
    procedure_id: str, runtime: Runtime, procedures: Procedures, coordinator: Person, data: st.DataObject
) -> None:
    procedure = procedures.get(procedure_id)
    assert procedure is not None
    case_id = new_case(runtime, procedure).case_id
    # Walks that always do the work, so that they go far: into outcomes and back out again.
    for _ in range(data.draw(st.integers(min_value=1, max_value=10), label="moves")):
        position = standing(runtime, case_id).step
        target = data.draw(st.sampled_from(procedure.moves_from(position)), label="target")
        step = procedure.step(position)
        steps.move_to_step(
            db=runtime.db,
            operator=coordinator.unlocked,
            case_id=case_id,
            procedures=procedures,
            target=target,
            work=complete_work(step) if step is not None else None,
        )
        after = standing(runtime, case_id)
        assert after.step == target
        assert (after.state == CaseState.CLOSED.value) == (target in OUTCOMES)


def move(
    runtime: Runtime,
    person: Person,
    procedures: Procedures,
    case_id: str,
    target: str,
    work: steps.StepWork | None = None,
) -> steps.MoveResult:
    return steps.move_to_step(
        db=runtime.db,
        operator=person.unlocked,
        case_id=case_id,
        procedures=procedures,
        target=target,
        work=work,
    )


@pytest.fixture
def escort_case(runtime: Runtime, procedures: Procedures) -> str:
    escort = procedures.get("escort")
    assert escort is not None
    return new_case(runtime, escort).case_id


def test_an_ended_case_moves_back_only_into_the_first_step(
    runtime: Runtime, procedures: Procedures, coordinator: Person, escort_case: str
) -> None:
    move(runtime, coordinator, procedures, escort_case, "withdrawn")
    for target in ("waiting", "completed", "no_contact"):
        with pytest.raises(steps.StepRefused, match="first_contact"):
            move(runtime, coordinator, procedures, escort_case, target)
    move(runtime, coordinator, procedures, escort_case, "first_contact")
    assert standing(runtime, escort_case).state == CaseState.IN_PROGRESS.value


def test_merged_is_never_a_move(
    runtime: Runtime, procedures: Procedures, coordinator: Person, escort_case: str
) -> None:
    with pytest.raises(steps.StepRefused):
        move(runtime, coordinator, procedures, escort_case, "merged")
    escort = procedures.get("escort")
    assert escort is not None
    assert all("merged" not in escort.moves_from(s.id) for s in escort.steps)


def test_work_done_for_a_step_the_case_has_left_is_refused(
    runtime: Runtime, procedures: Procedures, coordinator: Person, escort_case: str
) -> None:
    escort = procedures.get("escort")
    assert escort is not None
    first_steps_work = complete_work(escort.first)
    move(runtime, coordinator, procedures, escort_case, "waiting", first_steps_work)
    before = standing(runtime, escort_case)
    with pytest.raises(steps.StepRefused, match="reload"):
        move(runtime, coordinator, procedures, escort_case, "hiding", first_steps_work)
    assert standing(runtime, escort_case) == before
