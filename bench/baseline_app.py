"""The baseline for intake: the least any server must do for a request, and nothing more.

A minimal Starlette endpoint decodes the same JSON that Haven's intake API takes, seals it with a libsodium
sealed box and inserts it durably into SQLite (WAL, synchronous=FULL: one fsync per request), then answers
201. Served by uvicorn with Haven's options (uvloop, httptools, no access log), it is the practical limit of
this path on this machine. BENCH_BASELINE_DB names the database file.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3

from nacl.public import PrivateKey, SealedBox
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

_BOX = SealedBox(PrivateKey.generate().public_key)
_DB = sqlite3.connect(os.environ.get("BENCH_BASELINE_DB", "baseline.db"), isolation_level=None)
for _pragma in ("journal_mode=WAL", "synchronous=FULL"):
    _DB.execute(f"PRAGMA {_pragma}")
_DB.execute("CREATE TABLE IF NOT EXISTS requests (id INTEGER PRIMARY KEY, sealed BLOB NOT NULL)")


async def submit(request: Request) -> JSONResponse:
    try:
        body = json.loads(await request.body())
    except ValueError:
        return JSONResponse({"detail": "not JSON"}, status_code=422)
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        return JSONResponse({"detail": "message: required"}, status_code=422)
    sealed = _BOX.encrypt(json.dumps(body, ensure_ascii=False).encode("utf-8"))
    _DB.execute("INSERT INTO requests (sealed) VALUES (?)", (sealed,))
    return JSONResponse({"receipt": secrets.token_hex(12)}, status_code=201)


app = Starlette(routes=[Route("/api/v1/requests", submit, methods=["POST"])])
