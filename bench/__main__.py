"""`python -m bench [--quick]`: run every measurement, print one table, write bench/results/<date>.json.

`make bench` runs it through scripts/with-services, which provides the PostgreSQL cluster and Redis
(HAVEN_TEST_POSTGRES_URL, HAVEN_TEST_REDIS_URL); without them the PostgreSQL parts are skipped.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import time
from typing import Any

from bench import load, scenarios
from bench.datasets import DATA, Dataset, new_postgres_database, seeded
from bench.report import Metric, table, write

MB = 1024


def _ms(value: float) -> str:
    return f"{value:,.1f} ms"


def _errors(runs: list[load.Run]) -> list[Metric]:
    """A row for every run that had errors: its figures measure error answers, not the work."""
    return [
        Metric(f"ERRORS in {r.label}", f"{r.errors:,} of {r.requests:,} requests failed", "0", False)
        for r in runs
        if r.errors
    ]


def _intake_metrics(results: list[scenarios.IntakeResult]) -> list[Metric]:
    metrics = []
    for r in results:
        metrics += _errors(r.baseline + r.haven)
        c = r.connections
        metrics.append(
            Metric(
                f"intake, {c} conn: Haven / baseline req/s",
                f"{r.rps('haven'):,.0f} / {r.rps('baseline'):,.0f} = {r.ratio:.2f}",
                ">= 0.6",
                r.ratio >= 0.6,
            )
        )
        p50, p99 = r.latency("haven", "p50_ms"), r.latency("haven", "p99_ms")
        b50, b99 = r.latency("baseline", "p50_ms"), r.latency("baseline", "p99_ms")
        if c == 1:
            metrics.append(
                Metric(
                    f"intake, {c} conn: Haven p50 (baseline)", f"{_ms(p50)} ({_ms(b50)})", "<= 2 ms", p50 <= 2
                )
            )
        else:
            metrics.append(
                Metric(
                    f"intake, {c} conn: Haven p99 (baseline)",
                    f"{_ms(p99)} ({_ms(b99)})",
                    "<= 25 ms",
                    p99 <= 25,
                )
            )
    return metrics


def _desk_metrics(result: scenarios.DeskResult) -> list[Metric]:
    name = result.dataset.name
    metrics = [
        *_errors([result.queue, result.case, *([result.search] if result.search else [])]),
        Metric(
            f"desk {name}: queue page p95", _ms(result.queue.p95_ms), "<= 50 ms", result.queue.p95_ms <= 50
        ),
        Metric(
            f"desk {name}: open a case p95", _ms(result.case.p95_ms), "<= 20 ms", result.case.p95_ms <= 20
        ),
    ]
    if result.search is not None and result.search_cold_ms is not None:
        p95 = result.search.p95_ms
        metrics.append(Metric(f"search {name}: query p95", _ms(p95), "<= 300 ms", p95 <= 300))
        metrics.append(Metric(f"search {name}: first query (builds index)", _ms(result.search_cold_ms)))
    else:
        metrics.append(Metric(f"search {name}", "not measured: " + result.search_note, "<= 300 ms", None))
    if result.dataset.seed_seconds:
        rate = result.dataset.cases / result.dataset.seed_seconds
        metrics.append(
            Metric(f"seeding {name}", f"{result.dataset.seed_seconds:,.0f} s ({rate:,.0f} cases/s)")
        )
    return metrics


def _memory_metric(result: scenarios.DeskResult) -> Metric:
    peak = result.memory_kib["peak"] / MB
    now = result.memory_kib["current"] / MB
    return Metric(
        f"server memory, {result.dataset.name}: peak (now)",
        f"{peak:,.0f} MB ({now:,.0f} MB)",
        "<= 250 MB",
        peak <= 250,
    )


def _chat_hash_metric() -> Metric:
    """The slow hash that finds a Telegram chat's case, at the production cost: a floor, not a ceiling,
    since guessing all 10^10 chat ids must cost at least a CPU-year (5 ms each)."""
    from haven.channels.telegram.chat_keys import derive
    from haven.config import Settings
    from haven.crypto.kdf import KdfParams

    defaults = Settings(data_dir=DATA)
    params = KdfParams(defaults.telegram_hash_opslimit, defaults.telegram_hash_memlimit)
    times = []
    for chat_id in range(100_000_000, 100_000_050):
        start = time.perf_counter()
        derive(chat_id, pepper=b"\x00" * 32, params=params)
        times.append((time.perf_counter() - start) * 1000)
    median = sorted(times)[len(times) // 2]
    years = median / 1000 * 10**10 / (365 * 24 * 3600)
    return Metric(
        f"telegram chat-id hash (Argon2id {params.opslimit} / {params.memlimit >> 20} MiB), median of 50",
        f"{_ms(median)}: all 10^10 ids take {years:,.1f} CPU-years",
        ">= 5 ms",
        median >= 5,
    )


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="100,000 cases only, one short round")
    p.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], help="e.g. 100000,1000000")
    p.add_argument("--seconds", type=float, help="length of each wrk run (quick 8, full 15)")
    p.add_argument(
        "--rounds", type=int, help="intake rounds, interleaved with the baseline (quick 1, full 3)"
    )
    p.add_argument("--reseed", action="store_true", help="seed the SQLite datasets again")
    p.add_argument(
        "--only", choices=["intake", "desk", "workers", "telegram"], action="append", help="run only these"
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    sizes = args.sizes or ([100_000] if args.quick else [100_000, 1_000_000])
    seconds = args.seconds or (8.0 if args.quick else 15.0)
    rounds = args.rounds or (1 if args.quick else 3)
    only = set(args.only or ["intake", "desk", "workers", "telegram"])
    postgres = os.environ.get("HAVEN_TEST_POSTGRES_URL", "")
    redis = os.environ.get("HAVEN_TEST_REDIS_URL", "")
    try:
        load.wrk_path()
    except load.WrkMissing as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    work = DATA / "run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    from haven.seeding_texts import SEARCH_TERMS

    terms = random.Random(1).sample(list(SEARCH_TERMS), k=min(20, len(SEARCH_TERMS)))
    metrics: list[Metric] = []
    raw: dict[str, Any] = {"desk": []}
    started = time.monotonic()

    if "intake" in only:
        print("intake: baseline and Haven, interleaved ...", flush=True)
        results, raw["intake"] = scenarios.intake(work, seconds=seconds, rounds=rounds)
        metrics += _intake_metrics(results)

    if "desk" in only:
        stores = [""] + ([postgres] if postgres else [])
        for store_url in stores:
            for size in sizes:
                url = new_postgres_database(store_url, f"bench_{size // 1000}k") if store_url else ""
                dataset: Dataset = seeded(size, work / "setup.log", database_url=url, reseed=args.reseed)
                print(f"desk: {dataset.name} ...", flush=True)
                result = scenarios.desk(dataset, work, seconds=seconds, search_terms=terms)
                raw["desk"].append(result.as_json())
                metrics += _desk_metrics(result)
                if size == 100_000 and not store_url:
                    metrics.append(_memory_metric(result))
        if not postgres:
            metrics.append(Metric("desk on PostgreSQL", "skipped: run through scripts/with-services"))

    if "workers" in only:
        if postgres and redis:
            print("workers: intake on PostgreSQL with 1, 2, 4 workers ...", flush=True)
            url = new_postgres_database(postgres, "bench_workers")
            runs = scenarios.workers(url, redis, work, seconds=seconds)
            raw["workers"] = [r.as_json() for r in runs]
            metrics += _errors(runs)
            one = runs[0].rps
            for count, run in zip((1, 2, 4), runs, strict=True):
                metrics.append(
                    Metric(
                        f"intake on PostgreSQL, {count} worker(s), 16 conn",
                        f"{run.rps:,.0f} req/s ({run.rps / one:.2f}x), p99 {_ms(run.p99_ms)}",
                    )
                )
        else:
            metrics.append(Metric("workers on PostgreSQL", "skipped: run through scripts/with-services"))

    if "telegram" in only:
        print("telegram: the cost of the chat-id hash ...", flush=True)
        metrics.append(_chat_hash_metric())

    options = {
        "quick": args.quick,
        "partial": args.only is not None,
        "sizes": sizes,
        "seconds": seconds,
        "rounds": rounds,
        "only": sorted(only),
        "postgres": bool(postgres),
    }
    raw["total_seconds"] = round(time.monotonic() - started, 1)
    path = write(metrics, raw, options)
    print()
    print(table(metrics))
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
