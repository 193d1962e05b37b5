"""A real `haven serve` process on a loopback port, seeded by `haven demo`: for tests that must see what
the server does as a whole (what it leaves on disk, how it survives being killed, several workers).

On SQLite it is one process; on PostgreSQL it runs two workers that share sessions through Redis, as a
scaled-out deployment does."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pyotp

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
    store_dirs: list[Path]  # PostgreSQL's cluster (data, WAL, log) and Redis's dir, when they hold the data


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


@contextmanager
def served_demo(
    tmp_path: Path, store: str, database_url: str, *, log_level: str = "DEBUG"
) -> Iterator[Server]:
    """`haven demo --no-serve` then `haven serve` on it, stopped when the block ends."""
    data_dir = tmp_path / "data"
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    store_env: dict[str, str] = {}
    workers: list[str] = []
    if store == "postgresql":
        store_env = {
            "HAVEN_DATABASE_URL": database_url,
            "HAVEN_REDIS_URL": os.environ["HAVEN_TEST_REDIS_URL"],
        }
        workers = ["--workers", "2"]
    seeded = subprocess.run(
        [str(haven_command()), "demo", "--data-dir", str(data_dir), "--no-serve"],
        env=server_env(**store_env),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert seeded.returncode == 0, seeded.stderr.decode(errors="replace")
    port = free_port()
    with (log_dir / "server.log").open("wb") as log:
        command = [str(haven_command()), "serve", "--data-dir", str(data_dir), *workers]
        process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            env=server_env(HAVEN_LOG_LEVEL=log_level, **store_env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    store_dirs = [Path(os.environ["HAVEN_TEST_SERVICES_DIR"])] if store == "postgresql" else []
    running = Server(f"http://127.0.0.1:{port}", process, data_dir, log_dir, store_dirs)
    try:
        wait_until_answering(running)
        yield running
    finally:
        stop(process)


def demo_credentials(server: Server) -> Mapping[str, Any]:
    credentials: Mapping[str, Any] = json.loads((server.data_dir / "demo-credentials.json").read_text())
    return credentials


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
