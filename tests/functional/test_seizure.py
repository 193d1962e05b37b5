"""Seizure: run the real server on loopback, write a request, a follow-up and replies carrying unique
markers, stop the server, then search every file it left (database, WAL, server key, log) for any
marker in any common encoding. Whoever copies the disk of a stopped server must learn nothing."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.functional.seizure_scan import encodings_of, files_under, scan
from tests.functional.served import Server, operator_login, served_demo, stop


@pytest.fixture
def server(tmp_path: Path, store: str, empty_database_url: str) -> Iterator[Server]:
    with served_demo(tmp_path, store, empty_database_url) as running:
        yield running


@dataclass(frozen=True)
class Markers:
    core: str
    name: str
    cyrillic_name: str
    phone: str
    phone_digits: str
    message: str
    follow_up: str
    web_form: str
    reply: str
    note: str
    bad_json: str
    bad_answer: str
    wrong_receipt: str

    @classmethod
    def fresh(cls) -> Markers:
        core = "zq" + secrets.token_hex(6)
        digits = f"9{secrets.randbelow(10**9):09d}"
        return cls(
            core=core,
            name=f"Ivanov{core}",
            cyrillic_name=f"Иванов{core}",
            phone=f"+7 {digits[:3]} {digits[3:6]} {digits[6:8]} {digits[8:]}",
            phone_digits=f"7{digits}",
            message=f"msg{core}",
            follow_up=f"followup{core}",
            web_form=f"webform{core}",
            reply=f"reply{core}",
            note=f"note{core}",
            bad_json=f"badjson{core}",
            bad_answer=f"badanswer{core}",
            wrong_receipt=f"wrongreceipt{core}",
        )

    def all(self) -> list[str]:
        return list(vars(self).values())


def play_scenario(client: httpx.Client, data_dir: Path, markers: Markers) -> list[str]:
    """Drive every path that handles requester text, good and bad; returns the secrets handed out
    (receipt, session tokens), which must not be on disk either."""
    created = client.post(
        "/api/v1/requests",
        json={
            "type": "leave_service",
            "language": "ru",
            "answers": {"danger_now": "yes", "where_now": "front"},
            "message": (
                f"Меня зовут {markers.name} ({markers.cyrillic_name}), мой телеграм {markers.phone}. "
                f"{markers.message}"
            ),
        },
    )
    assert created.status_code == 201, created.text
    receipt = created.json()["receipt"]
    receipt_header = {"Authorization": f"Receipt {receipt}"}

    followed = client.post(
        "/api/v1/requests/me/messages", json={"message": markers.follow_up}, headers=receipt_header
    )
    assert followed.status_code == 201, followed.text

    web = client.post(
        "/ru/request/legal", data={"q_danger_now": "no", "q_topic": "other", "message": markers.web_form}
    )
    assert web.status_code == 201, web.text
    web_cookies = [header.split(";", 1)[0] for header in web.headers.get_list("set-cookie")]

    # Error paths: the marker arrives, is refused, and must not be logged on the way out.
    broken = client.post(
        "/api/v1/requests",
        content=f'{{"type": "legal", "message": "{markers.bad_json}'.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert broken.status_code in (400, 422), broken.text
    invalid = client.post(
        "/api/v1/requests",
        json={
            "type": "leave_service",
            "language": "ru",
            "answers": {"danger_now": markers.bad_answer, "where_now": "front"},
            "message": markers.bad_answer,
        },
    )
    assert invalid.status_code == 422, invalid.text
    unparsable = client.post(
        "/api/v1/requests",
        json={"type": "legal", "language": "ru", "answers": [markers.bad_answer], "message": 7},
    )
    assert unparsable.status_code == 422, unparsable.text
    wrong = client.get("/api/v1/requests/me", headers={"Authorization": f"Receipt {markers.wrong_receipt}"})
    assert wrong.status_code == 401, wrong.text
    wrong_web = client.post("/ru/return", data={"receipt": markers.wrong_receipt})
    assert wrong_web.status_code == 400, wrong_web.text

    credentials = json.loads((data_dir / "demo-credentials.json").read_text())
    desk = operator_login(client, credentials, "olena")
    queue = client.get("/api/v1/cases", headers=desk)
    assert queue.status_code == 200, queue.text
    texts: dict[str, str] = {}
    for item in queue.json():
        case = client.get(f"/api/v1/cases/{item['id']}", headers=desk)
        assert case.status_code == 200, case.text
        texts[item["id"]] = "\n".join(record["text"] for record in case.json()["thread"])
    ours = [case_id for case_id, text in texts.items() if markers.core in text]
    # The markers really were stored (encrypted), so finding none on disk means something.
    assert any(markers.message in texts[c] and markers.follow_up in texts[c] for c in ours), texts
    assert any(markers.web_form in texts[c] for c in ours), texts
    for case_id in ours:
        replied = client.post(f"/api/v1/cases/{case_id}/messages", json={"text": markers.reply}, headers=desk)
        assert replied.status_code == 201, replied.text
        noted = client.post(f"/api/v1/cases/{case_id}/notes", json={"text": markers.note}, headers=desk)
        assert noted.status_code == 201, noted.text

    thread = client.get("/api/v1/requests/me", headers=receipt_header)
    assert markers.reply in [m["text"] for m in thread.json()["messages"]]
    session_tokens = [c.split("=", 1)[1] for c in desk["Cookie"].split("; ") + web_cookies]
    return [receipt, *session_tokens]


def test_stopped_server_reveals_no_marker(server: Server) -> None:
    markers = Markers.fresh()
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        handed_out = play_scenario(client, server.data_dir, markers)
    stop(server.process)

    files = list(files_under(server.data_dir, server.log_dir, *server.store_dirs))
    if server.store_dirs:
        assert any(p.parent.name == "pg_wal" for p in files), files
        assert not any(p.suffix in (".rdb", ".aof") for p in files), "Redis wrote sessions to disk"
    else:
        assert any(p.name == "haven.db" for p in files), files
    assert (server.log_dir / "server.log").stat().st_size > 0, "DEBUG logging wrote nothing to scan"
    # The requests were in Russian: neither a language tally (stats/languages.py) nor the answers
    # record may show it in the clear.
    languages = ['{"ru": 1}', '"language": "ru"']
    hits = scan(files, [*markers.all(), *handed_out, *languages])
    assert not hits, "a stopped server's disk reveals:\n" + "\n".join(map(str, hits))


def test_scanner_finds_planted_markers_in_every_encoding(tmp_path: Path) -> None:
    marker = f"Иванов zq{secrets.token_hex(6)}"
    raw = marker.encode()
    expected = set(encodings_of(marker))
    planted: list[tuple[str, bytes]] = [
        ("utf-8", raw),
        ("utf-16-le", marker.encode("utf-16-le")),
        ("utf-16-be", marker.encode("utf-16-be")),
        ("hex", raw.hex().encode()),
        ("HEX", raw.hex().upper().encode()),
    ]
    # The marker somewhere inside a larger blob: every offset modulo 3, in both alphabets.
    for offset in range(6):
        blob = secrets.token_bytes(offset) + raw + secrets.token_bytes(5)
        planted.append((f"base64@{offset % 3}", base64.b64encode(blob)))
        planted.append((f"base64url@{offset % 3}", base64.urlsafe_b64encode(blob)))
    assert {name for name, _ in planted} == expected

    for index, (name, content) in enumerate(planted):
        path = tmp_path / f"planted-{index}-{name}.bin"
        path.write_bytes(secrets.token_bytes(64) + content + secrets.token_bytes(64))
        found = {hit.encoding for hit in scan([path], [marker])}
        assert name in found, f"the scanner missed {name} in {path}"

    clean = tmp_path / "clean.bin"
    clean.write_bytes(secrets.token_bytes(4096))
    assert scan([clean], [marker]) == []
