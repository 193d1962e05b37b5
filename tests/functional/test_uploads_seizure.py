"""Seizure, for photos: a real server receives photos carrying markers in their metadata (EXIF, GPS, PNG
text), in their names and in the messages they come with, large enough that Starlette's own form parser
would have moved them to a temp file. Then, once the server is stopped, no marker is in any file it left
(database, WAL, logs, its temp directory), and while it handled them it opened no file for writing at all.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.functional.photos import jpeg_with_gps, png_with_text
from tests.functional.seizure_scan import files_under, scan
from tests.functional.served import Deployment, Server, demo_credentials, operator_login, serving, stop

WATCH_DIR = Path(__file__).with_name("write_watch")
# Starlette keeps a file in memory up to 1 MiB, then moves it to a temp file: ours are larger.
SPOOL_LIMIT = 1024 * 1024


@dataclass(frozen=True)
class Watched:
    server: Server
    tmp_dir: Path
    writes_log: Path
    workers: int  # worker processes beside the server's own (PostgreSQL runs two)

    def lines(self) -> list[str]:
        return self.writes_log.read_text().splitlines() if self.writes_log.exists() else []

    def writes(self) -> list[str]:
        return [line for line in self.lines() if line.split("\t")[1] != "watching"]

    def watches_the_server(self) -> bool:
        """The server's process, and each of its workers, notes its writes."""
        watching = [line.split("\t") for line in self.lines() if line.split("\t")[1] == "watching"]
        server = any(pid == str(self.server.process.pid) for pid, _, _ in watching)
        workers = sum("--multiprocessing-fork" in argv for _, _, argv in watching)
        return server and workers == self.workers


def watch_env(tmp_dir: Path, writes_log: Path) -> dict[str, str]:
    """What makes a Python process note its writes (write_watch/sitecustomize.py) and put its temp files
    in a directory the test then scans."""
    path = os.pathsep.join(p for p in (str(WATCH_DIR), os.environ.get("PYTHONPATH", "")) if p)
    return {
        "PYTHONPATH": path,
        "WRITE_WATCH_LOG": str(writes_log),
        "TMPDIR": str(tmp_dir),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


@pytest.fixture
def watched(tmp_path: Path, store: str, empty_database_url: str) -> Iterator[Watched]:
    tmp_dir = tmp_path / "server-tmp"
    tmp_dir.mkdir()
    writes_log = tmp_path / "writes.log"
    deployment = Deployment.on(
        tmp_path / "served", store, empty_database_url, **watch_env(tmp_dir, writes_log)
    )
    deployment.seed_demo()
    with serving(deployment) as running:
        yield Watched(
            running, tmp_dir, writes_log, workers=int(deployment.workers[-1]) if deployment.workers else 0
        )


@dataclass(frozen=True)
class Markers:
    core: str

    @classmethod
    def fresh(cls) -> Markers:
        return cls("zq" + secrets.token_hex(6))

    @property
    def exif(self) -> str:
        return f"exif{self.core}"

    @property
    def png_text(self) -> str:
        return f"pngtext{self.core}"

    @property
    def file_name(self) -> str:
        return f"summons{self.core}"

    @property
    def message(self) -> str:
        return f"msg{self.core}"

    @property
    def follow_up(self) -> str:
        return f"followup{self.core}"

    def all(self) -> list[str]:
        return [self.exif, self.png_text, self.file_name, self.message, self.follow_up]


def large(photo: bytes, marker: str) -> bytes:
    """The photo with bytes after its end (ignored by a decoder, as a phone's trailing data is), so that
    it is larger than Starlette's spool and holds the marker many times over."""
    padding = (f" {marker}" * (SPOOL_LIMIT // len(marker) + 1)).encode()
    return photo + padding


def cookies_of(response: Any) -> str:
    """The Secure cookies the server set, sent back by hand over plain http on loopback."""
    return "; ".join(h.split(";", 1)[0] for h in response.headers.get_list("set-cookie"))


def send_photos(client: httpx.Client, markers: Markers) -> list[str]:
    """A request with two photos through the web form, and a follow-up with one more; returns the
    secrets handed out (the receipt, the session cookie), which must not be on disk either."""
    jpeg = large(jpeg_with_gps(markers.exif), markers.exif)
    png = large(png_with_text(markers.png_text), markers.png_text)
    assert min(len(jpeg), len(png)) > SPOOL_LIMIT
    sent = client.post(
        "/ru/request/legal",
        data={"q_danger_now": "no", "q_topic": "other", "message": markers.message},
        files=[
            ("files", (f"{markers.file_name}.jpg", jpeg, "image/jpeg")),
            ("files", (f"{markers.file_name}.png", png, "image/png")),
        ],
    )
    assert sent.status_code == 201, sent.text
    receipt = re.search(r'<p class="receipt" id="receipt">([^<]+)</p>', sent.text)
    assert receipt
    cookie = {"Cookie": cookies_of(sent)}
    thread = client.get("/ru/thread", headers=cookie)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', thread.text)
    assert csrf, thread.text
    followed = client.post(
        "/ru/thread",
        data={"message": markers.follow_up, "csrf_token": csrf.group(1)},
        files=[("files", (f"{markers.file_name}-2.jpg", jpeg, "image/jpeg"))],
        headers=cookie,
    )
    assert followed.status_code == 303, followed.text
    return [receipt.group(1).strip(), cookie["Cookie"].split("=", 1)[1]]


def read_on_the_desk(client: httpx.Client, server: Server, markers: Markers) -> None:
    """The operator sees the three files under the names given and downloads each: no marker inside.
    (So the markers really were received, and what is not found on disk was really stored.)"""
    desk = operator_login(client, demo_credentials(server), "olena")
    for item in client.get("/api/v1/cases", headers=desk).json():
        case = client.get(f"/api/v1/cases/{item['id']}", headers=desk).json()
        if markers.message in [r["text"] for r in case["thread"]]:
            break
    else:
        raise AssertionError("the request with photos is not in olena's queue")
    files = [f for record in case["thread"] for f in record["files"]]
    assert sorted(f["name"] for f in files) == sorted(
        f"{markers.file_name}{suffix}" for suffix in (".jpg", ".png", "-2.jpg")
    )
    for listed in files:
        got = client.get(f"/desk/cases/{case['id']}/files/{listed['id']}", headers=desk)
        assert got.status_code == 200, got.text
        assert not scan_bytes(got.content, markers.all())


def scan_bytes(content: bytes, markers: list[str]) -> list[str]:
    return [m for m in markers if m.encode() in content]


def test_photos_leave_no_trace_on_a_stopped_servers_disk(watched: Watched) -> None:
    markers = Markers.fresh()
    assert watched.watches_the_server()
    before = len(watched.writes())
    with httpx.Client(base_url=watched.server.base_url, timeout=60.0) as client:
        handed_out = send_photos(client, markers)
        read_on_the_desk(client, watched.server, markers)
    during = watched.writes()[before:]
    stop(watched.server.process)

    assert during == [], "while it handled photos, the server wrote to files:\n" + "\n".join(during)
    assert list(files_under(watched.tmp_dir)) == [], "the server left files in its temp directory"
    server = watched.server
    files = list(files_under(server.data_dir, server.log_dir, watched.tmp_dir, *server.store_dirs))
    assert files, "nothing to scan"
    hits = scan(files, [*markers.all(), *handed_out])
    assert not hits, "a stopped server's disk reveals:\n" + "\n".join(map(str, hits))


def test_the_write_watch_sees_a_file_spooled_to_a_temp_file(tmp_path: Path) -> None:
    # The control: what Starlette's parser does with a file over 1 MiB is seen by the watch.
    writes_log = tmp_path / "writes.log"
    spool = "import tempfile; f = tempfile.SpooledTemporaryFile(max_size=10); f.write(b'x' * 100)"
    env = {**os.environ, **watch_env(tmp_path, writes_log)}

    subprocess.run([sys.executable, "-c", spool], env=env, check=True, timeout=60)

    lines = writes_log.read_text().splitlines()
    assert any(f"\topen\t{tmp_path}\t" in line for line in lines), lines
    assert any("\twatching\t" in line for line in lines), lines
