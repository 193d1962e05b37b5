"""What the bot remembers of a chat between two updates, locked under the chat's own key.

The language, where the requester is in the questionnaire and their answers so far, and the messages of the
conversation still on their phone (ids and when they were sent), so that they can be deleted later or at
once with /erase. Locked under the key only the chat id opens (chat_keys.py): the store holds nothing
readable, and losing the row loses nothing acknowledged (a request is a case before its receipt is sent).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from haven.crypto.keys import lock, unlock

_CONTEXT = b"haven/telegram-chat-state"
# Telegram lets a bot delete a message for 48 hours; older ids are of no use and are dropped.
TRAIL_SECONDS = 48 * 3600


class Stage(StrEnum):
    LANGUAGE = "language"  # choosing a language
    TYPE = "type"  # choosing a request type
    QUESTION = "question"  # answering the questionnaire, one question at a time
    MESSAGE = "message"  # writing the first message
    CASE = "case"  # the chat writes to a case


@dataclass
class ChatState:
    stage: Stage = Stage.LANGUAGE
    language: str = ""
    request_type: str = ""
    answers: dict[str, str] = field(default_factory=dict)
    question: int = 0
    # (message id, unix time it was sent) of every message of the conversation still on the phone.
    trail: list[tuple[int, int]] = field(default_factory=list)

    def restart(self) -> None:
        """Back to the first question, keeping the language and the messages still on the phone."""
        self.stage, self.request_type, self.answers, self.question = Stage.LANGUAGE, "", {}, 0

    def remember(self, message_id: int, sent_at: int) -> None:
        self.trail.append((message_id, sent_at))

    def prune(self, now: int) -> None:
        """Forget messages too old for Telegram to delete."""
        self.trail = [(m, t) for m, t in self.trail if now - t < TRAIL_SECONDS]

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage.value,
            "language": self.language,
            "type": self.request_type,
            "answers": self.answers,
            "question": self.question,
            "trail": self.trail,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChatState:
        return cls(
            stage=Stage(data["stage"]),
            language=str(data["language"]),
            request_type=str(data["type"]),
            answers={str(k): str(v) for k, v in data["answers"].items()},
            question=int(data["question"]),
            trail=[(int(m), int(t)) for m, t in data["trail"]],
        )


def seal_state(state: ChatState, key: bytes) -> bytes:
    return lock(json.dumps(state.to_json(), separators=(",", ":")).encode(), key, context=_CONTEXT)


def open_state(sealed: bytes, key: bytes) -> ChatState:
    """Raises DecryptionError if the key is not this chat's."""
    return ChatState.from_json(json.loads(unlock(sealed, key, context=_CONTEXT)))
