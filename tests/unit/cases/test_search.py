"""Search over the cases an operator's teams can read, from an index held in process memory only."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from haven.accounts.models import Team
from haven.cases import services
from haven.cases.models import Case, CaseKey
from haven.cases.search import (
    MAX_QUERY_CHARS,
    QueryRejected,
    SearchIndexes,
    SearchResult,
    normalise,
    query_terms,
)
from haven.crypto.keys import seal
from haven.intake.services import RequesterAccess, Submission, add_follow_up, submit_request
from haven.runtime import Runtime
from tests.conftest import Org, Person


def _submit(
    runtime: Runtime, message: str, *, danger: str = "no", now: datetime | None = None
) -> RequesterAccess:
    issued = submit_request(
        db=runtime.db,
        submission=Submission("legal", "ru", {"danger_now": danger, "topic": "other"}, message),
        catalogue=runtime.catalogue,
        pepper=runtime.secrets.receipt_pepper,
        max_message_chars=runtime.settings.max_message_chars,
        now=now,
    )
    return issued.access


def _log_in(runtime: Runtime, person: Person) -> tuple[str, str]:
    """A session as logging in opens it: (cookie token, session id)."""
    token, _csrf = runtime.sessions.start(
        kind="operator", subject=str(person.id), key=person.unlocked.private_key, idle_seconds=600
    )
    session = runtime.sessions.resolve(token, kind="operator")
    assert session is not None
    return token, session.id


def _search(
    runtime: Runtime, person: Person, query: str, session_id: str = "", limit: int = 50
) -> SearchResult:
    session_id = session_id or _log_in(runtime, person)[1]
    return runtime.search.search(operator=person.unlocked, session_id=session_id, query=query, limit=limit)


def _found(runtime: Runtime, person: Person, query: str, session_id: str = "") -> list[str]:
    return [row.id for row in _search(runtime, person, query, session_id).rows]


def _team_id(runtime: Runtime, slug: str) -> int:
    with runtime.db.read() as s:
        team_id: int = s.scalars(select(Team.id).where(Team.slug == slug)).one()
    return team_id


def test_normalising_folds_case_and_collapses_whitespace() -> None:
    assert normalise("  Help\tME\n\nnow ") == "help me now"


def test_normalising_folds_cyrillic_capitals_and_yo() -> None:
    assert normalise("ИВАН Пётр ЇЖАК") == "иван петр їжак"


def test_normalising_composes_a_decomposed_letter() -> None:
    assert normalise("и\u0306") == "й"


def test_query_terms_are_distinct_and_longest_first() -> None:
    assert query_terms("Lawyer  help lawyer") == ("lawyer", "help")


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("", id="empty"),
        pytest.param("  \t ", id="blank"),
        pytest.param("x" * (MAX_QUERY_CHARS + 1), id="too-long"),
    ],
)
def test_an_empty_or_too_long_query_is_rejected(query: str) -> None:
    with pytest.raises(QueryRejected):
        query_terms(query)


def test_a_word_of_the_message_finds_the_case(runtime: Runtime, org: Org) -> None:
    wanted = _submit(runtime, "My son was taken to the commissariat")
    _submit(runtime, "Something else entirely")
    assert _found(runtime, org.intake, "commissariat") == [wanted.case_id]


def test_a_lowercase_cyrillic_message_is_found_by_a_capitalised_query(runtime: Runtime, org: Org) -> None:
    wanted = _submit(runtime, "меня зовут иван, помогите")
    assert _found(runtime, org.intake, "Иван") == [wanted.case_id]


def test_every_term_must_occur(runtime: Runtime, org: Org) -> None:
    both = _submit(runtime, "повестка пришла брату")
    _submit(runtime, "повестка пришла мне")
    assert _found(runtime, org.intake, "брат ПОВЕСТКА") == [both.case_id]


def test_a_term_matches_inside_a_word(runtime: Runtime, org: Org) -> None:
    wanted = _submit(runtime, "мобилизация")
    assert _found(runtime, org.intake, "билиз") == [wanted.case_id]


def test_when_nothing_matches_the_result_is_empty(runtime: Runtime, org: Org) -> None:
    _submit(runtime, "help")
    result = _search(runtime, org.intake, "absent")
    assert (result.rows, result.total) == ([], 0)


def test_an_answer_is_found_by_its_label_in_any_language(runtime: Runtime, org: Org) -> None:
    unsure = _submit(runtime, "help", danger="unsure")
    _submit(runtime, "help", danger="no")
    assert _found(runtime, org.intake, "not sure") == [unsure.case_id]
    assert _found(runtime, org.intake, "не уверен") == [unsure.case_id]


def test_results_are_newest_first_capped_with_the_total(runtime: Runtime, org: Org) -> None:
    start = datetime(2025, 3, 1, tzinfo=UTC)
    cases = [_submit(runtime, f"паспорт {i}", now=start + timedelta(minutes=i)) for i in range(5)]
    result = _search(runtime, org.intake, "паспорт", limit=3)
    assert [row.id for row in result.rows] == [c.case_id for c in cases[:1:-1]]
    assert result.total == 5


def test_a_result_carries_the_case_metadata_from_the_store(runtime: Runtime, org: Org) -> None:
    wanted = _submit(runtime, "discharge papers", danger="yes")
    [row] = _search(runtime, org.intake, "discharge").rows
    assert (row.id, row.priority, row.request_type, row.team) == (wanted.case_id, "urgent", "legal", "intake")


def test_a_message_added_after_the_first_search_is_found(runtime: Runtime, org: Org) -> None:
    access = _submit(runtime, "first message")
    _token, session_id = _log_in(runtime, org.intake)
    assert _found(runtime, org.intake, "wolfhound", session_id) == []
    add_follow_up(db=runtime.db, access=access, message="The wolfhound is back", max_message_chars=1000)
    assert _found(runtime, org.intake, "wolfhound", session_id) == [access.case_id]


def test_a_reply_and_a_note_are_found(runtime: Runtime, org: Org) -> None:
    access = _submit(runtime, "first message")
    _token, session_id = _log_in(runtime, org.intake)
    assert _found(runtime, org.intake, "first", session_id) == [access.case_id]
    services.reply(db=runtime.db, operator=org.intake.unlocked, case_id=access.case_id, text="Call Marta")
    services.add_note(db=runtime.db, operator=org.intake.unlocked, case_id=access.case_id, text="Verified")
    assert _found(runtime, org.intake, "marta verified", session_id) == [access.case_id]


def test_a_case_submitted_after_the_first_search_is_found(runtime: Runtime, org: Org) -> None:
    _submit(runtime, "an older case")
    _token, session_id = _log_in(runtime, org.intake)
    assert _found(runtime, org.intake, "case", session_id) != []
    newer = _submit(runtime, "a newer case")
    assert _found(runtime, org.intake, "case", session_id)[0] == newer.case_id


def _share_with_legal(runtime: Runtime, access: RequesterAccess) -> None:
    with runtime.db.write() as s:
        legal = s.get(Team, _team_id(runtime, "legal"))
        assert legal is not None
        sealed = seal(access.case_private_key, legal.public_key)
        s.add(CaseKey(case_id=access.case_id, team_id=legal.id, sealed_private_key=sealed))


def _delete(runtime: Runtime, access: RequesterAccess) -> None:
    with runtime.db.write() as s:
        s.execute(delete(Case).where(Case.id == access.case_id))


def test_a_case_shared_with_a_team_after_its_first_search_is_found(runtime: Runtime, org: Org) -> None:
    access = _submit(runtime, "needs a lawyer")
    _token, session_id = _log_in(runtime, org.legal)
    assert _found(runtime, org.legal, "lawyer", session_id) == []
    _share_with_legal(runtime, access)
    assert _found(runtime, org.legal, "lawyer", session_id) == [access.case_id]


def test_a_deleted_case_is_no_longer_found(runtime: Runtime, org: Org) -> None:
    access = _submit(runtime, "shred me")
    _token, session_id = _log_in(runtime, org.intake)
    assert _found(runtime, org.intake, "shred", session_id) == [access.case_id]
    _delete(runtime, access)
    assert _found(runtime, org.intake, "shred", session_id) == []
    assert runtime.search.cases_held() == 0


def test_a_share_and_a_deletion_between_two_searches_are_both_seen(runtime: Runtime, org: Org) -> None:
    # Together they leave the team's count of cases unchanged: here the index lists every case each time.
    search = SearchIndexes(
        db=runtime.db, sessions=runtime.sessions, catalogue=runtime.catalogue, reconcile_seconds=0
    )
    shared_later = _submit(runtime, "route via the north")
    deleted_later = _submit(runtime, "route via the south")
    _share_with_legal(runtime, deleted_later)
    _token, session_id = _log_in(runtime, org.legal)
    assert search.search(operator=org.legal.unlocked, session_id=session_id, query="route").total == 1
    _share_with_legal(runtime, shared_later)
    _delete(runtime, deleted_later)
    result = search.search(operator=org.legal.unlocked, session_id=session_id, query="route")
    assert ([row.id for row in result.rows], result.total) == ([shared_later.case_id], 1)


def test_a_case_shared_with_two_of_the_operators_teams_is_found_once(runtime: Runtime, org: Org) -> None:
    access = _submit(runtime, "shared widely")
    _share_with_legal(runtime, access)
    result = _search(runtime, org.coordinator, "widely")
    assert ([row.id for row in result.rows], result.total) == ([access.case_id], 1)


def test_the_newest_cases_come_first_across_the_operators_teams(runtime: Runtime, org: Org) -> None:
    older, newer = _submit(runtime, "visa one"), _submit(runtime, "visa two")
    _share_with_legal(runtime, older)
    assert _found(runtime, org.coordinator, "visa") == [newer.case_id, older.case_id]


def test_another_teams_operator_does_not_find_the_case(runtime: Runtime, org: Org) -> None:
    _submit(runtime, "only for intake")
    assert _found(runtime, org.legal, "intake") == []
    assert _found(runtime, org.intake, "intake") != []


def test_searching_builds_an_index_for_each_of_the_operators_teams(runtime: Runtime, org: Org) -> None:
    _search(runtime, org.coordinator, "anything")
    assert runtime.search.indexed_teams() == {_team_id(runtime, "intake"), _team_id(runtime, "legal")}


def test_an_index_is_dropped_at_the_next_search_once_its_session_is_gone(runtime: Runtime, org: Org) -> None:
    _submit(runtime, "help")
    token, _session_id = _log_in(runtime, org.intake)
    _search(runtime, org.intake, "help", _session_id)
    runtime.sessions.end(token)
    _search(runtime, org.legal, "help")
    assert runtime.search.indexed_teams() == {_team_id(runtime, "legal")}


def test_forgetting_the_last_session_drops_the_index(runtime: Runtime, org: Org) -> None:
    _token, session_id = _log_in(runtime, org.intake)
    _search(runtime, org.intake, "help", session_id)
    runtime.search.forget_session(session_id)
    assert runtime.search.indexed_teams() == frozenset()


def test_an_index_another_open_session_used_is_kept(runtime: Runtime, org: Org) -> None:
    _token, first = _log_in(runtime, org.intake)
    _token, second = _log_in(runtime, org.coordinator)
    _search(runtime, org.intake, "help", first)
    _search(runtime, org.coordinator, "help", second)
    runtime.search.forget_session(first)
    assert _team_id(runtime, "intake") in runtime.search.indexed_teams()
