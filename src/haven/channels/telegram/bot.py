"""The bot: an update in, the conversation's next step, and what that step stores and says.

Each update is handled under a lock of its chat (and the chat's row in the store), so two updates from one
chat never interleave. What a requester sends is stored before the bot confirms it: a request is a case,
with this chat's id sealed in it, before the receipt is sent; a later message is in the case before
"Received" is sent. A message the bot did not confirm was not stored, and the bot says why.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.attachments.forms import FileLimits, Upload
from haven.attachments.services import CheckedFile, message_rows
from haven.audit.services import REQUESTER, record_event
from haven.cases.models import Case
from haven.cases.procedure import Procedures
from haven.cases.records import RecordKind, build_record
from haven.channels.outbox import Buttons, DeliveryFailed
from haven.channels.replies import channel_record
from haven.channels.telegram.bot_api import MAX_MESSAGE_CHARS
from haven.channels.telegram.chat_keys import ChatKeyCache, ChatKeys
from haven.channels.telegram.chat_state import ChatState, Stage, open_state, seal_state
from haven.channels.telegram.conversation import Effect, Say, decide
from haven.channels.telegram.deletions import Deletions
from haven.channels.telegram.incoming import IGNORED, Incoming, Kind, parse
from haven.channels.telegram.models import TelegramChat
from haven.clock import now_minute
from haven.crypto.keys import DecryptionError
from haven.db import Database, insert_rows
from haven.i18n import Translator
from haven.intake import feedback
from haven.intake.questionnaires import Catalogue
from haven.intake.services import (
    IntakeError,
    ReceivingTeam,
    Submission,
    append_inbound,
    check_submission,
    checked_files,
    entry_for,
    open_with_receipt,
    seal_new_case,
)
from haven.security.ratelimit import Action, RateLimited, RateLimiter

log = logging.getLogger(__name__)

CHANNEL = "telegram"
_STRIPES = 64
_TOO_FAST_NOTICE_SECONDS = 60.0
# Pauses between tries of a message that must arrive (the receipt): a few seconds in all, so that
# Telegram's answer to the webhook does not time out.
_RECEIPT_PAUSES = (0.5, 1.0, 2.0)


class Api(Protocol):
    """The Bot API calls the bot makes (bot_api.BotApi); each raises DeliveryFailed."""

    def send(self, chat_id: int, text: str, buttons: Buttons = ()) -> int: ...
    def delete(self, chat_id: int, message_ids: Sequence[int]) -> None: ...
    def answer_button(self, callback_id: str, text: str = "") -> None: ...
    def download(self, file_id: str, *, max_bytes: int) -> bytes | None: ...


@dataclass(frozen=True)
class BotRules:
    org: str
    delete_after_hours: int
    max_message_chars: int
    files: FileLimits


@dataclass
class Chat:
    keys: ChatKeys
    state: ChatState
    case_id: str | None
    # The messages on the phone as last read from (or written to) the store: what another process added
    # since is not in here, and is kept when this chat is stored (see _store_chat).
    stored_trail: frozenset[int] = frozenset()


class Refused(Exception):
    """What the requester sent cannot be stored; `say` tells them why."""

    def __init__(self, say: str) -> None:
        super().__init__("refused")
        self.say = say


class TelegramBot:
    max_chars = MAX_MESSAGE_CHARS  # for the outbox (channels/outbox.py)

    def __init__(
        self,
        *,
        db: Database,
        api: Api,
        catalogue: Catalogue,
        procedures: Procedures,
        pepper: bytes,
        keys: ChatKeyCache,
        limits: RateLimiter,
        receiving: ReceivingTeam,
        rules: BotRules,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._api = api
        self._catalogue = catalogue
        self._procedures = procedures
        self._pepper = pepper
        self._keys = keys
        self._limits = limits
        self._receiving = receiving
        self.rules = rules
        self._clock = clock
        self.deletions = Deletions(api)
        self._stripes = [threading.Lock() for _ in range(_STRIPES)]
        self._noticed: dict[int, float] = {}

    # -- an update in --------------------------------------------------------------------------------

    def handle(self, raw: object) -> None:
        """Act on one update (parsed JSON). Raises only if the store fails (the caller asks Telegram to
        send the update again); anything else an update holds gets an answer or is ignored."""
        incoming = parse(raw)
        if incoming is IGNORED or incoming.kind is Kind.IGNORED:
            return
        try:
            self._limits.check(Action.TELEGRAM, str(incoming.chat_id))
        except RateLimited:
            # Not stored, and not remembered in the chat's sealed list (that needs the slow hash the limit
            # spares): deleted on this process's schedule only, like the notice.
            if incoming.message_id is not None:
                self._schedule_deletion(incoming.chat_id, incoming.message_id)
            self._too_fast(incoming)
            return
        keys = self._keys.of(incoming.chat_id)
        with self._chat_lock(keys):
            self._handle(incoming, keys)

    @contextmanager
    def _chat_lock(self, keys: ChatKeys) -> Iterator[None]:
        with self._stripes[keys.lookup[0] % _STRIPES]:
            yield

    def _handle(self, incoming: Incoming, keys: ChatKeys) -> None:
        chat = self._load(keys)
        now = int(self._clock())
        if incoming.message_id is not None:
            chat.state.remember(incoming.message_id, now)
            self._schedule_deletion(incoming.chat_id, incoming.message_id)
        self._catch_up(incoming.chat_id, chat.state, now)
        plan = decide(chat.state, incoming, catalogue=self._catalogue, org=self.rules.org)
        says = list(plan.says)
        try:
            if plan.effect is Effect.SUBMIT:
                says += self._submit(incoming, chat)
            elif plan.effect is Effect.FOLLOW_UP:
                says += self._follow_up(incoming, chat)
            elif plan.effect is Effect.ATTACH:
                says += self._attach(incoming, chat)
            elif plan.effect is Effect.ERASE:
                self._erase(incoming.chat_id, chat.state)
            elif plan.effect is Effect.STATUS:
                says.append(self._status(chat))
            elif plan.effect is Effect.FEEDBACK:
                if self._feedback(incoming, chat):
                    says.append(Say(Translator(chat.state.language)("tg_feedback_thanks")))
                else:
                    plan.toast = Translator(chat.state.language)("tg_choice_closed")
        except Refused as refused:
            says.append(Say(refused.say))
        if incoming.callback_id:
            self._quietly(lambda: self._api.answer_button(incoming.callback_id, plan.toast))
        for say in says:
            if not self._say(incoming.chat_id, chat.state, say, now):
                break
        self._save(chat)

    # -- what an update does ---------------------------------------------------------------------------

    def _submit(self, incoming: Incoming, chat: Chat) -> list[Say]:
        """The first message: the case is stored, with this chat sealed in it, before the receipt is sent."""
        state = chat.state
        t = Translator(state.language)
        uploads = self._download(incoming, t)
        submission = Submission(state.request_type, state.language, state.answers, incoming.text, uploads)
        try:
            answers = check_submission(
                submission, catalogue=self._catalogue, max_message_chars=self.rules.max_message_chars
            )
        except IntakeError as exc:
            if exc.field not in ("message", "files"):
                # The questionnaire changed under the requester: ask it again.
                state.restart()
                raise Refused(t("tg_answer_first")) from None
            raise Refused(self._refusal(exc, t)) from None
        files = self._checked(uploads, t)
        team = self._receiving.current()
        if team is None:
            raise Refused(t("tg_not_ready"))
        sealed = seal_new_case(
            request_type=state.request_type,
            language=state.language,
            answers=answers,
            message=incoming.text.strip(),
            priority=self._catalogue.priority(answers),
            team_id=team.id,
            team_public_key=team.public_key,
            team_key_generation=team.key_generation,
            pepper=self._pepper,
            files=files,
            entry=entry_for(state.request_type, self._catalogue, self._procedures),
            channel=CHANNEL,
        )
        case = sealed.rows[0]
        assert isinstance(case, Case)
        address = build_record(
            case=case,
            kind=RecordKind.CHANNEL,
            content=channel_record(channel=CHANNEL, address=incoming.chat_id),
        )
        state.stage = Stage.CASE
        chat.case_id = sealed.case_id
        with self._db.write() as s:
            insert_rows(s, [*sealed.rows, address])
            record_event(
                db_session=s, actor=REQUESTER, action="case.created", case_id=sealed.case_id, detail=CHANNEL
            )
            self._store_chat(s, chat)
        says = [Say(t("tg_received", receipt=sealed.receipt), must_arrive=True)]
        if self.rules.delete_after_hours:
            says.append(Say(t("tg_auto_delete", hours=self.rules.delete_after_hours)))
        return says

    def _follow_up(self, incoming: Incoming, chat: Chat) -> list[Say]:
        t = Translator(chat.state.language)
        uploads = self._download(incoming, t)
        text = incoming.text.strip()
        if not text and not uploads:
            raise Refused(t("tg_unsupported"))
        if len(text) > self.rules.max_message_chars:
            raise Refused(t("tg_message_too_long", max_chars=self.rules.max_message_chars))
        files = self._checked(uploads, t)
        with self._db.read() as s:
            case = s.get(Case, chat.case_id) if chat.case_id else None
        if case is None:
            chat.state.restart()
            raise Refused(t("tg_no_case"))
        rows = message_rows(case=case, kind=RecordKind.INBOUND, text=text, files=files)
        try:
            with self._db.write() as s:
                append_inbound(s, case_id=case.id, rows=rows)
                self._store_chat(s, chat)
        except IntakeError:
            # Purged between the read and the write.
            chat.state.restart()
            chat.case_id = None
            raise Refused(t("tg_no_case")) from None
        return [Say(t("tg_follow_up_stored"))]

    def _attach(self, incoming: Incoming, chat: Chat) -> list[Say]:
        """A receipt was sent: delete it from the phone at once, and attach this chat to its case."""
        t = Translator(chat.state.language)
        if incoming.message_id is not None:
            self._quietly(lambda: self._api.delete(incoming.chat_id, [incoming.message_id or 0]))
            chat.state.trail = [(m, at) for m, at in chat.state.trail if m != incoming.message_id]
        access = open_with_receipt(db=self._db, receipt_text=incoming.text, pepper=self._pepper)
        if access is None:
            return [Say(t("tg_receipt_unknown"))]
        if access.case_id == chat.case_id:
            return [Say(t("tg_attached"))]  # attached already: nothing to store again
        with self._db.write() as s:
            case = s.get(Case, access.case_id, with_for_update=True)
            if case is None:
                return [Say(t("tg_receipt_unknown"))]
            s.add(
                build_record(
                    case=case,
                    kind=RecordKind.CHANNEL,
                    content=channel_record(channel=CHANNEL, address=incoming.chat_id),
                )
            )
            record_event(
                db_session=s, actor=REQUESTER, action="case.channel", case_id=case.id, detail=CHANNEL
            )
            chat.state.stage = Stage.CASE
            chat.case_id = case.id
            self._store_chat(s, chat)
        return [Say(t("tg_attached"))]

    def _feedback(self, incoming: Incoming, chat: Chat) -> bool:
        """The answer to the closing question, sealed in the case; False if the case is not asking (a second
        tap, or the case was reopened), and nothing is stored."""
        if chat.case_id is None:
            return False
        try:
            feedback.record_answer(db=self._db, case_id=chat.case_id, helped=incoming.data == "f:yes")
        except IntakeError:
            return False
        return True

    def _erase(self, chat_id: int, state: ChatState) -> None:
        ids = [message_id for message_id, _at in state.trail]
        if ids:
            self._quietly(lambda: self._api.delete(chat_id, ids))
        state.trail = []

    def _status(self, chat: Chat) -> Say:
        t = Translator(chat.state.language)
        with self._db.read() as s:
            state = s.scalar(select(Case.state).where(Case.id == chat.case_id))
        if state is None:
            chat.state.restart()
            chat.case_id = None
            return Say(t("tg_no_case"))
        return Say(t("tg_status", state=t(f"state_{state}")))

    # -- files -----------------------------------------------------------------------------------------

    def _download(self, incoming: Incoming, t: Translator) -> list[Upload]:
        uploads = []
        limit = self.rules.files.max_file_bytes
        for file in incoming.files:
            if file.size is not None and file.size > limit:
                raise Refused(self._too_large(t))
            try:
                data = self._api.download(file.file_id, max_bytes=limit)
            except DeliveryFailed:
                raise Refused(t("tg_try_again")) from None
            if data is None:
                raise Refused(self._too_large(t))
            uploads.append(Upload(file.name, data))
        return uploads

    def _too_large(self, t: Translator) -> str:
        reason = t("tg_file_too_large", max_mb=self.rules.files.max_file_bytes // (1024 * 1024))
        return t("tg_file_refused", reason=reason)

    def _checked(self, uploads: list[Upload], t: Translator) -> list[CheckedFile]:
        try:
            return checked_files(uploads, self.rules.files, voice_and_pdf=True)
        except IntakeError as exc:
            raise Refused(self._refusal(exc, t)) from None

    def _refusal(self, error: IntakeError, t: Translator) -> str:
        if error.reason == "message_too_long":
            return t("tg_message_too_long", max_chars=self.rules.max_message_chars)
        if error.reason == "message_required":
            return t("tg_unsupported")
        if error.reason == "file_not_image":
            return t("tg_file_refused", reason=t("tg_file_not_accepted"))
        if error.reason == "file_too_large":
            return self._too_large(t)
        return t("tg_file_refused", reason=t(error.reason))

    # -- what the bot says, and deletes ----------------------------------------------------------------

    def _say(self, chat_id: int, state: ChatState, say: Say, now: int) -> bool:
        """Send one message and remember it for deletion; False if Telegram did not take it."""
        pauses = list(_RECEIPT_PAUSES) if say.must_arrive else []
        while True:
            try:
                message_id = self._api.send(chat_id, say.text, say.buttons)
                break
            except DeliveryFailed as failure:
                log.warning("telegram send failed: %s", failure.code)
                if failure.permanent or not pauses:
                    return False
                # Telegram's own pause when it asked for one, as long as it stays short.
                time.sleep(min(failure.retry_after or pauses[0], 5.0))
                pauses.pop(0)
        state.remember(message_id, now)
        self._schedule_deletion(chat_id, message_id)
        return True

    def _schedule_deletion(self, chat_id: int, message_id: int) -> None:
        if self.rules.delete_after_hours:
            self.deletions.schedule(chat_id, message_id, after_seconds=self.rules.delete_after_hours * 3600)

    def _catch_up(self, chat_id: int, state: ChatState, now: int) -> None:
        """Delete what is past its time but still on the phone (a restart forgot the schedule)."""
        state.prune(now)
        if not self.rules.delete_after_hours:
            return
        cutoff = now - self.rules.delete_after_hours * 3600
        overdue = [message_id for message_id, at in state.trail if at <= cutoff]
        if overdue:
            self._quietly(lambda: self._api.delete(chat_id, overdue))
            state.trail = [(m, at) for m, at in state.trail if at > cutoff]

    def _too_fast(self, incoming: Incoming) -> None:
        # One notice a minute per chat, held in memory under the chat id only while the flood lasts.
        now = time.monotonic()
        if now - self._noticed.get(incoming.chat_id, -_TOO_FAST_NOTICE_SECONDS) < _TOO_FAST_NOTICE_SECONDS:
            return
        if len(self._noticed) > 10_000:
            self._noticed.clear()
        self._noticed[incoming.chat_id] = now
        t = Translator(incoming.language_hint)
        try:
            notice = self._api.send(incoming.chat_id, t("tg_too_fast"))
        except DeliveryFailed as failure:
            log.warning("telegram call failed: %s", failure.code)
            return
        self._schedule_deletion(incoming.chat_id, notice)

    def _quietly(self, call: Callable[[], object]) -> None:
        try:
            call()
        except DeliveryFailed as failure:
            log.warning("telegram call failed: %s", failure.code)

    # -- an operator's reply out (the outbox calls this) -----------------------------------------------

    def send_reply(self, address: int, text: str, buttons: Buttons = ()) -> None:
        """Send one part of a reply to a chat (raises DeliveryFailed), and remember it for deletion."""
        message_id = self._api.send(address, text, buttons)
        self._schedule_deletion(address, message_id)
        keys = self._keys.of(address)
        with self._chat_lock(keys):
            chat = self._load(keys)
            chat.state.remember(message_id, int(self._clock()))
            self._save(chat)

    # -- the chat's row ----------------------------------------------------------------------------------

    def _load(self, keys: ChatKeys) -> Chat:
        with self._db.read() as s:
            row = s.get(TelegramChat, keys.lookup)
            if row is None:
                return Chat(keys, ChatState(), None)
            sealed, case_id = row.sealed_state, row.case_id
        state = self._opened(sealed, keys)
        return Chat(keys, state, case_id, frozenset(m for m, _at in state.trail))

    @staticmethod
    def _opened(sealed: bytes, keys: ChatKeys) -> ChatState:
        try:
            return open_state(sealed, keys.key)
        except (DecryptionError, ValueError, KeyError, TypeError):
            # Not this chat's (or damaged): begin again rather than fail every update from it.
            return ChatState()

    def _save(self, chat: Chat) -> None:
        with self._db.write() as s:
            self._store_chat(s, chat)

    def _store_chat(self, s: Session, chat: Chat) -> None:
        """Write the chat's state under its row's lock. Another process (a second webhook worker) may have
        handled an update of the same chat since this one read it: the messages it put on the phone, and
        the case it joined, are kept rather than overwritten, so that they are still deleted on time."""
        row = s.get(TelegramChat, chat.keys.lookup, with_for_update=True)
        if row is not None:
            ours = {m for m, _at in chat.state.trail}
            added = [
                (m, at)
                for m, at in self._opened(row.sealed_state, chat.keys).trail
                if m not in chat.stored_trail and m not in ours
            ]
            chat.state.trail.extend(added)
            if chat.case_id is None:
                chat.case_id = row.case_id  # a case ends with its chat row, so this one is alive
        chat.stored_trail = frozenset(m for m, _at in chat.state.trail)
        sealed = seal_state(chat.state, chat.keys.key)
        if row is None:
            s.add(
                TelegramChat(
                    lookup=chat.keys.lookup,
                    case_id=chat.case_id,
                    sealed_state=sealed,
                    updated_at=now_minute(),
                )
            )
        else:
            row.case_id, row.sealed_state, row.updated_at = chat.case_id, sealed, now_minute()

    def close(self) -> None:
        self.deletions.stop()
