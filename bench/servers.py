"""The servers under test, each in its own process: Haven (`haven serve`) and the baseline app."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
HAVEN = ROOT / ".venv" / "bin" / "haven"
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    """A server process we started; stopped by its own pid (and its own process group) only."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 120.0) -> Server:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own commands
            [*self.argv, "--host", HOST, "--port", str(self.port)],
            env=self.env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {self.log_path}")
            try:
                status, _headers, _body = request(self.port, "GET", "/api/v1/openapi.json")
                if status < 500:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {timeout:.0f} s; see {self.log_path}")

    def pids(self) -> list[int]:
        """The server's process and its children (uvicorn's workers)."""
        if self.process is None:
            return []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        found = [self.process.pid]
        if children.exists():
            found += [int(p) for p in children.read_text().split()]
        return found

    def memory_kib(self) -> dict[str, int]:
        """Peak (VmHWM) and current (VmRSS) resident memory, summed over the server's processes."""
        totals = {"VmHWM": 0, "VmRSS": 0}
        for pid in self.pids():
            try:
                lines = Path(f"/proc/{pid}/status").read_text().splitlines()
            except OSError:
                continue
            for line in lines:
                key, _, value = line.partition(":")
                if key in totals:
                    totals[key] += int(value.split()[0])
        return {"peak": totals["VmHWM"], "current": totals["VmRSS"]}

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def haven_server(
    data_dir: Path, log_dir: Path, *, database_url: str = "", redis_url: str = "", workers: int = 1
) -> Server:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")}
    # The flood guard (security/ratelimit.py) would answer most of the load with 429: the bench measures the
    # work behind it, so it is off here, as HAVEN_RATE_LIMITS allows for benchmarks only.
    env.update(
        {
            "HAVEN_DATABASE_URL": database_url,
            "HAVEN_REDIS_URL": redis_url,
            "HAVEN_LOG_LEVEL": "WARNING",
            "HAVEN_RATE_LIMITS": "off",
            # Proof of work costs the client, not the server: the bench measures the server's own work.
            "HAVEN_POW": "off",
            # The seeded datasets span two years: a purge in the middle of a run would shrink them.
            "HAVEN_PURGE_INTERVAL_MINUTES": "0",
        }
    )
    argv = [str(HAVEN), "serve", "--data-dir", str(data_dir)]
    if workers > 1:
        argv += ["--workers", str(workers)]
    return Server(f"haven ({data_dir.name}, {workers} worker(s))", argv, env, log_dir / "haven.log")


def baseline_server(db_path: Path, log_dir: Path) -> Server:
    env = dict(os.environ, BENCH_BASELINE_DB=str(db_path))
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.baseline_app:app",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--no-server-header",
        "--no-date-header",
        "--log-level",
        "warning",
    ]
    return Server("baseline", argv, env, log_dir / "baseline.log")


def request(
    port: int,
    method: str,
    path: str,
    body: object = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 1200,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        payload = None if body is None else json.dumps(body).encode("utf-8")
        all_headers = {"Content-Type": "application/json"} if payload is not None else {}
        all_headers.update(headers or {})
        connection.request(method, path, body=payload, headers=all_headers)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


_LAST_STEP: dict[tuple[str, str], int] = {}


def log_in(server: Server, data_dir: Path, username: str) -> str:
    """Log a demo user in over the API; returns the session cookie. Waits for a fresh one-time code."""
    from haven.accounts.totp import STEP_SECONDS, current_code

    users = json.loads((data_dir / "demo-credentials.json").read_text(encoding="utf-8"))["users"]
    user = next(u for u in users if u["username"] == username)
    key = (str(data_dir), username)
    while int(time.time()) // STEP_SECONDS <= _LAST_STEP.get(key, -1):
        time.sleep(1)
    _LAST_STEP[key] = int(time.time()) // STEP_SECONDS
    status, headers, body = request(
        server.port,
        "POST",
        "/api/v1/session",
        {"username": username, "passphrase": user["passphrase"], "totp": current_code(user["totp_secret"])},
    )
    if status != 200:
        raise RuntimeError(f"login as {username} failed: {status} {body[:200]!r}")
    for value in headers.get_all("set-cookie") or []:
        name, _, rest = value.partition("=")
        if name.strip() == "haven_session":
            return f"haven_session={rest.split(';')[0]}"
    raise RuntimeError("login answered 200 without a session cookie")
