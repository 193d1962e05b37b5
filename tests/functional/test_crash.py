"""Nothing acknowledged is ever lost.

Requesters submit from several threads at once and an operator replies, while the server (a real
`haven serve` on a demo data dir; on PostgreSQL two workers) is killed with SIGKILL at a random moment
and started again on the same data, ten times over. Each thread writes down every receipt or reply the
server answered 201 to. Afterwards every such receipt opens its case and holds the message sent with it,
and every acknowledged reply is in its requester's thread: an answer is only given once the write is
durable (intake's group commit wakes a request only after the shared commit)."""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pyotp

from tests.functional.served import (
    Deployment,
    Server,
    crash,
    demo_credentials,
    legal_request,
    operator_login,
    start,
    stop,
)

ROUNDS = 10
REQUESTERS = 4
LOAD_SECONDS = (0.3, 1.5)  # how long the load runs before the kill, drawn anew each round
# Intake-team operators, taking turns: each login spends one of a user's one-time codes.
OPERATORS = ("olena", "coordinator", "admin")


@dataclass
class Ledger:
    """What the server acknowledged (201), and anything it answered that it should not have."""

    receipts: list[tuple[str, str]] = field(default_factory=list)  # (receipt, the message sent with it)
    replies: list[str] = field(default_factory=list)
    cut: int = 0  # requests that met the kill instead of an answer
    wrong: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note_wrong(self, what: str) -> None:
        with self.lock:
            self.wrong.append(what)


class OneTimeCodes:
    """Fresh one-time codes for the intake operators. The server accepts each time step of a user once, and
    only steps within 30 s of now, so a user has two or three logins to spend, then one more every 30 s:
    hand out each step at most once, from whichever operator has one left now."""

    def __init__(self, credentials: Mapping[str, Any]) -> None:
        self._totp = {u["username"]: pyotp.TOTP(u["totp_secret"]) for u in credentials["users"]}
        self._last: dict[str, int] = {}

    def fresh(self) -> tuple[str, str] | None:
        """(username, code) of an operator who can log in now, or None if all have used theirs up."""
        now = time.time()
        # The previous step stays valid until this one ends: use it only with time to spare.
        earliest_offset = -1 if now % 30 < 20 else 0
        for username in OPERATORS:
            totp = self._totp[username]
            here = totp.timecode(datetime.fromtimestamp(now, UTC))
            step = max(self._last.get(username, -1) + 1, here + earliest_offset)
            if step <= here + 1:
                self._last[username] = step
                return username, str(totp.generate_otp(step))
        return None


def submit_until_killed(server: Server, ledger: Ledger, tag: str) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        for n in range(100_000):
            message = f"crash test {tag}-{n} {secrets.token_hex(6)}"
            try:
                answer = client.post("/api/v1/requests", json=legal_request(message))
            except httpx.TransportError:
                with ledger.lock:
                    ledger.cut += 1
                return
            if answer.status_code != 201:
                ledger.note_wrong(f"request {tag}-{n} was answered {answer.status_code}")
                return
            with ledger.lock:
                ledger.receipts.append((answer.json()["receipt"], message))


def reply_until_killed(
    server: Server,
    ledger: Ledger,
    tag: str,
    login: Callable[[httpx.Client], dict[str, str]],
    case_ids: list[str],
) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        try:
            desk = login(client)
            for n in range(100_000):
                text = f"crash reply {tag}-{n} {secrets.token_hex(6)}"
                answer = client.post(
                    f"/api/v1/cases/{case_ids[n % len(case_ids)]}/messages", json={"text": text}, headers=desk
                )
                if answer.status_code != 201:
                    ledger.note_wrong(f"reply {tag}-{n} was answered {answer.status_code}")
                    return
                with ledger.lock:
                    ledger.replies.append(text)
        except httpx.TransportError:
            with ledger.lock:
                ledger.cut += 1


def guarded(ledger: Ledger, work: Callable[[], None]) -> Callable[[], None]:
    """A thread's work, its failures written down: an exception in a thread would otherwise vanish."""

    def run() -> None:
        try:
            work()
        except Exception as exc:
            ledger.note_wrong(f"{type(exc).__name__}: {exc}")

    return run


def load_then_kill(
    server: Server,
    ledger: Ledger,
    round_: int,
    login: Callable[[httpx.Client], dict[str, str]] | None,
    case_ids: list[str],
) -> None:
    """Requesters and an operator (when one can log in) write as fast as they can; the server is killed
    while they do."""
    work = [partial(submit_until_killed, server, ledger, f"{round_}.{i}") for i in range(REQUESTERS)]
    if login is not None:
        work.append(partial(reply_until_killed, server, ledger, str(round_), login, case_ids))
    workers = [threading.Thread(target=guarded(ledger, w)) for w in work]
    for worker in workers:
        worker.start()
    time.sleep(random.uniform(*LOAD_SECONDS))
    crash(server)
    for worker in workers:
        worker.join(timeout=60)
        assert not worker.is_alive(), "a client kept going after the server was killed"


def missing_after_restart(
    server: Server, ledger: Ledger, demo_receipts: list[str]
) -> tuple[list[str], set[str]]:
    """The acknowledged messages no receipt brings back, and the acknowledged replies no thread holds."""

    def thread(client: httpx.Client, receipt: str) -> list[str]:
        answer = client.get("/api/v1/requests/me", headers={"Authorization": f"Receipt {receipt}"})
        if answer.status_code != 200:
            return []
        return [m["text"] for m in answer.json()["messages"]]

    def lost(chunk: list[tuple[str, str]]) -> list[str]:
        with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
            return [message for receipt, message in chunk if message not in thread(client, receipt)]

    chunks = [ledger.receipts[i::4] for i in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        lost_messages = [m for part in pool.map(lost, chunks) for m in part]
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        replies_read = {text for receipt in demo_receipts for text in thread(client, receipt)}
    return lost_messages, set(ledger.replies) - replies_read


def test_nothing_acknowledged_is_lost_when_the_server_is_killed(
    tmp_path: Path, store: str, empty_database_url: str
) -> None:
    # Rate limits would turn this load away; they are another test's subject, durability is this one's.
    deployment = Deployment.on(tmp_path, store, empty_database_url, HAVEN_RATE_LIMITS="off")
    deployment.seed_demo()
    ledger = Ledger()
    server = start(deployment, log_level="WARNING")
    credentials = demo_credentials(server)
    codes = OneTimeCodes(credentials)

    def login(username: str, code: str) -> Callable[[httpx.Client], dict[str, str]]:
        return lambda client: operator_login(client, credentials, username, code=code)

    try:
        with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
            first = codes.fresh()
            assert first is not None
            desk = login(*first)(client)
            # The demo's five cases, whose receipts we hold: replies go there, for their requesters to read.
            demo_cases = [case["id"] for case in client.get("/api/v1/cases", headers=desk).json()]
        assert len(demo_cases) == len(credentials["receipts"])

        for round_ in range(ROUNDS):
            if round_:
                server = start(deployment, log_level="WARNING")
            operator = codes.fresh()
            load_then_kill(server, ledger, round_, login(*operator) if operator else None, demo_cases)

        server = start(deployment, log_level="WARNING")
        lost_messages, lost_replies = missing_after_restart(server, ledger, credentials["receipts"])
    finally:
        stop(server.process)  # whichever server is up when the test ends or fails
    assert not ledger.wrong, ledger.wrong
    assert len(ledger.receipts) >= ROUNDS, "too little load to prove anything"
    assert ledger.replies, "no reply was acknowledged: the operator never got going"
    assert ledger.cut >= ROUNDS, "the kills never caught a request in flight"
    assert not lost_messages, (
        f"{len(lost_messages)} of {len(ledger.receipts)} acknowledged requests were lost"
    )
    assert not lost_replies, f"{len(lost_replies)} of {len(ledger.replies)} acknowledged replies were lost"
