"""Sessions in a Redis shared by several workers: volatile memory, never a disk.

Redis only ever holds opaque blobs (each locked under a key that only its session cookie carries) under
keyed hashes, each expiring after its idle time. Haven refuses a Redis that would write them to disk:
RDB snapshots (`save`) and the append-only file must both be off.
"""

from __future__ import annotations

import redis

from haven.config import SettingsError
from haven.security.sessions import Member

PREFIX = "haven:"


class RedisBackend:
    def __init__(self, client: redis.Redis, *, prefix: str = PREFIX) -> None:
        self._client = client
        self._prefix = prefix

    @classmethod
    def connect(cls, url: str) -> RedisBackend:
        client = redis.Redis.from_url(
            url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30
        )
        refuse_persistence(client)
        return cls(client)

    def _session(self, index: bytes) -> str:
        return f"{self._prefix}s:{index.hex()}"

    def _group(self, group: bytes) -> str:
        # A hash: session index -> its time to live (8 bytes, ms) and its sealed description.
        return f"{self._prefix}h:{group.hex()}"

    def put(self, index: bytes, blob: bytes, *, ttl_seconds: float, group: bytes, about: bytes) -> None:
        ttl_ms = max(1, int(ttl_seconds * 1000))
        group_key = self._group(group)
        with self._client.pipeline(transaction=True) as pipe:
            pipe.set(self._session(index), blob, px=ttl_ms)
            pipe.hset(group_key, index.hex(), ttl_ms.to_bytes(8, "big") + about)
            pipe.pexpire(group_key, ttl_ms, nx=True)
            pipe.pexpire(group_key, ttl_ms, gt=True)
            pipe.execute()

    def get(self, index: bytes) -> bytes | None:
        blob = self._client.get(self._session(index))
        return blob if isinstance(blob, bytes) else None

    def touch(self, index: bytes, ttl_seconds: float) -> None:
        self._client.pexpire(self._session(index), max(1, int(ttl_seconds * 1000)))

    def delete(self, index: bytes) -> None:
        self._client.delete(self._session(index))

    def delete_group(self, group: bytes) -> int:
        group_key = self._group(group)
        members = self._client.hkeys(group_key)
        keys = [f"{self._prefix}s:{_text(m)}" for m in members]
        with self._client.pipeline(transaction=True) as pipe:
            if keys:
                pipe.delete(*keys)
            pipe.delete(group_key)
            results = pipe.execute()
        return int(results[0]) if keys else 0

    def members(self, group: bytes) -> list[Member]:
        group_key = self._group(group)
        entries = {_text(k): v for k, v in self._client.hgetall(group_key).items() if isinstance(v, bytes)}
        with self._client.pipeline(transaction=False) as pipe:
            for index_hex in entries:
                pipe.pttl(f"{self._prefix}s:{index_hex}")
            remaining = pipe.execute()
        found, gone = [], []
        for (index_hex, value), left_ms in zip(entries.items(), remaining, strict=True):
            if left_ms < 0:  # expired, or ended by delete(): forget it here too
                gone.append(index_hex)
                continue
            ttl_ms = int.from_bytes(value[:8], "big")
            found.append(Member(bytes.fromhex(index_hex), value[8:], max(0.0, (ttl_ms - left_ms) / 1000)))
        if gone:
            self._client.hdel(group_key, *gone)
        return found

    def delete_member(self, group: bytes, index: bytes) -> bool:
        group_key = self._group(group)
        if not self._client.hexists(group_key, index.hex()):
            return False  # not a session of this group: leave it alone
        with self._client.pipeline(transaction=True) as pipe:
            pipe.hdel(group_key, index.hex())
            pipe.delete(self._session(index))
            _removed, deleted = pipe.execute()
        return bool(deleted)

    def exists(self, index: bytes) -> bool:
        return bool(self._client.exists(self._session(index)))

    def close(self) -> None:
        self._client.close()


def refuse_persistence(client: redis.Redis) -> None:
    """Raise SettingsError unless this Redis keeps everything in memory only."""
    try:
        save = client.config_get("save").get("save", "")
        appendonly = client.config_get("appendonly").get("appendonly", "no")
    except redis.RedisError as exc:
        raise SettingsError(
            f"cannot check that Redis at HAVEN_REDIS_URL keeps nothing on disk ({type(exc).__name__}); "
            "Haven needs CONFIG GET to confirm that persistence is off"
        ) from None
    if save or appendonly != "no":
        raise SettingsError(
            "the Redis at HAVEN_REDIS_URL writes to disk; start it with persistence off "
            "(--save '' --appendonly no) so that no session ever reaches a disk"
        )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
