"""Proof of work: authenticated stateless challenges, each accepted once, solved or waited out, harder under
load; on a clock the test moves by hand."""

from __future__ import annotations

import base64
import itertools
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haven.config import Settings, SettingsError
from haven.security.pow import (
    LIFETIME_SECONDS,
    MemorySpentTokens,
    ProofOfWork,
    ProofRefused,
    TooEarly,
    solves,
)
from tests.pow_solver import Clock, not_a_solution, solve

KEY = bytes(range(32))
BITS = 10
WAIT = 15
NOW = 1_800_000_000.0


def proof_of_work(clock: Clock, **options: Any) -> ProofOfWork:
    return ProofOfWork(
        key=options.pop("key", KEY),
        base_bits=BITS,
        base_wait_seconds=WAIT,
        clock=clock,
        spent=MemorySpentTokens(clock=clock),
        **options,
    )


def refusal(pow_: ProofOfWork, token: str, solution: str = "") -> ProofRefused:
    with pytest.raises(ProofRefused) as refused:
        pow_.verify(token, solution)
    return refused.value


def test_a_solved_token_is_accepted_once_and_refused_the_second_time() -> None:
    pow_ = proof_of_work(Clock(NOW))
    challenge = pow_.issue()
    solution = solve(challenge.token, challenge.bits)

    assert pow_.verify(challenge.token, solution) == challenge
    assert refusal(pow_, challenge.token, solution).reason == "pow_spent"


def test_a_token_issued_by_another_server_is_refused() -> None:
    clock = Clock(NOW)
    theirs = proof_of_work(clock, key=bytes(32)).issue()

    refused = refusal(proof_of_work(clock), theirs.token, solve(theirs.token, theirs.bits))

    assert refused.reason == "pow_invalid"


# One token for every example, so that hypothesis sees the same input each time it replays one.
GOOD_TOKEN = proof_of_work(Clock(NOW)).issue().token


@settings(max_examples=200, deadline=timedelta(seconds=1))
@given(data=st.data())
def test_an_altered_token_is_refused(data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(GOOD_TOKEN) - 1))
    replacement = data.draw(st.sampled_from("ABCabc019-_").filter(lambda c: c != GOOD_TOKEN[position]))
    altered = GOOD_TOKEN[:position] + replacement + GOOD_TOKEN[position + 1 :]

    assert refusal(proof_of_work(Clock(NOW)), altered, solve(altered, BITS)).reason == "pow_invalid"


def test_lowering_the_bits_a_token_asks_for_breaks_it() -> None:
    pow_ = proof_of_work(Clock(NOW))
    raw = bytearray(base64.urlsafe_b64decode(pow_.issue().token + "="))
    raw[17] = 1  # the bits field
    easier = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")

    assert refusal(pow_, easier, solve(easier, 1)).reason == "pow_invalid"


def test_a_solution_with_too_few_bits_is_refused_before_the_wait() -> None:
    pow_ = proof_of_work(Clock(NOW))
    challenge = pow_.issue()

    refused = refusal(pow_, challenge.token, not_a_solution(challenge.token, challenge.bits))

    assert isinstance(refused, TooEarly)
    assert refused.retry_after == WAIT


def test_a_solution_to_an_easier_challenge_is_not_enough() -> None:
    pow_ = proof_of_work(Clock(NOW))
    challenge = pow_.issue()
    easy = next(
        str(n)
        for n in itertools.count()
        if solves(challenge.token, str(n), 2) and not solves(challenge.token, str(n), challenge.bits)
    )

    assert isinstance(refusal(pow_, challenge.token, easy), TooEarly)


def test_an_expired_token_is_refused_even_solved() -> None:
    clock = Clock(NOW)
    pow_ = proof_of_work(clock)
    challenge = pow_.issue()
    clock.now += LIFETIME_SECONDS

    assert refusal(pow_, challenge.token, solve(challenge.token, challenge.bits)).reason == "pow_expired"


def test_a_token_just_inside_its_lifetime_is_accepted() -> None:
    clock = Clock(NOW)
    pow_ = proof_of_work(clock)
    challenge = pow_.issue()
    clock.now += LIFETIME_SECONDS - 1

    assert pow_.verify(challenge.token) == challenge


def test_a_wait_token_is_refused_before_its_time_and_accepted_after() -> None:
    clock = Clock(NOW)
    pow_ = proof_of_work(clock)
    challenge = pow_.issue()
    clock.now += WAIT - 4

    too_early = refusal(pow_, challenge.token)
    clock.now += 4

    assert isinstance(too_early, TooEarly)
    assert too_early.retry_after == 4
    assert too_early.challenge == challenge
    assert pow_.verify(challenge.token) == challenge


def test_a_wait_token_is_accepted_once_too() -> None:
    clock = Clock(NOW)
    pow_ = proof_of_work(clock)
    token = pow_.issue().token
    clock.now += WAIT

    pow_.verify(token)

    assert refusal(pow_, token).reason == "pow_spent"


def test_a_missing_token_is_refused_as_missing() -> None:
    assert refusal(proof_of_work(Clock(NOW)), "").reason == "pow_missing"


def test_a_released_token_is_accepted_again() -> None:
    pow_ = proof_of_work(Clock(NOW))
    challenge = pow_.issue()
    solution = solve(challenge.token, challenge.bits)
    spent = pow_.verify(challenge.token, solution)

    pow_.release(spent)

    assert pow_.verify(challenge.token, solution) == challenge


def accept_waited(pow_: ProofOfWork, clock: Clock, count: int) -> None:
    """`count` submissions accepted at this moment, through the wait path (issued a wait earlier)."""
    clock.now -= 10 * WAIT
    tokens = [pow_.issue().token for _ in range(count)]
    clock.now += 10 * WAIT
    for token in tokens:
        pow_.verify(token)


def test_difficulty_rises_with_load_in_steps_and_falls_back_after_a_quiet_minute() -> None:
    clock = Clock(NOW)
    pow_ = proof_of_work(clock)
    levels = [pow_.level()]
    for reached in (29, 30, 120, 300, 1000):
        accept_waited(pow_, clock, reached - pow_.load())
        levels.append(pow_.level())
    clock.now += 61

    assert levels == [
        (BITS, WAIT),
        (BITS, WAIT),
        (BITS + 2, 2 * WAIT),
        (BITS + 4, 4 * WAIT),
        (BITS + 6, 8 * WAIT),
        (BITS + 6, 8 * WAIT),
    ]
    assert pow_.level() == (BITS, WAIT)


def test_a_challenge_issued_under_load_asks_for_more() -> None:
    clock = Clock(NOW)
    pow_ = proof_of_work(clock)
    accept_waited(pow_, clock, 120)

    challenge = pow_.issue()

    assert (challenge.bits, challenge.wait_seconds) == (BITS + 4, 4 * WAIT)
    assert pow_.seconds_left(challenge) == 4 * WAIT


def test_spent_tokens_are_forgotten_once_they_would_have_expired() -> None:
    clock = Clock(NOW)
    spent = MemorySpentTokens(clock=clock)
    pow_ = ProofOfWork(key=KEY, base_bits=BITS, base_wait_seconds=WAIT, clock=clock, spent=spent)
    accept_waited(pow_, clock, 50)
    assert len(spent) == 50
    clock.now += LIFETIME_SECONDS

    accept_waited(pow_, clock, 1)

    assert len(spent) == 1


def test_off_it_accepts_anything_and_its_challenges_ask_for_nothing() -> None:
    pow_ = proof_of_work(Clock(NOW), enabled=False)
    challenge = pow_.issue()

    assert pow_.verify("") is None
    assert pow_.verify("not a token", "x") is None
    assert (challenge.bits, challenge.wait_seconds, challenge.active) == (0, 0, False)


def test_still_good_keeps_an_unexpired_authentic_token_only() -> None:
    clock = Clock(NOW)
    pow_ = proof_of_work(clock)
    challenge = pow_.issue()

    assert pow_.still_good(challenge.token) == challenge
    assert pow_.still_good(challenge.token[:-1] + "A") is None
    assert pow_.still_good("") is None
    clock.now += LIFETIME_SECONDS
    assert pow_.still_good(challenge.token) is None


@pytest.mark.parametrize("solution", ["", "-1", "1.0", " 7", "7 ", "١٢٣", "0x1f", "1" * 17])
def test_a_solution_must_be_one_to_sixteen_ascii_digits(solution: str) -> None:
    assert not solves("token", solution, 0)


def test_a_solution_of_leading_zeros_is_still_digits() -> None:
    assert solves("token", "0000000000000000", 0)


PARSER_BUDGET = settings(max_examples=500, deadline=timedelta(seconds=1))


@PARSER_BUDGET
@given(token=st.text(max_size=200), solution=st.text(max_size=40))
def test_any_text_is_refused_cleanly(token: str, solution: str) -> None:
    with pytest.raises(ProofRefused):
        proof_of_work(Clock(NOW)).verify(token, solution)


@PARSER_BUDGET
@given(raw=st.binary(max_size=120))
def test_any_bytes_as_a_token_are_refused_cleanly(raw: bytes) -> None:
    token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    with pytest.raises(ProofRefused):
        proof_of_work(Clock(NOW)).verify(token, "0")


@PARSER_BUDGET
@given(raw=st.binary(min_size=44, max_size=44))
def test_any_bytes_of_a_tokens_length_are_refused_cleanly(raw: bytes) -> None:
    # The right length gets past the first checks to the authentication itself.
    token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    with pytest.raises(ProofRefused) as refused:
        proof_of_work(Clock(NOW)).verify(token, "0")
    assert refused.value.reason == "pow_invalid"


def test_settings_turn_it_off_only_when_told() -> None:
    assert Settings.from_env({}).pow is True
    assert Settings.from_env({"HAVEN_POW": "off"}).pow is False


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"pow_bits": 4}, "HAVEN_POW_BITS"),
        ({"pow_bits": 40}, "HAVEN_POW_BITS"),
        ({"pow_wait_seconds": 0}, "HAVEN_POW_WAIT_SECONDS"),
        ({"pow_wait_seconds": 3600}, "HAVEN_POW_WAIT_SECONDS"),
    ],
)
def test_settings_refuse_a_silly_difficulty_saying_which(changes: dict[str, int], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings(data_dir=Path("data"), **changes).check()


def test_settings_with_it_off_ignore_its_difficulty() -> None:
    Settings(data_dir=Path("data"), pow=False, pow_bits=0, pow_wait_seconds=0).check()
