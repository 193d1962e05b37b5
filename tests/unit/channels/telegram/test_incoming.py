"""An update as Telegram delivers it, reduced to what the bot acts on: the recorded updates in
tests/fixtures/telegram, hostile ones, and the edges of commands and photos."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haven.channels.telegram.incoming import IGNORED, Incoming, Kind, TelegramFile, parse

FIXTURES = Path(__file__).parents[3] / "fixtures" / "telegram"
CHAT = 987654321987
PERSON = ("marker_username_q7", "MarkerFirst", "MarkerLast")


def recorded(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return loaded


def text_update(words: str) -> dict[str, Any]:
    update = recorded("text.json")
    update["message"]["text"] = words
    return update


KINDS = [
    ("text.json", Kind.TEXT),
    ("command_start.json", Kind.COMMAND),
    ("photo.json", Kind.MEDIA),
    ("voice.json", Kind.MEDIA),
    ("document.json", Kind.MEDIA),
    ("callback_query.json", Kind.BUTTON),
    ("edited_message.json", Kind.EDITED),
    ("sticker.json", Kind.UNSUPPORTED),
    ("huge_text.json", Kind.TEXT),
    ("channel_post.json", Kind.IGNORED),
    ("my_chat_member.json", Kind.IGNORED),
    ("not_an_update.json", Kind.IGNORED),
]


def test_every_recorded_update_is_listed_here() -> None:
    parsable = {path.name for path in FIXTURES.glob("*.json")} - {"malformed.json"}
    assert parsable == {name for name, _kind in KINDS}


@pytest.mark.parametrize(("name", "kind"), KINDS)
def test_a_recorded_update_parses_to_its_kind(name: str, kind: Kind) -> None:
    assert parse(recorded(name)).kind is kind


@pytest.mark.parametrize("name", [name for name, kind in KINDS if kind is not Kind.IGNORED])
def test_a_recorded_update_keeps_nothing_that_names_the_person(name: str) -> None:
    incoming = parse(recorded(name))
    assert incoming.chat_id == CHAT
    assert not any(marker in repr(incoming) for marker in PERSON)


def test_a_text_keeps_its_chat_message_and_words() -> None:
    incoming = parse(recorded("text.json"))
    assert incoming == Incoming(
        Kind.TEXT, chat_id=CHAT, message_id=11, text="marker-text-hello, I need help", language_hint="ru"
    )


def test_a_huge_text_is_kept_whole_for_the_bot_to_refuse() -> None:
    update = recorded("huge_text.json")
    assert parse(update).text == update["message"]["text"]
    assert len(parse(update).text) > 4096


def test_a_photo_is_its_largest_size_with_its_caption() -> None:
    incoming = parse(recorded("photo.json"))
    assert incoming.files == (
        TelegramFile("AgACAgIAAxkBAAMNZ3Vb0Ay4SmFya2VyUGhvdG9fbGFyZ2UAAgEAAw", 98012, ""),
    )
    assert (incoming.text, incoming.message_id) == ("marker-text-photo of the bruise", 13)


def test_the_largest_photo_size_is_chosen_wherever_it_is_listed() -> None:
    update = recorded("photo.json")
    sizes = update["message"]["photo"]
    update["message"]["photo"] = [sizes[2], sizes[0], sizes[1]]
    (file,) = parse(update).files
    assert file.file_id == sizes[2]["file_id"]


def test_the_largest_photo_is_the_one_of_most_pixels_not_the_largest_file() -> None:
    update = recorded("photo.json")
    sizes = update["message"]["photo"]
    sizes[0]["file_size"] = 10_000_000  # the smallest picture, claiming the most bytes
    (file,) = parse(update).files
    assert file.file_id == sizes[2]["file_id"]


def test_a_voice_note_is_one_file_without_a_name() -> None:
    incoming = parse(recorded("voice.json"))
    assert incoming.files == (
        TelegramFile("AwACAgIAAxkBAAMOZ3Vb2U1hcmtlclZvaWNlAAJhTwACqrpBSMFz0Ul4AAEe", 21874, ""),
    )
    assert incoming.text == ""


def test_a_document_keeps_its_name_and_caption() -> None:
    incoming = parse(recorded("document.json"))
    (file,) = incoming.files
    assert (file.name, file.size) == ("marker-text-court-order.pdf", 184213)
    assert incoming.text == "marker-text-the paper from court"


def test_a_document_without_a_name_or_size_still_parses() -> None:
    update = recorded("document.json")
    del update["message"]["document"]["file_name"], update["message"]["document"]["file_size"]
    (file,) = parse(update).files
    assert (file.name, file.size) == ("", None)


def test_a_button_keeps_its_data_and_query_but_no_message_id() -> None:
    incoming = parse(recorded("callback_query.json"))
    assert (incoming.data, incoming.callback_id) == ("safe:yes", "4246128693427182117")
    assert (incoming.chat_id, incoming.message_id, incoming.language_hint) == (CHAT, None, "ru")


def test_an_edited_message_keeps_only_its_chat() -> None:
    assert parse(recorded("edited_message.json")) == Incoming(Kind.EDITED, chat_id=CHAT)


def test_a_sticker_carries_no_file_to_download() -> None:
    incoming = parse(recorded("sticker.json"))
    assert (incoming.files, incoming.message_id) == ((), 17)


# -- what is ignored -------------------------------------------------------------------------------------


def test_a_body_that_is_not_json_never_reaches_the_parser_as_an_update() -> None:
    raw = (FIXTURES / "malformed.json").read_bytes()
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)
    assert parse(raw) is IGNORED
    assert parse(raw.decode()) is IGNORED


@pytest.mark.parametrize("data", [None, [], [recorded("text.json")], "text", 42, 4.2, True, b"{}"])
def test_anything_but_a_json_object_is_ignored(data: object) -> None:
    assert parse(data) is IGNORED


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"update_id": 1},
        {"update_id": 1, "message": None},
        {"update_id": 1, "message": "marker-text-"},
        {"update_id": 1, "message": {"message_id": 1}},
        {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": "private"}},
        {"update_id": 1, "callback_query": {"id": "1"}},
    ],
)
def test_an_update_missing_what_a_message_must_have_is_ignored(data: dict[str, Any]) -> None:
    assert parse(data).kind is Kind.IGNORED


@pytest.mark.parametrize("chat_type", ["group", "supergroup", "channel"])
def test_a_message_from_a_chat_that_is_not_private_is_ignored(chat_type: str) -> None:
    update = recorded("text.json")
    update["message"]["chat"] = {"id": -1001987654321, "title": "marker-text-group", "type": chat_type}
    assert parse(update).kind is Kind.IGNORED


@pytest.mark.parametrize("chat_type", ["group", "supergroup"])
def test_an_edit_in_a_chat_that_is_not_private_is_ignored(chat_type: str) -> None:
    update = recorded("edited_message.json")
    update["edited_message"]["chat"] = {"id": -1001987654321, "title": "marker-text-group", "type": chat_type}
    assert parse(update).kind is Kind.IGNORED


def forged(name: str, path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """A recorded update with the field at `path` replaced by `value`, or removed when `value` is DROP."""
    update = recorded(name)
    container = update
    for key in path[:-1]:
        container = container[key]
    if value is DROP:
        del container[path[-1]]
    else:
        container[path[-1]] = value
    return update


DROP = object()
FORGED = [
    pytest.param("text.json", ("message", "chat"), DROP, id="a message without a chat"),
    pytest.param("text.json", ("message", "chat", "id"), "987654321987", id="a chat id that is a string"),
    pytest.param("text.json", ("message", "chat", "id"), True, id="a chat id that is a boolean"),
    pytest.param("text.json", ("message", "message_id"), "11", id="a message id that is a string"),
    pytest.param("text.json", ("message", "text"), 42, id="a text that is a number"),
    pytest.param("edited_message.json", ("edited_message", "chat"), DROP, id="an edit without a chat"),
    pytest.param("callback_query.json", ("callback_query", "from"), DROP, id="a button without a sender"),
    pytest.param("callback_query.json", ("callback_query", "data"), 5, id="button data that is a number"),
    pytest.param("photo.json", ("message", "photo", 0, "width"), "wide", id="a photo size that is a string"),
]


@pytest.mark.parametrize(("name", "path", "value"), FORGED)
def test_an_update_with_a_field_telegram_never_sends_is_ignored(
    name: str, path: tuple[str | int, ...], value: Any
) -> None:
    assert parse(forged(name, path, value)).kind is Kind.IGNORED


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=16,
)
REAL_UPDATES = [
    recorded(path.name) for path in sorted(FIXTURES.glob("*.json")) if path.name != "malformed.json"
]


def places(value: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) in a JSON value, to change or remove what is there."""
    found: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += [(value, key), *places(inner)]
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += [(value, index), *places(inner)]
    return found


@st.composite
def mutated_updates(draw: st.DrawFn) -> Any:
    """A recorded update with one to three of its fields replaced by any JSON, or removed. (The webhook's
    tests post these too.)"""
    update = copy.deepcopy(draw(st.sampled_from(REAL_UPDATES)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        spots = places(update)
        if not spots:
            break
        container, key = draw(st.sampled_from(spots))
        if isinstance(container, dict) and draw(st.booleans()):
            del container[key]
        else:
            container[key] = draw(JSON_VALUES)
    return update


@settings(max_examples=400, deadline=None, database=None)
@given(update=JSON_VALUES | mutated_updates())
def test_parsing_never_fails_and_keeps_only_what_telegram_would_send(update: Any) -> None:
    incoming = parse(update)
    assert isinstance(incoming, Incoming)
    if incoming.kind is Kind.IGNORED:
        return
    assert type(incoming.chat_id) is int
    assert incoming.message_id is None or type(incoming.message_id) is int
    assert all(isinstance(value, str) for value in (incoming.text, incoming.data, incoming.callback_id))
    for file in incoming.files:
        assert isinstance(file.file_id, str)
        assert isinstance(file.name, str)
        assert file.size is None or type(file.size) is int


def test_a_button_under_a_message_in_a_group_is_ignored() -> None:
    update = recorded("callback_query.json")
    update["callback_query"]["message"]["chat"] = {
        "id": -100198765,
        "title": "marker-text-group",
        "type": "group",
    }
    assert parse(update).kind is Kind.IGNORED


def test_a_button_under_a_message_telegram_no_longer_shows_is_still_a_button_of_that_chat() -> None:
    update = recorded("callback_query.json")
    message = update["callback_query"]["message"]
    # An inaccessible message: Telegram sends only its chat, id and a date of 0. The bot can still tell the
    # requester that the choice is closed.
    update["callback_query"]["message"] = {"chat": message["chat"], "message_id": 16, "date": 0}
    incoming = parse(update)
    assert (incoming.kind, incoming.chat_id, incoming.data) == (Kind.BUTTON, CHAT, "safe:yes")


# -- commands --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("/start", "start"),
        ("/start@haven_test_bot", "start"),
        ("/status please", "status"),
        ("/erase@haven_test_bot now, everything", "erase"),
        ("/HELP", "help"),
        ("/Language@Haven_Test_Bot uk", "language"),
        ("/", ""),
        ("/" + "x" * 100, "x" * 32),
    ],
)
def test_a_command_is_its_name_alone(typed: str, name: str) -> None:
    incoming = parse(text_update(typed))
    assert (incoming.kind, incoming.text) == (Kind.COMMAND, name)


def test_a_slash_inside_a_text_is_not_a_command() -> None:
    incoming = parse(text_update("my unit is 1/3 of what it was"))
    assert (incoming.kind, incoming.text) == (Kind.TEXT, "my unit is 1/3 of what it was")


def test_a_caption_starting_with_a_slash_is_not_a_command() -> None:
    update = recorded("photo.json")
    update["message"]["caption"] = "/start"
    assert (parse(update).kind, parse(update).text) == (Kind.MEDIA, "/start")


# -- the language Telegram reports -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "hint"),
    [("ru", "ru"), ("uk", "uk"), ("en", "en"), ("en-GB", "en"), ("UK", "uk"), ("de", ""), ("", "")],
)
def test_the_language_of_the_phone_is_a_hint_when_it_is_ours(code: str, hint: str) -> None:
    update = recorded("text.json")
    update["message"]["from"]["language_code"] = code
    assert parse(update).language_hint == hint


def test_a_message_without_a_sender_has_no_language_hint() -> None:
    update = copy.deepcopy(recorded("text.json"))
    del update["message"]["from"]
    incoming = parse(update)
    assert (incoming.kind, incoming.language_hint) == (Kind.TEXT, "")
