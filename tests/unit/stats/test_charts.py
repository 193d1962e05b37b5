"""The charts drawn on the server: the funnel is one bar per stage, each as long as its count, with its share
of the first stage; stacked bars still split each bar into its parts. Everything is escaped."""

from __future__ import annotations

import re

from haven.stats.charts import Bar, Series, funnel_bars, share, stacked_bars

STAGES = (Series("contacted", "contacted"), Series("screened", "screened"), Series("verified", "verified"))


def widths(svg: str) -> dict[str, float]:
    return {m[0]: float(m[1]) for m in re.findall(r'<rect class="bar stage (\w+)"[^>]*width="([\d.]+)"', svg)}


def test_a_funnel_has_one_bar_per_stage_each_as_long_as_its_count() -> None:
    svg = funnel_bars(list(zip(STAGES, (200, 100, 50), strict=True)), title="How far requests got")

    drawn = widths(svg)
    assert list(drawn) == ["contacted", "screened", "verified"]
    assert drawn["contacted"] == 2 * drawn["screened"] == 4 * drawn["verified"]


def test_each_funnel_bar_says_its_count_and_share_of_the_first() -> None:
    svg = funnel_bars(list(zip(STAGES, (200, 100, 1), strict=True)), title="How far requests got")

    totals = re.findall(r'<text class="total"[^>]*>([^<]*)</text>', svg)
    assert totals == ["200", "100 · 50%", "1 · under 1%"]
    assert (
        'aria-label="How far requests got. 200 contacted. 100 screened (50% of contacted). '
        '1 verified (under 1% of contacted)."'
    ) in svg
    assert "<title>screened: 100 requests</title>" in svg


def test_a_funnel_of_nothing_draws_empty_bars_and_no_shares() -> None:
    svg = funnel_bars(list(zip(STAGES, (0, 0, 0), strict=True)), title="Nothing")

    assert "<rect" not in svg
    assert re.findall(r'<text class="total"[^>]*>([^<]*)</text>', svg) == ["0", "0", "0"]


def test_a_share_is_a_whole_percentage_and_never_rounds_a_few_down_to_nothing() -> None:
    assert [share(1, 3), share(2, 3), share(0, 10), share(1, 1000), share(5, 0)] == [
        "33%", "67%", "0%", "under 1%", "",
    ]  # fmt: skip


def test_labels_are_escaped() -> None:
    svg = stacked_bars(
        [Bar("<script>x</script>", {"open": 1})],
        series=[Series("open", "open")],
        title='a "title"',
        total_name="contacted",
    )

    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert 'aria-label="a &#34;title&#34;.' in svg
