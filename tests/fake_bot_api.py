"""A fake Telegram Bot API server, and a model of the requester's phone, for tests.

Haven's Telegram channel must be tested against the real client (python-telegram-bot's `telegram.Bot`,
which speaks HTTP), never against mocks of it: mocks would accept requests Telegram refuses. So this is
a real HTTP server on 127.0.0.1 speaking the Bot API as PTB sends it (form-encoded or multipart fields,
nested objects as JSON strings), answering with Telegram's envelopes and error texts. It records every
call, keeps each private chat as the user's phone shows it (so a test can assert what a seized phone
would reveal), serves files, queues updates for getUpdates, and fails on demand.

Differences from Telegram that tests may meet: getUpdates long-polls at most `LONG_POLL_CAP` seconds of
real time whatever `timeout` asks; text length is counted in code points, not UTF-16 units; parse_mode
markup is not validated; a chat must exist (via `api.user(...)`) before the bot can write to it.
"""

from __future__ import annotations

import copy
import email.parser
import email.policy
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, unquote, urlsplit

JSON = dict[str, Any]
TEST_TOKEN = "123456:TEST"
LONG_POLL_CAP = 2.0  # seconds of real time getUpdates waits at most, so polling tests stay fast
MAX_TEXT = 4096
MAX_DOWNLOAD = 20 * 1024 * 1024  # the cloud Bot API refuses getFile above 20 MB
# Fields PTB sends unencoded; every other field is JSON (so a text "42" must not become the int 42).
_STRING_FIELDS = frozenset(
    {"text", "caption", "parse_mode", "url", "secret_token", "file_id", "callback_query_id"}
    | {"inline_message_id", "ip_address", "business_connection_id", "message_effect_id", "emoji"}
)
_METHODS = ("getMe", "sendMessage", "deleteMessage", "deleteMessages", "getFile", "answerCallbackQuery")
_METHODS += ("setWebhook", "deleteWebhook", "getWebhookInfo", "getUpdates", "editMessageText")
_METHODS += ("editMessageReplyMarkup",)
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


class ApiError(Exception):
    """A Bot API error: becomes `{"ok": false, ...}` with the same HTTP status, as Telegram answers."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


@dataclass
class PhoneMessage:
    """One message as the phone shows it; `text` holds a text message's text, `caption` a media's."""

    message_id: int
    from_bot: bool
    kind: str  # "text", "photo", "voice", "document", "sticker"
    text: str | None = None
    caption: str | None = None
    raw: JSON = field(default_factory=dict, repr=False)

    @property
    def buttons(self) -> list[JSON]:
        """The inline keyboard's buttons, flattened, as the phone draws them under the message."""
        rows = self.raw.get("reply_markup", {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]


@dataclass
class PhoneChat:
    """A private chat as the user's phone shows it: what a person holding that phone could read."""

    info: JSON  # the Chat object Telegram puts in each message
    messages: dict[int, PhoneMessage] = field(default_factory=dict)
    blocked: bool = False  # the user blocked the bot: every send answers 403
    last_message_id: int = 0

    @property
    def visible(self) -> list[PhoneMessage]:
        return sorted(self.messages.values(), key=lambda m: m.message_id)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: FakeBotApi


class _Handler(BaseHTTPRequestHandler):
    """Translates HTTP into `FakeBotApi.handle`; keep-alive, since httpx pools connections."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        target = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        ctype = self.headers.get("Content-Type", "")
        try:
            status, ctype_out, payload = self.server.api.handle(
                unquote(target.path), target.query, ctype, body
            )
        except Exception as exc:  # a bug in the fake: say so rather than drop the connection
            status, ctype_out, payload = _error(500, f"Internal Server Error: fake_bot_api: {exc!r}")
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype_out)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up (a provoked timeout): nobody is listening any more
            self.close_connection = True

    def do_GET(self) -> None:
        self.do_POST()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: pytest shows the calls through `api.calls` when a test needs them."""


def _parse_params(query: str, ctype: str, body: bytes) -> JSON:
    """Decode a request's fields the way Telegram does: query string, then form, multipart or JSON body."""
    raw: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    if ctype.startswith("application/json") and body:
        if not isinstance(loaded := json.loads(body), dict):
            raise ValueError("not a JSON object")
        return raw | loaded
    if ctype.startswith("multipart/form-data"):
        head = f"Content-Type: {ctype}\r\n\r\n".encode()
        parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        for part in parsed.iter_parts():
            data = part.get_payload(decode=True) or b""
            name = part.get_param("name", header="content-disposition")
            raw[str(name)] = data if part.get_filename() else data.decode()
    elif body:
        raw |= dict(parse_qsl(body.decode(), keep_blank_values=True))
    return {key: _decode(key, value) for key, value in raw.items()}


def _decode(key: str, value: Any) -> Any:
    if not isinstance(value, str) or key in _STRING_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # e.g. chat_id "@channelname"


def _error(code: int, description: str, parameters: JSON | None = None) -> tuple[int, str, bytes]:
    if code == 502:  # Telegram's nginx answers this one itself, in HTML
        return 502, "text/html", b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n</html>\r\n"
    envelope: JSON = {"ok": False, "error_code": code, "description": description}
    if parameters:
        envelope["parameters"] = parameters
    return code, "application/json", json.dumps(envelope).encode()


@dataclass
class Held:
    """A held call: `reached` is set when it arrives; it goes on once `released` is set."""

    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)


class FakeBotApi:
    """The fake server. Use as `with FakeBotApi() as api:`; point the client at `api.url`."""

    def __init__(self, token: str = TEST_TOKEN, *, username: str = "haven_test_bot") -> None:
        self.token = token
        self.bot_user: JSON = {"id": int(token.split(":")[0]), "is_bot": True, "first_name": "Haven"}
        self.bot_user["username"] = username
        self._cond = threading.Condition(threading.RLock())
        self._closing = threading.Event()
        self._calls: list[tuple[str, JSON]] = []
        self._chats: dict[int, PhoneChat] = {}
        self._files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, data)
        self._updates: list[JSON] = []
        self._failures: dict[str, list[tuple[ApiError | None, float]]] = {}  # method -> (error, delay)
        self._held: dict[str, Held] = {}  # method -> the next call of it waits for `release`
        self._callback_ids: set[str] = set()
        self._allowed_updates: list[str] = []
        self.webhook: JSON = {}  # the last setWebhook's fields; empty when no webhook is set
        self._ids = itertools.count(1)
        self._update_ids = itertools.count(700_000_001)
        # Telegram method names are case-insensitive; each is served by the snake_case method below.
        self._methods: dict[str, tuple[str, Callable[[JSON], Any]]] = {
            name.lower(): (name, getattr(self, "_" + re.sub("([A-Z])", r"_\1", name).lower()))
            for name in _METHODS
        }
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.api = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving; wake long polls and provoked timeouts so their threads end at once."""
        self._closing.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    # --- what tests read and program ---------------------------------------------------------------

    @property
    def calls(self) -> list[tuple[str, JSON]]:
        """Every method call that carried the right token, in order, failures included."""
        with self._cond:
            return list(self._calls)

    def calls_of(self, method: str) -> list[JSON]:
        return [params for name, params in self.calls if name == method]

    def chat(self, chat_id: int) -> PhoneChat:
        with self._cond:
            return self._chats[chat_id]

    def user(
        self,
        user_id: int = 5_550_001,
        first_name: str = "Test",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "ru",
    ) -> FakeUser:
        """A simulated person; their private chat (id = user id, as on Telegram) now exists."""
        person = {"id": user_id, "is_bot": False, "first_name": first_name, "last_name": last_name}
        person |= {"username": username, "language_code": language_code}
        person = {k: v for k, v in person.items() if v is not None}
        info = {k: v for k, v in person.items() if k in ("id", "first_name", "last_name", "username")}
        with self._cond:
            self._chats.setdefault(user_id, PhoneChat(info=info | {"type": "private"}))
        return FakeUser(self, person)

    def add_file(self, data: bytes, file_path: str | None = None) -> str:
        """Store a file as Telegram's servers would; returns its file_id for getFile."""
        with self._cond:
            n = next(self._ids)
            file_id = f"AgACAgIAAxkBAAI{n:06d}ZmFrZV9ib3RfYXBp"
            self._files[file_id] = (file_path or f"documents/file_{n}", data)
        return file_id

    def file_object(self, file_id: str) -> JSON:
        path, data = self._files[file_id]
        file = {"file_id": file_id, "file_unique_id": f"AQAD{file_id[15:21]}", "file_size": len(data)}
        return file | {"file_path": path}

    def queue_update(self, update: JSON) -> None:
        """Put an update where getUpdates will serve it (a long poll in progress wakes up)."""
        with self._cond:
            self._updates.append(update)
            self._cond.notify_all()

    def channel_post(self, text: str, chat_id: int = -1001234567890) -> JSON:
        channel = {"id": chat_id, "title": "Some channel", "type": "channel"}
        post = {"message_id": next(self._ids), "sender_chat": channel, "chat": channel}
        return self.next_update("channel_post", post | {"date": int(time.time()), "text": text})

    def next_update(self, kind: str, payload: JSON) -> JSON:
        """Wrap a payload in an Update with the next update_id; a copy, so a test may forge it freely."""
        with self._cond:
            return {"update_id": next(self._update_ids), kind: copy.deepcopy(payload)}

    def fail_next(
        self,
        method: str,
        times: int = 1,
        kind: Literal["retry_after", "server_error", "forbidden", "timeout"] = "retry_after",
        retry_after: int = 1,
        delay: float = 3.0,
        status: int = 500,
    ) -> None:
        """Make the next `times` calls of `method` fail as Telegram sometimes does.

        kind: "retry_after" (429 with parameters.retry_after), "server_error" (`status` 500 with
        Telegram's JSON, or 502 with nginx's HTML page as really happens), "forbidden" (403, the user
        blocked the bot) or "timeout": the call *is carried out* (a message does get sent) but the answer
        comes only after `delay` seconds, so the client's read timeout fires first, as on a bad network.
        """
        errors = {
            "retry_after": ApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            ),
            "server_error": ApiError(status, "Internal Server Error"),
            "forbidden": ApiError(403, "Forbidden: bot was blocked by the user"),
            "timeout": None,
        }
        with self._cond:
            self._failures.setdefault(method.lower(), []).extend([(errors[kind], delay)] * times)

    # --- HTTP --------------------------------------------------------------------------------------

    def hold_next(self, method: str) -> Held:
        """Make the next call of `method` wait, before it takes effect, until the test releases it: how
        a test makes one process stop in the middle of an update while another handles the next."""
        held = Held()
        with self._cond:
            self._held[method.lower()] = held
        return held

    def handle(self, path: str, query: str, ctype: str, body: bytes) -> tuple[int, str, bytes]:
        """Answer one HTTP request: (status, content type, body)."""
        if path.startswith("/file/bot"):
            token, _, file_path = path.removeprefix("/file/bot").partition("/")
            if token != self.token:
                return _error(401, "Unauthorized")
            with self._cond:
                found = [data for p, data in self._files.values() if p == file_path]
            return (200, "application/octet-stream", found[0]) if found else _error(404, "Not Found")
        if not path.startswith("/bot"):
            return _error(404, "Not Found")
        token, _, method = path.removeprefix("/bot").partition("/")
        if token != self.token:
            return _error(401, "Unauthorized")
        if method.lower() not in self._methods:
            return _error(404, "Not Found")
        name, handler = self._methods[method.lower()]
        try:
            params = _parse_params(query, ctype, body)
        except (ValueError, UnicodeDecodeError):
            return _error(400, "Bad Request: can't parse request")
        with self._cond:
            self._calls.append((name, params))
            pending = self._failures.get(method.lower())
            error, delay = pending.pop(0) if pending else (None, 0.0)
            held = self._held.pop(method.lower(), None)
        if held is not None:
            held.reached.set()
            held.released.wait(10)
        try:
            if error:
                raise error
            result = handler(params)
        except ApiError as err:
            return _error(err.code, err.description, err.parameters)
        if delay:  # a provoked timeout: the call took effect, only the answer is late
            self._closing.wait(delay)
        return 200, "application/json", json.dumps({"ok": True, "result": result}).encode()

    # --- methods -----------------------------------------------------------------------------------

    def _private_chat(self, params: JSON) -> PhoneChat:
        chat = self._chats.get(params.get("chat_id"))
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    def _bot_message(self, params: JSON) -> PhoneMessage:
        message = self._private_chat(params).messages.get(params.get("message_id"))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if not message.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    @staticmethod
    def _checked_markup(params: JSON) -> JSON | None:
        markup = params.get("reply_markup")
        for row in (markup or {}).get("inline_keyboard", []):
            for button in row:
                if "callback_data" in button and not 1 <= len(button["callback_data"].encode()) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup if markup and "inline_keyboard" in markup else None

    @staticmethod
    def _checked_text(params: JSON) -> str:
        text = str(params.get("text") or "")
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        return text

    def _get_me(self, params: JSON) -> JSON:
        return self.bot_user | {"can_join_groups": False, "can_read_all_group_messages": False}

    def _send_message(self, params: JSON) -> JSON:
        with self._cond:
            chat = self._private_chat(params)
            if chat.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            text, markup = self._checked_text(params), self._checked_markup(params)
            chat.last_message_id += 1
            message = {"message_id": chat.last_message_id, "from": self.bot_user, "chat": chat.info}
            message |= {"date": int(time.time()), "text": text}
            if markup:
                message["reply_markup"] = markup
            chat.messages[chat.last_message_id] = PhoneMessage(
                chat.last_message_id, True, "text", text, None, message
            )
            return message

    def _delete_message(self, params: JSON) -> bool:
        with self._cond:
            if self._private_chat(params).messages.pop(params.get("message_id"), None) is None:
                raise ApiError(400, "Bad Request: message to delete not found")
            return True

    def _delete_messages(self, params: JSON) -> bool:
        ids = params.get("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise ApiError(400, "Bad Request: message identifiers are not specified")
        with self._cond:
            chat = self._private_chat(params)
            for message_id in ids:  # missing ones are skipped, as Telegram documents
                chat.messages.pop(message_id, None)
            return True

    def _edit(self, params: JSON, text: str | None) -> JSON:
        with self._cond:
            message = self._bot_message(params)
            markup = self._checked_markup(params)
            new = {k: v for k, v in message.raw.items() if k != "reply_markup"}
            new["text"] = text or message.text
            if markup:  # an edit without reply_markup drops the keyboard, as on Telegram
                new["reply_markup"] = markup
            if new == message.raw:
                raise ApiError(400, _NOT_MODIFIED)
            message.raw, message.text = new | {"edit_date": int(time.time())}, new["text"]
            return message.raw

    def _edit_message_text(self, params: JSON) -> JSON:
        return self._edit(params, self._checked_text(params))

    def _edit_message_reply_markup(self, params: JSON) -> JSON:
        return self._edit(params, None)

    def _get_file(self, params: JSON) -> JSON:
        with self._cond:
            if params.get("file_id") not in self._files:
                raise ApiError(400, "Bad Request: invalid file_id")
            file = self.file_object(params["file_id"])
        if file["file_size"] > MAX_DOWNLOAD:
            raise ApiError(400, "Bad Request: file is too big")
        return file

    def _answer_callback_query(self, params: JSON) -> bool:
        with self._cond:
            if params.get("callback_query_id") not in self._callback_ids:
                raise ApiError(
                    400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
                )
            return True

    def _set_webhook(self, params: JSON) -> bool:
        url = str(params.get("url") or "")
        if url and not url.startswith("https://"):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        secret = str(params.get("secret_token", "x"))
        if not (1 <= len(secret) <= 256 and all(c.isascii() and (c.isalnum() or c in "_-") for c in secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        with self._cond:
            self.webhook = dict(params) if url else {}
            if params.get("drop_pending_updates"):
                self._updates.clear()
        return True

    def _delete_webhook(self, params: JSON) -> bool:
        return self._set_webhook({"url": "", "drop_pending_updates": params.get("drop_pending_updates")})

    def _get_webhook_info(self, params: JSON) -> JSON:
        with self._cond:
            info: JSON = {"url": self.webhook.get("url", ""), "has_custom_certificate": False}
            info["pending_update_count"] = len(self._updates)
            if "allowed_updates" in self.webhook:
                info["allowed_updates"] = self.webhook["allowed_updates"]
            return info

    def _get_updates(self, params: JSON) -> list[JSON]:
        """Telegram's offset semantics: offset N forgets every update below N (confirms them)."""
        offset, limit = int(params.get("offset", 0)), int(params.get("limit", 100))
        deadline = time.monotonic() + min(float(params.get("timeout", 0)), LONG_POLL_CAP)
        with self._cond:
            if self.webhook:
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            if "allowed_updates" in params:  # remembered until the next getUpdates that names them
                self._allowed_updates = params["allowed_updates"]
            while True:
                if offset < 0:
                    self._updates = self._updates[offset:]
                elif offset:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                allowed = self._allowed_updates
                self._updates = [u for u in self._updates if not allowed or set(u) & set(allowed)]
                remaining = deadline - time.monotonic()
                if self._updates or remaining <= 0 or self._closing.is_set():
                    return self._updates[:limit]
                self._cond.wait(remaining)


class FakeUser:
    """A simulated person writing to the bot from their phone; each method returns the Update
    Telegram would deliver, and adds what they sent to their chat on `api.chat(user.id)`."""

    def __init__(self, api: FakeBotApi, person: JSON) -> None:
        self.api, self.person, self.id = api, person, int(person["id"])

    def _message(self, kind: str, fields: JSON, text: str | None = None, caption: str | None = None) -> JSON:
        with self.api._cond:
            chat = self.api.chat(self.id)
            chat.last_message_id += 1
            message = {"message_id": chat.last_message_id, "from": self.person, "chat": chat.info}
            message |= {"date": int(time.time())} | fields
            chat.messages[chat.last_message_id] = PhoneMessage(
                chat.last_message_id, False, kind, text, caption, message
            )
            return self.api.next_update("message", message)

    def _file(self, data: bytes, folder: str, suffix: str) -> JSON:
        file_id = self.api.add_file(data, f"{folder}/file_{len(self.api._files)}.{suffix}")
        file = self.api.file_object(file_id)
        del file["file_path"]  # messages never carry it: only getFile reveals the path
        return file

    def says(self, text: str) -> JSON:
        fields: JSON = {"text": text}
        if text.startswith("/"):
            fields["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
        return self._message("text", fields, text=text)

    def taps(self, button_data: str, on_message_id: int | None = None) -> JSON:
        """Tap an inline button; by default on the newest bot message that has a keyboard."""
        with self.api._cond:
            keyboards = [m for m in self.api.chat(self.id).visible if m.from_bot and m.buttons]
            if on_message_id is not None:
                keyboards = [m for m in keyboards if m.message_id == on_message_id]
            if not keyboards or button_data not in [b.get("callback_data") for b in keyboards[-1].buttons]:
                raise LookupError(f"no button {button_data!r} on the phone (forge one by editing the update)")
            query_id = f"{4_238_400_000_000_000_000 + next(self.api._ids)}"
            self.api._callback_ids.add(query_id)
            query = {"id": query_id, "from": self.person, "message": keyboards[-1].raw}
            query |= {"chat_instance": f"-{7_700_000_000_000_000_000 + self.id}", "data": button_data}
            return self.api.next_update("callback_query", query)

    def sends_photo(self, data: bytes, caption: str | None = None) -> JSON:
        """A photo as Telegram delivers it: several sizes (all served with this data), largest last."""
        sizes = [
            self._file(data, "photos", "jpg") | {"width": w, "height": h} for w, h in ((90, 67), (320, 240))
        ]
        sizes.append(self._file(data, "photos", "jpg") | {"width": 1280, "height": 960})
        fields: JSON = {"photo": sizes} | ({"caption": caption} if caption is not None else {})
        return self._message("photo", fields, caption=caption)

    def sends_document(
        self, data: bytes, file_name: str, mime_type: str = "application/pdf", caption: str | None = None
    ) -> JSON:
        document = {"file_name": file_name, "mime_type": mime_type} | self._file(data, "documents", "bin")
        fields: JSON = {"document": document} | ({"caption": caption} if caption is not None else {})
        return self._message("document", fields, caption=caption)

    def sends_voice(self, data: bytes, duration: int = 3) -> JSON:
        voice = {"duration": duration, "mime_type": "audio/ogg"} | self._file(data, "voice", "oga")
        return self._message("voice", {"voice": voice})

    def sends_sticker(self, emoji: str = "👍") -> JSON:
        sticker = {"width": 512, "height": 512, "emoji": emoji, "set_name": "HotCherry", "is_animated": False}
        sticker |= {"is_video": False, "type": "regular"}
        sticker |= self._file(b"RIFF\0\0\0\0WEBPVP8 ", "stickers", "webp")
        return self._message("sticker", {"sticker": sticker})

    def edits(self, message_id: int, new_text: str) -> JSON:
        with self.api._cond:
            message = self.api.chat(self.id).messages[message_id]
            message.raw = message.raw | {"text": new_text, "edit_date": int(time.time())}
            message.text = new_text
            return self.api.next_update("edited_message", message.raw)

    def blocks_bot(self) -> JSON:
        """Block the bot: from now on sends answer 403; returns the my_chat_member update that says so."""
        with self.api._cond:
            chat = self.api.chat(self.id)
            chat.blocked = True
            change = {"chat": chat.info, "from": self.person, "date": int(time.time())}
            change["old_chat_member"] = {"user": self.api.bot_user, "status": "member"}
            change["new_chat_member"] = {"user": self.api.bot_user, "status": "kicked", "until_date": 0}
            return self.api.next_update("my_chat_member", change)
