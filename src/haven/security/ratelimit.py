"""Rate limits held only in this process's memory: token buckets per action, per address and overall.

Nothing about a client is ever written down. An address is never held, not even in memory: each bucket is
filed under a keyed BLAKE2b hash of it, keyed with a random secret that this process draws at start and
never stores, so the table a memory dump might show cannot be turned back into addresses by hashing
guesses. A restart forgets every bucket.

Each action (a new request, a receipt lookup, a follow-up, a login) has two budgets: one per address,
which slows a single flooder, and one overall, which slows a flood from many addresses (or from one Tor
exit that every requester shares) without shutting anyone out for long: when the overall budget runs out
everyone is told, politely, to try again in a few seconds.

Behind a reverse proxy or an onion service every client arrives from 127.0.0.1, so the per-address budget
acts as a second overall budget. `HAVEN_TRUST_PROXY_HEADERS=on` keys by the last X-Forwarded-For entry
instead: only turn it on behind a proxy that sets that header (one that does not lets clients choose
their own key). With several workers each process counts on its own: the limits are per process, so N
workers let through up to N times as much.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from starlette.requests import Request

from haven.crypto.kdf import keyed_hash

_PURPOSE = b"haven/ratelimit"
_MAX_ADDRESS_CHARS = 100
# Beyond this many addresses the least recently seen bucket is dropped; the overall budget still holds.
MAX_ADDRESSES = 100_000


class Action(StrEnum):
    INTAKE = "intake"
    RECEIPT = "receipt"
    FOLLOW_UP = "follow_up"
    LOGIN = "login"
    TELEGRAM = "telegram"  # an update from one Telegram chat (keyed by the chat id, hashed as above)


@dataclass(frozen=True)
class Limit:
    """How many times a minute one address, and everyone together, may do an action (also the burst)."""

    per_address: int
    overall: int


DEFAULT_LIMITS: Mapping[Action, Limit] = {
    Action.INTAKE: Limit(per_address=10, overall=600),
    Action.RECEIPT: Limit(per_address=20, overall=600),
    Action.FOLLOW_UP: Limit(per_address=30, overall=1200),
    # Each login costs an Argon2id run (128 MiB, most of a second): the overall budget protects the server.
    Action.LOGIN: Limit(per_address=10, overall=120),
    # Each costs a slow hash of the chat id (channels/telegram/chat_keys.py) unless the chat was seen lately.
    Action.TELEGRAM: Limit(per_address=20, overall=3000),
}


class RateLimited(Exception):
    """Over a budget: `retry_after` whole seconds until one more is allowed; `busy` if the overall budget
    ran out (so the requester did nothing wrong)."""

    def __init__(self, retry_after: int, *, busy: bool) -> None:
        super().__init__(f"rate limited for {retry_after} s")
        self.retry_after = retry_after
        self.busy = busy


class Bucket:
    """A token bucket holding up to `capacity` tokens, refilled at `capacity` a minute."""

    __slots__ = ("capacity", "per_second", "tokens", "updated")

    def __init__(self, capacity: int, now: float) -> None:
        self.capacity = float(capacity)
        self.per_second = capacity / 60.0
        self.tokens = float(capacity)
        self.updated = now

    def refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.per_second)
        self.updated = now

    def wait(self, now: float) -> float:
        """Seconds until a token is there (0 if one is there now)."""
        self.refill(now)
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.per_second

    def full(self, now: float) -> bool:
        self.refill(now)
        return self.tokens >= self.capacity


def _seconds(wait: float) -> int:
    return max(1, math.ceil(wait))


class RateLimiter:
    """Every action's buckets for this process; thread-safe (sync routes run in a thread pool)."""

    def __init__(
        self,
        *,
        limits: Mapping[Action, Limit] = DEFAULT_LIMITS,
        enabled: bool = True,
        trust_proxy_headers: bool = False,
        clock: Callable[[], float] = time.monotonic,
        max_addresses: int = MAX_ADDRESSES,
    ) -> None:
        self.enabled = enabled
        self._limits = dict(limits)
        self._trust_proxy_headers = trust_proxy_headers
        self._clock = clock
        self._max_addresses = max_addresses
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        now = clock()
        self._overall = {action: Bucket(limit.overall, now) for action, limit in self._limits.items()}
        self._by_address: dict[Action, OrderedDict[bytes, Bucket]] = {a: OrderedDict() for a in self._limits}

    def _address_key(self, address: str) -> bytes:
        return keyed_hash(address[:_MAX_ADDRESS_CHARS].encode(), key=self._key, purpose=_PURPOSE, size=16)

    def check(self, action: Action, address: str) -> None:
        """Spend one of `action`'s tokens for `address`, or raise RateLimited without spending any."""
        if not self.enabled:
            return
        key = self._address_key(address)
        limit = self._limits[action]
        with self._lock:
            now = self._clock()
            buckets = self._by_address[action]
            mine = buckets.get(key)
            if mine is None:
                mine = buckets[key] = Bucket(limit.per_address, now)
                self._forget_some(buckets, now)
            else:
                buckets.move_to_end(key)
            # The address's own budget first: one flooder must not spend everyone's.
            own_wait = mine.wait(now)
            if own_wait > 0:
                raise RateLimited(_seconds(own_wait), busy=False)
            overall = self._overall[action]
            overall_wait = overall.wait(now)
            if overall_wait > 0:
                raise RateLimited(_seconds(overall_wait), busy=True)
            mine.tokens -= 1.0
            overall.tokens -= 1.0

    def check_request(self, action: Action, request: Request) -> None:
        """`check` for the address this request came from."""
        if self.enabled:
            self.check(action, client_address(request, trust_proxy_headers=self._trust_proxy_headers))

    def _forget_some(self, buckets: OrderedDict[bytes, Bucket], now: float) -> None:
        # A full bucket says nothing a new one would not: drop the oldest such, and the oldest of all
        # past the cap, so a flood of fresh addresses cannot grow memory without bound.
        while buckets and len(buckets) > 1:
            oldest_key = next(iter(buckets))
            if len(buckets) > self._max_addresses or buckets[oldest_key].full(now):
                del buckets[oldest_key]
            else:
                break

    def held_keys(self) -> list[bytes]:
        """Every key a bucket is filed under (for tests that check no address is held)."""
        with self._lock:
            return [key for buckets in self._by_address.values() for key in buckets]


def client_address(request: Request, *, trust_proxy_headers: bool) -> str:
    """The address to count a request against: the peer's, or the proxy's last X-Forwarded-For entry."""
    if trust_proxy_headers:
        forwarded = request.headers.get("x-forwarded-for", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last[:_MAX_ADDRESS_CHARS]
    return request.client.host if request.client else ""
