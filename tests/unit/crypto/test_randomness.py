"""Picks for receipts and case ids: from the population only, and uniform (no item favoured)."""

from __future__ import annotations

from collections import Counter

import pytest

from haven.crypto.randomness import choices


@pytest.mark.parametrize("size", [1, 3, 32, 300, 7772])
def test_every_pick_comes_from_the_population(size: int) -> None:
    population = list(range(size))
    picks = choices(population, 50)
    assert len(picks) == 50
    assert set(picks) <= set(population)


@pytest.mark.parametrize("size", [3, 7, 300])  # 300 needs two bytes a draw and rejects most of them
def test_picks_are_uniform(size: int) -> None:
    draws = 3000 * size
    counts = Counter(choices(range(size), draws))
    expected = draws / size
    chi_square = sum((counts[i] - expected) ** 2 / expected for i in range(size))
    # Far beyond the 99.99th percentile of chi-square with size - 1 degrees of freedom for a fair draw.
    assert chi_square < size - 1 + 8 * (2 * (size - 1)) ** 0.5 + 20


def test_nothing_to_choose_from_is_an_error() -> None:
    with pytest.raises(ValueError, match="nothing to choose from"):
        choices([], 1)
