"""What the bot remembers of a chat between two updates: sealed under the chat's own key, and a trail of the
messages still on the phone that forgets what Telegram can no longer delete."""

from __future__ import annotations

import json

import pytest

from haven.channels.telegram.chat_keys import derive
from haven.channels.telegram.chat_state import TRAIL_SECONDS, ChatState, Stage, open_state, seal_state
from haven.crypto.keys import DecryptionError
from tests.conftest import WEAK_KDF

PEPPER = bytes(range(32))
NOW = 1_767_261_600


def in_progress() -> ChatState:
    return ChatState(
        stage=Stage.QUESTION,
        language="uk",
        request_type="leave_service",
        answers={"danger_now": "yes", "where_now": "front"},
        question=2,
        trail=[(11, NOW - 60), (12, NOW)],
    )


def test_a_sealed_state_opens_with_its_chats_key() -> None:
    key = derive(987654321987, pepper=PEPPER, params=WEAK_KDF).key
    assert open_state(seal_state(in_progress(), key), key) == in_progress()


def test_a_sealed_state_does_not_open_with_another_chats_key() -> None:
    mine = derive(987654321987, pepper=PEPPER, params=WEAK_KDF).key
    theirs = derive(987654321988, pepper=PEPPER, params=WEAK_KDF).key
    with pytest.raises(DecryptionError):
        open_state(seal_state(in_progress(), mine), theirs)


def test_a_sealed_state_does_not_open_with_the_chats_lookup() -> None:
    keys = derive(987654321987, pepper=PEPPER, params=WEAK_KDF)
    with pytest.raises(DecryptionError):
        open_state(seal_state(in_progress(), keys.key), keys.lookup)


def test_an_altered_sealed_state_does_not_open() -> None:
    key = derive(987654321987, pepper=PEPPER, params=WEAK_KDF).key
    sealed = bytearray(seal_state(in_progress(), key))
    sealed[-1] ^= 1
    with pytest.raises(DecryptionError):
        open_state(bytes(sealed), key)


def test_a_sealed_state_shows_nothing_of_what_it_holds() -> None:
    sealed = seal_state(in_progress(), derive(987654321987, pepper=PEPPER, params=WEAK_KDF).key)
    for word in (b"leave_service", b"danger_now", b"front", b"question", str(NOW).encode()):
        assert word not in sealed


def test_the_same_state_seals_differently_each_time() -> None:
    key = derive(987654321987, pepper=PEPPER, params=WEAK_KDF).key
    assert seal_state(in_progress(), key) != seal_state(in_progress(), key)


def test_a_state_survives_its_json_form() -> None:
    assert ChatState.from_json(json.loads(json.dumps(in_progress().to_json()))) == in_progress()


def test_the_trail_forgets_messages_older_than_48_hours() -> None:
    state = ChatState(
        trail=[(1, NOW - TRAIL_SECONDS - 1), (2, NOW - TRAIL_SECONDS), (3, NOW - TRAIL_SECONDS + 1)]
    )
    state.prune(NOW)
    assert state.trail == [(3, NOW - TRAIL_SECONDS + 1)]
    assert TRAIL_SECONDS == 48 * 3600


def test_the_trail_keeps_every_message_of_the_last_48_hours_in_order() -> None:
    state = ChatState()
    for message_id, age in ((10, 47 * 3600), (11, 3600), (12, 0)):
        state.remember(message_id, NOW - age)
    state.prune(NOW)
    assert [message_id for message_id, _at in state.trail] == [10, 11, 12]


def test_beginning_again_keeps_the_language_and_the_trail() -> None:
    state = in_progress()
    state.restart()
    assert (state.stage, state.request_type, state.answers, state.question) == (Stage.LANGUAGE, "", {}, 0)
    assert (state.language, state.trail) == ("uk", in_progress().trail)
