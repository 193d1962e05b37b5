"""Seizure: run the real server on loopback, write a request, a follow-up and replies carrying unique
markers, stop the server, then search every file it left (database, WAL, server key, log) for any
marker in any common encoding. Whoever copies the disk of a stopped server must learn nothing."""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pyotp
import pytest

from tests.functional.seizure_scan import encodings_of, files_under, scan

WEAK_KDF_ENV = {"HAVEN_KDF_OPSLIMIT": "1", "HAVEN_KDF_MEMLIMIT": "8192"}
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 15.0


def haven_command() -> Path:
    return Path(sys.executable).with_name("haven")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")}
    env.update(WEAK_KDF_ENV)
    env.update(extra)
    return env


@dataclass(frozen=True)
class Server:
    base_url: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    log_dir: Path


def wait_until_answering(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            log = (server.log_dir / "server.log").read_text(errors="replace")
            raise AssertionError(f"haven serve exited with {server.process.returncode}:\n{log}")
        try:
            if httpx.get(f"{server.base_url}/", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"haven serve did not answer within {START_TIMEOUT_SECONDS} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_SECONDS)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    data_dir = tmp_path / "data"
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    seeded = subprocess.run(
        [str(haven_command()), "demo", "--data-dir", str(data_dir), "--no-serve"],
        env=server_env(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert seeded.returncode == 0, seeded.stderr.decode(errors="replace")
    port = free_port()
    with (log_dir / "server.log").open("wb") as log:
        command = [str(haven_command()), "serve", "--data-dir", str(data_dir)]
        process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            env=server_env(HAVEN_LOG_LEVEL="DEBUG"),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    running = Server(f"http://127.0.0.1:{port}", process, data_dir, log_dir)
    try:
        wait_until_answering(running)
        yield running
    finally:
        stop(process)


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


def operator_login(client: httpx.Client, credentials: Mapping[str, Any], username: str) -> dict[str, str]:
    """Log in over the API; returns the headers (cookie and CSRF token) later requests need.

    The session cookie is Secure and this server speaks plain http on loopback, so httpx would keep it
    to itself: send it back by hand, as a browser behind the TLS proxy would."""
    user = next(u for u in credentials["users"] if u["username"] == username)
    started = client.post(
        "/api/v1/session",
        json={
            "username": username,
            "passphrase": user["passphrase"],
            "totp": pyotp.TOTP(user["totp_secret"]).now(),
        },
    )
    assert started.status_code == 200, started.text
    cookies = [header.split(";", 1)[0] for header in started.headers.get_list("set-cookie")]
    assert cookies, "the login set no session cookie"
    return {"Cookie": "; ".join(cookies), "X-CSRF-Token": started.json()["csrf_token"]}


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

    files = list(files_under(server.data_dir, server.log_dir))
    assert any(p.name == "haven.db" for p in files), files
    assert (server.log_dir / "server.log").stat().st_size > 0, "DEBUG logging wrote nothing to scan"
    hits = scan(files, [*markers.all(), *handed_out])
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
