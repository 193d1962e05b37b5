"""The funnel's stages, channels and weeks: how far each case got, counted from the store without opening
it, per week or month, by request type or channel, and unchanged when the cases are purged.

A step's `stage` in its procedure says what entering it proves (screened, verified, in progress); marking a
case verified counts too; a completed case went the whole way. Each stage counts the cases that got at
least that far, so the funnel only narrows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from haven.cases import steps, triage
from haven.cases.models import Case
from haven.cases.procedure import FieldKind, Procedure, Stage, Step
from haven.intake import services as intake
from haven.retention.counting import CountKey
from haven.retention.services import purge
from haven.runtime import Runtime
from haven.stats.figures import funnel, tabulate
from tests.conftest import Org, make_organisation
from tests.fake_bot_api import FakeBotApi
from tests.functional.telegram_chat import make_request, open_chat

ANSWERS = {
    "leave_service": {"danger_now": "no", "where_now": "rear"},
    "legal": {"danger_now": "no", "topic": "other"},
}
MONDAY = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
MARCH = date(2025, 3, 1)


def request(runtime: Runtime, request_type: str = "legal", *, at: datetime = MONDAY) -> str:
    issued = intake.submit_request(
        db=runtime.db,
        submission=intake.Submission(request_type, "en", ANSWERS[request_type], "Please help"),
        catalogue=runtime.catalogue,
        pepper=runtime.secrets.receipt_pepper,
        max_message_chars=runtime.settings.max_message_chars,
        procedures=runtime.procedures,
        now=at,
    )
    return issued.access.case_id


def everything(step: Step) -> steps.StepWork:
    """What `step` asks for, all done: each item ticked, each field filled."""
    return steps.StepWork(
        step.id,
        frozenset(item.id for item in step.checklist),
        {f.id: f.options[0].id if f.kind is FieldKind.CHOICE else "noted" for f in step.fields},
    )


def move(runtime: Runtime, org: Org, case_id: str, target: str) -> None:
    """Finish the case's current step and move it to `target` (as the coordinator, who is in every team)."""
    with runtime.db.read() as s:
        case = s.get(Case, case_id)
        assert case is not None
        procedure, position = runtime.procedures.get(case.procedure), case.step
    assert procedure is not None
    current = procedure.step(position)
    steps.move_to_step(
        db=runtime.db,
        operator=org.coordinator.unlocked,
        case_id=case_id,
        procedures=runtime.procedures,
        target=target,
        work=everything(current) if current is not None else None,
    )


def reached(runtime: Runtime, case_id: str) -> str:
    with runtime.db.read() as s:
        return s.scalars(select(Case.reached).where(Case.id == case_id)).one()


def procedure(runtime: Runtime, procedure_id: str) -> Procedure:
    found = runtime.procedures.get(procedure_id)
    assert found is not None
    return found


def test_each_shipped_procedure_says_where_its_cases_are_screened_and_in_progress(runtime: Runtime) -> None:
    for shipped in runtime.procedures:
        stages = [step.stage for step in shipped.steps]
        assert shipped.first.stage is None, shipped.id  # entering the first step proves nothing
        assert Stage.IN_PROGRESS in stages, shipped.id
        # Stages never go back along the procedure's main path.
        ranks = [s.rank for s in stages if s is not None]
        assert ranks == sorted(ranks), shipped.id


def test_a_case_reaches_the_stage_of_each_step_it_enters(runtime: Runtime, org: Org) -> None:
    case_id = request(runtime, "leave_service")
    assert reached(runtime, case_id) == "contacted"

    seen = []
    for target in ("screening", "verification", "risk_assessment", "plan"):
        move(runtime, org, case_id, target)
        seen.append(reached(runtime, case_id))

    assert seen == ["contacted", "screened", "verified", "in_progress"]


def test_a_case_sent_back_a_step_keeps_the_furthest_stage_it_reached(runtime: Runtime, org: Org) -> None:
    case_id = request(runtime, "leave_service")
    for target in ("screening", "verification", "risk_assessment"):
        move(runtime, org, case_id, target)
    assert procedure(runtime, "leave_service").may_move("risk_assessment", "plan")

    move(runtime, org, case_id, "plan")
    move(runtime, org, case_id, "risk_assessment")  # back, to think again

    assert reached(runtime, case_id) == "in_progress"


def test_marking_a_case_verified_counts_it_as_verified_and_doubting_it_later_does_not_undo_that(
    runtime: Runtime, org: Org
) -> None:
    case_id = request(runtime)

    triage.set_verification(
        db=runtime.db,
        operator=org.coordinator.unlocked,
        case_id=case_id,
        verification=triage.Verification.VERIFIED,
    )
    assert reached(runtime, case_id) == "verified"
    triage.set_verification(
        db=runtime.db,
        operator=org.coordinator.unlocked,
        case_id=case_id,
        verification=triage.Verification.SUSPICIOUS,
        reason="the story changed",
    )
    assert reached(runtime, case_id) == "verified"


def test_a_completed_case_went_the_whole_way(runtime: Runtime, org: Org) -> None:
    case_id = request(runtime)  # legal consultation: screening, then consultation
    move(runtime, org, case_id, "consultation")
    move(runtime, org, case_id, "completed")

    row = funnel(db=runtime.db)[(MARCH, "")]

    assert reached(runtime, case_id) == "in_progress"
    assert {c: row.counts[c] for c in ("contacted", "screened", "verified", "in_progress", "completed")} == {
        "contacted": 1,
        "screened": 1,
        "verified": 1,
        "in_progress": 1,
        "completed": 1,
    }


def test_each_stage_counts_the_cases_that_got_at_least_that_far(runtime: Runtime, org: Org) -> None:
    untouched, screened, verified, planned = (request(runtime, "leave_service") for _ in range(4))
    for case_id, last in ((screened, "verification"), (verified, "risk_assessment"), (planned, "plan")):
        for target in ("screening", "verification", "risk_assessment", "plan"):
            move(runtime, org, case_id, target)
            if target == last:
                break
    move(runtime, org, untouched, "withdrawn")

    row = funnel(db=runtime.db, by="type")[(MARCH, "leave_service")]

    stages = [row.counts[s.value] for s in Stage]
    assert stages == [4, 3, 2, 1]
    assert (row.counts["open"], row.counts["withdrawn"]) == (3, 1)


def test_the_funnel_by_week_and_channel_counts_telegram_and_the_web_and_outlives_a_purge(
    telegram_client: TestClient, telegram_runtime: Runtime, bot_api: FakeBotApi
) -> None:
    make_organisation(telegram_runtime)
    make_request(open_chat(telegram_client, bot_api))
    request(telegram_runtime, at=MONDAY)
    request(telegram_runtime, at=MONDAY + timedelta(days=6))  # Sunday: the same week
    request(telegram_runtime, at=MONDAY + timedelta(days=7))  # the next Monday

    weeks = funnel(db=telegram_runtime.db, per="week", by="channel")
    assert weeks[(date(2025, 3, 10), "web")].counts["contacted"] == 2
    assert weeks[(date(2025, 3, 17), "web")].counts["contacted"] == 1
    by_channel = funnel(db=telegram_runtime.db, per=None, by="channel")
    assert {part: f.counts["contacted"] for (_p, part), f in by_channel.items()} == {"telegram": 1, "web": 3}
    before = {
        (per, by): funnel(db=telegram_runtime.db, per=per, by=by)
        for per in ("week", "month")
        for by in ("type", "channel")
    }

    purge(
        db=telegram_runtime.db,
        rules=telegram_runtime.catalogue.retention,
        now=datetime.now(UTC) + timedelta(days=800),
    )

    with telegram_runtime.db.read() as s:
        assert s.scalars(select(Case.id)).all() == []
    after = {
        (per, by): funnel(db=telegram_runtime.db, per=per, by=by)
        for per in ("week", "month")
        for by in ("type", "channel")
    }
    assert after == before


def test_stages_outlive_a_purge(runtime: Runtime, org: Org) -> None:
    cases = [request(runtime, "leave_service") for _ in range(3)]
    for target in ("screening", "verification", "risk_assessment"):
        move(runtime, org, cases[0], target)
    move(runtime, org, cases[1], "screening")
    move(runtime, org, cases[1], "verification")
    before = funnel(db=runtime.db, per="week", by="type")

    purge(db=runtime.db, rules=runtime.catalogue.retention, now=datetime.now(UTC) + timedelta(days=800))

    assert funnel(db=runtime.db, per="week", by="type") == before
    row = before[(date(2025, 3, 10), "leave_service")]
    assert [row.counts[s.value] for s in Stage] == [3, 2, 1, 0]


def test_a_week_that_spans_two_months_is_one_week_and_part_of_each_month() -> None:
    march_31, april_1 = date(2026, 3, 31), date(2026, 4, 1)  # a Tuesday and a Wednesday
    totals = {
        CountKey.of(march_31, "legal", "web", "contacted", "new"): 2,
        CountKey.of(april_1, "legal", "web", "screened", "in_progress"): 1,
    }

    weeks = tabulate(totals, per="week")
    months = tabulate(totals, per="month")

    assert list(weeks) == [(date(2026, 3, 30), "")]
    assert weeks[(date(2026, 3, 30), "")].counts["contacted"] == 3
    assert months[(date(2026, 3, 1), "")].counts["contacted"] == 2
    assert months[(date(2026, 4, 1), "")].counts["screened"] == 1


def test_a_merged_duplicate_is_not_counted_and_an_unknown_stage_counts_as_contacted() -> None:
    day = date(2026, 3, 2)
    totals = {
        CountKey.of(day, "legal", "web", "verified", "merged"): 5,
        CountKey.of(day, "legal", "web", "from-a-newer-release", "new"): 1,
    }

    row = tabulate(totals, per=None)[(None, "")]

    assert [row.counts[s.value] for s in Stage] == [1, 0, 0, 0]
