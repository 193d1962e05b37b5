"""A real `haven serve` process on a loopback port, seeded by `haven demo`: for tests that must see what
the server does as a whole (what it leaves on disk, how it survives being killed, several workers).

On SQLite it is one process; on PostgreSQL it runs two workers that share sessions through Redis, as a
scaled-out deployment does. A server runs in its own process group, so `crash` can SIGKILL it with its
workers at once, as a power cut would, and `start` can bring it back on the same data."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pyotp

WEAK_KDF_ENV = {"HAVEN_KDF_OPSLIMIT": "1", "HAVEN_KDF_MEMLIMIT": "8192"}
# Proof of work has tests of its own (test_pow_served.py turns it back on); elsewhere requests go straight in.
POW_OFF_ENV = {"HAVEN_POW": "off"}
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
    env.update(POW_OFF_ENV)
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
        _kill_group(process)


def crash(server: Server) -> None:
    """SIGKILL the server and all its workers at once: no shutdown, no flush, no last commit."""
    _kill_group(server.process)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    # The server leads its own process group (start_new_session), so this reaches every worker too.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=STOP_TIMEOUT_SECONDS)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while _group_alive(process.pid):
        assert time.monotonic() < deadline, "a killed server's workers are still running"
        time.sleep(0.05)


def _group_alive(group: int) -> bool:
    """Whether any process of the group still runs (zombies waiting for a reaper do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):
            # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its closing parenthesis.
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == group and fields[0] != "Z":
                return True
    return False


@dataclass(frozen=True)
class Deployment:
    """A data dir and the store under test (SQLite in the data dir, or a PostgreSQL database with sessions
    in Redis and two workers): what `haven serve` needs to run, again and again, on the same data."""

    data_dir: Path
    log_dir: Path
    env: dict[str, str]  # HAVEN_* settings beside the weak KDF: the store, and any the test adds
    workers: list[str]
    store_dirs: list[Path]

    @classmethod
    def on(cls, root: Path, store: str, database_url: str, **settings: str) -> Deployment:
        """A deployment whose data dir is ROOT/data (not created yet) and whose logs go to ROOT/log;
        `settings` are more HAVEN_* variables for every command run on it."""
        log_dir = root / "log"
        log_dir.mkdir(parents=True)
        if store == "postgresql":
            return cls(
                root / "data",
                log_dir,
                {
                    "HAVEN_DATABASE_URL": database_url,
                    "HAVEN_REDIS_URL": os.environ["HAVEN_TEST_REDIS_URL"],
                    **settings,
                },
                ["--workers", "2"],
                [Path(os.environ["HAVEN_TEST_SERVICES_DIR"])],
            )
        return cls(root / "data", log_dir, dict(settings), [], [])

    def haven(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        """Run a `haven` command (init, demo, backup, restore, ...) against this deployment's store."""
        return subprocess.run(
            [str(haven_command()), *args],
            env=server_env(**self.env),
            input=stdin,
            capture_output=True,
            timeout=120,
            check=False,
        )

    def seed_demo(self) -> None:
        seeded = self.haven("demo", "--data-dir", str(self.data_dir), "--no-serve")
        assert seeded.returncode == 0, seeded.stderr.decode(errors="replace")


def start(deployment: Deployment, *, log_level: str = "DEBUG") -> Server:
    """`haven serve` on the deployment, on a fresh port, once it answers; its log is appended to."""
    port = free_port()
    with (deployment.log_dir / "server.log").open("ab") as log:
        command = [str(haven_command()), "serve", "--data-dir", str(deployment.data_dir), *deployment.workers]
        process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            env=server_env(**{"HAVEN_LOG_LEVEL": log_level, **deployment.env}),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Server(
        f"http://127.0.0.1:{port}", process, deployment.data_dir, deployment.log_dir, deployment.store_dirs
    )
    try:
        wait_until_answering(running)
    except BaseException:
        _kill_group(process)
        raise
    return running


@contextmanager
def serving(deployment: Deployment, *, log_level: str = "DEBUG") -> Iterator[Server]:
    """`haven serve` on the deployment, stopped when the block ends."""
    running = start(deployment, log_level=log_level)
    try:
        yield running
    finally:
        stop(running.process)


@contextmanager
def served_demo(
    tmp_path: Path, store: str, database_url: str, *, log_level: str = "DEBUG"
) -> Iterator[Server]:
    """`haven demo --no-serve` then `haven serve` on it, stopped when the block ends."""
    deployment = Deployment.on(tmp_path, store, database_url)
    deployment.seed_demo()
    with serving(deployment, log_level=log_level) as running:
        yield running


def legal_request(message: str) -> dict[str, Any]:
    """The body of a valid intake request (a legal question, no danger) carrying `message`."""
    return {
        "type": "legal",
        "language": "en",
        "answers": {"danger_now": "no", "topic": "contract"},
        "message": message,
    }


def demo_credentials(server: Server) -> Mapping[str, Any]:
    credentials: Mapping[str, Any] = json.loads((server.data_dir / "demo-credentials.json").read_text())
    return credentials


def operator_login(
    client: httpx.Client, credentials: Mapping[str, Any], username: str, *, code: str | None = None
) -> dict[str, str]:
    """Log in over the API (with the current one-time code unless given one); returns the headers
    (cookie and CSRF token) later requests need.

    The session cookie is Secure and this server speaks plain http on loopback, so httpx would keep it
    to itself: send it back by hand, as a browser behind the TLS proxy would."""
    user = next(u for u in credentials["users"] if u["username"] == username)
    started = client.post(
        "/api/v1/session",
        json={
            "username": username,
            "passphrase": user["passphrase"],
            "totp": code or pyotp.TOTP(user["totp_secret"]).now(),
        },
    )
    assert started.status_code == 200, started.text
    cookies = [header.split(";", 1)[0] for header in started.headers.get_list("set-cookie")]
    assert cookies, "the login set no session cookie"
    return {"Cookie": "; ".join(cookies), "X-CSRF-Token": started.json()["csrf_token"]}
