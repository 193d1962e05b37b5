"""The bot's side of a conversation, as a plain function of the chat's state and what just came in.

/start -> a language -> a request type -> the questionnaire of that type, one question at a time (the same
definition as the web form) -> a first message, which becomes the case. After that every message joins the
case. Nothing here touches the store or Telegram: `decide` returns what to say and what to do, and
bot.py does it (and says the things that depend on how that went: the receipt, a refusal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from haven.channels.outbox import Buttons
from haven.channels.telegram.chat_state import ChatState, Stage
from haven.channels.telegram.incoming import Incoming, Kind
from haven.crypto import receipts
from haven.i18n import LANGUAGES, NATIVE_NAMES, Translator
from haven.intake.questionnaires import Catalogue, Question


class Effect(StrEnum):
    NONE = "none"
    SUBMIT = "submit"  # the first message: make the case from the state's answers
    FOLLOW_UP = "follow_up"  # a message to the chat's case
    ATTACH = "attach"  # a receipt was sent: attach this chat to its case
    ERASE = "erase"  # delete the whole conversation from the phone
    STATUS = "status"  # say the case's state
    FEEDBACK = "feedback"  # the answer to "Did we help?" (the button's data says which)


@dataclass(frozen=True)
class Say:
    text: str
    buttons: Buttons = ()
    # Tried again if Telegram fails for a moment: the receipt, which exists nowhere else.
    must_arrive: bool = False


@dataclass
class Plan:
    says: list[Say] = field(default_factory=list)
    effect: Effect = Effect.NONE
    # The answer to a pressed button (a short notice Telegram shows, or nothing).
    toast: str = ""


def decide(state: ChatState, incoming: Incoming, *, catalogue: Catalogue, org: str) -> Plan:
    """What to say and do for this update; changes `state` in place (the caller stores it only if it did
    what the plan says)."""
    fresh = state.stage is Stage.LANGUAGE and not state.language
    if not state.language and incoming.language_hint:
        state.language = incoming.language_hint
    t = Translator(state.language)
    linked = state.stage is Stage.CASE
    if incoming.kind is Kind.COMMAND:
        return _command(state, incoming.text, catalogue=catalogue, org=org)
    if incoming.kind is Kind.BUTTON:
        return _button(state, incoming.data, catalogue=catalogue)
    if incoming.kind is Kind.EDITED:
        return Plan([Say(t("tg_edited"))])
    if incoming.kind is Kind.UNSUPPORTED:
        return Plan([Say(t("tg_unsupported"))])
    if incoming.kind is Kind.TEXT and receipts.normalise(incoming.text) is not None:
        return Plan(effect=Effect.ATTACH)
    if linked:
        return Plan(effect=Effect.FOLLOW_UP)
    if state.stage is Stage.MESSAGE:
        return Plan(effect=Effect.SUBMIT)
    if fresh:
        # Someone wrote before pressing /start: begin, rather than ask them to press buttons not there.
        return _start(state, org=org)
    return Plan([Say(t("tg_answer_first")), _ask(state, catalogue)])


def _command(state: ChatState, name: str, *, catalogue: Catalogue, org: str) -> Plan:
    t = Translator(state.language)
    linked = state.stage is Stage.CASE
    if name == "start":
        return Plan([Say(t("tg_already_case"))]) if linked else _start(state, org=org)
    if name == "language":
        return Plan([_language_question()])
    if name == "status":
        return Plan(effect=Effect.STATUS) if linked else Plan([Say(t("tg_no_case"))])
    if name == "erase":
        return Plan(effect=Effect.ERASE)
    return Plan([Say(t("tg_help"))])


def _start(state: ChatState, *, org: str) -> Plan:
    state.restart()
    welcome = Translator(state.language)("tg_welcome", org=org)
    return Plan([Say(welcome), _language_question()])


def _button(state: ChatState, data: str, *, catalogue: Catalogue) -> Plan:
    kind, _, value = data.partition(":")
    closed = Plan(toast=Translator(state.language)("tg_choice_closed"))
    if kind == "f" and value in ("yes", "no") and state.stage is Stage.CASE:
        return Plan(effect=Effect.FEEDBACK)
    if kind == "l" and value in LANGUAGES:
        state.language = value
        t = Translator(value)
        if state.stage is Stage.LANGUAGE:
            state.stage = Stage.TYPE
            return Plan([_ask(state, catalogue)])
        return Plan([Say(t("tg_language_set"))])
    if kind == "t" and state.stage is Stage.TYPE and value in catalogue.types:
        state.request_type, state.answers, state.question = value, {}, 0
        state.stage = Stage.QUESTION
        return _next_question(state, catalogue)
    if kind == "a" and state.stage is Stage.QUESTION:
        index, _, option = value.partition(":")
        question = _current(state, catalogue)
        if question is None or index != str(state.question):
            return closed
        if option:
            if question.option(option) is None:
                return closed
            state.answers[question.id] = option
        elif question.required:
            return closed
        state.question += 1
        return _next_question(state, catalogue)
    return closed


def _next_question(state: ChatState, catalogue: Catalogue) -> Plan:
    if _current(state, catalogue) is None:
        state.stage = Stage.MESSAGE
    return Plan([_ask(state, catalogue)])


def _current(state: ChatState, catalogue: Catalogue) -> Question | None:
    kind = catalogue.types.get(state.request_type)
    if kind is None or state.question >= len(kind.questions):
        return None
    return kind.questions[state.question]


def _ask(state: ChatState, catalogue: Catalogue) -> Say:
    """The question the chat is at, with its buttons."""
    t = Translator(state.language)
    language = t.language
    if state.stage is Stage.LANGUAGE:
        return _language_question()
    if state.stage is Stage.TYPE:
        rows = tuple(((kind.label(language), f"t:{kind.id}"),) for kind in catalogue.types.values())
        return Say(t("tg_choose_type"), rows)
    question = _current(state, catalogue)
    if state.stage is Stage.QUESTION and question is not None:
        rows = tuple(((o.label(language), f"a:{state.question}:{o.id}"),) for o in question.options)
        if not question.required:
            rows += (((t("tg_skip"), f"a:{state.question}:"),),)
        return Say(question.label(language), rows)
    return Say(t("tg_ask_message"))


def _language_question() -> Say:
    row = tuple((NATIVE_NAMES[language], f"l:{language}") for language in LANGUAGES)
    return Say(Translator("en")("tg_choose_language"), (row,))
