"""Charts drawn on the server as inline SVG: no script, no style attribute, nothing from another origin.

Every shape carries a class (`bar completed`, `bar stage screened`, `grid`, `total`) and the stylesheets give
it its colour (haven.css, and desk-stats.css for the desk's statistics), so the palette lives in one place.
Every text and attribute value is escaped (markupsafe). The chart is an image to assistive technology
(`role="img"`), named by an `aria-label` that holds the same numbers as the bars: the page shows them as a
table beside it too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup

# User units. The stylesheet scales the chart to its column (about 400 px beside its table, 340 on a phone),
# and the text with it: 340 units keep 13-unit text at 12 px or more everywhere.
WIDTH = 340
FONT_SIZE = 13
CHAR_WIDTH = 8.0  # a generous average width of a character at FONT_SIZE, to lay out labels
ROW = 26  # a bar with its label on the left
BAR = 16
LABEL_LINE = 18  # the label above the bar, when labels are long
GAP_BELOW = 12
AXIS = 22  # the tick labels under the bars
LONGEST_LABEL = 60  # characters; a longer label is cut (the whole of it is in the bar's title)

# Markup.format escapes every value it fills in (markupsafe.escape): a label can hold nothing but text.
SVG = Markup(
    '<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" width="{width}" '
    'height="{height}" role="img" aria-label="{words}" font-size="{font_size}" '
    'font-family="system-ui, sans-serif"><title>{title}</title>{shapes}</svg>'
)
GRID = Markup(
    '<line class="grid" x1="{x}" y1="0" x2="{x}" y2="{bottom}"/>'
    '<text class="tick" x="{x}" y="{below}" text-anchor="middle">{tick}</text>'
)
LABEL_LEFT = Markup('<text class="label" x="{x}" y="{y}" text-anchor="end">{label}</text>')
LABEL_ABOVE = Markup('<text class="label" x="{x}" y="{y}">{label}</text>')
PART = Markup(
    '<rect class="bar {key}" x="{x}" y="{y}" width="{width}" height="{height}"><title>{title}</title></rect>'
)
TOTAL = Markup('<text class="total" x="{x}" y="{y}">{total}</text>')


@dataclass(frozen=True)
class Series:
    """One part of every bar: `key` is its class (and the values' key), `name` its words."""

    key: str
    name: str


@dataclass(frozen=True)
class Bar:
    """One bar: its label, and a count for each series (a missing key counts 0)."""

    label: str
    values: Mapping[str, int]

    def total(self, series: Sequence[Series]) -> int:
        return sum(self.values.get(s.key, 0) for s in series)


def _n(value: float) -> str:
    """A coordinate, short: 12.0 -> "12", 12.25 -> "12.2"."""
    return f"{value:.1f}".removesuffix(".0")


def _cut(label: str) -> str:
    return label if len(label) <= LONGEST_LABEL else label[: LONGEST_LABEL - 1] + "…"


def nice_step(top: int, *, most: int = 5) -> int:
    """The axis step: 1, 2 or 5 times a power of ten, so that `top` takes at most `most` steps."""
    power = 1
    while True:
        for multiple in (1, 2, 5):
            if top <= most * multiple * power:
                return multiple * power
        power *= 10


def summary(bars: Sequence[Bar], *, series: Sequence[Series], title: str, total_name: str) -> str:
    """The chart's numbers in words, for its aria-label: "Title. Mar 2025: 4 contacted (2 open, 1 ...)."."""
    parts = [f"{title}."]
    for bar in bars:
        shares = ", ".join(f"{bar.values[s.key]:,} {s.name}" for s in series if bar.values.get(s.key, 0))
        line = f"{bar.label}: {bar.total(series):,} {total_name}"
        parts.append(f"{line} ({shares})." if shares else f"{line}.")
    return " ".join(parts)


def stacked_bars(
    bars: Sequence[Bar],
    *,
    series: Sequence[Series],
    title: str,
    total_name: str,
    labels_above: bool = False,
) -> Markup:
    """Horizontal stacked bars, one per `Bar`, its parts in the order of `series` and its total at its end.

    Labels sit left of their bar; with `labels_above` (long labels, such as request types) they sit above
    it and the bars take the whole width. Months read well either way at 390 px wide.
    """
    return _draw(
        bars,
        series=series,
        title=title,
        words=summary(bars, series=series, title=title, total_name=total_name),
        notes=[f"{b.total(series):,}" for b in bars],
        labels_above=labels_above,
    )


def share(part: int, whole: int) -> str:
    """`part` as a whole percentage of `whole` ("" when there is no whole): "67%", "under 1%"."""
    if whole <= 0:
        return ""
    if 0 < part * 100 < whole:
        return "under 1%"
    return f"{round(part * 100 / whole)}%"


def funnel_bars(stages: Sequence[tuple[Series, int]], *, title: str) -> Markup:
    """A funnel: one bar per stage, each as long as its count, with the count and its share of the first
    stage at its end. The bars never stack: a later stage is a subset of an earlier one, not a part of it."""
    first = stages[0][1] if stages else 0
    bars = [Bar(stage.name, {stage.key: n}) for stage, n in stages]
    notes = [
        f"{n:,}" + (f" · {share(n, first)}" if i and first else "") for i, (_stage, n) in enumerate(stages)
    ]
    said = [f"{title}."]
    for i, (stage, n) in enumerate(stages):
        of_first = f" ({share(n, first)} of {stages[0][0].name})" if i and first else ""
        said.append(f"{n:,} {stage.name}{of_first}.")
    return _draw(
        bars,
        # Each bar's one part is its stage; its tooltip reads "screened: 80 requests".
        series=[Series(stage.key, "requests") for stage, _n in stages],
        title=title,
        words=" ".join(said),
        notes=notes,
        part_class="stage",
    )


def _draw(
    bars: Sequence[Bar],
    *,
    series: Sequence[Series],
    title: str,
    words: str,
    notes: Sequence[str],
    labels_above: bool = False,
    part_class: str = "",
) -> Markup:
    """Bars of parts laid along one axis, each bar's note (its total) after it."""
    longest = max((len(_cut(b.label)) for b in bars), default=0)
    # Above the bars, labels start where the bars do: a little in, so the axis's "0" is not cut.
    left = 8.0 if labels_above else min(WIDTH / 3, longest * CHAR_WIDTH + 10)
    top = max((b.total(series) for b in bars), default=0)
    right = max((len(note) for note in notes), default=1) * CHAR_WIDTH + 10  # room for the longest note
    step = nice_step(top)
    axis_top = max(step, math.ceil(top / step) * step)
    span = WIDTH - left - right
    row = LABEL_LINE + BAR + GAP_BELOW if labels_above else ROW
    height = len(bars) * row + AXIS + 4

    def x(count: float) -> float:
        return left + span * count / axis_top

    shapes: list[Markup] = []
    bottom = len(bars) * row
    for tick in range(0, axis_top + 1, step):
        shapes.append(GRID.format(x=_n(x(tick)), bottom=_n(bottom), below=_n(bottom + 16), tick=f"{tick:,}"))
    for i, (bar, note) in enumerate(zip(bars, notes, strict=True)):
        bar_y: float
        if labels_above:
            bar_y = i * row + LABEL_LINE
            shapes.append(LABEL_ABOVE.format(x=_n(left), y=_n(bar_y - 5), label=_cut(bar.label)))
        else:
            bar_y = i * row + (ROW - BAR) / 2
            shapes.append(LABEL_LEFT.format(x=_n(left - 10), y=_n(bar_y + BAR - 3), label=_cut(bar.label)))
        start = 0
        for s in series:
            count = bar.values.get(s.key, 0)
            if count <= 0:
                continue
            # A part of 1 among thousands still shows, as a sliver.
            width = max(1.5, x(start + count) - x(start))
            shapes.append(
                PART.format(
                    key=f"{part_class} {s.key}".strip(),
                    x=_n(x(start)),
                    y=_n(bar_y),
                    width=_n(width),
                    height=BAR,
                    title=f"{bar.label}: {count:,} {s.name}",
                )
            )
            start += count
        shapes.append(TOTAL.format(x=_n(x(start) + 6), y=_n(bar_y + BAR - 3), total=note))
    return SVG.format(
        width=WIDTH,
        height=_n(height),
        words=words,
        font_size=FONT_SIZE,
        title=title,
        shapes=Markup("").join(shapes),
    )
