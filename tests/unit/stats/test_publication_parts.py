"""Figures published per part (per request type, per channel): each part under the same rules as a total, the
parts of one breakdown charged to the privacy budget once (parallel composition), each breakdown and the
totals charged separately (sequential composition), and the precondition of it all: every case is in exactly
one part of each breakdown."""

from __future__ import annotations

import functools
import math
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haven.cases.procedure import Stage
from haven.retention.counting import CountKey
from haven.stats.figures import BREAKDOWNS, CHANNELS, COLUMNS, tabulate
from haven.stats.privacy import Budget, BudgetExhausted, NoiseSource
from haven.stats.public import Publication, budget_words, part_of
from haven.stats.publication import Figure, Noise, Rules, noise_for, publish_groups

APRIL = date(2026, 4, 1)


class _Counting:
    """Adds nothing, counts the draws: a refused publication must not draw a single one."""

    def __init__(self, epsilon: float = 0.1) -> None:
        self.epsilon = epsilon
        self.draws = 0

    def noisy(self, count: int) -> int:
        self.draws += 1
        return count


@functools.cache
def _source(noise: Noise, epsilon: float) -> NoiseSource | None:
    return noise_for(Rules(noise=noise, epsilon_per_figure=epsilon))


def test_the_parts_of_one_breakdown_are_charged_once_however_many_they_are() -> None:
    budget = Budget(period_start=APRIL, total=1.0)
    parts = {f"type:{kind}": 40 for kind in ("leave_service", "relative", "legal", "support", "other")}

    publish_groups(
        {"contacted 2026-03 by type": parts},
        rules=Rules(noise="laplace"),
        noise=_Counting(),
        budget=budget,
        what="public",
    )

    assert [(c.epsilon, c.what) for c in budget.new_charges] == [(0.1, "public: contacted 2026-03 by type")]


def test_totals_and_two_breakdowns_cost_three_times_what_the_totals_alone_cost() -> None:
    figures = ("contacted", "completed")
    groups = {
        f"{figure} 2026-03{by}": parts
        for figure in figures
        for by, parts in (
            ("", {"": 50}),
            (" by type", {"type:legal": 30, "type:other": 20}),
            (" by channel", {"channel:web": 35, "channel:telegram": 15}),
        )
    }
    alone, with_parts = Budget(period_start=APRIL, total=1.0), Budget(period_start=APRIL, total=1.0)
    totals = {k: v for k, v in groups.items() if " by " not in k}

    publish_groups(totals, rules=Rules(noise="laplace"), noise=_Counting(), budget=alone, what="public")
    publish_groups(groups, rules=Rules(noise="laplace"), noise=_Counting(), budget=with_parts, what="public")

    assert alone.spent == math.fsum([0.1] * len(figures))
    assert with_parts.spent == math.fsum([0.1] * 3 * len(figures))
    assert len(with_parts.new_charges) == 3 * len(alone.new_charges)


def test_a_publication_of_parts_beyond_the_budget_is_refused_whole_and_draws_nothing() -> None:
    budget = Budget(period_start=APRIL, total=0.25)
    noise = _Counting()
    groups = {
        "a": {"": 50},
        "a by type": {"type:legal": 30, "type:other": 20},
        "a by channel": {"channel:web": 1},
    }

    with pytest.raises(BudgetExhausted, match=r"public \(4 figures, 3 charges\)"):
        publish_groups(groups, rules=Rules(noise="laplace"), noise=noise, budget=budget, what="public")

    assert budget.new_charges == ()
    assert noise.draws == 0


def test_without_noise_parts_spend_nothing_and_a_small_part_reads_fewer_than() -> None:
    budget = Budget(period_start=APRIL, total=1.0)

    published = publish_groups(
        {"contacted by channel": {"channel:web": 123, "channel:telegram": 4}},
        rules=Rules(),
        noise=None,
        budget=budget,
        what="public",
    )

    assert published == {
        "contacted by channel": {
            "channel:web": Figure(120, None, False),
            "channel:telegram": Figure(None, 10, False),
        }
    }
    assert budget.new_charges == ()


def test_nothing_to_publish_asks_nothing_of_the_budget() -> None:
    budget = Budget(period_start=APRIL, total=1.0)
    assert publish_groups({}, rules=Rules(noise="laplace"), noise=_Counting(), budget=budget, what="x") == {}
    assert budget.new_charges == ()


parted_rules = st.builds(
    Rules,
    threshold=st.integers(min_value=1, max_value=50),
    rounding=st.integers(min_value=0, max_value=25),
    noise=st.sampled_from(["none", "laplace", "gaussian"]),
    epsilon_per_figure=st.sampled_from([0.1, 0.5, 1.0]),
)


@settings(max_examples=100, deadline=None)
@given(parts=st.lists(st.integers(min_value=0, max_value=300), min_size=1, max_size=8), rules=parted_rules)
def test_every_part_is_published_under_the_same_rules_as_a_total(parts: list[int], rules: Rules) -> None:
    noise = _source(rules.noise, rules.epsilon_per_figure)
    budget = Budget(period_start=APRIL, total=1.0)

    published = publish_groups(
        {"g": {f"type:{i}": n for i, n in enumerate(parts)}},
        rules=rules,
        noise=noise,
        budget=budget,
        what="t",
    )

    for figure in published["g"].values():
        if figure.value is None:
            assert figure == Figure(None, rules.threshold, rules.noise != "none")
        else:
            assert figure.value >= rules.threshold
            assert rules.rounding <= 1 or figure.value % rules.rounding == 0
    assert len(budget.new_charges) == (0 if rules.noise == "none" else 1)


count_keys = st.builds(
    CountKey.of,
    st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 12, 31)),
    st.sampled_from(["leave_service", "legal", "support", "other"]),
    st.sampled_from(CHANNELS),
    st.sampled_from([s.value for s in Stage]),
    st.sampled_from(["new", "in_progress", "closed", "completed", "withdrawn", "no_contact"]),
)


@settings(max_examples=200, deadline=None)
@given(totals=st.dictionaries(count_keys, st.integers(min_value=1, max_value=50), max_size=30))
def test_every_case_is_in_exactly_one_part_of_each_breakdown(totals: dict[CountKey, int]) -> None:
    """What makes one charge enough for all the parts: they split the month's cases without overlap, so
    one person changes one part of a breakdown, by at most one."""
    months = tabulate(totals, per="month")
    for breakdown in BREAKDOWNS:
        split = tabulate(totals, per="month", by=breakdown)
        for (month, _part), total in months.items():
            for column in COLUMNS:
                in_parts = [f.counts[column] for (m, _p), f in split.items() if m == month]
                assert sum(in_parts) == total.counts[column]


def test_a_publication_counts_its_charges_per_month() -> None:
    noisy = Rules(noise="laplace", epsilon_per_figure=0.1)

    assert Publication(noisy, ("contacted", "completed")).charges_per_month == 2
    assert Publication(noisy, ("contacted", "completed"), ("type", "channel")).charges_per_month == 6
    assert Publication(noisy, ("contacted",), ("channel",)).epsilon_per_month == 0.2
    assert Publication(Rules(), ("contacted",), ("channel",)).epsilon_per_month == 0.0


def test_a_part_is_stored_with_its_breakdowns_name() -> None:
    assert part_of("type", "legal") == "type:legal"
    assert part_of("channel", "telegram") == "channel:telegram"


def test_the_budget_is_explained_in_words_for_coordinators() -> None:
    noisy = Rules(noise="laplace", epsilon_per_figure=0.1)

    assert budget_words(Publication(Rules(), ("contacted",))) == ""
    assert budget_words(Publication(noisy, ("contacted", "completed"))) == (
        "Each month costs ε 0.2: ε 0.1 for each of its 2 figures."
    )
    words = budget_words(Publication(noisy, ("contacted", "completed"), ("type", "channel")))
    assert words.startswith(
        "Each month costs ε 0.6: ε 0.1 for each of its 2 figures in total, and ε 0.1 more per figure for "
        "each breakdown (by request type, by channel)."
    )
    assert "parallel composition" in words


def test_the_parts_of_a_breakdown_come_from_the_configuration_not_the_data() -> None:
    publication = Publication(Rules(), ("contacted",), ("type", "channel"), request_types=("legal", "other"))

    assert publication.parts("type") == ("legal", "other")
    assert publication.parts("channel") == ("web", "telegram")
    assert part_of("type", publication.parts("type")[0]) == "type:legal"
