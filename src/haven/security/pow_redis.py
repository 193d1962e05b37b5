"""Spent proof-of-work tokens in the Redis that several workers share, so that a token accepted by one
worker is refused by every other. Only random nonces are held, each expiring with its token."""

from __future__ import annotations

import redis

PREFIX = "haven:pow:"


class RedisSpentTokens:
    def __init__(self, client: redis.Redis, *, prefix: str = PREFIX) -> None:
        self._client = client
        self._prefix = prefix

    @classmethod
    def connect(cls, url: str) -> RedisSpentTokens:
        return cls(redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5))

    def _key(self, nonce: bytes) -> str:
        return f"{self._prefix}{nonce.hex()}"

    def spend(self, nonce: bytes, *, ttl_seconds: float) -> bool:
        # SET NX is atomic: of two workers given the same token at once, exactly one succeeds.
        return bool(self._client.set(self._key(nonce), b"", nx=True, px=max(1, int(ttl_seconds * 1000))))

    def release(self, nonce: bytes) -> None:
        self._client.delete(self._key(nonce))

    def close(self) -> None:
        self._client.close()
