import pytest

from haven.cases.states import Priority
from haven.intake.questionnaires import Catalogue, InvalidAnswer, default_catalogue


@pytest.fixture
def catalogue() -> Catalogue:
    return default_catalogue()


def test_valid_answers_come_back_clean(catalogue: Catalogue) -> None:
    answers = {"danger_now": "no", "topic": "criminal"}
    assert catalogue.validate("legal", answers) == answers


def test_an_unknown_question_is_rejected_without_echoing_its_name(catalogue: Catalogue) -> None:
    with pytest.raises(InvalidAnswer) as caught:
        catalogue.validate("legal", {"danger_now": "no", "topic": "other", "shoe_size": "44"})
    assert (caught.value.question, caught.value.reason) == ("answers", "unknown_question")
    assert "shoe_size" not in str(caught.value)


def test_a_question_of_another_type_is_rejected(catalogue: Catalogue) -> None:
    with pytest.raises(InvalidAnswer) as caught:
        catalogue.validate("legal", {"danger_now": "no", "topic": "other", "where_now": "front"})
    assert caught.value.reason == "unknown_question"


def test_a_missing_required_answer_is_rejected(catalogue: Catalogue) -> None:
    with pytest.raises(InvalidAnswer) as caught:
        catalogue.validate("legal", {"danger_now": "no"})
    assert (caught.value.question, caught.value.reason) == ("topic", "answer_required")


def test_an_option_not_offered_is_rejected(catalogue: Catalogue) -> None:
    with pytest.raises(InvalidAnswer) as caught:
        catalogue.validate("legal", {"danger_now": "maybe", "topic": "other"})
    assert (caught.value.question, caught.value.reason) == ("danger_now", "answer_not_offered")


def test_an_optional_question_may_be_left_out(catalogue: Catalogue) -> None:
    assert catalogue.validate("leave_service", {"danger_now": "no", "where_now": "rear"}) == {
        "danger_now": "no",
        "where_now": "rear",
    }


def test_danger_now_yes_makes_a_request_urgent(catalogue: Catalogue) -> None:
    assert catalogue.priority({"danger_now": "yes"}) is Priority.URGENT


def test_danger_now_unsure_makes_a_request_high(catalogue: Catalogue) -> None:
    assert catalogue.priority({"danger_now": "unsure"}) is Priority.HIGH


def test_no_danger_leaves_a_request_normal(catalogue: Catalogue) -> None:
    assert catalogue.priority({"danger_now": "no"}) is Priority.NORMAL


def test_every_type_asks_about_danger_first(catalogue: Catalogue) -> None:
    assert all(kind.questions[0].id == "danger_now" for kind in catalogue.types.values())
