"""Questionnaire validation against any answers a caller might send."""

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haven.intake.questionnaires import InvalidAnswer, default_catalogue

BUDGET = settings(max_examples=300, deadline=timedelta(milliseconds=200))
CATALOGUE = default_catalogue()
REASONS = {"unknown_question", "answer_required", "answer_not_offered"}


def question_ids(type_id: str) -> list[str]:
    return [q.id for q in CATALOGUE.types[type_id].questions]


def offered(type_id: str) -> list[str]:
    return [o.id for q in CATALOGUE.types[type_id].questions for o in q.options]


@st.composite
def answers_for(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    """A request type and answers that are often right and often not: real and invented question ids,
    offered and invented option ids."""
    type_id = draw(st.sampled_from(sorted(CATALOGUE.types)))
    keys = st.sampled_from(question_ids(type_id)) | st.text(max_size=20)
    values = st.sampled_from(offered(type_id)) | st.just("") | st.text(max_size=20)
    return type_id, draw(st.dictionaries(keys, values, max_size=12))


def validated(type_id: str, answers: dict[str, str]) -> dict[str, str] | InvalidAnswer:
    try:
        return CATALOGUE.validate(type_id, answers)
    except InvalidAnswer as refused:
        return refused


@BUDGET
@given(answers_for())
def test_answers_are_either_clean_or_refused_with_a_known_reason(case: tuple[str, dict[str, str]]) -> None:
    type_id, answers = case
    clean = validated(type_id, answers)
    if isinstance(clean, InvalidAnswer):
        assert clean.reason in REASONS
        # Named by a question of the form, or as "answers": never by a key the caller invented.
        assert clean.question in {*question_ids(type_id), "answers"}
        return
    for question_id, option_id in clean.items():
        question = next(q for q in CATALOGUE.types[type_id].questions if q.id == question_id)
        assert question.option(option_id) is not None
        assert answers[question_id] == option_id


@BUDGET
@given(answers_for())
def test_every_required_question_is_answered_in_clean_answers(case: tuple[str, dict[str, str]]) -> None:
    type_id, answers = case
    clean = validated(type_id, answers)
    if isinstance(clean, InvalidAnswer):
        return
    required = {q.id for q in CATALOGUE.types[type_id].questions if q.required}
    assert required <= set(clean)


@BUDGET
@given(answers_for())
def test_the_priority_of_any_answers_is_a_priority(case: tuple[str, dict[str, str]]) -> None:
    _type_id, answers = case
    assert CATALOGUE.priority(answers) is not None


def test_an_unknown_question_is_refused_even_beside_valid_answers() -> None:
    type_id = sorted(CATALOGUE.types)[0]
    with pytest.raises(InvalidAnswer):
        CATALOGUE.validate(type_id, {"no such question": "x"})
