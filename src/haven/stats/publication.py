"""Safe public numbers: which counts may be published, and in what form.

A published number must never confirm that one particular person wrote in ("the only request from that unit
last week"). So, in this order: noise (optional differential privacy), a threshold on the noisy value (small
counts become "fewer than 10"), rounding to a coarse grid, and a delay (nothing about the most recent days).
Figures are drawn once and stored by the caller: drawing fresh noise per page view would spend the budget
and, averaged, give the true count away. A figure split into disjoint parts (per request type, per channel)
is published part by part under the same rules, and charged once for all its parts (publish_groups).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal, TypeVar, get_args

from haven.stats.privacy import Budget, Charge, NoiseSource, OpenDPNoise, Period, period_start

Noise = Literal["none", "laplace", "gaussian"]
Length = Literal["week", "month"]
K = TypeVar("K")
P = TypeVar("P")


def _whole(value: object, name: str, least: int) -> None:
    # bool is an int in Python: `threshold = true` is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"{name} must be a whole number of {least} or more, not {value!r}")


def _positive(value: object, name: str) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    if not ok:
        raise ValueError(f"{name} must be a number greater than 0, not {value!r}")


def _one_of(value: object, name: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")


@dataclass(frozen=True)
class Rules:
    """The organisation's publication rules; the defaults are safe without any configuration."""

    threshold: int = 10  # counts below it are published as "fewer than 10", never the number
    rounding: int = 10  # published counts go to the nearest multiple (after noise); 0 or 1: no rounding
    delay_days: int = 14  # nothing about the last N days
    noise: Noise = "none"
    epsilon_per_figure: float = 0.1
    delta: float = 1e-7  # gaussian only
    budget_per_period: float = 1.0  # total epsilon allowed per period
    period: Period = "month"

    def __post_init__(self) -> None:
        _whole(self.threshold, "threshold", 1)
        _whole(self.rounding, "rounding", 0)
        _whole(self.delay_days, "delay_days", 0)
        _one_of(self.noise, "noise", get_args(Noise))
        _positive(self.epsilon_per_figure, "epsilon_per_figure")
        _positive(self.budget_per_period, "budget_per_period")
        if not (isinstance(self.delta, float) and 0 < self.delta < 1):
            raise ValueError(f"delta must be a number between 0 and 1 (exclusive), not {self.delta!r}")
        _one_of(self.period, "period", get_args(Period))
        if self.noise != "none" and self.epsilon_per_figure > self.budget_per_period:
            raise ValueError(
                f"epsilon_per_figure ({self.epsilon_per_figure:g}) must not exceed budget_per_period "
                f"({self.budget_per_period:g}): no figure could ever be published"
            )


@dataclass(frozen=True)
class Figure:
    """What is published for one count: a value on the grid, or only the threshold it fell below."""

    value: int | None
    below: int | None
    noisy: bool

    def display(self) -> str:
        """English text ("fewer than 10", "1,230"); the pages translate it."""
        return f"{self.value:,}" if self.value is not None else f"fewer than {self.below:,}"


def _on_grid(value: int, rules: Rules) -> int:
    step = rules.rounding
    if step <= 1:
        return value
    nearest = (value + step // 2) // step * step
    # A threshold off the grid (12, rounding 10) must not let 12 be shown as 10, below "fewer than 12".
    lowest = -(-rules.threshold // step) * step
    return max(nearest, lowest)


def publish_count(true_count: int, *, rules: Rules, noise: NoiseSource | None) -> Figure:
    """The public form of one count: noise first, then the threshold on the noisy value, then rounding.

    A suppressed figure carries the threshold alone, so every count below it publishes the same Figure.
    """
    if true_count < 0:
        raise ValueError(f"a count cannot be negative, not {true_count}")
    if (rules.noise == "none") != (noise is None):
        raise ValueError(f"the rules ask for noise {rules.noise!r}: pass the source noise_for(rules) gives")
    value = true_count if noise is None else noise.noisy(true_count)
    if value < rules.threshold:
        return Figure(value=None, below=rules.threshold, noisy=noise is not None)
    return Figure(value=_on_grid(value, rules), below=None, noisy=noise is not None)


def noise_for(rules: Rules) -> NoiseSource | None:
    """The noise source the rules ask for (None for "none"); build it once per publication."""
    if rules.noise == "none":
        return None
    delta = rules.delta if rules.noise == "gaussian" else None
    return OpenDPNoise(rules.noise, rules.epsilon_per_figure, delta)


def budget_for(rules: Rules, *, today: date, past: Iterable[Charge]) -> Budget:
    """The ledger of the period holding `today`: a publication is charged to the period it is made in."""
    return Budget(period_start=period_start(today, rules.period), total=rules.budget_per_period, past=past)


def publish_table(
    counts: Mapping[K, int], *, rules: Rules, noise: NoiseSource | None, budget: Budget | None, what: str
) -> dict[K, Figure]:
    """Publish several counts; with noise, each figure is charged to `budget` before it is computed.

    A table that does not fit the remaining budget is refused whole (BudgetExhausted) and spends nothing.
    Labels are `what` plus the key, so keep both short and free of content (they go to the audit log).
    """
    groups = publish_groups(
        {key: {key: count} for key, count in counts.items()},
        rules=rules,
        noise=noise,
        budget=budget,
        what=what,
    )
    return {key: group[key] for key, group in groups.items()}


def publish_groups(
    groups: Mapping[K, Mapping[P, int]],
    *,
    rules: Rules,
    noise: NoiseSource | None,
    budget: Budget | None,
    what: str,
) -> dict[K, dict[P, Figure]]:
    """Publish groups of counts, charging each group once, however many counts it holds.

    The counts of one group must be of disjoint sets of cases: the parts of one breakdown, since a case has
    one request type and came by one channel. Adding or removing one person then changes one count of the
    group by at most 1 (sensitivity 1, in the L1 and the L2 norm alike), so noise of the scale of one count
    on each part keeps the whole group as private as that one count (parallel composition): one epsilon.
    Counts that may share a case (contacted and completed, or a total and its parts) go in separate groups,
    and their charges add up (sequential composition).

    The whole publication is checked against the budget before anything is drawn: one that does not fit is
    refused whole (BudgetExhausted) and spends nothing. Each group is charged as `what` plus its key.
    """
    if not groups:
        return {}
    if noise is not None:
        if budget is None:
            raise ValueError("noisy figures need a budget to charge")
        figures = sum(len(group) for group in groups.values())
        counted = (
            f"{figures} figures" if figures == len(groups) else f"{figures} figures, {len(groups)} charges"
        )
        budget.require(math.fsum([noise.epsilon] * len(groups)), f"{what} ({counted})")
    published: dict[K, dict[P, Figure]] = {}
    for key, group in groups.items():
        if noise is not None and budget is not None:
            budget.charge(noise.epsilon, f"{what}: {key}")
        published[key] = {part: publish_count(n, rules=rules, noise=noise) for part, n in group.items()}
    return published


def cutoff(today: date, rules: Rules) -> date:
    """The last day whose data may be published."""
    return today - timedelta(days=rules.delay_days)


def _period_end(start: date, length: Length) -> date:
    if length == "week":
        return start + timedelta(days=6)
    if start.day != 1:
        # A month from the 15th would end past the calendar month's end: refuse rather than guess.
        raise ValueError(f"a month starts on its first day, not {start.isoformat()}")
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def publishable_periods(periods: Iterable[date], *, today: date, rules: Rules, length: Length) -> list[date]:
    """The periods (by first day) that END on or before the cutoff: a month partly inside the delay is out."""
    last = cutoff(today, rules)
    return [start for start in periods if _period_end(start, length) <= last]
