"""The closing question, "Did we help?": asked once a case ends as completed, withdrawn or no contact, on the
requester's conversation page and in their Telegram chat; answered once, yes or no with an optional comment,
sealed in the case (intake/feedback.py, channels/replies.py `ask_whether_we_helped`).

Tests that follow the running server's outbox thread wait for it with a short deadline.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from haven.app import create_app
from haven.cases.models import Case
from haven.cases.records import OpenedRecord, RecordKind
from haven.cases.services import open_for_operator
from haven.channels import replies
from haven.channels.models import DeliveryState
from haven.config import Settings
from haven.db import Database
from haven.i18n import Translator
from haven.intake import feedback
from haven.intake.services import IntakeError
from haven.runtime import Runtime
from tests.conftest import PROBLEM, Org, Person, api_login, make_organisation
from tests.fake_bot_api import FakeBotApi
from tests.functional.seizure_scan import files_under, scan
from tests.functional.telegram_chat import TelegramChat, eventually, make_request, open_chat
from tests.functional.test_procedure_steps import (
    ANSWERS,
    Desk,
    as_requester,
    case_of,
    desk,
    path_to,
    procedure_of,
    rows_holding,
)

T = TypeVar("T")
EN, RU = Translator("en"), Translator("ru")
COMMENT = "The lawyer was kind. marker-feedback-comment-6613"


# -- the requester on the web, the operator on the API -------------------------------------------------------


def request(client: TestClient, *, language: str = "en", message: str = "Please help") -> str:
    """A web request of the type "other" (general_request); returns its receipt."""
    response = client.post(
        "/api/v1/requests",
        json={"type": "other", "language": language, "answers": ANSWERS["other"], "message": message},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["receipt"])


def end(olena: Desk, case_id: str, outcome: str = "withdrawn") -> dict[str, Any]:
    moved = olena.move(case_id, outcome)
    assert moved.status_code == 200, moved.text
    answer: dict[str, Any] = moved.json()
    return answer


def asked(client: TestClient, receipt: str) -> bool:
    response = client.get("/api/v1/requests/me", headers=as_requester(receipt))
    assert response.status_code == 200, response.text
    return bool(response.json()["feedback_wanted"])


def open_thread(client: TestClient, receipt: str, lang: str = "en") -> str:
    """The requester's conversation page, opened with their receipt as they would come back to it."""
    client.cookies.clear()
    returned = client.post(f"/{lang}/return", data={"receipt": receipt}, follow_redirects=False)
    assert returned.status_code == 303, returned.text
    page = client.get(f"/{lang}/thread")
    assert page.status_code == 200, page.text
    return page.text


def csrf_in(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def answer_on_page(client: TestClient, page: str, lang: str = "en", **form: str) -> httpx.Response:
    return client.post(
        f"/{lang}/thread/feedback", data={"csrf_token": csrf_in(page), **form}, follow_redirects=False
    )


def feedback_records(runtime: Runtime, operator: Person, case_id: str) -> list[OpenedRecord]:
    """The answers stored in the case, as an operator of its team opens them."""
    view = open_for_operator(db=runtime.db, operator=operator.unlocked, case_id=case_id)
    return [r for r in view.records if r.kind is RecordKind.FEEDBACK]


def has_question(html: str, t: Translator = EN) -> bool:
    return 'id="feedback"' in html and t("feedback_question") in html


@pytest.fixture
def olena(app: FastAPI, org: Org) -> Desk:
    return desk(app, org.intake)


@pytest.fixture
def receipt(client: TestClient, org: Org) -> str:
    return request(client)


@pytest.fixture
def case_id(runtime: Runtime, receipt: str) -> str:
    return case_of(runtime, receipt)


@pytest.fixture
def ended(olena: Desk, case_id: str) -> str:
    """The case, withdrawn by the operator (an early ending: no checklist needed)."""
    end(olena, case_id, "withdrawn")
    return case_id


# -- when the question is asked ------------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["withdrawn", "no_contact"])
def test_a_case_ended_early_asks_its_requester_whether_we_helped(
    client: TestClient, olena: Desk, receipt: str, case_id: str, outcome: str
) -> None:
    assert asked(client, receipt) is False

    end(olena, case_id, outcome)

    assert asked(client, receipt) is True


def test_an_open_case_does_not_ask_and_refuses_an_answer(
    client: TestClient, runtime: Runtime, org: Org, receipt: str, case_id: str
) -> None:
    assert asked(client, receipt) is False
    assert not has_question(open_thread(client, receipt))

    response = client.post(
        "/api/v1/requests/me/feedback", json={"helped": True}, headers=as_requester(receipt)
    )

    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["detail"] == EN("feedback_not_asked")
    assert feedback_records(runtime, org.intake, case_id) == []


def test_a_case_ended_as_a_provocation_does_not_ask(
    client: TestClient, runtime: Runtime, org: Org, olena: Desk, receipt: str, case_id: str
) -> None:
    end(olena, case_id, "rejected_provocation")

    assert asked(client, receipt) is False
    assert not has_question(open_thread(client, receipt))
    refused = client.post(
        "/api/v1/requests/me/feedback", json={"helped": False}, headers=as_requester(receipt)
    )
    assert refused.status_code == 409, refused.text
    assert feedback_records(runtime, org.intake, case_id) == []


def test_a_case_completed_after_its_checklists_are_done_asks(
    client: TestClient, runtime: Runtime, olena: Desk, receipt: str, case_id: str
) -> None:
    procedure = procedure_of(runtime, "other")

    olena.walk(procedure, case_id, *path_to(procedure, "completed"))

    assert olena.opened(case_id)["step"] == "completed"
    assert asked(client, receipt) is True


def test_a_requester_writing_again_reopens_the_case_and_is_no_longer_asked(
    client: TestClient, olena: Desk, receipt: str, ended: str
) -> None:
    assert has_question(open_thread(client, receipt))

    wrote = client.post(
        "/api/v1/requests/me/messages", json={"message": "I need help again"}, headers=as_requester(receipt)
    )

    assert wrote.status_code == 201, wrote.text
    assert olena.opened(ended)["state"] == "in_progress"
    assert asked(client, receipt) is False
    assert not has_question(open_thread(client, receipt))


def test_a_case_reopened_by_its_requester_and_ended_again_asks_again(
    client: TestClient, olena: Desk, receipt: str, ended: str
) -> None:
    wrote = client.post(
        "/api/v1/requests/me/messages", json={"message": "One more thing"}, headers=as_requester(receipt)
    )
    assert wrote.status_code == 201, wrote.text

    end(olena, ended, "withdrawn")

    assert olena.opened(ended)["state"] == "closed"
    assert asked(client, receipt) is True


# -- the question on the conversation page -------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_conversation_page_asks_in_the_requesters_language(
    client: TestClient, runtime: Runtime, org: Org, olena: Desk, lang: str
) -> None:
    receipt = request(client, language=lang)
    end(olena, case_of(runtime, receipt))
    t = Translator(lang)

    page = open_thread(client, receipt, lang)

    assert has_question(page, t)
    assert f'name="helped" value="yes" class="button primary">{t("feedback_yes")}</button>' in page
    assert f'name="helped" value="no" class="button secondary">{t("feedback_no")}</button>' in page
    assert t("feedback_comment_label") in page
    if lang == "ru":
        assert EN("feedback_question") not in page


def test_answering_yes_on_the_page_says_thanks_and_stops_asking(
    client: TestClient, receipt: str, ended: str
) -> None:
    page = open_thread(client, receipt)

    answered = answer_on_page(client, page, helped="yes", comment=COMMENT)

    assert answered.status_code == 303, answered.text
    assert answered.headers["location"] == "/en/thread?answered=1"
    after = client.get(answered.headers["location"])
    assert after.status_code == 200
    assert 'id="feedback-thanks"' in after.text
    assert EN("feedback_thanks") in after.text
    assert not has_question(after.text)
    assert asked(client, receipt) is False


def test_an_answer_on_the_page_is_stored_for_the_team_with_its_comment(
    client: TestClient, runtime: Runtime, org: Org, receipt: str, ended: str
) -> None:
    answer_on_page(client, open_thread(client, receipt), helped="yes", comment=f"  {COMMENT}  ")

    [record] = feedback_records(runtime, org.intake, ended)

    assert record.content == {"helped": True, "comment": COMMENT}
    assert record.author_id is None


def test_the_answers_comment_is_stored_sealed_never_in_the_clear(
    client: TestClient, runtime: Runtime, org: Org, receipt: str, ended: str
) -> None:
    answered = answer_on_page(client, open_thread(client, receipt), helped="yes", comment=COMMENT)
    assert answered.status_code == 303, answered.text
    assert len(feedback_records(runtime, org.intake, ended)) == 1

    assert rows_holding(runtime.db, "marker-feedback-comment-6613") == []
    if runtime.db.is_sqlite:
        assert scan(files_under(runtime.settings.data_dir), ["marker-feedback-comment-6613"]) == []


def test_answering_again_on_the_page_is_a_400_saying_the_question_is_closed(
    client: TestClient, runtime: Runtime, org: Org, receipt: str, ended: str
) -> None:
    page = open_thread(client, receipt)
    assert answer_on_page(client, page, helped="yes").status_code == 303

    again = answer_on_page(client, page, helped="no", comment="changed my mind")

    assert again.status_code == 400, again.text
    assert again.headers["content-type"].startswith("text/html")
    assert EN("feedback_not_asked") in again.text
    assert [r.content["helped"] for r in feedback_records(runtime, org.intake, ended)] == [True]


def test_an_answer_without_yes_or_no_is_a_400_page_keeping_the_form_and_the_comment(
    client: TestClient, runtime: Runtime, org: Org, receipt: str, ended: str
) -> None:
    refused = answer_on_page(client, open_thread(client, receipt), comment=COMMENT)

    assert refused.status_code == 400, refused.text
    assert EN("feedback_choose") in refused.text
    assert has_question(refused.text)
    assert f">{COMMENT}</textarea>" in refused.text
    assert feedback_records(runtime, org.intake, ended) == []
    assert asked(client, receipt) is True


def test_a_comment_over_the_limit_on_the_page_is_a_400_keeping_the_form(
    client: TestClient, runtime: Runtime, org: Org, receipt: str, ended: str
) -> None:
    refused = answer_on_page(client, open_thread(client, receipt), helped="no", comment="x" * 2001)

    assert refused.status_code == 400, refused.text
    assert EN("feedback_too_long") in refused.text
    assert has_question(refused.text)
    assert feedback_records(runtime, org.intake, ended) == []


def test_an_answer_on_the_page_without_the_forms_token_is_403_and_stores_nothing(
    client: TestClient, runtime: Runtime, org: Org, receipt: str, ended: str
) -> None:
    open_thread(client, receipt)

    refused = client.post("/en/thread/feedback", data={"helped": "yes", "csrf_token": "forged"})

    assert refused.status_code == 403, refused.text
    assert feedback_records(runtime, org.intake, ended) == []


# -- the answer over the API ---------------------------------------------------------------------------------


def test_an_answer_over_the_api_is_stored_once_and_then_refused_as_not_asking(
    client: TestClient, runtime: Runtime, org: Org, receipt: str, ended: str
) -> None:
    first = client.post(
        "/api/v1/requests/me/feedback",
        json={"helped": False, "comment": COMMENT},
        headers=as_requester(receipt),
    )
    assert first.status_code == 201, first.text

    again = client.post("/api/v1/requests/me/feedback", json={"helped": True}, headers=as_requester(receipt))

    assert again.status_code == 409, again.text
    assert again.json()["detail"] == EN("feedback_not_asked")
    [record] = feedback_records(runtime, org.intake, ended)
    assert record.content == {"helped": False, "comment": COMMENT}
    assert asked(client, receipt) is False


def test_two_answers_at_the_same_moment_store_one_and_refuse_the_other(
    runtime: Runtime, org: Org, ended: str
) -> None:
    refused: list[str] = []

    def answer(helped: bool) -> None:
        try:
            feedback.record_answer(db=runtime.db, case_id=ended, helped=helped)
        except IntakeError as exc:
            refused.append(exc.reason)

    answering = [threading.Thread(target=answer, args=(helped,)) for helped in (True, False)]
    with runtime.db.write() as s:
        # Both answers come while the case is locked (a double tap): the second to take the lock must find
        # the first answer, whatever either read before taking it.
        s.get(Case, ended, with_for_update=True)
        for thread in answering:
            thread.start()
        time.sleep(0.5)
    for thread in answering:
        thread.join(timeout=30)

    assert refused == ["feedback_not_asked"]
    assert len(feedback_records(runtime, org.intake, ended)) == 1


# -- the question in Telegram --------------------------------------------------------------------------------


@pytest.fixture
def telegram_org(telegram_runtime: Runtime) -> Org:
    return make_organisation(telegram_runtime)


@pytest.fixture
def chat(telegram_client: TestClient, bot_api: FakeBotApi, telegram_org: Org) -> TelegramChat:
    return open_chat(telegram_client, bot_api, language="ru")


@pytest.fixture
def chat_receipt(chat: TelegramChat) -> str:
    """A request made in the chat, in Russian."""
    return make_request(chat, language="ru", message="Помогите, marker-telegram-request")


@pytest.fixture
def chat_case(telegram_runtime: Runtime, chat_receipt: str) -> str:
    return case_of(telegram_runtime, chat_receipt)


@pytest.fixture
def tg_olena(telegram_app: FastAPI, telegram_org: Org) -> Desk:
    return desk(telegram_app, telegram_org.intake)


def question_on_phone(chat: TelegramChat) -> bool:
    return RU("feedback_question") in chat.bot_texts()


def delivery_of_question(runtime: Runtime, case_id: str) -> replies.DeliveryInfo | None:
    found = list(replies.deliveries(db=runtime.db, case_id=case_id).values())
    assert len(found) <= 1, found
    return found[0] if found else None


def _sends_of_question(api: FakeBotApi) -> int:
    return sum(1 for call in api.calls_of("sendMessage") if call.get("text") == RU("feedback_question"))


def delivery_in(runtime: Runtime, case_id: str, state: DeliveryState) -> replies.DeliveryInfo | None:
    """The question's delivery once it is in `state`, else None."""
    delivery = delivery_of_question(runtime, case_id)
    return delivery if delivery is not None and delivery.state is state else None


def answered_taps(api: FakeBotApi) -> list[str]:
    """The notices given for each button pressed (the text of every answerCallbackQuery)."""
    return [str(call.get("text") or "") for call in api.calls_of("answerCallbackQuery")]


def test_ending_a_telegram_case_sends_the_question_with_yes_and_no_buttons_in_the_chats_language(
    tg_olena: Desk, chat: TelegramChat, chat_case: str
) -> None:
    answer = end(tg_olena, chat_case)

    assert "asked" in answer
    eventually(lambda: question_on_phone(chat), "the question on the phone")
    question = chat.last_from_bot()
    assert question.text == RU("feedback_question")
    assert [(b["text"], b["callback_data"]) for b in question.buttons] == [
        (RU("feedback_yes"), "f:yes"),
        (RU("feedback_no"), "f:no"),
    ]


def test_the_questions_delivery_shows_as_sent_in_the_case(
    telegram_runtime: Runtime, tg_olena: Desk, chat: TelegramChat, chat_case: str
) -> None:
    end(tg_olena, chat_case)

    eventually(lambda: delivery_in(telegram_runtime, chat_case, DeliveryState.SENT), "the delivery sent")

    [item] = [i for i in tg_olena.opened(chat_case)["thread"] if i["text"] == RU("feedback_question")]
    assert (item["kind"], item["delivery"]) == ("outbound", "sent")


def test_tapping_yes_stores_the_answer_and_thanks_the_requester(
    telegram_runtime: Runtime, telegram_org: Org, tg_olena: Desk, chat: TelegramChat, chat_case: str
) -> None:
    end(tg_olena, chat_case)
    eventually(lambda: question_on_phone(chat), "the question on the phone")

    chat.taps("f:yes")

    [record] = feedback_records(telegram_runtime, telegram_org.intake, chat_case)
    assert record.content == {"helped": True, "comment": ""}
    assert chat.last_from_bot().text == RU("tg_feedback_thanks")


def test_tapping_no_stores_that_we_did_not_help(
    telegram_runtime: Runtime, telegram_org: Org, tg_olena: Desk, chat: TelegramChat, chat_case: str
) -> None:
    end(tg_olena, chat_case)
    eventually(lambda: question_on_phone(chat), "the question on the phone")

    chat.taps("f:no")

    [record] = feedback_records(telegram_runtime, telegram_org.intake, chat_case)
    assert record.content["helped"] is False


def test_tapping_again_says_the_choice_is_closed_and_stores_nothing_more(
    telegram_runtime: Runtime,
    telegram_org: Org,
    bot_api: FakeBotApi,
    tg_olena: Desk,
    chat: TelegramChat,
    chat_case: str,
) -> None:
    end(tg_olena, chat_case)
    eventually(lambda: question_on_phone(chat), "the question on the phone")
    chat.taps("f:yes")

    chat.taps("f:no")

    assert answered_taps(bot_api)[-1] == RU("tg_choice_closed")
    [record] = feedback_records(telegram_runtime, telegram_org.intake, chat_case)
    assert record.content["helped"] is True


def test_a_forged_tap_on_an_open_case_stores_nothing(
    telegram_runtime: Runtime, telegram_org: Org, chat: TelegramChat, chat_case: str
) -> None:
    keyboard = next(m for m in reversed(chat.phone) if m.from_bot and m.buttons)
    forged = chat.user.taps(keyboard.buttons[0]["callback_data"], on_message_id=keyboard.message_id)
    forged["callback_query"]["data"] = "f:yes"

    chat.post(forged)

    assert feedback_records(telegram_runtime, telegram_org.intake, chat_case) == []
    assert RU("tg_feedback_thanks") not in chat.bot_texts()


def test_a_telegram_case_ended_as_a_provocation_sends_no_question(
    telegram_runtime: Runtime, bot_api: FakeBotApi, tg_olena: Desk, chat: TelegramChat, chat_case: str
) -> None:
    sent_before = len(bot_api.calls_of("sendMessage"))

    answer = end(tg_olena, chat_case, "rejected_provocation")

    assert "asked" not in answer
    assert delivery_of_question(telegram_runtime, chat_case) is None
    assert len(bot_api.calls_of("sendMessage")) == sent_before


def test_saving_an_ended_case_again_does_not_ask_a_second_time(
    telegram_runtime: Runtime, bot_api: FakeBotApi, tg_olena: Desk, chat: TelegramChat, chat_case: str
) -> None:
    end(tg_olena, chat_case)
    eventually(lambda: question_on_phone(chat), "the question on the phone")
    chat.taps("f:yes")

    again = end(tg_olena, chat_case)

    assert "asked" not in again
    questions = [i for i in tg_olena.opened(chat_case)["thread"] if i["text"] == RU("feedback_question")]
    assert len(questions) == 1
    assert len(replies.deliveries(db=telegram_runtime.db, case_id=chat_case)) == 1
    assert _sends_of_question(bot_api) == 1


@contextmanager
def restarted(settings: Settings) -> Iterator[tuple[Runtime, TestClient]]:
    """A new server on the same settings and store, its outbox empty, its threads running."""
    application = create_app(settings, db=Database.from_url(settings.resolved_database_url))
    try:
        with TestClient(application, base_url="https://testserver") as client:
            yield application.state.runtime, client
    finally:
        application.state.runtime.close()


def test_a_question_pending_at_a_restart_is_sent_again_with_its_buttons(
    telegram_client: TestClient,
    telegram_runtime: Runtime,
    telegram_settings: Settings,
    telegram_org: Org,
    bot_api: FakeBotApi,
    chat: TelegramChat,
    chat_case: str,
) -> None:
    bot_api.fail_next("sendMessage", times=2, kind="server_error")
    headers = api_login(telegram_client, telegram_org.intake)
    moved = telegram_client.post(
        f"/api/v1/cases/{chat_case}/step", json={"step": "withdrawn"}, headers=headers
    )
    assert moved.status_code == 200, moved.text
    eventually(lambda: delivery_in(telegram_runtime, chat_case, DeliveryState.RETRYING), "retrying")
    telegram_runtime.close()
    assert not question_on_phone(chat)

    with restarted(telegram_settings) as (runtime, client):
        api_login(client, telegram_org.intake, steps_ahead=1)
        eventually(lambda: question_on_phone(chat), "the question on the phone after the restart")
        delivery = eventually(lambda: delivery_in(runtime, chat_case, DeliveryState.SENT), "sent")

    question = chat.last_from_bot()
    assert question.text == RU("feedback_question")
    assert [b["callback_data"] for b in question.buttons] == ["f:yes", "f:no"]
    assert chat.bot_texts().count(RU("feedback_question")) == 1
    assert delivery.attempts >= 2
