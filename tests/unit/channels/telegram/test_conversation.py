"""The bot's side of a conversation, as the pure function `decide`: what it says and what it asks the bot to
do, for each stage and each kind of update, and how it moves the chat's state."""

from __future__ import annotations

import pytest

from haven.channels.telegram.chat_state import ChatState, Stage
from haven.channels.telegram.conversation import Effect, Plan, Say, decide
from haven.channels.telegram.incoming import Incoming, Kind, TelegramFile
from haven.crypto import receipts
from haven.i18n import LANGUAGES, NATIVE_NAMES, Translator
from haven.intake.questionnaires import default_catalogue

ORG = "Test helpline"
CATALOGUE = default_catalogue()
CHAT = 987654321987


def text(words: str, *, hint: str = "") -> Incoming:
    return Incoming(Kind.TEXT, chat_id=CHAT, message_id=11, text=words, language_hint=hint)


def command(name: str, *, hint: str = "") -> Incoming:
    return Incoming(Kind.COMMAND, chat_id=CHAT, message_id=12, text=name, language_hint=hint)


def button(data: str) -> Incoming:
    return Incoming(Kind.BUTTON, chat_id=CHAT, data=data, callback_id="4246128693427182117")


def photo(caption: str = "") -> Incoming:
    file = TelegramFile("AgACAgIAAxkBAAMNZ3Vb0Ay4", 98012, "")
    return Incoming(Kind.MEDIA, chat_id=CHAT, message_id=13, text=caption, files=(file,))


def run(state: ChatState, incoming: Incoming) -> Plan:
    return decide(state, incoming, catalogue=CATALOGUE, org=ORG)


def at_stage(
    stage: Stage, *, language: str = "en", request_type: str = "legal", question: int = 0
) -> ChatState:
    answers = {"danger_now": "no"} if question else {}
    if stage in (Stage.MESSAGE, Stage.CASE):
        answers, question = {"danger_now": "no", "topic": "criminal"}, 2
    if stage in (Stage.LANGUAGE, Stage.TYPE):
        request_type, answers, question = "", {}, 0
    return ChatState(
        stage=stage, language=language, request_type=request_type, answers=answers, question=question
    )


def button_data(say: Say) -> list[str]:
    return [data for row in say.buttons for _label, data in row]


def button_labels(say: Say) -> list[str]:
    return [label for row in say.buttons for label, _data in row]


def assert_language_question(say: Say) -> None:
    assert say.text == Translator("en")("tg_choose_language")
    assert button_data(say) == [f"l:{language}" for language in LANGUAGES]
    assert button_labels(say) == [NATIVE_NAMES[language] for language in LANGUAGES]


# -- /start and the language -----------------------------------------------------------------------------


def test_start_welcomes_and_asks_for_a_language() -> None:
    state = ChatState()
    plan = run(state, command("start", hint="ru"))
    welcome, question = plan.says
    assert welcome.text == Translator("ru")("tg_welcome", org=ORG)
    assert_language_question(question)
    assert plan.effect is Effect.NONE
    assert state.stage is Stage.LANGUAGE


def test_the_language_telegram_reports_is_the_one_the_bot_begins_in() -> None:
    state = ChatState()
    run(state, command("start", hint="uk"))
    assert state.language == "uk"


def test_a_language_telegram_reports_that_is_not_ours_begins_in_english() -> None:
    state = ChatState()
    plan = run(state, command("start"))
    assert plan.says[0].text == Translator("en")("tg_welcome", org=ORG)


@pytest.mark.parametrize("hint", ["", "ru"])
def test_text_before_start_begins_the_conversation(hint: str) -> None:
    state = ChatState()
    plan = run(state, text("hello, I need help", hint=hint))
    welcome, question = plan.says
    assert welcome.text == Translator(hint)("tg_welcome", org=ORG)
    assert_language_question(question)
    assert plan.effect is Effect.NONE


@pytest.mark.parametrize("language", LANGUAGES)
def test_choosing_a_language_asks_for_the_request_type_in_it(language: str) -> None:
    state = at_stage(Stage.LANGUAGE, language="en")
    plan = run(state, button(f"l:{language}"))
    (say,) = plan.says
    assert say.text == Translator(language)("tg_choose_type")
    assert button_data(say) == [f"t:{kind}" for kind in CATALOGUE.types]
    assert button_labels(say) == [kind.label(language) for kind in CATALOGUE.types.values()]
    assert (state.stage, state.language) == (Stage.TYPE, language)


def test_choosing_a_language_later_only_changes_the_language() -> None:
    state = at_stage(Stage.CASE, language="en")
    plan = run(state, button("l:uk"))
    assert [say.text for say in plan.says] == [Translator("uk")("tg_language_set")]
    assert (state.stage, state.language, state.answers) == (Stage.CASE, "uk", at_stage(Stage.CASE).answers)


def test_the_language_command_asks_for_a_language_and_changes_nothing_yet() -> None:
    state = at_stage(Stage.QUESTION, question=1)
    before = state.to_json()
    plan = run(state, command("language"))
    (say,) = plan.says
    assert_language_question(say)
    assert state.to_json() == before


# -- the request type and the questions ------------------------------------------------------------------


def test_choosing_a_type_asks_its_first_question() -> None:
    state = at_stage(Stage.TYPE, language="ru")
    plan = run(state, button("t:legal"))
    (say,) = plan.says
    first = CATALOGUE.types["legal"].questions[0]
    assert say.text == first.label("ru")
    assert button_data(say) == [f"a:0:{option.id}" for option in first.options]
    assert button_labels(say) == [option.label("ru") for option in first.options]
    assert (state.stage, state.request_type, state.question, state.answers) == (
        Stage.QUESTION,
        "legal",
        0,
        {},
    )


def test_an_answer_is_kept_and_the_next_question_asked() -> None:
    state = at_stage(Stage.TYPE)
    run(state, button("t:legal"))
    plan = run(state, button("a:0:yes"))
    assert state.answers == {"danger_now": "yes"}
    assert state.question == 1
    assert plan.says[0].text == CATALOGUE.types["legal"].questions[1].label("en")


def test_a_required_question_has_no_skip_button() -> None:
    state = at_stage(Stage.TYPE)
    (say,) = run(state, button("t:leave_service")).says
    assert CATALOGUE.types["leave_service"].questions[0].required
    assert "a:0:" not in button_data(say)
    assert Translator("en")("tg_skip") not in button_labels(say)


def test_an_optional_question_has_a_skip_button() -> None:
    state = at_stage(Stage.QUESTION, request_type="leave_service", question=1)
    state.answers = {"danger_now": "no"}
    (say,) = run(state, button("a:1:front")).says
    optional = CATALOGUE.types["leave_service"].questions[2]
    assert not optional.required
    assert say.text == optional.label("en")
    assert say.buttons[-1] == ((Translator("en")("tg_skip"), "a:2:"),)


def test_skipping_an_optional_question_leaves_it_unanswered() -> None:
    state = at_stage(Stage.QUESTION, request_type="leave_service", question=2)
    state.answers = {"danger_now": "no", "where_now": "front"}
    run(state, button("a:2:"))
    assert state.answers == {"danger_now": "no", "where_now": "front"}
    assert state.stage is Stage.MESSAGE


def test_after_the_last_question_the_bot_asks_for_the_message() -> None:
    state = at_stage(Stage.QUESTION, question=1)
    plan = run(state, button("a:1:criminal"))
    assert [say.text for say in plan.says] == [Translator("en")("tg_ask_message")]
    assert plan.says[0].buttons == ()
    assert state.stage is Stage.MESSAGE
    assert state.answers == {"danger_now": "no", "topic": "criminal"}


def test_a_type_without_questions_of_its_own_asks_the_common_ones_then_for_the_message() -> None:
    state = at_stage(Stage.TYPE)
    run(state, button("t:other"))
    plan = run(state, button("a:0:unsure"))
    assert [say.text for say in plan.says] == [Translator("en")("tg_ask_message")]
    assert state.stage is Stage.MESSAGE


def test_text_while_a_question_is_open_asks_it_again() -> None:
    state = at_stage(Stage.QUESTION, question=1)
    before = state.to_json()
    plan = run(state, text("I will not press buttons"))
    first, again = plan.says
    assert first.text == Translator("en")("tg_answer_first")
    assert again.text == CATALOGUE.types["legal"].questions[1].label("en")
    assert button_data(again)[0] == "a:1:contract"
    assert plan.effect is Effect.NONE
    assert state.to_json() == before


def test_a_photo_while_a_question_is_open_asks_it_again() -> None:
    state = at_stage(Stage.TYPE)
    plan = run(state, photo())
    assert [say.text for say in plan.says] == [
        Translator("en")("tg_answer_first"),
        Translator("en")("tg_choose_type"),
    ]
    assert plan.effect is Effect.NONE


# -- buttons that are no longer open -----------------------------------------------------------------------

CLOSED = [
    pytest.param(Stage.QUESTION, 1, "t:legal", id="a type button once the questions began"),
    pytest.param(Stage.QUESTION, 1, "a:0:yes", id="an answer to an earlier question"),
    pytest.param(Stage.QUESTION, 1, "a:2:criminal", id="an answer to a later question"),
    pytest.param(Stage.QUESTION, 1, "a:1:no-such-option", id="an option the question does not offer"),
    pytest.param(Stage.QUESTION, 0, "a:0:", id="a skip of a required question"),
    pytest.param(Stage.QUESTION, 1, "a:x:criminal", id="a question index that is not a number"),
    pytest.param(Stage.TYPE, 0, "t:no-such-type", id="a type that does not exist"),
    pytest.param(Stage.TYPE, 0, "a:0:yes", id="an answer before a type was chosen"),
    pytest.param(Stage.LANGUAGE, 0, "l:de", id="a language the bot does not speak"),
    pytest.param(Stage.MESSAGE, 2, "a:1:criminal", id="an answer once the questions are over"),
    pytest.param(Stage.CASE, 2, "t:legal", id="a type button once the case exists"),
    pytest.param(Stage.CASE, 2, "a:0:yes", id="an answer once the case exists"),
    pytest.param(Stage.QUESTION, 1, "safe:yes", id="data the bot never sends"),
    pytest.param(Stage.QUESTION, 1, "", id="no data"),
    pytest.param(Stage.QUESTION, 1, "x" * 64, id="long data"),
]


@pytest.mark.parametrize(("stage", "question", "data"), CLOSED)
def test_a_stale_or_forged_button_says_the_choice_is_closed_and_changes_nothing(
    stage: Stage, question: int, data: str
) -> None:
    state = at_stage(stage, language="uk", question=question)
    before = state.to_json()
    plan = run(state, button(data))
    assert plan.toast == Translator("uk")("tg_choice_closed")
    assert plan.says == []
    assert plan.effect is Effect.NONE
    assert state.to_json() == before


def test_an_open_button_gets_no_toast() -> None:
    state = at_stage(Stage.TYPE)
    assert run(state, button("t:legal")).toast == ""


# -- the first message and every message after it ------------------------------------------------------


@pytest.mark.parametrize("incoming", [text("I need help"), photo("a caption"), photo()])
def test_the_first_message_makes_the_case(incoming: Incoming) -> None:
    state = at_stage(Stage.MESSAGE)
    plan = run(state, incoming)
    assert (plan.effect, plan.says) == (Effect.SUBMIT, [])


@pytest.mark.parametrize("incoming", [text("one more thing"), photo("a caption"), photo()])
def test_a_message_from_a_chat_with_a_case_joins_it(incoming: Incoming) -> None:
    state = at_stage(Stage.CASE)
    plan = run(state, incoming)
    assert (plan.effect, plan.says) == (Effect.FOLLOW_UP, [])


@pytest.mark.parametrize("stage", list(Stage))
def test_a_receipt_typed_at_any_stage_attaches_the_chat(stage: Stage) -> None:
    state = at_stage(stage)
    before = state.to_json()
    plan = run(state, text(receipts.new_receipt()))
    assert (plan.effect, plan.says) == (Effect.ATTACH, [])
    assert state.to_json() == before


@pytest.mark.parametrize("stage", list(Stage))
def test_a_receipt_typed_with_capitals_and_dashes_still_attaches(stage: Stage) -> None:
    typed = receipts.new_receipt().upper().replace(" ", "-")
    assert run(at_stage(stage), text(typed)).effect is Effect.ATTACH


def test_seven_words_not_all_on_the_list_are_a_message_not_a_receipt() -> None:
    plan = run(at_stage(Stage.CASE), text("please help me get out of here"))
    assert plan.effect is Effect.FOLLOW_UP


def test_a_receipt_as_a_photo_caption_is_a_message() -> None:
    plan = run(at_stage(Stage.CASE), photo(receipts.new_receipt()))
    assert plan.effect is Effect.FOLLOW_UP


# -- commands ------------------------------------------------------------------------------------------


def test_start_on_a_chat_with_a_case_does_not_begin_again() -> None:
    state = at_stage(Stage.CASE, language="ru")
    before = state.to_json()
    plan = run(state, command("start"))
    assert [say.text for say in plan.says] == [Translator("ru")("tg_already_case")]
    assert plan.effect is Effect.NONE
    assert state.to_json() == before


@pytest.mark.parametrize("stage", [Stage.TYPE, Stage.QUESTION, Stage.MESSAGE])
def test_start_before_the_case_begins_again_keeping_the_language(stage: Stage) -> None:
    state = at_stage(stage, language="uk", question=1)
    state.remember(11, 1_767_261_600)
    plan = run(state, command("start"))
    assert plan.says[0].text == Translator("uk")("tg_welcome", org=ORG)
    assert (state.stage, state.request_type, state.answers, state.question) == (Stage.LANGUAGE, "", {}, 0)
    assert state.language == "uk"
    assert state.trail == [(11, 1_767_261_600)]


@pytest.mark.parametrize("stage", list(Stage))
def test_erase_asks_to_delete_the_conversation_at_any_stage(stage: Stage) -> None:
    state = at_stage(stage)
    before = state.to_json()
    plan = run(state, command("erase"))
    assert (plan.effect, plan.says) == (Effect.ERASE, [])
    assert state.to_json() == before


@pytest.mark.parametrize("stage", [Stage.LANGUAGE, Stage.TYPE, Stage.QUESTION, Stage.MESSAGE])
def test_status_before_a_case_says_there_is_none(stage: Stage) -> None:
    plan = run(at_stage(stage, language="ru"), command("status"))
    assert [say.text for say in plan.says] == [Translator("ru")("tg_no_case")]
    assert plan.effect is Effect.NONE


def test_status_of_a_chat_with_a_case_asks_for_its_state() -> None:
    plan = run(at_stage(Stage.CASE), command("status"))
    assert (plan.effect, plan.says) == (Effect.STATUS, [])


@pytest.mark.parametrize("name", ["help", "settings", "no_such_command", ""])
def test_help_and_any_unknown_command_list_the_commands(name: str) -> None:
    state = at_stage(Stage.QUESTION, language="uk", question=1)
    before = state.to_json()
    plan = run(state, command(name))
    assert [say.text for say in plan.says] == [Translator("uk")("tg_help")]
    assert state.to_json() == before


# -- what the bot cannot take ----------------------------------------------------------------------------


@pytest.mark.parametrize("stage", list(Stage))
def test_an_edited_message_says_edits_do_not_reach_us(stage: Stage) -> None:
    state = at_stage(stage, language="ru")
    before = state.to_json()
    plan = run(state, Incoming(Kind.EDITED, chat_id=CHAT))
    assert [say.text for say in plan.says] == [Translator("ru")("tg_edited")]
    assert plan.effect is Effect.NONE
    assert state.to_json() == before


@pytest.mark.parametrize("stage", list(Stage))
def test_a_sticker_says_what_the_bot_takes(stage: Stage) -> None:
    state = at_stage(stage, language="uk")
    plan = run(state, Incoming(Kind.UNSUPPORTED, chat_id=CHAT, message_id=17))
    assert [say.text for say in plan.says] == [Translator("uk")("tg_unsupported")]
    assert plan.effect is Effect.NONE
