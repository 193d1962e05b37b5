"""Differential privacy as Haven uses it: OpenDP noise on one count of sensitivity 1, unbiased and as wide
as theory says, and a per-period budget that is spent exactly and refused once exhausted."""

from __future__ import annotations

import math
import statistics
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haven.stats.privacy import Budget, BudgetExhausted, Charge, Mechanism, OpenDPNoise, period_start

MARCH = date(2026, 3, 1)
DRAWS = 10_000  # about 1.5 s per mechanism: OpenDP's Python binding costs ~150 µs a call


def _draws(noise: OpenDPNoise, count: int) -> list[int]:
    return [noise.noisy(count) for _ in range(DRAWS)]


def _discrete_laplace_variance(scale: float) -> float:
    # P(x) ∝ exp(-|x| / scale) on the integers: variance 2q / (1 - q)^2 with q = exp(-1 / scale).
    q = math.exp(-1 / scale)
    return 2 * q / (1 - q) ** 2


def _assert_unbiased(draws: list[int], true_count: int, variance: float) -> None:
    standard_error = math.sqrt(variance / len(draws))
    assert abs(statistics.fmean(draws) - true_count) < 5 * standard_error
    assert 0.8 < statistics.variance(draws) / variance < 1.25


def test_laplace_noise_is_unbiased_and_as_wide_as_theory_says() -> None:
    noise = OpenDPNoise("laplace", 0.5)
    _assert_unbiased(_draws(noise, 1000), 1000, _discrete_laplace_variance(noise.scale))


def test_gaussian_noise_is_unbiased_and_as_wide_as_theory_says() -> None:
    noise = OpenDPNoise("gaussian", 0.5, 1e-7)
    # The discrete Gaussian's variance is sigma^2 to within far less than the tolerance once sigma > 1.
    _assert_unbiased(_draws(noise, 1000), 1000, noise.scale**2)


@pytest.mark.parametrize(("mechanism", "delta"), [("laplace", None), ("gaussian", 1e-7)])
def test_noise_is_whole_numbers_and_varies(mechanism: Mechanism, delta: float | None) -> None:
    noise = OpenDPNoise(mechanism, 1.0, delta)
    draws = [noise.noisy(10) for _ in range(50)]
    assert all(type(draw) is int for draw in draws)
    assert len(set(draws)) > 1


@pytest.mark.parametrize("epsilon", [0.1, 0.5, 0.7, 1 / 3, 2.0])
def test_laplace_scale_is_one_over_epsilon_for_sensitivity_one(epsilon: float) -> None:
    assert OpenDPNoise("laplace", epsilon).scale == pytest.approx(1 / epsilon, rel=1e-12)


@pytest.mark.parametrize("epsilon", [0.1, 0.5, 0.9])
def test_gaussian_scale_is_no_wider_than_the_classic_bound(epsilon: float) -> None:
    classic = math.sqrt(2 * math.log(1.25 / 1e-7)) / epsilon
    assert 0.5 * classic < OpenDPNoise("gaussian", epsilon, 1e-7).scale <= classic


def test_a_smaller_epsilon_means_wider_noise() -> None:
    assert OpenDPNoise("laplace", 0.1).scale > OpenDPNoise("laplace", 1.0).scale
    assert OpenDPNoise("gaussian", 0.1, 1e-7).scale > OpenDPNoise("gaussian", 1.0, 1e-7).scale


@pytest.mark.parametrize(
    ("mechanism", "epsilon", "delta", "message"),
    [
        ("cauchy", 1.0, None, "mechanism must be 'laplace' or 'gaussian'"),
        ("laplace", 0.0, None, "epsilon must be a number greater than 0"),
        ("laplace", math.inf, None, "epsilon must be a number greater than 0"),
        ("laplace", 1.0, 1e-7, "takes no delta"),
        ("gaussian", 1.0, None, "needs a delta between 0 and 1"),
        ("gaussian", 1.0, 1.0, "needs a delta between 0 and 1"),
    ],
)
def test_noise_settings_are_checked(
    mechanism: str, epsilon: float, delta: float | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        OpenDPNoise(mechanism, epsilon, delta)  # type: ignore[arg-type]


def test_ten_charges_of_a_tenth_fit_a_budget_of_one_and_the_eleventh_is_refused() -> None:
    budget = Budget(period_start=MARCH, total=1.0)
    for n in range(10):
        budget.charge(0.1, f"figure {n}")
    assert budget.spent == 1.0
    assert budget.remaining == 0.0
    with pytest.raises(BudgetExhausted, match=r"figure 10 asks for epsilon 0\.1, only 0 of 1 is left"):
        budget.charge(0.1, "figure 10")
    assert len(budget.new_charges) == 10


def test_a_refused_charge_records_nothing() -> None:
    budget = Budget(period_start=MARCH, total=1.0, past=[Charge(MARCH, 0.8, "earlier")])
    with pytest.raises(BudgetExhausted, match=r"asks for epsilon 0\.3, only 0\.2 of 1 is left"):
        budget.charge(0.3, "contacted")
    assert budget.new_charges == ()
    assert budget.spent == pytest.approx(0.8)


def test_charges_of_other_periods_do_not_count() -> None:
    past = [Charge(date(2026, 2, 1), 0.9, "february"), Charge(MARCH, 0.25, "march")]
    budget = Budget(period_start=MARCH, total=1.0, past=past)
    assert budget.spent == 0.25
    assert budget.remaining == 0.75


def test_new_charges_carry_the_period_and_what_they_paid_for() -> None:
    budget = Budget(period_start=MARCH, total=1.0)
    budget.charge(0.25, "contacted 2026-02")
    assert budget.new_charges == (Charge(MARCH, 0.25, "contacted 2026-02"),)


def test_require_checks_without_spending() -> None:
    budget = Budget(period_start=MARCH, total=1.0)
    budget.require(1.0, "the whole table")
    assert budget.spent == 0.0
    with pytest.raises(BudgetExhausted):
        budget.require(1.5, "too much")


def test_past_charges_beyond_a_lowered_total_leave_nothing() -> None:
    budget = Budget(period_start=MARCH, total=0.5, past=[Charge(MARCH, 0.75, "under the old total")])
    assert budget.remaining == 0.0
    with pytest.raises(BudgetExhausted):
        budget.charge(0.01, "one more")


@pytest.mark.parametrize(("total", "epsilon"), [(0.0, 0.1), (-1.0, 0.1), (math.nan, 0.1), (1.0, 0.0)])
def test_budget_and_charges_must_be_positive(total: float, epsilon: float) -> None:
    with pytest.raises(ValueError, match="greater than 0"):
        Budget(period_start=MARCH, total=total).charge(epsilon, "x")


@settings(max_examples=60, deadline=None)
@given(
    total=st.floats(min_value=0.05, max_value=5.0),
    asks=st.lists(st.floats(min_value=0.001, max_value=1.0), max_size=40),
)
def test_the_budget_is_accounted_exactly(total: float, asks: list[float]) -> None:
    budget = Budget(period_start=MARCH, total=total)
    accepted: list[float] = []
    for n, epsilon in enumerate(asks):
        before = budget.new_charges
        try:
            budget.charge(epsilon, f"figure {n}")
        except BudgetExhausted:
            assert math.fsum([*accepted, epsilon]) > total
            assert budget.new_charges == before
        else:
            accepted.append(epsilon)
        assert budget.spent == math.fsum(accepted) <= total
        assert budget.remaining >= 0.0
    assert [c.epsilon for c in budget.new_charges] == accepted


@pytest.mark.parametrize(
    ("period", "expected"),
    [("month", date(2026, 8, 1)), ("quarter", date(2026, 7, 1)), ("year", date(2026, 1, 1))],
)
def test_a_day_belongs_to_the_period_starting(period: str, expected: date) -> None:
    assert period_start(date(2026, 8, 19), period) == expected  # type: ignore[arg-type]
