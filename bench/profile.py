"""Where the time goes, in process and without HTTP: `python -m bench.profile intake|queue|case DATA_DIR`.

intake: cProfile of `submit_request` on a demo data dir (it adds cases there: use a scratch copy).
queue, case: cProfile of the desk's services for the demo user olena on a seeded data dir, and SQLite's
query plan of each statement they run. HAVEN_DATABASE_URL points them at PostgreSQL instead.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event, select, text

from haven.accounts.models import Operator, Role
from haven.accounts.services import UnlockedOperator
from haven.cases import services as cases
from haven.cases.models import Case
from haven.config import Settings
from haven.crypto.kdf import KdfParams
from haven.crypto.keys import unlock_with_passphrase
from haven.intake import services as intake
from haven.migrate import upgrade
from haven.runtime import Runtime

REQUEST = intake.Submission(
    "leave_service",
    "ru",
    {"danger_now": "yes", "where_now": "front", "goal": "surrender"},
    "Нас отправляют на штурм под Покровском через два дня. Как сдаться в плен безопасно?",
)


def _operator(runtime: Runtime, data_dir: Path, username: str) -> UnlockedOperator:
    users = json.loads((data_dir / "demo-credentials.json").read_text(encoding="utf-8"))["users"]
    passphrase = next(u["passphrase"] for u in users if u["username"] == username)
    with runtime.db.read() as s:
        row = s.scalars(select(Operator).where(Operator.username == username)).one()
        key = unlock_with_passphrase(
            row.locked_private_key, passphrase, KdfParams(row.kdf_opslimit, row.kdf_memlimit)
        )
        return UnlockedOperator(row.id, row.username, Role(row.role), key)


def _timed(label: str, call: Callable[[], object], repeat: int) -> None:
    call()  # warm caches and compiled statements
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    print(f"{label}: median {statistics.median(times):.2f} ms, p95 {p95:.2f} ms over {repeat} calls")
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(repeat):
        call()
    profile.disable()
    stats = pstats.Stats(profile)
    stats.sort_stats("tottime").print_stats(15)


def _plans(runtime: Runtime, call: Callable[[], object]) -> None:
    statements: list[tuple[str, Any]] = []

    def remember(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        statements.append((statement, parameters))

    event.listen(runtime.db.engine, "before_cursor_execute", remember)
    call()
    event.remove(runtime.db.engine, "before_cursor_execute", remember)
    if not runtime.db.is_sqlite:
        return
    with runtime.db.engine.connect() as conn:
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            print(statement.replace("\n", " ")[:300])
            for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters):
                print("    ", row[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    p.add_argument("what", choices=["intake", "queue", "case"])
    p.add_argument("data_dir", type=Path)
    p.add_argument("--repeat", type=int, default=200)
    args = p.parse_args(argv)
    runtime = Runtime.start(Settings.from_env(None, data_dir=args.data_dir))
    upgrade(runtime.db)
    if args.what == "intake":

        def submit() -> object:
            return intake.submit_request(
                db=runtime.db,
                submission=REQUEST,
                catalogue=runtime.catalogue,
                pepper=runtime.secrets.receipt_pepper,
                max_message_chars=runtime.settings.max_message_chars,
            )

        _timed("submit_request", submit, args.repeat)
        return 0
    operator = _operator(runtime, args.data_dir, "olena")
    if args.what == "queue":

        def queue() -> object:
            return cases.queue(db=runtime.db, operator=operator)

        _plans(runtime, queue)
        _timed("queue", queue, args.repeat)
        return 0
    with runtime.db.read() as s:
        ids = list(s.scalars(select(Case.id).order_by(text("random()")).limit(args.repeat)))
    picked = iter(ids * 3)

    def open_case() -> object:
        return cases.open_for_operator(db=runtime.db, operator=operator, case_id=next(picked))

    _plans(runtime, open_case)
    _timed("open_for_operator", open_case, min(args.repeat, len(ids)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
