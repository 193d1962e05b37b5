"""One table on the terminal, and the same figures with every raw run in bench/results/<date>.json."""

from __future__ import annotations

import json
import os
import platform
import shutil
import sqlite3
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Metric:
    """A row of the table. `ok` is None where there is no target (a figure reported for information)."""

    name: str
    measured: str
    target: str = ""
    ok: bool | None = None

    @property
    def verdict(self) -> str:
        return "" if self.ok is None else ("pass" if self.ok else "MISS")


def table(metrics: list[Metric]) -> str:
    header = ("metric", "measured", "target", "")
    rows = [header, *((m.name, m.measured, m.target, m.verdict) for m in metrics)]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(metrics: list[Metric]) -> str:
    lines = ["| metric | measured | target | |", "|---|---|---|---|"]
    lines += [f"| {m.name} | {m.measured} | {m.target} | {m.verdict} |" for m in metrics]
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next(
            (
                ln.split(":", 1)[1].strip()
                for ln in cpuinfo.read_text().splitlines()
                if ln.startswith("model name")
            ),
            "",
        )
    return {
        "haven": _revision(),
        "cores": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "kernel": platform.release(),
    }


def _revision() -> str:
    """The commit measured, and whether the work tree had changes on top of it (read-only git calls)."""
    git = shutil.which("git")
    if git is None:
        return "unknown"
    try:
        head = subprocess.run(  # noqa: S603 - fixed arguments
            [git, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=RESULTS.parent,
        ).stdout.strip()
        dirty = subprocess.run(  # noqa: S603 - fixed arguments
            [git, "status", "--porcelain"], capture_output=True, text=True, check=True, cwd=RESULTS.parent
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}{' + uncommitted changes' if dirty else ''}"


def write(metrics: list[Metric], raw: dict[str, Any], options: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    now = datetime.now(UTC)
    suffix = "-quick" if options.get("quick") else ""
    if options.get("partial"):
        suffix += "-" + "-".join(options["only"])
    path = RESULTS / f"{now:%Y-%m-%d}{suffix}.json"
    number = 2
    while path.exists():  # a second run on the same day keeps the first one's figures
        path = RESULTS / f"{now:%Y-%m-%d}{suffix}-{number}.json"
        number += 1
    document = {
        "at": now.isoformat(timespec="seconds"),
        "machine": machine(),
        "options": options,
        "table": [asdict(m) | {"verdict": m.verdict} for m in metrics],
        "markdown": markdown(metrics),
        "raw": raw,
    }
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    return path
