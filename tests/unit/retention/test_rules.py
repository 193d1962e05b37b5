"""Retention rules as the organisation writes them in questionnaires.toml: a default for every request type,
a type's own table where it differs, whole days or "never", and a clear error for anything else."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from haven.cases.states import CaseState
from haven.intake.questionnaires import DEFAULT_PATH, default_catalogue, load
from haven.retention.rules import RetentionRules, Rule, parse_rules

NOW = datetime(2026, 6, 1, 12, 0)


def test_the_shipped_catalogue_keeps_closed_cases_90_days_and_silent_open_ones_365() -> None:
    rules = default_catalogue().retention
    assert rules.default == Rule(closed_days=90, open_days=365)
    assert {rules.for_type(t) for t in default_catalogue().types} == {Rule(90, 365)}


def test_a_type_table_overrides_only_what_it_names(tmp_path: Path) -> None:
    shipped = DEFAULT_PATH.read_text(encoding="utf-8")
    path = tmp_path / "questionnaires.toml"
    path.write_text(shipped + "\n[types.legal.retention]\nclosed_days = 365\n", encoding="utf-8")

    rules = load(path).retention

    assert rules.for_type("legal") == Rule(closed_days=365, open_days=365)
    assert rules.for_type("other") == Rule(closed_days=90, open_days=365)
    assert set(rules.by_type) == {"legal"}


def test_a_type_no_longer_in_the_catalogue_follows_the_default() -> None:
    rules = RetentionRules(default=Rule(30, 60), by_type={"legal": Rule(365, None)})
    assert rules.for_type("retired_type") == Rule(30, 60)


def test_never_keeps_a_case_for_ever() -> None:
    rules = parse_rules({"closed_days": 90, "open_days": "never"}, {}, "q.toml")
    assert rules.default.cutoff(CaseState.WAITING, NOW) is None
    assert rules.default.cutoff(CaseState.CLOSED, NOW) == datetime(2026, 3, 3, 12, 0)


def test_without_a_retention_table_the_safe_defaults_apply() -> None:
    assert parse_rules(None, {}, "q.toml").default == Rule(closed_days=90, open_days=365)


@pytest.mark.parametrize(
    ("table", "complaint"),
    [
        ({"closed_days": 0}, "q.toml:retention.closed_days: must be a whole number of days"),
        ({"closed_days": -5}, "q.toml:retention.closed_days: must be a whole number of days"),
        ({"open_days": True}, "q.toml:retention.open_days: must be a whole number of days"),
        ({"open_days": 1.5}, "q.toml:retention.open_days: must be a whole number of days"),
        ({"open_days": "forever"}, "or \"never\", not 'forever'"),
        ({"closed_day": 30}, "q.toml:retention: unknown key 'closed_day'"),
    ],
)
def test_a_mistake_in_the_rules_is_refused_naming_the_place(table: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValueError, match=re.escape(complaint)):
        parse_rules(table, {}, "q.toml")


def test_a_mistake_in_a_types_rule_names_the_type() -> None:
    with pytest.raises(ValueError, match=r"q.toml:types.legal.retention.closed_days"):
        parse_rules({}, {"legal": {"closed_days": 0}}, "q.toml")
