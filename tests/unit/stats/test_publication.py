"""Safe public numbers: no figure below the threshold, every figure on the rounding grid, nothing from inside
the delay, suppressed figures that say nothing, budgets charged before noise is drawn, and rules that refuse
unsafe or meaningless settings by name."""

from __future__ import annotations

import functools
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haven.stats.privacy import Budget, BudgetExhausted, Charge, NoiseSource
from haven.stats.publication import (
    Figure,
    Noise,
    Rules,
    budget_for,
    cutoff,
    noise_for,
    publish_count,
    publish_table,
    publishable_periods,
)


@functools.cache
def _source(noise: Noise, epsilon: float) -> NoiseSource | None:
    return noise_for(Rules(noise=noise, epsilon_per_figure=epsilon))


def _noise(rules: Rules) -> NoiseSource | None:
    """The rules' noise source, calibrated once per mechanism and epsilon (OpenDP takes up to ~0.2 s)."""
    return _source(rules.noise, rules.epsilon_per_figure)


plain_rules = st.builds(
    Rules,
    threshold=st.integers(min_value=1, max_value=50),
    rounding=st.integers(min_value=0, max_value=25),
    delay_days=st.integers(min_value=0, max_value=60),
)
noisy_rules = st.builds(
    Rules,
    threshold=st.integers(min_value=1, max_value=50),
    rounding=st.integers(min_value=0, max_value=25),
    noise=st.sampled_from(["laplace", "gaussian"]),
    epsilon_per_figure=st.sampled_from([0.1, 0.5, 1.0]),
)
counts = st.integers(min_value=0, max_value=1_000_000)


@settings(max_examples=200, deadline=None)
@given(count=counts, rules=plain_rules)
def test_no_published_figure_is_below_the_threshold(count: int, rules: Rules) -> None:
    figure = publish_count(count, rules=rules, noise=None)
    assert figure.value is None or figure.value >= rules.threshold
    assert (figure.value is None) == (count < rules.threshold)


@settings(max_examples=60, deadline=None)
@given(count=st.integers(min_value=0, max_value=60), rules=noisy_rules)
def test_no_noisy_figure_is_below_the_threshold(count: int, rules: Rules) -> None:
    figure = publish_count(count, rules=rules, noise=_noise(rules))
    assert figure.noisy
    assert figure.value is None or figure.value >= rules.threshold


@settings(max_examples=200, deadline=None)
@given(count=counts, rules=plain_rules | noisy_rules)
def test_every_published_value_is_on_the_rounding_grid(count: int, rules: Rules) -> None:
    figure = publish_count(count, rules=rules, noise=_noise(rules))
    if figure.value is not None and rules.rounding > 1:
        assert figure.value % rules.rounding == 0


@settings(max_examples=200, deadline=None)
@given(count=counts, rules=plain_rules)
def test_rounding_moves_a_count_by_at_most_half_a_step_unless_the_threshold_forbids(
    count: int, rules: Rules
) -> None:
    figure = publish_count(count, rules=rules, noise=None)
    if figure.value is not None and figure.value > rules.threshold + rules.rounding:
        assert abs(figure.value - count) <= rules.rounding // 2


def test_suppressed_figures_reveal_nothing() -> None:
    rules = Rules(threshold=10)
    assert publish_count(3, rules=rules, noise=None) == publish_count(7, rules=rules, noise=None)
    assert publish_count(0, rules=rules, noise=None) == Figure(value=None, below=10, noisy=False)


@settings(max_examples=100, deadline=None)
@given(count=st.integers(min_value=0, max_value=30), rules=plain_rules | noisy_rules)
def test_every_suppressed_figure_of_a_rule_set_is_the_same(count: int, rules: Rules) -> None:
    figure = publish_count(count, rules=rules, noise=_noise(rules))
    if figure.value is None:
        assert figure == Figure(value=None, below=rules.threshold, noisy=rules.noise != "none")


class _Fixed:
    """A noise source that adds a chosen offset: lets a test put the noisy value where it wants."""

    epsilon = 0.1

    def __init__(self, offset: int) -> None:
        self.offset = offset

    def noisy(self, count: int) -> int:
        return count + self.offset


def test_a_noisy_value_below_the_threshold_is_suppressed_even_if_the_true_count_is_not() -> None:
    rules = Rules(noise="laplace")
    assert publish_count(12, rules=rules, noise=_Fixed(-3)) == Figure(value=None, below=10, noisy=True)
    assert publish_count(5, rules=rules, noise=_Fixed(-20)).value is None


def test_rounding_comes_after_noise() -> None:
    assert publish_count(1000, rules=Rules(noise="laplace"), noise=_Fixed(6)).value == 1010


@pytest.mark.parametrize(
    ("rules", "count", "shown"),
    [
        (Rules(), 9, "fewer than 10"),
        (Rules(), 10, "10"),
        (Rules(), 14, "10"),
        (Rules(), 15, "20"),
        (Rules(), 1234, "1,230"),
        (Rules(rounding=0), 1234, "1,234"),
        (Rules(rounding=1), 1234, "1,234"),
        (Rules(threshold=1000, rounding=0), 999, "fewer than 1,000"),
        (Rules(threshold=12), 12, "20"),  # 12 rounds to 10, below "fewer than 12": the grid starts at 20
        (Rules(threshold=5, rounding=5), 12, "10"),
    ],
)
def test_what_the_public_reads(rules: Rules, count: int, shown: str) -> None:
    assert publish_count(count, rules=rules, noise=None).display() == shown


def test_noise_must_match_the_rules() -> None:
    with pytest.raises(ValueError, match="ask for noise 'laplace'"):
        publish_count(100, rules=Rules(noise="laplace"), noise=None)
    with pytest.raises(ValueError, match="ask for noise 'none'"):
        publish_count(100, rules=Rules(), noise=_Fixed(0))


def test_a_negative_count_is_a_bug_not_a_figure() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        publish_count(-1, rules=Rules(), noise=None)


def test_noise_for_builds_what_the_rules_ask() -> None:
    assert noise_for(Rules()) is None
    laplace = _noise(Rules(noise="laplace", epsilon_per_figure=0.5))
    gaussian = _noise(Rules(noise="gaussian", epsilon_per_figure=0.5))
    assert laplace is not None
    assert gaussian is not None
    assert (laplace.epsilon, gaussian.epsilon) == (0.5, 0.5)


@settings(max_examples=200, deadline=None)
@given(
    today=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
    delay=st.integers(min_value=0, max_value=120),
    offsets=st.lists(st.integers(min_value=-400, max_value=30), max_size=20),
)
def test_nothing_newer_than_the_delay_is_published(today: date, delay: int, offsets: list[int]) -> None:
    rules = Rules(delay_days=delay)
    last = today - timedelta(days=delay)
    weeks = [today + timedelta(days=n) for n in offsets]
    months = sorted({(today + timedelta(days=n)).replace(day=1) for n in offsets})

    kept_weeks = publishable_periods(weeks, today=today, rules=rules, length="week")
    kept_months = publishable_periods(months, today=today, rules=rules, length="month")

    assert cutoff(today, rules) == last
    assert all(start + timedelta(days=6) <= last for start in kept_weeks)
    assert all(_month_end(start) <= last for start in kept_months)
    # And nothing safe is held back: exactly the periods ending by the cutoff are kept.
    assert kept_weeks == [start for start in weeks if start + timedelta(days=6) <= last]
    assert kept_months == [start for start in months if _month_end(start) <= last]


def _month_end(start: date) -> date:
    following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return following - timedelta(days=1)


def test_a_month_partly_inside_the_delay_is_not_published() -> None:
    months = [date(2026, 2, 1), date(2026, 3, 1)]
    # On 14 April with a 14-day delay the cutoff is 31 March: March is whole, by one day.
    assert publishable_periods(months, today=date(2026, 4, 14), rules=Rules(), length="month") == months
    assert publishable_periods(months, today=date(2026, 4, 13), rules=Rules(), length="month") == months[:1]


def test_a_month_must_start_on_its_first_day() -> None:
    with pytest.raises(ValueError, match="a month starts on its first day, not 2026-03-15"):
        publishable_periods([date(2026, 3, 15)], today=date(2026, 6, 1), rules=Rules(), length="month")


def test_each_noisy_figure_is_charged_even_when_suppressed() -> None:
    rules = Rules(noise="laplace", epsilon_per_figure=0.1)
    budget = Budget(period_start=date(2026, 4, 1), total=1.0)
    figures = publish_table(
        {"legal": 2, "routes": 500}, rules=rules, noise=_Fixed(0), budget=budget, what="contacted 2026-03"
    )
    assert figures["legal"].value is None
    assert figures["routes"].value == 500
    assert [c.what for c in budget.new_charges] == ["contacted 2026-03: legal", "contacted 2026-03: routes"]
    assert budget.spent == pytest.approx(0.2)


class _Counting:
    """Counts the draws: a refused table must not draw a single one."""

    epsilon = 0.4

    def __init__(self) -> None:
        self.draws = 0

    def noisy(self, count: int) -> int:
        self.draws += 1
        return count


def test_a_table_beyond_the_budget_is_refused_whole_and_spends_nothing() -> None:
    rules = Rules(noise="laplace", epsilon_per_figure=0.4)
    budget = Budget(period_start=date(2026, 4, 1), total=1.0)
    noise = _Counting()
    with pytest.raises(BudgetExhausted, match=r"contacted \(3 figures\)"):
        publish_table({"a": 50, "b": 60, "c": 70}, rules=rules, noise=noise, budget=budget, what="contacted")
    assert budget.new_charges == ()
    assert noise.draws == 0


def test_a_table_without_noise_spends_nothing() -> None:
    budget = Budget(period_start=date(2026, 4, 1), total=1.0)
    figures = publish_table({"a": 5, "b": 123}, rules=Rules(), noise=None, budget=budget, what="contacted")
    assert figures == {"a": Figure(None, 10, False), "b": Figure(120, None, False)}
    assert budget.new_charges == ()


def test_noisy_figures_need_a_budget() -> None:
    noise: NoiseSource = _Fixed(0)
    with pytest.raises(ValueError, match="need a budget"):
        publish_table({"a": 50}, rules=Rules(noise="laplace"), noise=noise, budget=None, what="contacted")


def test_a_publication_is_charged_to_the_period_it_is_made_in() -> None:
    past = [Charge(date(2026, 1, 1), 0.5, "q1"), Charge(date(2026, 4, 1), 0.25, "q2")]
    budget = budget_for(Rules(period="quarter"), today=date(2026, 5, 20), past=past)
    assert budget.period_start == date(2026, 4, 1)
    assert budget.spent == 0.25
    assert budget.total == 1.0


@pytest.mark.parametrize(
    ("settings_", "message"),
    [
        ({"threshold": 0}, "threshold must be a whole number of 1 or more, not 0"),
        ({"threshold": True}, "threshold must be a whole number of 1 or more, not True"),
        ({"threshold": 2.5}, "threshold must be a whole number of 1 or more, not 2.5"),
        ({"rounding": -10}, "rounding must be a whole number of 0 or more, not -10"),
        ({"delay_days": -1}, "delay_days must be a whole number of 0 or more, not -1"),
        ({"noise": "cauchy"}, "noise must be one of none, laplace, gaussian, not 'cauchy'"),
        ({"epsilon_per_figure": 0}, "epsilon_per_figure must be a number greater than 0, not 0"),
        ({"epsilon_per_figure": float("nan")}, "epsilon_per_figure must be a number greater than 0, not nan"),
        ({"budget_per_period": -1.0}, "budget_per_period must be a number greater than 0, not -1.0"),
        ({"delta": 0.0}, r"delta must be a number between 0 and 1 \(exclusive\), not 0.0"),
        ({"delta": 1.5}, r"delta must be a number between 0 and 1 \(exclusive\), not 1.5"),
        ({"period": "week"}, "period must be one of month, quarter, year, not 'week'"),
        (
            {"noise": "laplace", "epsilon_per_figure": 2.0},
            r"epsilon_per_figure \(2\) must not exceed budget_per_period \(1\)",
        ),
    ],
)
def test_rules_refuse_bad_settings_by_name(settings_: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}"):
        Rules(**settings_)  # type: ignore[arg-type]


def test_the_defaults_are_the_safe_ones() -> None:
    rules = Rules()
    assert (rules.threshold, rules.rounding, rules.delay_days, rules.noise) == (10, 10, 14, "none")
    assert (rules.budget_per_period, rules.period) == (1.0, "month")
