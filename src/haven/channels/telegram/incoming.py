"""An update from Telegram, reduced to what the bot acts on; everything else about the sender is dropped.

python-telegram-bot parses the update; we keep the chat id (to answer and to find the case), the text or the
button pressed, and references to files. Names, usernames, phone numbers and the language Telegram reports
are never read into anything that outlives the update.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from telegram import Message, Update

from haven.i18n import LANGUAGES

# Telegram's own limit on a message is 4,096 characters and 1,024 on a caption; an update claiming more was
# not sent by Telegram, and the bot treats it like any other message too long to store.
_COMMAND_CHARS = 32


class Kind(StrEnum):
    COMMAND = "command"  # /start, /status, ...
    TEXT = "text"
    BUTTON = "button"  # an inline keyboard button pressed
    MEDIA = "media"  # a photo, a document or a voice note, with its caption
    EDITED = "edited"  # an edited message: the bot says edits do not reach us
    UNSUPPORTED = "unsupported"  # a sticker, a location, a contact...: the bot says what it takes
    IGNORED = "ignored"  # not from a private chat, not an update, nothing to answer


@dataclass(frozen=True)
class TelegramFile:
    file_id: str
    size: int | None  # as Telegram declared it (checked again on download)
    name: str  # the name the sender's app gave, or "" (a photo or a voice note has none)


@dataclass(frozen=True)
class Incoming:
    kind: Kind
    chat_id: int = 0
    message_id: int | None = None
    text: str = ""  # the text, the caption, or the command's name without "/"
    data: str = ""  # the button's data
    callback_id: str = ""
    files: tuple[TelegramFile, ...] = ()
    # The language Telegram's app is set to, when it is one of ours: the first question is asked in it.
    language_hint: str = ""


IGNORED = Incoming(Kind.IGNORED)


def parse(data: Any) -> Incoming:
    """What the bot should act on in this update; IGNORED for anything that is not one it can answer,
    including fields of a type Telegram never sends (the parser checks no types)."""
    if not isinstance(data, dict):
        return IGNORED
    try:
        incoming = _parse(Update.de_json(data, bot=None))
    except Exception:
        # A malformed update (missing or mistyped fields) raises whatever the parser meets first.
        return IGNORED
    return incoming if _well_typed(incoming) else IGNORED


def _well_typed(incoming: Incoming) -> bool:
    def an_int(value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    return (
        an_int(incoming.chat_id)
        and (incoming.message_id is None or an_int(incoming.message_id))
        and all(isinstance(v, str) for v in (incoming.text, incoming.data, incoming.callback_id))
        and all(
            isinstance(f.file_id, str) and isinstance(f.name, str) and (f.size is None or an_int(f.size))
            for f in incoming.files
        )
    )


def _parse(update: Update) -> Incoming:
    if update.callback_query is not None:
        query = update.callback_query
        message = query.message
        if not isinstance(message, Message) or message.chat.type != "private":
            return IGNORED
        return Incoming(
            Kind.BUTTON,
            chat_id=message.chat.id,
            data=query.data or "",
            callback_id=query.id,
            language_hint=_hint(query.from_user.language_code),
        )
    if update.edited_message is not None:
        edited = update.edited_message
        return Incoming(Kind.EDITED, chat_id=edited.chat.id) if edited.chat.type == "private" else IGNORED
    message = update.message
    if message is None or message.chat.type != "private":
        return IGNORED
    kind, text, files = Kind.UNSUPPORTED, "", _files(message)
    if message.text is not None:
        kind, text = Kind.TEXT, message.text
        if text.startswith("/"):
            name = text[1:].split(maxsplit=1)[0].split("@", 1)[0].lower() if len(text) > 1 else ""
            kind, text = Kind.COMMAND, name[:_COMMAND_CHARS]
    elif files:
        kind, text = Kind.MEDIA, message.caption or ""
    return Incoming(
        kind,
        chat_id=message.chat.id,
        message_id=message.message_id,
        text=text,
        files=files if kind is Kind.MEDIA else (),
        language_hint=_hint(message.from_user.language_code if message.from_user else None),
    )


def _files(message: Message) -> tuple[TelegramFile, ...]:
    if message.photo:
        largest = max(message.photo, key=lambda p: p.width * p.height)
        return (TelegramFile(largest.file_id, largest.file_size, ""),)
    if message.voice is not None:
        return (TelegramFile(message.voice.file_id, message.voice.file_size, ""),)
    if message.document is not None:
        document = message.document
        return (TelegramFile(document.file_id, document.file_size, document.file_name or ""),)
    return ()


def _hint(code: str | None) -> str:
    tag = (code or "")[:2].lower()
    return tag if tag in LANGUAGES else ""
