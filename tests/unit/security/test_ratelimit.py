"""Rate limits: token buckets per address and overall, on a clock the test moves by hand."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request

from haven.security.ratelimit import Action, Limit, RateLimited, RateLimiter, client_address

ADDRESS = "203.0.113.7"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(clock: Clock, *, per_address: int = 3, overall: int = 100, **options: Any) -> RateLimiter:
    return RateLimiter(limits={Action.INTAKE: Limit(per_address, overall)}, clock=clock, **options)


def refusal(rate_limiter: RateLimiter, address: str = ADDRESS) -> RateLimited:
    with pytest.raises(RateLimited) as refused:
        rate_limiter.check(Action.INTAKE, address)
    return refused.value


def test_an_address_gets_its_budget_at_once_then_waits_for_a_token() -> None:
    clock = Clock()
    limits = limiter(clock, per_address=3)
    for _ in range(3):
        limits.check(Action.INTAKE, ADDRESS)
    refused = refusal(limits)
    # Three a minute: a token every 20 seconds.
    assert (refused.retry_after, refused.busy) == (20, False)


def test_tokens_come_back_at_the_budgeted_rate() -> None:
    clock = Clock()
    limits = limiter(clock, per_address=3)
    for _ in range(3):
        limits.check(Action.INTAKE, ADDRESS)
    clock.now += 15
    assert refusal(limits).retry_after == 5
    clock.now += 5
    limits.check(Action.INTAKE, ADDRESS)
    refusal(limits)


def test_a_bucket_never_holds_more_than_its_budget() -> None:
    clock = Clock()
    limits = limiter(clock, per_address=3)
    clock.now += 3600
    for _ in range(3):
        limits.check(Action.INTAKE, ADDRESS)
    refusal(limits)


def test_retry_after_is_a_whole_number_of_seconds_and_at_least_one() -> None:
    clock = Clock()
    limits = limiter(clock, per_address=3)
    for _ in range(3):
        limits.check(Action.INTAKE, ADDRESS)
    clock.now += 19.9
    assert refusal(limits).retry_after == 1


def test_one_address_over_its_budget_does_not_stop_another() -> None:
    clock = Clock()
    limits = limiter(clock, per_address=1)
    limits.check(Action.INTAKE, ADDRESS)
    refusal(limits)
    limits.check(Action.INTAKE, "198.51.100.1")


def test_the_overall_budget_slows_a_flood_from_many_addresses() -> None:
    clock = Clock()
    limits = limiter(clock, per_address=5, overall=4)
    for n in range(4):
        limits.check(Action.INTAKE, f"198.51.100.{n}")
    refused = refusal(limits, "198.51.100.99")
    assert (refused.retry_after, refused.busy) == (15, True)
    clock.now += 15
    limits.check(Action.INTAKE, "198.51.100.99")


def test_a_refused_flooder_does_not_spend_the_overall_budget() -> None:
    clock = Clock()
    limits = limiter(clock, per_address=2, overall=3)
    for _ in range(2):
        limits.check(Action.INTAKE, ADDRESS)
    for _ in range(50):
        refusal(limits)
    limits.check(Action.INTAKE, "198.51.100.1")


def test_actions_have_separate_budgets() -> None:
    clock = Clock()
    limits = RateLimiter(
        limits={Action.INTAKE: Limit(1, 10), Action.LOGIN: Limit(1, 10)},
        clock=clock,
    )
    limits.check(Action.INTAKE, ADDRESS)
    limits.check(Action.LOGIN, ADDRESS)


def test_off_lets_everything_through() -> None:
    limits = limiter(Clock(), per_address=1, enabled=False)
    for _ in range(100):
        limits.check(Action.INTAKE, ADDRESS)
    assert limits.held_keys() == []


def test_buckets_are_filed_under_keyed_hashes_never_the_address() -> None:
    limits = limiter(Clock())
    limits.check(Action.INTAKE, ADDRESS)
    [key] = limits.held_keys()
    assert ADDRESS.encode() not in key
    assert len(key) == 16


def test_two_processes_file_the_same_address_under_different_keys() -> None:
    first, second = limiter(Clock()), limiter(Clock())
    first.check(Action.INTAKE, ADDRESS)
    second.check(Action.INTAKE, ADDRESS)
    assert first.held_keys() != second.held_keys()


def test_the_buckets_of_quiet_addresses_are_forgotten() -> None:
    clock = Clock()
    limits = limiter(clock, per_address=3)
    for n in range(10):
        limits.check(Action.INTAKE, f"198.51.100.{n}")
    clock.now += 60
    limits.check(Action.INTAKE, ADDRESS)
    assert len(limits.held_keys()) == 1


def test_past_the_cap_the_least_recently_seen_address_is_forgotten() -> None:
    clock = Clock()
    limits = limiter(clock, per_address=3, max_addresses=5)
    for n in range(20):
        limits.check(Action.INTAKE, f"198.51.100.{n}")
    assert len(limits.held_keys()) == 5


def _request(headers: dict[str, str], peer: str = "127.0.0.1") -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": raw, "client": (peer, 5000)})


def test_forwarded_for_is_ignored_unless_trusted() -> None:
    request = _request({"X-Forwarded-For": "198.51.100.1"})
    assert client_address(request, trust_proxy_headers=False) == "127.0.0.1"


def test_a_trusted_proxy_names_the_client_in_the_last_forwarded_for_entry() -> None:
    # Earlier entries are whatever the client sent; the last is what our proxy saw.
    request = _request({"X-Forwarded-For": "10.9.9.9, 198.51.100.1"})
    assert client_address(request, trust_proxy_headers=True) == "198.51.100.1"
