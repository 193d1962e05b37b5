"""Data directories to serve: a fresh demo for intake, and demos seeded with many cases for the desk.

Seeded SQLite directories are kept in bench/.data/ between runs (seeding a million cases takes minutes);
PostgreSQL ones live in the private cluster of `scripts/with-services` and are seeded on every run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from bench.servers import HAVEN

DATA = Path(__file__).resolve().parent / ".data"


@dataclass(frozen=True)
class Dataset:
    name: str
    data_dir: Path
    database_url: str  # "" for SQLite in the data dir
    cases: int
    seed_seconds: float | None  # None when a kept directory was reused


def _env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")}
    env["HAVEN_DATABASE_URL"] = database_url
    return env


def _haven(args: list[str], database_url: str, log: Path) -> None:
    with log.open("ab") as out:
        subprocess.run(  # noqa: S603 - our own command
            [str(HAVEN), *args], env=_env(database_url), stdout=out, stderr=subprocess.STDOUT, check=True
        )


def fresh_demo(data_dir: Path, log: Path, database_url: str = "") -> Path:
    """A new demo organisation (four users, five requests) in an empty directory."""
    shutil.rmtree(data_dir, ignore_errors=True)
    _haven(["demo", "--no-serve", "--data-dir", str(data_dir)], database_url, log)
    return data_dir


def seeded(cases: int, log: Path, *, database_url: str = "", reseed: bool = False) -> Dataset:
    """A demo with `cases` more cases from `haven seed`; on SQLite, reused from bench/.data if there."""
    store = "postgresql" if database_url else "sqlite"
    name = f"{store}-{cases // 1000}k"
    data_dir = DATA / name
    marker = data_dir / "bench-seeded.json"
    if not (database_url or reseed) and marker.exists() and json.loads(marker.read_text())["cases"] == cases:
        return Dataset(name, data_dir, "", cases, None)
    print(f"  seeding {cases:,} cases into {name} (log: {log})", flush=True)
    fresh_demo(data_dir, log, database_url)
    started = time.monotonic()
    _haven(["seed", "--data-dir", str(data_dir), "--cases", str(cases)], database_url, log)
    seconds = time.monotonic() - started
    marker.write_text(json.dumps({"cases": cases, "seconds": round(seconds, 1)}))
    return Dataset(name, data_dir, database_url, cases, seconds)


def new_postgres_database(server_url: str, prefix: str) -> str:
    """A new empty database on the cluster of scripts/with-services; dropped with the cluster."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def case_ids(dataset: Dataset, count: int) -> list[str]:
    """A random sample of the dataset's case ids, read straight from the store."""
    url = dataset.database_url or f"sqlite:///{dataset.data_dir / 'haven.db'}"
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id FROM cases ORDER BY random() LIMIT :n"), {"n": count})
        ids = [row[0] for row in rows]
    engine.dispose()
    return ids
