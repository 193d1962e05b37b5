"""The load generator: Debian's `wrk` (C, epoll) in its own process, scripted in Lua (bench/lua/)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

LUA = Path(__file__).resolve().parent / "lua"
MARKER = "WRK_JSON "


class WrkMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class Run:
    """One wrk run: throughput, latency percentiles in milliseconds, and every kind of error."""

    label: str
    connections: int
    seconds: float
    requests: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "rps": round(self.rps, 1)}


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise WrkMissing("wrk is not installed: `apt-get install -y wrk` (make bench does it)")
    return found


def run(
    label: str,
    url: str,
    script: str,
    *,
    connections: int,
    seconds: float,
    headers: dict[str, str] | None = None,
    args: list[str] | None = None,
    timeout_s: int = 10,
) -> Run:
    """Run wrk with one thread (the server has the other core) and bench/lua/<script> plus report.lua."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as combined:
        combined.write((LUA / script).read_text(encoding="utf-8"))
        combined.write("\n")
        combined.write((LUA / "report.lua").read_text(encoding="utf-8"))
    argv = [
        wrk_path(),
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={timeout_s}s",
        "-s",
        combined.name,
    ]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    argv.append(url)
    if args:
        argv += ["--", *args]
    try:
        completed = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
    finally:
        Path(combined.name).unlink()
    line = next((ln for ln in completed.stdout.splitlines() if ln.startswith(MARKER)), None)
    if completed.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr or completed.stdout}")
    data = json.loads(line[len(MARKER) :])
    errors = sum(
        data[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    return Run(
        label=label,
        connections=connections,
        seconds=data["duration_us"] / 1e6,
        requests=data["requests"],
        errors=errors,
        p50_ms=data["p50_us"] / 1000,
        p95_ms=data["p95_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
    )
