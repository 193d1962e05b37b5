"""The requester's side of the Telegram bot, through the webhook as Telegram delivers updates, against the
fake Bot API (tests/fake_bot_api.py), which keeps what the requester's phone shows.

What the requester reads is checked against the locale catalogue in their language; what they sent is
checked on the desk, as the intake operator opens the case."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from haven.channels.telegram.bot import TelegramBot
from haven.channels.telegram.chat_keys import ChatKeyCache
from haven.config import Settings
from haven.crypto import receipts
from haven.crypto.kdf import KdfParams
from haven.db import Database
from haven.i18n import LANGUAGES, Translator
from haven.intake.questionnaires import default_catalogue
from haven.intake.services import ReceivingTeam
from haven.runtime import Runtime
from haven.security.ratelimit import RateLimiter
from tests.conftest import Person, api_login, make_organisation
from tests.fake_bot_api import FakeBotApi
from tests.functional.photos import PDF_AS_JPG, jpeg_with_gps
from tests.functional.telegram_chat import TelegramChat, bot_server, make_request, open_chat, receipt_in

CATALOGUE = default_catalogue()
FIXTURES = Path(__file__).parents[1] / "fixtures" / "telegram"
MARKER = "marker-q7-photo-exif"
VOICE = b"OggS\x00\x02" + bytes(range(256)) * 4
PDF = PDF_AS_JPG
HOUR = 3600


@dataclass
class Desk:
    """The intake operator's view of the cases, over the API."""

    client: TestClient
    headers: dict[str, str]

    def case_ids(self) -> list[str]:
        return [case["id"] for case in self.client.get("/api/v1/cases").json()]

    def only_case_id(self) -> str:
        (case_id,) = self.case_ids()
        return case_id

    def case(self, case_id: str) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/cases/{case_id}")
        assert response.status_code == 200, response.text
        case: dict[str, Any] = response.json()
        return case

    def inbound(self, case_id: str) -> list[dict[str, Any]]:
        return [record for record in self.case(case_id)["thread"] if record["kind"] == "inbound"]

    def file(self, case_id: str, file_id: str) -> bytes:
        response = self.client.get(f"/api/v1/cases/{case_id}/files/{file_id}")
        assert response.status_code == 200, response.text
        return response.content

    def move(self, case_id: str, state: str) -> None:
        response = self.client.post(
            f"/api/v1/cases/{case_id}/state", json={"state": state}, headers=self.headers
        )
        assert response.status_code == 200, response.text


def desk_of(client: TestClient, person: Person) -> Desk:
    return Desk(client, api_login(client, person))


@pytest.fixture
def desk(telegram_client: TestClient, telegram_runtime: Runtime) -> Desk:
    return desk_of(telegram_client, make_organisation(telegram_runtime).intake)


@pytest.fixture
def linked(telegram_client: TestClient, bot_api: FakeBotApi, desk: Desk) -> TelegramChat:
    """A requester writing in Ukrainian whose chat already has a case."""
    chat = open_chat(telegram_client, bot_api, language="uk")
    make_request(chat, language="uk", message="marker-text-first message")
    return chat


def huge_text() -> str:
    update = json.loads((FIXTURES / "huge_text.json").read_text(encoding="utf-8"))
    text: str = update["message"]["text"]
    return text


# -- the whole first conversation -------------------------------------------------------------------------

CHOICES = {
    "ru": ("leave_service", {"danger_now": "yes", "where_now": "front"}),  # the optional "goal" skipped
    "uk": ("relative", {"danger_now": "no", "relation": "child", "their_situation": "missing"}),
    "en": ("legal", {"danger_now": "unsure", "topic": "criminal"}),
}


def converse(chat: TelegramChat, language: str, message: str, org: str) -> str:
    """/start, the language, the type of CHOICES[language] and every question, the message; checks each
    thing the bot says on the way. Returns the receipt."""
    t = Translator(language)
    request_type, answers = CHOICES[language]
    chat.says("/start")
    assert chat.bot_texts() == [t("tg_welcome", org=org), Translator("en")("tg_choose_language")]
    chat.taps(f"l:{language}")
    assert chat.last_from_bot().text == t("tg_choose_type")
    assert [b["text"] for b in chat.last_from_bot().buttons] == [
        kind.label(language) for kind in CATALOGUE.types.values()
    ]
    chat.taps(f"t:{request_type}")
    for index, question in enumerate(CATALOGUE.types[request_type].questions):
        asked = chat.last_from_bot()
        assert asked.text == question.label(language)
        skip = [] if question.required else [t("tg_skip")]
        assert [b["text"] for b in asked.buttons] == [o.label(language) for o in question.options] + skip
        chat.taps(f"a:{index}:{answers.get(question.id, '')}")
    assert chat.last_from_bot().text == t("tg_ask_message")
    chat.says(message)
    received, auto_delete = chat.bot_texts()[-2:]
    receipt = receipt_in([received])
    assert received == t("tg_received", receipt=receipt)
    assert auto_delete == t("tg_auto_delete", hours=24)
    return receipt


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_whole_request_in_telegram_speaks_the_requesters_language_and_becomes_a_case(
    telegram_client: TestClient,
    telegram_settings: Settings,
    bot_api: FakeBotApi,
    desk: Desk,
    language: str,
) -> None:
    chat = open_chat(telegram_client, bot_api, language=language)
    converse(chat, language, f"marker-text-{language} I need to get out", telegram_settings.org_name)
    case = desk.case(desk.only_case_id())
    request_type, answers = CHOICES[language]
    assert (case["type"], case["language"], case["answers"]) == (request_type, language, answers)
    assert [r["text"] for r in case["thread"] if r["kind"] == "inbound"] == [
        f"marker-text-{language} I need to get out"
    ]


def test_the_answers_set_the_priority_as_on_the_web(
    telegram_client: TestClient, telegram_settings: Settings, bot_api: FakeBotApi, desk: Desk
) -> None:
    chat = open_chat(telegram_client, bot_api, language="ru")
    converse(chat, "ru", "marker-text-danger", telegram_settings.org_name)
    assert desk.case(desk.only_case_id())["priority"] == "urgent"  # "danger_now": "yes"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_receipt_from_telegram_opens_the_same_thread_on_the_web(
    telegram_client: TestClient, telegram_settings: Settings, bot_api: FakeBotApi, desk: Desk, language: str
) -> None:
    chat = open_chat(telegram_client, bot_api, language=language)
    receipt = converse(chat, language, "marker-text-read me on the web", telegram_settings.org_name)
    response = telegram_client.get("/api/v1/requests/me", headers={"Authorization": f"Receipt {receipt}"})
    assert response.status_code == 200, response.text
    thread = response.json()
    assert (thread["state"], thread["language"]) == ("new", language)
    assert [(m["direction"], m["text"]) for m in thread["messages"]] == [
        ("inbound", "marker-text-read me on the web")
    ]


def test_a_first_message_with_a_photo_makes_a_case_with_the_photo(
    telegram_client: TestClient, bot_api: FakeBotApi, desk: Desk
) -> None:
    chat = open_chat(telegram_client, bot_api)
    chat.says("/start")
    chat.taps("l:en")
    chat.taps("t:other")
    chat.taps("a:0:no")
    chat.post(chat.user.sends_photo(jpeg_with_gps(MARKER), caption="marker-text-see this"))
    receipt_in(chat.bot_texts())
    (first,) = desk.inbound(desk.only_case_id())
    assert first["text"] == "marker-text-see this"
    assert [f["type"] for f in first["files"]] == ["image/jpeg"]


def test_a_button_of_an_earlier_question_says_the_choice_is_closed_and_changes_nothing(
    telegram_client: TestClient, bot_api: FakeBotApi, desk: Desk
) -> None:
    chat = open_chat(telegram_client, bot_api, language="uk")
    chat.says("/start")
    chat.taps("l:uk")
    (type_question,) = [m for m in chat.phone if m.text == Translator("uk")("tg_choose_type")]
    chat.taps("t:legal")
    on_phone = chat.phone_texts()
    chat.post(chat.user.taps("t:other", on_message_id=type_question.message_id))
    assert bot_api.calls_of("answerCallbackQuery")[-1]["text"] == Translator("uk")("tg_choice_closed")
    assert chat.phone_texts() == on_phone
    chat.taps("a:0:no")
    chat.taps("a:1:documents")
    chat.says("marker-text-still a legal question")
    assert desk.case(desk.only_case_id())["type"] == "legal"


def test_a_refused_first_message_makes_no_case_and_the_next_one_does(
    telegram_client: TestClient, bot_api: FakeBotApi, desk: Desk
) -> None:
    chat = open_chat(telegram_client, bot_api, language="ru")
    chat.says("/start")
    chat.taps("l:ru")
    chat.taps("t:other")
    chat.taps("a:0:no")
    chat.post(chat.user.sends_document(b"MZ\x90\x00" + bytes(64), "setup.exe", "application/x-msdownload"))
    t = Translator("ru")
    assert chat.last_from_bot().text == t("tg_file_refused", reason=t("tg_file_not_accepted"))
    assert desk.case_ids() == []
    chat.says("marker-text-second try")
    receipt_in(chat.bot_texts())
    assert [r["text"] for r in desk.inbound(desk.only_case_id())] == ["marker-text-second try"]


# -- later messages join the case -------------------------------------------------------------------------


def test_a_later_text_joins_the_case_and_is_acknowledged(linked: TelegramChat, desk: Desk) -> None:
    case_id = desk.only_case_id()
    linked.says("marker-text-one more thing")
    assert linked.last_from_bot().text == Translator("uk")("tg_follow_up_stored")
    assert [r["text"] for r in desk.inbound(case_id)] == [
        "marker-text-first message",
        "marker-text-one more thing",
    ]


def test_a_later_photo_joins_the_case_without_its_metadata(linked: TelegramChat, desk: Desk) -> None:
    case_id = desk.only_case_id()
    linked.post(linked.user.sends_photo(jpeg_with_gps(MARKER), caption="marker-text-the bruise"))
    assert linked.last_from_bot().text == Translator("uk")("tg_follow_up_stored")
    latest = desk.inbound(case_id)[-1]
    assert latest["text"] == "marker-text-the bruise"
    (file,) = latest["files"]
    stored = desk.file(case_id, file["id"])
    assert MARKER.encode() not in stored
    with Image.open(io.BytesIO(stored)) as picture:
        assert len(picture.getexif()) == 0
        assert picture.size == (64, 32)


def test_a_later_voice_note_joins_the_case_as_sent(linked: TelegramChat, desk: Desk) -> None:
    case_id = desk.only_case_id()
    linked.post(linked.user.sends_voice(VOICE))
    assert linked.last_from_bot().text == Translator("uk")("tg_follow_up_stored")
    (file,) = desk.inbound(case_id)[-1]["files"]
    assert file["type"] == "audio/ogg"
    assert desk.file(case_id, file["id"]) == VOICE


def test_a_later_pdf_joins_the_case_as_sent(linked: TelegramChat, desk: Desk) -> None:
    case_id = desk.only_case_id()
    linked.post(
        linked.user.sends_document(PDF, "marker-text-court-order.pdf", caption="marker-text-the paper")
    )
    assert linked.last_from_bot().text == Translator("uk")("tg_follow_up_stored")
    latest = desk.inbound(case_id)[-1]
    assert latest["text"] == "marker-text-the paper"
    (file,) = latest["files"]
    assert file["type"] == "application/pdf"
    assert desk.file(case_id, file["id"]) == PDF


def test_a_message_is_stored_before_it_is_acknowledged(
    linked: TelegramChat, desk: Desk, bot_api: FakeBotApi
) -> None:
    """Telegram fails to take the acknowledgement: the message is in the case all the same."""
    case_id = desk.only_case_id()
    bot_api.fail_next("sendMessage", kind="server_error")
    linked.says("marker-text-never acknowledged")
    assert linked.phone_texts()[-1] == "marker-text-never acknowledged"
    assert desk.inbound(case_id)[-1]["text"] == "marker-text-never acknowledged"


def test_every_later_message_is_acknowledged_once_and_stored_once(linked: TelegramChat, desk: Desk) -> None:
    case_id = desk.only_case_id()
    acks_before = linked.bot_texts().count(Translator("uk")("tg_follow_up_stored"))
    linked.says("marker-text-a")
    linked.post(linked.user.sends_voice(VOICE))
    linked.says("marker-text-b")
    assert linked.bot_texts().count(Translator("uk")("tg_follow_up_stored")) == acks_before + 3
    assert [r["text"] for r in desk.inbound(case_id)][1:] == ["marker-text-a", "", "marker-text-b"]


# -- what the bot refuses, politely, storing nothing ------------------------------------------------------


def assert_refused(chat: TelegramChat, desk: Desk, send: Any, expected: str) -> None:
    case_id = desk.only_case_id()
    before = desk.inbound(case_id)
    send()
    assert chat.last_from_bot().text == expected
    assert expected != Translator("uk")("tg_follow_up_stored")
    assert desk.inbound(case_id) == before


@pytest.mark.parametrize(
    ("data", "name", "mime"),
    [
        (b"MZ\x90\x00\x03\x00\x00\x00" + bytes(120), "setup.exe", "application/x-msdownload"),
        (b"PK\x03\x04\x14\x00\x00\x00" + bytes(120), "documents.zip", "application/zip"),
        (b"<!doctype html><script>alert(1)</script>", "page.pdf", "application/pdf"),
    ],
    ids=["exe", "zip", "html named pdf"],
)
def test_a_document_that_is_not_a_pdf_or_a_picture_is_refused(
    linked: TelegramChat, desk: Desk, data: bytes, name: str, mime: str
) -> None:
    t = Translator("uk")
    assert_refused(
        linked,
        desk,
        lambda: linked.post(linked.user.sends_document(data, name, mime, caption="marker-text-my file")),
        t("tg_file_refused", reason=t("tg_file_not_accepted")),
    )


def test_a_sticker_is_refused_saying_what_the_bot_takes(linked: TelegramChat, desk: Desk) -> None:
    assert_refused(
        linked, desk, lambda: linked.post(linked.user.sends_sticker()), Translator("uk")("tg_unsupported")
    )


def test_an_edit_is_refused_and_the_stored_message_stays_as_it_was(linked: TelegramChat, desk: Desk) -> None:
    linked.says("marker-text-before the edit")
    (sent,) = [m for m in linked.phone if m.text == "marker-text-before the edit"]
    assert_refused(
        linked,
        desk,
        lambda: linked.post(linked.user.edits(sent.message_id, "marker-text-after the edit")),
        Translator("uk")("tg_edited"),
    )
    assert desk.inbound(desk.only_case_id())[-1]["text"] == "marker-text-before the edit"


def test_a_message_longer_than_allowed_is_refused(
    linked: TelegramChat, desk: Desk, telegram_settings: Settings
) -> None:
    assert_refused(
        linked,
        desk,
        lambda: linked.says(huge_text()),
        Translator("uk")("tg_message_too_long", max_chars=telegram_settings.max_message_chars),
    )


@pytest.fixture
def small_files(telegram_settings: Settings, db: Database) -> Iterator[tuple[TestClient, Runtime]]:
    """A server taking files of 1 MiB at most."""
    with bot_server(telegram_settings.with_changes(max_file_bytes=1024 * 1024), db) as served:
        yield served


def test_a_file_larger_than_allowed_is_refused(
    small_files: tuple[TestClient, Runtime], bot_api: FakeBotApi
) -> None:
    client, runtime = small_files
    desk = desk_of(client, make_organisation(runtime).intake)
    chat = open_chat(client, bot_api, language="uk")
    make_request(chat, language="uk")
    t = Translator("uk")
    too_large = PDF + bytes(1024 * 1024)
    assert_refused(
        chat,
        desk,
        lambda: chat.post(chat.user.sends_document(too_large, "big.pdf")),
        t("tg_file_refused", reason=t("tg_file_too_large", max_mb=1)),
    )
    assert bot_api.calls_of("getFile") == []  # refused on the size Telegram declared, before downloading


def test_a_file_larger_than_allowed_is_refused_even_when_its_size_is_not_declared(
    small_files: tuple[TestClient, Runtime], bot_api: FakeBotApi
) -> None:
    client, runtime = small_files
    desk = desk_of(client, make_organisation(runtime).intake)
    chat = open_chat(client, bot_api, language="uk")
    make_request(chat, language="uk")
    update = chat.user.sends_document(PDF + bytes(1024 * 1024), "big.pdf")
    del update["message"]["document"]["file_size"]
    t = Translator("uk")
    assert_refused(
        chat, desk, lambda: chat.post(update), t("tg_file_refused", reason=t("tg_file_too_large", max_mb=1))
    )


# -- commands --------------------------------------------------------------------------------------------


def test_status_shows_the_state_of_the_case_in_the_requesters_language(linked: TelegramChat) -> None:
    linked.says("/status")
    t = Translator("uk")
    assert linked.last_from_bot().text == t("tg_status", state=t("state_new"))


@pytest.mark.parametrize("state", ["in_progress", "waiting", "closed"])
def test_status_follows_the_case_as_the_desk_moves_it(linked: TelegramChat, desk: Desk, state: str) -> None:
    case_id = desk.only_case_id()
    if state != "in_progress":
        desk.move(case_id, "in_progress")
    desk.move(case_id, state)
    linked.says("/status")
    t = Translator("uk")
    assert linked.last_from_bot().text == t("tg_status", state=t(f"state_{state}"))


def test_a_message_from_telegram_to_a_case_waiting_for_it_brings_the_case_back(
    linked: TelegramChat, desk: Desk
) -> None:
    case_id = desk.only_case_id()
    desk.move(case_id, "waiting")
    linked.says("marker-text-here is my answer")
    assert desk.case(case_id)["state"] == "in_progress"


def test_status_before_a_request_says_there_is_none(telegram_client: TestClient, bot_api: FakeBotApi) -> None:
    chat = open_chat(telegram_client, bot_api, language="ru")
    chat.says("/status")
    assert chat.bot_texts() == [Translator("ru")("tg_no_case")]


def test_help_lists_the_commands_in_the_requesters_language(linked: TelegramChat) -> None:
    linked.says("/help")
    assert linked.last_from_bot().text == Translator("uk")("tg_help")


def test_start_on_a_chat_with_a_case_does_not_begin_again(linked: TelegramChat, desk: Desk) -> None:
    linked.says("/start")
    assert linked.last_from_bot().text == Translator("uk")("tg_already_case")
    linked.says("marker-text-still the same case")
    assert linked.last_from_bot().text == Translator("uk")("tg_follow_up_stored")
    assert desk.inbound(desk.only_case_id())[-1]["text"] == "marker-text-still the same case"


def test_language_switches_what_the_bot_says_next(linked: TelegramChat) -> None:
    linked.says("/language")
    assert [b["callback_data"] for b in linked.last_from_bot().buttons] == [f"l:{lang}" for lang in LANGUAGES]
    linked.taps("l:ru")
    assert linked.last_from_bot().text == Translator("ru")("tg_language_set")
    linked.says("/help")
    assert linked.last_from_bot().text == Translator("ru")("tg_help")
    linked.says("marker-text-in russian now")
    assert linked.last_from_bot().text == Translator("ru")("tg_follow_up_stored")


def test_erase_deletes_every_message_of_the_conversation_from_the_phone(linked: TelegramChat) -> None:
    assert len(linked.phone) >= 10
    linked.says("/erase")
    assert linked.phone == []


def test_after_erase_the_case_stays_and_the_next_message_joins_it(linked: TelegramChat, desk: Desk) -> None:
    linked.says("/erase")
    linked.says("marker-text-after erasing")
    assert linked.phone_texts() == ["marker-text-after erasing", Translator("uk")("tg_follow_up_stored")]
    assert [r["text"] for r in desk.inbound(desk.only_case_id())] == [
        "marker-text-first message",
        "marker-text-after erasing",
    ]


def test_erase_in_the_middle_of_the_questions_deletes_them_too(
    telegram_client: TestClient, bot_api: FakeBotApi
) -> None:
    chat = open_chat(telegram_client, bot_api)
    chat.says("/start")
    chat.taps("l:en")
    chat.taps("t:legal")
    chat.says("/erase")
    assert chat.phone == []


# -- a requester who lost the chat ---------------------------------------------------------------------

NEW_PHONE = 555_000_111


def test_a_receipt_sent_from_a_new_chat_attaches_it_and_is_deleted_at_once(
    telegram_client: TestClient, bot_api: FakeBotApi, desk: Desk
) -> None:
    receipt = make_request(open_chat(telegram_client, bot_api))
    new = open_chat(telegram_client, bot_api, user_id=NEW_PHONE, language="ru")
    new.says(receipt)
    assert new.phone_texts() == [Translator("ru")("tg_attached")]


def test_messages_from_the_attached_chat_join_the_original_case(
    telegram_client: TestClient, bot_api: FakeBotApi, desk: Desk
) -> None:
    receipt = make_request(open_chat(telegram_client, bot_api), message="marker-text-from the lost phone")
    new = open_chat(telegram_client, bot_api, user_id=NEW_PHONE, language="ru")
    new.says(receipt.upper().replace(" ", "-"))
    new.says("marker-text-from the new phone")
    assert new.last_from_bot().text == Translator("ru")("tg_follow_up_stored")
    assert [r["text"] for r in desk.inbound(desk.only_case_id())] == [
        "marker-text-from the lost phone",
        "marker-text-from the new phone",
    ]


def test_a_receipt_that_opens_nothing_is_refused_and_deleted_too(
    telegram_client: TestClient, bot_api: FakeBotApi, desk: Desk
) -> None:
    receipt = make_request(open_chat(telegram_client, bot_api))
    wrong = receipts.new_receipt()
    assert wrong != receipt
    new = open_chat(telegram_client, bot_api, user_id=NEW_PHONE, language="uk")
    new.says(wrong)
    assert new.phone_texts() == [Translator("uk")("tg_receipt_unknown")]
    new.says("/status")
    assert new.last_from_bot().text == Translator("uk")("tg_no_case")


# -- deleting the conversation from the phone later --------------------------------------------------------


@pytest.fixture
def hourly(telegram_settings: Settings, db: Database) -> Iterator[tuple[TestClient, Runtime]]:
    """A server deleting every message from the phone an hour after it was sent."""
    with bot_server(telegram_settings.with_changes(telegram_delete_after_hours=1), db) as served:
        yield served


def test_the_bot_says_when_the_conversation_will_be_deleted(
    hourly: tuple[TestClient, Runtime], bot_api: FakeBotApi
) -> None:
    client, runtime = hourly
    make_organisation(runtime)
    chat = open_chat(client, bot_api, language="ru")
    make_request(chat, language="ru")
    assert chat.last_from_bot().text == Translator("ru")("tg_auto_delete", hours=1)


def test_every_message_of_the_request_is_deleted_an_hour_later_and_not_before(
    hourly: tuple[TestClient, Runtime], bot_api: FakeBotApi
) -> None:
    client, runtime = hourly
    make_organisation(runtime)
    chat = open_chat(client, bot_api)
    make_request(chat, message="marker-text-delete me later")
    on_phone = chat.phone_texts()
    assert "marker-text-delete me later" in on_phone
    assert runtime.telegram is not None
    deletions = runtime.telegram.deletions
    assert deletions.pending() == len(on_phone)
    assert deletions.delete_due(at=time.monotonic() + HOUR - 60) == 0
    assert chat.phone_texts() == on_phone
    deletions.delete_due(at=time.monotonic() + HOUR + 1)
    assert chat.phone == []


def test_messages_sent_too_fast_are_deleted_an_hour_later_with_the_rest(
    hourly: tuple[TestClient, Runtime], bot_api: FakeBotApi
) -> None:
    client, runtime = hourly
    make_organisation(runtime)
    chat = open_chat(client, bot_api)
    make_request(chat)
    for n in range(20):
        chat.says(f"marker-text-in a hurry {n}")
    assert Translator("en")("tg_too_fast") in chat.bot_texts()
    assert runtime.telegram is not None
    runtime.telegram.deletions.delete_due(at=time.monotonic() + HOUR + 1)
    assert chat.phone_texts() == []


def test_without_deletion_nothing_is_scheduled_and_nothing_promised(
    telegram_settings: Settings, db: Database, bot_api: FakeBotApi
) -> None:
    with bot_server(telegram_settings.with_changes(telegram_delete_after_hours=0), db) as (client, runtime):
        make_organisation(runtime)
        chat = open_chat(client, bot_api)
        make_request(chat)
        assert runtime.telegram is not None
        assert runtime.telegram.deletions.pending() == 0
        assert runtime.telegram.deletions.delete_due(at=time.monotonic() + 47 * HOUR) == 0
        assert chat.phone_texts()[0] == "/start"
        assert chat.last_from_bot().text == Translator("en")(
            "tg_received", receipt=receipt_in(chat.bot_texts())
        )


def restarted_bot(runtime: Runtime, *, hours_later: float) -> TelegramBot:
    """A second bot on the same store, as after a restart (nothing scheduled), living `hours_later`."""
    settings = runtime.settings
    assert runtime.telegram is not None
    assert runtime.telegram_api is not None
    return TelegramBot(
        db=runtime.db,
        api=runtime.telegram_api,
        catalogue=runtime.catalogue,
        procedures=runtime.procedures,
        pepper=runtime.secrets.receipt_pepper,
        keys=ChatKeyCache(
            pepper=runtime.secrets.receipt_pepper,
            params=KdfParams(settings.telegram_hash_opslimit, settings.telegram_hash_memlimit),
        ),
        limits=RateLimiter(),
        receiving=ReceivingTeam(runtime.db),
        rules=runtime.telegram.rules,
        clock=lambda: time.time() + hours_later * HOUR,
    )


def test_after_a_restart_the_next_message_deletes_what_is_past_its_time(
    hourly: tuple[TestClient, Runtime], bot_api: FakeBotApi
) -> None:
    client, runtime = hourly
    desk = desk_of(client, make_organisation(runtime).intake)
    chat = open_chat(client, bot_api)
    make_request(chat, message="marker-text-before the restart")
    later = restarted_bot(runtime, hours_later=2)
    try:
        later.handle(chat.user.says("marker-text-two hours later"))
    finally:
        later.close()
    assert chat.phone_texts() == ["marker-text-two hours later", Translator("en")("tg_follow_up_stored")]
    assert [r["text"] for r in desk.inbound(desk.only_case_id())] == [
        "marker-text-before the restart",
        "marker-text-two hours later",
    ]


def test_after_a_restart_messages_not_yet_due_stay_on_the_phone(
    hourly: tuple[TestClient, Runtime], bot_api: FakeBotApi
) -> None:
    client, runtime = hourly
    make_organisation(runtime)
    chat = open_chat(client, bot_api)
    make_request(chat)
    before = chat.phone_texts()
    later = restarted_bot(runtime, hours_later=0.5)
    try:
        later.handle(chat.user.says("marker-text-half an hour later"))
    finally:
        later.close()
    assert chat.phone_texts() == [
        *before,
        "marker-text-half an hour later",
        Translator("en")("tg_follow_up_stored"),
    ]


# -- a chat sending too fast -------------------------------------------------------------------------------


def test_a_chat_sending_a_burst_gets_one_notice_and_nothing_more_is_stored(
    telegram_client: TestClient, bot_api: FakeBotApi, desk: Desk
) -> None:
    chat = open_chat(telegram_client, bot_api, language="ru")
    make_request(chat, language="ru")
    t = Translator("ru")
    said_before = len(chat.bot_texts())
    for n in range(25):
        chat.says(f"marker-text-burst {n}")
    said = chat.bot_texts()[said_before:]
    acks = said.count(t("tg_follow_up_stored"))
    assert said.count(t("tg_too_fast")) == 1
    assert len(said) == acks + 1  # the refused ones get no answer beyond the one notice
    assert acks < 25
    stored = [r["text"] for r in desk.inbound(desk.only_case_id())][1:]
    assert len(stored) == acks
    assert set(stored) <= {f"marker-text-burst {n}" for n in range(25)}


def test_a_burst_from_one_chat_does_not_slow_another(
    telegram_client: TestClient, telegram_settings: Settings, bot_api: FakeBotApi, desk: Desk
) -> None:
    flooder = open_chat(telegram_client, bot_api, language="ru")
    for n in range(25):
        flooder.says(f"/help {n}")
    assert Translator("ru")("tg_too_fast") in flooder.bot_texts()
    other = open_chat(telegram_client, bot_api, user_id=NEW_PHONE, language="uk")
    other.says("/start")
    assert other.bot_texts()[0] == Translator("uk")("tg_welcome", org=telegram_settings.org_name)
