"""What is measured: intake against the baseline, the desk on seeded stores, search, and worker scaling."""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import load
from bench.datasets import Dataset, case_ids, fresh_demo
from bench.servers import Server, baseline_server, haven_server, log_in, request

INTAKE = "/api/v1/requests"
SEARCH = "/api/v1/cases/search"
QUEUE = "/desk/"
COLD_SEARCH_TIMEOUT = 1200


@dataclass(frozen=True)
class IntakeResult:
    connections: int
    baseline: list[load.Run]
    haven: list[load.Run]

    @staticmethod
    def _median(runs: list[load.Run], attribute: str) -> float:
        return float(statistics.median(float(getattr(r, attribute)) for r in runs))

    def rps(self, which: str) -> float:
        return self._median(getattr(self, which), "rps")

    def latency(self, which: str, attribute: str) -> float:
        return self._median(getattr(self, which), attribute)

    @property
    def ratio(self) -> float:
        return self.rps("haven") / self.rps("baseline")


def intake(work: Path, *, seconds: float, rounds: int) -> tuple[list[IntakeResult], dict[str, Any]]:
    """Baseline and Haven on a fresh demo, both served at once and measured in turn, `rounds` times."""
    demo = fresh_demo(work / "intake-demo", work / "setup.log")
    baseline_db = work / "baseline.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{baseline_db}{suffix}").unlink(missing_ok=True)
    runs: dict[tuple[str, int], list[load.Run]] = {}
    with baseline_server(baseline_db, work) as baseline, haven_server(demo, work) as haven:
        servers = {"baseline": baseline, "haven": haven}
        for name, server in servers.items():
            _check(server, "POST", INTAKE, 201)
            load.run(f"{name} warm-up", server.base + INTAKE, "intake.lua", connections=4, seconds=3)
        for round_no in range(rounds):
            for connections in (1, 16):
                # Alternate who goes first, so that neither always meets a warmer or cooler machine.
                order = list(servers.items()) if round_no % 2 == 0 else list(servers.items())[::-1]
                for name, server in order:
                    run = load.run(
                        f"intake {name} c={connections}",
                        server.base + INTAKE,
                        "intake.lua",
                        connections=connections,
                        seconds=seconds,
                    )
                    runs.setdefault((name, connections), []).append(run)
        memory = {name: server.memory_kib() for name, server in servers.items()}
    results = [IntakeResult(c, runs[("baseline", c)], runs[("haven", c)]) for c in (1, 16)]
    raw = {
        "runs": [r.as_json() for rs in runs.values() for r in rs],
        "memory_kib": memory,
    }
    return results, raw


@dataclass
class DeskResult:
    dataset: Dataset
    queue: load.Run
    case: load.Run
    search_cold_ms: float | None = None
    search: load.Run | None = None
    search_note: str = ""
    search_hits: int | None = None
    memory_kib: dict[str, int] = field(default_factory=dict)
    memory_after_login_kib: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset.name,
            "cases": self.dataset.cases,
            "seed_seconds": self.dataset.seed_seconds,
            "queue": self.queue.as_json(),
            "case": self.case.as_json(),
            "search_cold_ms": self.search_cold_ms,
            "search": self.search.as_json() if self.search else None,
            "search_note": self.search_note,
            "search_first_query_hits": self.search_hits,
            "memory_kib": self.memory_kib,
            "memory_after_login_kib": self.memory_after_login_kib,
        }


def _check(
    server: Server, method: str, path: str, status: int, headers: dict[str, str] | None = None
) -> None:
    body = {"type": "other", "language": "en", "answers": {"danger_now": "no"}, "message": "Check."}
    got, _headers, text = request(server.port, method, path, body if method == "POST" else None, headers)
    if got != status:
        raise RuntimeError(f"{server.name}: {method} {path} answered {got}, not {status}: {text[:300]!r}")


def _paths_file(work: Path, name: str, paths: list[str]) -> str:
    path = work / f"{name}.paths"
    path.write_text("\n".join(paths) + "\n", encoding="utf-8")
    return str(path)


def desk(
    dataset: Dataset, work: Path, *, seconds: float, search_terms: list[str], connections: int = 1
) -> DeskResult:
    """The queue page and random cases for an operator of the intake team; then search, then memory."""
    with haven_server(dataset.data_dir, work, database_url=dataset.database_url) as server:
        cookie = {"Cookie": log_in(server, dataset.data_dir, "olena")}
        after_login = server.memory_kib()
        ids = case_ids(dataset, 5000)
        case_paths = _paths_file(work, f"{dataset.name}-cases", [f"/desk/cases/{i}" for i in ids])
        queue_paths = _paths_file(work, f"{dataset.name}-queue", [QUEUE])
        _check(server, "GET", QUEUE, 200, cookie)
        _check(server, "GET", f"/desk/cases/{ids[0]}", 200, cookie)

        def measure(label: str, paths: str) -> load.Run:
            load.run(
                "warm-up",
                server.base + QUEUE,
                "paths.lua",
                connections=1,
                seconds=2,
                headers=cookie,
                args=[paths],
            )
            return load.run(
                f"{label} {dataset.name}",
                server.base + QUEUE,
                "paths.lua",
                connections=connections,
                seconds=seconds,
                headers=cookie,
                args=[paths],
            )

        result = DeskResult(dataset, measure("queue", queue_paths), measure("case", case_paths))
        _search(server, work, result, cookie, search_terms, seconds)
        # A second operator logging in while the index is held: Argon2id's 128 MiB on top of the index.
        log_in(server, dataset.data_dir, "coordinator")
        result.memory_kib = server.memory_kib()
        result.memory_after_login_kib = after_login
    return result


def _search(
    server: Server, work: Path, result: DeskResult, cookie: dict[str, str], terms: list[str], seconds: float
) -> None:
    """POST /api/v1/cases/search {"q": ...}: the first query builds the team's index; then warm queries."""
    bodies = [json.dumps({"q": term}) for term in terms]
    started = time.monotonic()
    try:
        status, _headers, body = request(server.port, "POST", SEARCH, {"q": terms[0]}, cookie)
    except TimeoutError:
        result.search_note = f"the first search (index build) took over {COLD_SEARCH_TIMEOUT} s"
        return
    cold = (time.monotonic() - started) * 1000
    if status != 200:
        result.search_note = f"POST {SEARCH} answered {status}: {body[:120]!r}"
        return
    result.search_cold_ms = cold
    result.search_hits = json.loads(body)["total"]
    path = work / f"{result.dataset.name}-search.bodies"
    path.write_text("\n".join(bodies) + "\n", encoding="utf-8")
    result.search = load.run(
        f"search {result.dataset.name}",
        server.base + SEARCH,
        "bodies.lua",
        connections=1,
        seconds=seconds,
        headers=cookie,
        args=[str(path)],
        timeout_s=30,
    )


def workers(
    database_url: str, redis_url: str, work: Path, *, seconds: float, counts: tuple[int, ...] = (1, 2, 4)
) -> list[load.Run]:
    """Intake throughput on PostgreSQL with 1, 2 and 4 worker processes, at 16 connections."""
    demo = fresh_demo(work / "workers-demo", work / "setup.log", database_url)
    runs = []
    for count in counts:
        with haven_server(
            demo, work, database_url=database_url, redis_url=redis_url, workers=count
        ) as server:
            _check(server, "POST", INTAKE, 201)
            load.run("warm-up", server.base + INTAKE, "intake.lua", connections=16, seconds=3)
            runs.append(
                load.run(
                    f"intake postgresql {count} worker(s)",
                    server.base + INTAKE,
                    "intake.lua",
                    connections=16,
                    seconds=seconds,
                )
            )
    return runs
