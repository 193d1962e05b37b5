"""Settings from HAVEN_* variables: any value either builds settings or is refused with SettingsError."""

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haven.config import _FIELDS, Settings, SettingsError

BUDGET = settings(max_examples=300, deadline=timedelta(milliseconds=500))

# Environment values are text without NUL (the operating system cannot hold one in a variable).
values = st.text(alphabet=st.characters(exclude_characters="\x00"), max_size=30) | st.sampled_from(
    ["on", "OFF", "yes", "0", "1", "-1", " 7 ", "1_000", "9" * 5000, "true", "maybe"]
)
environments = st.dictionaries(st.sampled_from(sorted(_FIELDS)).map(lambda n: f"HAVEN_{n.upper()}"), values)


def from_env(environ: dict[str, str]) -> Settings | SettingsError:
    try:
        return Settings.from_env(environ)
    except SettingsError as refused:
        return refused


@BUDGET
@given(environments)
def test_any_environment_builds_settings_or_says_what_is_wrong(environ: dict[str, str]) -> None:
    built = from_env(environ)
    if isinstance(built, SettingsError):
        assert str(built).startswith("HAVEN_")
        return
    for name, kind in _FIELDS.items():
        assert isinstance(getattr(built, name), kind)


@BUDGET
@given(environments)
def test_settings_survive_a_round_trip_through_the_environment(environ: dict[str, str]) -> None:
    built = from_env(environ)
    if isinstance(built, SettingsError):
        return
    assert Settings.from_env(built.as_environment()) == built


@pytest.mark.parametrize("name", [n for n, kind in _FIELDS.items() if kind is int])
def test_a_number_that_is_not_a_number_is_refused_by_name(name: str) -> None:
    with pytest.raises(SettingsError, match=f"HAVEN_{name.upper()}"):
        Settings.from_env({f"HAVEN_{name.upper()}": "twelve"})


def test_a_negative_purge_interval_is_refused_with_the_way_out(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="HAVEN_PURGE_INTERVAL_MINUTES must be 0"):
        Settings(data_dir=tmp_path, purge_interval_minutes=-1).check()
    assert Settings(data_dir=tmp_path, purge_interval_minutes=0).check().purge_interval_minutes == 0
