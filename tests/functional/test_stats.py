"""Statistics: the funnel counted from the store without opening a case, and the public figures drawn once
under the publication rules (threshold, rounding, delay, optional differential privacy with a budget)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from haven.audit.models import AuditEvent
from haven.audit.services import SYSTEM
from haven.cases import steps
from haven.config import SettingsError
from haven.intake import feedback
from haven.intake import services as intake
from haven.retention.services import purge
from haven.runtime import Runtime
from haven.stats.feedback import feedback_answers
from haven.stats.figures import funnel, workload
from haven.stats.models import PrivacyCharge, PublishedFigure
from haven.stats.privacy import BudgetExhausted
from haven.stats.public import Publication, publication_of, publish, published
from haven.stats.publication import Rules
from tests.conftest import Org

ANSWERS = {"danger_now": "no", "topic": "other"}
MARCH = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
TODAY = date(2025, 6, 1)


def request(runtime: Runtime, *, at: datetime) -> str:
    issued = intake.submit_request(
        db=runtime.db,
        submission=intake.Submission("legal", "en", ANSWERS, "Please help"),
        catalogue=runtime.catalogue,
        pepper=runtime.secrets.receipt_pepper,
        max_message_chars=runtime.settings.max_message_chars,
        procedures=runtime.procedures,
        now=at,
    )
    return issued.access.case_id


def end(runtime: Runtime, org: Org, case_id: str, outcome: str) -> None:
    steps.move_to_step(
        db=runtime.db,
        operator=org.intake.unlocked,
        case_id=case_id,
        procedures=runtime.procedures,
        target=outcome,
    )


def figure(runtime: Runtime, month: date, name: str) -> tuple[int | None, int | None] | None:
    """(value, below) as published for that month, or None if nothing was."""
    with runtime.db.read() as s:
        row = s.get(PublishedFigure, (month, name, ""))
        return None if row is None else (row.value, row.below)


def test_the_funnel_counts_every_case_and_how_it_stands(runtime: Runtime, org: Org) -> None:
    cases = [request(runtime, at=MARCH) for _ in range(4)]
    end(runtime, org, cases[0], "withdrawn")
    end(runtime, org, cases[1], "no_contact")

    march = funnel(db=runtime.db)[(date(2025, 3, 1), "")]

    assert march.counts["contacted"] == 4
    assert march.counts["open"] == 2
    assert (march.counts["withdrawn"], march.counts["no_contact"], march.counts["completed"]) == (1, 1, 0)
    assert funnel(db=runtime.db, per=None, by="type")[(None, "legal")].counts["contacted"] == 4


def test_a_purge_leaves_past_figures_unchanged(runtime: Runtime, org: Org) -> None:
    cases = [request(runtime, at=MARCH) for _ in range(12)]
    for case_id in cases[:5]:
        end(runtime, org, case_id, "withdrawn")
    before = funnel(db=runtime.db)
    publish(db=runtime.db, publication=publication_of(runtime.settings), today=TODAY, actor=SYSTEM)
    shown = figure(runtime, date(2025, 3, 1), "contacted")

    # Long after: every case is past its retention and is shredded into the anonymous counters.
    purge(db=runtime.db, rules=runtime.catalogue.retention, now=datetime.now(UTC) + timedelta(days=800))

    with runtime.db.read() as s:
        assert s.scalar(select(func.count()).select_from(PublishedFigure)) > 0
    assert funnel(db=runtime.db) == before
    assert figure(runtime, date(2025, 3, 1), "contacted") == shown


def test_published_counts_are_never_below_the_threshold_and_always_on_the_grid(
    runtime: Runtime, org: Org
) -> None:
    for _ in range(23):
        request(runtime, at=MARCH)
    for _ in range(3):
        request(runtime, at=MARCH + timedelta(days=31))  # April: three requests

    publish(db=runtime.db, publication=publication_of(runtime.settings), today=TODAY, actor=SYSTEM)

    march, april = (
        figure(runtime, date(2025, 3, 1), "contacted"),
        figure(runtime, date(2025, 4, 1), "contacted"),
    )
    assert march == (20, None)
    assert april == (None, 10)


def test_nothing_from_within_the_delay_is_published_and_empty_months_are(runtime: Runtime, org: Org) -> None:
    request(runtime, at=MARCH)
    request(runtime, at=datetime(2025, 5, 25, tzinfo=UTC))

    publish(db=runtime.db, publication=publication_of(runtime.settings), today=TODAY, actor=SYSTEM)

    months = [m.month for m in published(db=runtime.db, figures=("contacted",))]
    # May ends fewer than 14 days before June 1st; April had no request and is published all the same.
    assert months == [date(2025, 4, 1), date(2025, 3, 1)]


def test_a_month_is_drawn_once_and_later_publications_add_only_new_months(runtime: Runtime, org: Org) -> None:
    request(runtime, at=MARCH)
    rules = publication_of(runtime.settings)
    first = publish(db=runtime.db, publication=rules, today=TODAY, actor=SYSTEM)
    again = publish(db=runtime.db, publication=rules, today=TODAY, actor=SYSTEM)
    later = publish(db=runtime.db, publication=rules, today=TODAY + timedelta(days=31), actor=SYSTEM)

    # June 1st with a 14-day delay: March and April; a month later, May too.
    assert (first.months, again.months, later.months) == (2, 0, 1)


def test_noisy_figures_spend_the_budget_record_it_and_stop_when_it_runs_out(
    runtime: Runtime, org: Org
) -> None:
    request(runtime, at=MARCH)
    rules = Rules(noise="laplace", epsilon_per_figure=0.25, budget_per_period=0.5)
    noisy = Publication(rules, ("contacted",))

    done = publish(db=runtime.db, publication=noisy, today=TODAY, actor=SYSTEM)

    assert (done.figures, done.epsilon) == (2, 0.5)  # March and April, charged to June's budget
    with runtime.db.read() as s:
        assert sum(c.epsilon for c in s.scalars(select(PrivacyCharge))) == 0.5
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "stats.published")))
    assert [e.detail for e in events] == ["2 months, 2 figures, epsilon 0.5"]
    # Later in June, May may be published, but June's budget is spent: nothing is drawn or stored.
    with pytest.raises(BudgetExhausted):
        publish(db=runtime.db, publication=noisy, today=TODAY + timedelta(days=20), actor=SYSTEM)
    assert figure(runtime, date(2025, 5, 1), "contacted") is None
    # In July the budget is new again.
    assert (
        publish(db=runtime.db, publication=noisy, today=TODAY + timedelta(days=31), actor=SYSTEM).figures == 1
    )


def test_the_publication_settings_are_checked_with_a_message_naming_them(runtime: Runtime, org: Org) -> None:
    with pytest.raises(SettingsError, match="HAVEN_PUBLIC_FIGURES"):
        publication_of(runtime.settings.with_changes(public_figures="contacted,names"))
    with pytest.raises(SettingsError, match="threshold"):
        publication_of(runtime.settings.with_changes(stats_threshold=0))


def test_the_workload_counts_open_cases_by_team_and_overdue_step(runtime: Runtime, org: Org) -> None:
    request(runtime, at=MARCH)
    request(runtime, at=datetime.now(UTC))

    load = workload(db=runtime.db)

    assert load.by_team == {"intake": 2}
    assert sum(load.overdue_by_step.values()) == 1  # the March case's first step was due in March


def test_the_answers_to_did_we_help_are_counted_for_a_coordinator_from_their_teams_cases(
    runtime: Runtime, org: Org
) -> None:
    helped, not_helped, unanswered = (request(runtime, at=MARCH) for _ in range(3))
    for case_id, answer in ((helped, True), (not_helped, False)):
        end(runtime, org, case_id, "withdrawn")
        feedback.record_answer(db=runtime.db, case_id=case_id, helped=answer)
    end(runtime, org, unanswered, "withdrawn")

    assert feedback_answers(db=runtime.db, operator=org.coordinator.unlocked) == Counter({"yes": 1, "no": 1})
    # The lawyer's team holds none of these cases: nothing of theirs is counted.
    assert feedback_answers(db=runtime.db, operator=org.legal.unlocked) == Counter()
