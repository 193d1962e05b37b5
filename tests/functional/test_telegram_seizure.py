"""Seizure, for the Telegram bot: a real `haven serve` runs the bot against the fake Bot API, and a whole
conversation carrying markers goes through its webhook: the requester's id, names, username and app
language, texts, a photo with EXIF, a voice note, a PDF, a receipt sent from a second chat, /status and
/erase, and an operator's reply delivered to the phone. Once the server is stopped, no marker is in any file
it left (database, WAL, its log; on PostgreSQL the whole cluster), in any encoding, the chat ids also as the
8-byte integers or the hex a careless program would store; and its log holds neither a marker nor the bot's
token.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from haven.i18n import Translator
from tests.conftest import TELEGRAM_SECRET
from tests.fake_bot_api import TEST_TOKEN, FakeBotApi
from tests.functional.photos import jpeg_with_gps
from tests.functional.seizure_scan import files_under, scan
from tests.functional.served import Deployment, Server, demo_credentials, operator_login, serving, stop
from tests.functional.telegram_chat import TelegramChat, make_request, open_chat

DEADLINE_SECONDS = 20.0
ENGLISH = Translator("en")


def telegram_env(api: FakeBotApi) -> dict[str, str]:
    """What makes `haven` run the bot against the fake Bot API, with the weakest chat-id hash (tests only)."""
    return {
        "HAVEN_TELEGRAM_TOKEN": TEST_TOKEN,
        "HAVEN_TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "HAVEN_TELEGRAM_API_URL": api.url,
        "HAVEN_TELEGRAM_HASH_OPSLIMIT": "1",
        "HAVEN_TELEGRAM_HASH_MEMLIMIT": "8192",
    }


@pytest.fixture
def server(tmp_path: Path, store: str, empty_database_url: str, bot_api: FakeBotApi) -> Iterator[Server]:
    deployment = Deployment.on(tmp_path, store, empty_database_url, **telegram_env(bot_api))
    deployment.seed_demo()
    with serving(deployment) as running:
        yield running


@dataclass(frozen=True)
class Markers:
    core: str = field(default_factory=lambda: "zq" + secrets.token_hex(6))
    # The requester's Telegram id is their chat's id; the one the recorded updates use (fixtures/telegram).
    chat_id: int = 987654321987
    second_chat_id: int = field(default_factory=lambda: 7_000_000_000 + secrets.randbelow(10**9))
    username: str = "marker_username_q7"
    first_name: str = "MarkerFirst"
    last_name: str = "MarkerLast"

    @property
    def language_code(self) -> str:
        # A real tag (Ukrainian, with a private-use subtag), so the bot still reads "uk" from it.
        return f"uk-x-{self.core[2:10]}"

    @property
    def second_username(self) -> str:
        return f"marker_second_{self.core}"

    @property
    def second_first_name(self) -> str:
        return f"MarkerSecond{self.core}"

    def text(self, what: str) -> str:
        return f"marker-text-{what}-{self.core}"

    @property
    def exif(self) -> str:
        return f"marker-exif-{self.core}"

    @property
    def voice(self) -> str:
        return f"marker-voice-{self.core}"

    @property
    def pdf(self) -> str:
        return f"marker-pdf-{self.core}"

    @property
    def file_name(self) -> str:
        return f"marker-file-{self.core}.pdf"

    @property
    def reply(self) -> str:
        return f"marker-reply-{self.core}"

    def texts(self) -> list[str]:
        """Every marker as text: searched for in every text encoding (seizure_scan.py)."""
        ids = [str(self.chat_id), str(self.second_chat_id)]
        people = [self.username, self.first_name, self.last_name, self.language_code]
        people += [self.second_username, self.second_first_name]
        words = [self.text(w) for w in ("first", "photo", "pdf", "later")]
        words += [self.exif, self.voice, self.pdf, self.file_name, self.reply]
        return [*ids, *people, *words]

    def integers(self) -> dict[str, bytes]:
        """The chat ids as a program would store a number: 8-byte integers, either byte order, or hex."""
        found = {}
        for chat_id in (self.chat_id, self.second_chat_id):
            found[f"{chat_id} as int64 little-endian"] = chat_id.to_bytes(8, "little")
            found[f"{chat_id} as int64 big-endian"] = chat_id.to_bytes(8, "big")
            found[f"{chat_id} in hexadecimal"] = f"{chat_id:x}".encode()
        return found


def voice_note(marker: str) -> bytes:
    """A voice note as Telegram's apps record it: Ogg Opus, mono, one second of silence, with the marker in
    its comment tag (the bot keeps a voice note as it came, so only sealed may it be on disk). A real
    stream, so that a browser's player reads its length."""
    head = b"OpusHead\x01\x01" + (312).to_bytes(2, "little") + (48000).to_bytes(4, "little") + bytes(3)
    vendor, comment = b"Recorder", f"TITLE={marker}".encode()
    tags = b"OpusTags" + len(vendor).to_bytes(4, "little") + vendor
    tags += (1).to_bytes(4, "little") + len(comment).to_bytes(4, "little") + comment
    silence = [b"\xf8\xff\xfe"] * 50  # 20 ms frames
    return b"".join(
        [
            _ogg_page([head], flags=0x02, granule=0, sequence=0),
            _ogg_page([tags], flags=0, granule=0, sequence=1),
            _ogg_page(silence, flags=0x04, granule=312 + 48000, sequence=2),
        ]
    )


def _ogg_page(packets: list[bytes], *, flags: int, granule: int, sequence: int) -> bytes:
    lacing = b"".join(b"\xff" * (len(p) // 255) + bytes([len(p) % 255]) for p in packets)
    page = (
        b"OggS\x00"
        + bytes([flags])
        + granule.to_bytes(8, "little")
        + b"hvn1"
        + sequence.to_bytes(4, "little")
    )
    page += bytes(4) + bytes([len(lacing)]) + lacing + b"".join(packets)
    return page[:22] + _ogg_crc(page).to_bytes(4, "little") + page[26:]


def _ogg_crc(data: bytes) -> int:
    """Ogg's page checksum: CRC-32, polynomial 0x04C11DB7, not reflected, computed with its field zero."""
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1) & 0xFFFFFFFF
    return crc


def pdf_document(marker: str) -> bytes:
    """A PDF whose author and text hold the marker (a PDF is also kept as it came)."""
    return (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        + f"2 0 obj << /Author ({marker}) >> endobj\n3 0 obj (Summons for {marker}) endobj\n".encode()
        + b"trailer << /Root 1 0 R >>\n%%EOF\n"
    )


def until(condition: Callable[[], Any], what: str) -> Any:
    """Wait (briefly, polling) for something another process does; returns what the condition returned."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"within {DEADLINE_SECONDS} s: {what}")


def converse(
    client: httpx.Client, api: FakeBotApi, markers: Markers
) -> tuple[TelegramChat, TelegramChat, str]:
    """The requester's side: a request, follow-ups and /status from the first chat, then the receipt sent
    from a second one. Returns both chats and the receipt."""
    first = open_chat(
        client,
        api,
        user_id=markers.chat_id,
        language=markers.language_code,
        first_name=markers.first_name,
        last_name=markers.last_name,
        username=markers.username,
    )
    receipt = make_request(first, message=markers.text("first"))
    first.post(
        first.user.sends_photo(jpeg_with_gps(markers.exif, width=320, height=240), markers.text("photo"))
    )
    assert first.bot_texts()[-1] == ENGLISH("tg_follow_up_stored")
    first.post(first.user.sends_voice(voice_note(markers.voice)))
    assert first.bot_texts()[-1] == ENGLISH("tg_follow_up_stored")
    first.post(
        first.user.sends_document(pdf_document(markers.pdf), markers.file_name, caption=markers.text("pdf"))
    )
    assert first.bot_texts()[-1] == ENGLISH("tg_follow_up_stored")
    first.says(markers.text("later"))
    first.says("/status")
    assert first.bot_texts()[-1].startswith(ENGLISH("tg_status", state="").strip())

    second = open_chat(
        client,
        api,
        user_id=markers.second_chat_id,
        language="en",
        first_name=markers.second_first_name,
        username=markers.second_username,
    )
    second.says(receipt)
    assert second.bot_texts() == [ENGLISH("tg_attached")]
    assert not [m for m in second.phone if not m.from_bot], "the receipt is still on the second phone"
    return first, second, receipt


def reply_from_the_desk(
    client: httpx.Client, server: Server, markers: Markers, to: TelegramChat
) -> list[str]:
    """An operator finds the request (so everything really was stored), replies, and the reply reaches the
    phone the requester attached last. Returns the operator's session tokens, secrets too."""
    desk = operator_login(client, demo_credentials(server), "olena")
    for item in client.get("/api/v1/cases", headers=desk).json():
        case = client.get(f"/api/v1/cases/{item['id']}", headers=desk).json()
        texts = [record["text"] for record in case["thread"]]
        if markers.text("first") in texts:
            break
    else:
        raise AssertionError("the request from Telegram is not in olena's queue")
    for said in ("first", "photo", "pdf", "later"):
        assert markers.text(said) in texts
    files = [f for record in case["thread"] for f in record["files"]]
    assert sorted(f["type"] for f in files) == ["application/pdf", "audio/ogg", "image/jpeg"]
    assert markers.file_name in [f["name"] for f in files]

    replied = client.post(f"/api/v1/cases/{case['id']}/messages", json={"text": markers.reply}, headers=desk)
    assert replied.status_code == 201, replied.text
    until(lambda: markers.reply in to.bot_texts(), "the reply reaches the phone")

    def delivery() -> str | None:
        thread = client.get(f"/api/v1/cases/{case['id']}", headers=desk).json()["thread"]
        return next((r["delivery"] for r in thread if r["text"] == markers.reply), None)

    until(lambda: delivery() == "sent", "the reply is marked delivered")
    return [cookie.split("=", 1)[1] for cookie in desk["Cookie"].split("; ")] + [desk["X-CSRF-Token"]]


def binary_hits(paths: Iterable[Path], patterns: dict[str, bytes]) -> list[str]:
    hits = []
    for path in paths:
        try:
            content = path.read_bytes()
        except FileNotFoundError:  # a running PostgreSQL removes some of its files
            continue
        hits += [f"{path}: {name}" for name, pattern in patterns.items() if pattern in content]
    return hits


def test_a_telegram_conversation_leaves_no_trace_on_a_stopped_servers_disk(
    server: Server, bot_api: FakeBotApi
) -> None:
    markers = Markers()
    with httpx.Client(base_url=server.base_url, timeout=60.0) as client:
        first, second, receipt = converse(client, bot_api, markers)
        sessions = reply_from_the_desk(client, server, markers, to=second)
        first.says("/erase")
    assert first.phone == [], "/erase left messages on the phone"
    stop(server.process)

    files = list(files_under(server.data_dir, server.log_dir, *server.store_dirs))
    if server.store_dirs:
        assert any(p.parent.name == "pg_wal" for p in files), files
        assert not any(p.suffix in (".rdb", ".aof") for p in files), "Redis wrote sessions to disk"
    else:
        assert any(p.name == "haven.db" for p in files), files
    log = server.log_dir / "server.log"
    assert log.stat().st_size > 0, "DEBUG logging wrote nothing to scan"
    hits = [str(hit) for hit in scan(files, [*markers.texts(), receipt, *sessions])]
    hits += binary_hits(files, markers.integers())
    assert not hits, "a stopped server's disk reveals:\n" + "\n".join(hits)
    in_log = [str(hit) for hit in scan([log], [TEST_TOKEN, TELEGRAM_SECRET, *markers.texts()])]
    assert not in_log, "the server's log reveals:\n" + "\n".join(in_log)
