"""How the coordinators' pages arrange the funnel: the last 12 months or weeks, whatever the view in the URL
says only if it is one the page knows, and a breakdown's parts always in the same order and colour."""

from __future__ import annotations

from datetime import date

from haven.desk.stats_funnel import Parts, View, last_periods, period_words


def test_the_last_12_months_end_with_this_one_across_a_new_year() -> None:
    months = last_periods("month", date(2026, 2, 14))

    assert (months[0], months[-1], len(months)) == (date(2025, 3, 1), date(2026, 2, 1), 12)


def test_the_last_12_weeks_are_mondays_ending_with_this_week() -> None:
    weeks = last_periods("week", date(2026, 1, 1))  # a Thursday

    assert weeks[-1] == date(2025, 12, 29)
    assert weeks[0] == date(2025, 10, 13)
    assert all(w.weekday() == 0 for w in weeks)


def test_a_month_is_named_by_its_name_and_year() -> None:
    assert period_words("month", date(2025, 3, 1)) == "Mar 2025"


def test_a_view_the_page_does_not_know_is_the_default_view() -> None:
    assert View.read("year", "names", splits=("type",)) == View("month", "")
    assert View.read("week", "type", splits=("type",)) == View("week", "type")


def test_a_view_link_changes_only_what_it_names() -> None:
    view = View("week", "channel")

    assert view.link("/desk/stats", per="month") == "/desk/stats?per=month&by=channel"
    assert view.link("/desk/stats", by="") == "/desk/stats?per=week"


def test_a_part_keeps_its_colour_whichever_other_parts_had_requests() -> None:
    parts = Parts(known=("web", "telegram"), words={"web": "website"})

    assert [(s.key, s.name) for s in parts.series({"telegram"})] == [("part-1", "telegram")]
    assert [(s.key, s.name) for s in parts.series({"web", "telegram", "signal"})] == [
        ("part-0", "website"),
        ("part-1", "telegram"),
        ("part-2", "signal"),
    ]
