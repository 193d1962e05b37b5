import itertools

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from haven.audit.services import SYSTEM, events_for_case
from haven.cases.models import Case
from haven.cases.services import move
from haven.cases.states import TRANSITIONS, CaseState, InvalidTransition, check_transition
from haven.intake.services import Submission, submit_request
from haven.runtime import Runtime
from tests.conftest import Org

PAIRS = list(itertools.product(CaseState, CaseState))
ALLOWED = [(a, b) for a, b in PAIRS if b in TRANSITIONS[a]]
FORBIDDEN = [(a, b) for a, b in PAIRS if b not in TRANSITIONS[a]]


@pytest.mark.parametrize(("current", "target"), ALLOWED, ids=[f"{a}->{b}" for a, b in ALLOWED])
def test_an_allowed_move_passes_the_table(current: CaseState, target: CaseState) -> None:
    check_transition(current, target)


@pytest.mark.parametrize(("current", "target"), FORBIDDEN, ids=[f"{a}->{b}" for a, b in FORBIDDEN])
def test_a_forbidden_move_is_refused_naming_both_states(current: CaseState, target: CaseState) -> None:
    with pytest.raises(InvalidTransition, match=f"from {current.value} to {target.value}"):
        check_transition(current, target)


def test_every_state_has_a_row_in_the_table() -> None:
    assert set(TRANSITIONS) == set(CaseState)


def test_no_state_moves_to_itself() -> None:
    assert all(state not in targets for state, targets in TRANSITIONS.items())


def _new_case(runtime: Runtime) -> str:
    issued = submit_request(
        db=runtime.db,
        submission=Submission("other", "en", {"danger_now": "no"}, "hello"),
        catalogue=runtime.catalogue,
        pepper=runtime.secrets.receipt_pepper,
        max_message_chars=1000,
    )
    return issued.access.case_id


@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(targets=st.lists(st.sampled_from(list(CaseState)), max_size=12))
def test_random_moves_follow_the_table_and_each_writes_one_audit_event(
    runtime: Runtime, org: Org, targets: list[CaseState]
) -> None:
    case_id = _new_case(runtime)
    for target in targets:
        with runtime.db.write() as s:
            case = s.get(Case, case_id)
            assert case is not None
            before_state = CaseState(case.state)
            before_events = len(events_for_case(db_session=s, case_id=case_id))
            try:
                move(db_session=s, case=case, target=target, actor=SYSTEM)
            except InvalidTransition:
                assert target not in TRANSITIONS[before_state]
                assert CaseState(case.state) is before_state
                continue
            written = events_for_case(db_session=s, case_id=case_id)[before_events:]
            if target is before_state:
                assert written == []
            else:
                assert target in TRANSITIONS[before_state]
                assert [(e.action, e.detail) for e in written] == [
                    ("case.state", f"{before_state}->{target}")
                ]
            assert CaseState(case.state) is target
