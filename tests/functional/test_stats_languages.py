"""The languages requests were written in: sealed to the receiving team, counted only with a team member's
own keys, and still countable after the cases are purged.

A seized store shows one sealed tally per request and nothing that says its language; a coordinator of the
team that received the requests opens the tallies to count them, and purged cases' tallies are merged as
they are counted, so the store ends with one per key instead of one per request."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from haven.cases import steps
from haven.cases.models import Case
from haven.intake import services as intake
from haven.retention.services import purge
from haven.runtime import Runtime
from haven.stats.figures import tabulate
from haven.stats.languages import LanguageCounts, count_languages
from haven.stats.models import LanguageTally
from tests.conftest import Org, make_organisation
from tests.fake_bot_api import FakeBotApi
from tests.functional.telegram_chat import make_request, open_chat

ANSWERS = {"danger_now": "no", "topic": "other"}
MARCH = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def request(runtime: Runtime, language: str, *, at: datetime = MARCH) -> str:
    issued = intake.submit_request(
        db=runtime.db,
        submission=intake.Submission("legal", language, ANSWERS, "Please help"),
        catalogue=runtime.catalogue,
        pepper=runtime.secrets.receipt_pepper,
        max_message_chars=runtime.settings.max_message_chars,
        procedures=runtime.procedures,
        now=at,
    )
    return issued.access.case_id


def languages(counts: LanguageCounts) -> Counter[str]:
    totals: Counter[str] = Counter()
    for (_key, language), n in counts.by_key.items():
        totals[language] += n
    return totals


def tallies(runtime: Runtime) -> list[LanguageTally]:
    with runtime.db.read() as s:
        return list(s.scalars(select(LanguageTally).order_by(LanguageTally.id)))


def test_each_request_is_counted_in_its_language_for_a_coordinator_of_the_receiving_team(
    runtime: Runtime, org: Org
) -> None:
    for language in ("uk", "uk", "ru", "en"):
        request(runtime, language)

    counts = count_languages(db=runtime.db, operator=org.coordinator.unlocked)

    assert languages(counts) == Counter({"uk": 2, "ru": 1, "en": 1})
    assert counts.languages == ["en", "ru", "uk"]
    assert counts.teams == ["intake", "legal"]
    assert counts.unreadable == 0


def test_someone_outside_the_receiving_team_counts_no_language(runtime: Runtime, org: Org) -> None:
    request(runtime, "uk")

    counts = count_languages(db=runtime.db, operator=org.legal.unlocked)

    assert counts.teams == ["legal"]
    assert languages(counts) == Counter()


def test_the_language_is_sealed_and_every_tally_is_the_same_size(runtime: Runtime, org: Org) -> None:
    for language in ("uk", "ru", "en"):
        request(runtime, language)

    rows = tallies(runtime)

    assert len(rows) == 3
    assert len({len(row.sealed) for row in rows}) == 1  # the size says nothing about the language
    for row in rows:
        for language in ("uk", "ru", "en"):
            assert f'"{language}": 1'.encode() not in row.sealed


def test_the_funnel_by_language_reads_how_far_each_case_got(runtime: Runtime, org: Org) -> None:
    ended = request(runtime, "uk")
    request(runtime, "uk")
    request(runtime, "ru")
    steps.move_to_step(
        db=runtime.db,
        operator=org.coordinator.unlocked,
        case_id=ended,
        procedures=runtime.procedures,
        target="withdrawn",
    )

    counts = count_languages(db=runtime.db, operator=org.coordinator.unlocked)
    ukrainian = tabulate(counts.totals("uk"), per="month")

    (row,) = ukrainian.values()
    assert (row.counts["contacted"], row.counts["open"], row.counts["withdrawn"]) == (2, 1, 1)


def test_languages_outlive_a_purge_and_purged_tallies_are_merged_when_counted(
    runtime: Runtime, org: Org
) -> None:
    for language in ("uk", "uk", "uk", "ru", "en"):
        request(runtime, language)
    before = count_languages(db=runtime.db, operator=org.coordinator.unlocked)

    purge(db=runtime.db, rules=runtime.catalogue.retention, now=datetime.now(UTC) + timedelta(days=800))
    with runtime.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0
    assert all(row.case_id is None and row.final_state == "new" for row in tallies(runtime))

    after = count_languages(db=runtime.db, operator=org.coordinator.unlocked)

    assert after.by_key == before.by_key
    assert len(tallies(runtime)) == 1  # one key (March, legal, web, contacted, new): one merged tally
    again = count_languages(db=runtime.db, operator=org.coordinator.unlocked)
    assert again.by_key == before.by_key
    assert languages(again) == Counter({"uk": 3, "ru": 1, "en": 1})


def test_a_telegram_request_is_counted_in_the_language_chosen_in_the_chat(
    telegram_client: TestClient, telegram_runtime: Runtime, bot_api: FakeBotApi
) -> None:
    org = make_organisation(telegram_runtime)
    make_request(open_chat(telegram_client, bot_api), language="ru")

    counts = count_languages(db=telegram_runtime.db, operator=org.coordinator.unlocked)

    ((key, language),) = counts.by_key
    assert (key.channel, language) == ("telegram", "ru")


def test_counting_reports_its_progress_up_to_the_last_tally(runtime: Runtime, org: Org) -> None:
    for _ in range(3):
        request(runtime, "en")
    reports: list[tuple[int, int]] = []

    count_languages(db=runtime.db, operator=org.coordinator.unlocked, progress=lambda *p: reports.append(p))

    assert reports[-1] == (3, 3)
