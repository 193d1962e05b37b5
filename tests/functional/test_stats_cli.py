"""`haven stats`: the funnel per month or week, split by request type, channel or language, as a table in
the terminal. By language it unlocks the coordinator named with --as (the passphrase and one-time code are
read from stdin when it is not a terminal) and shows on stderr how far it got opening the sealed tallies; a
wrong passphrase is refused politely, with exit status 2 and no traceback."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from haven.accounts.models import Operator
from haven.cli import main
from haven.config import Settings
from haven.runtime import Runtime
from tests.conftest import WEAK_KDF, Org, Person
from tests.functional.test_desk_procedures import take_in, walk
from tests.functional.test_stats import end

HEADINGS = [
    "contacted", "screened", "verified", "in progress", "open", "completed", "withdrawn", "no contact",
    "provocation", "closed other",
]  # fmt: skip
MARCH = datetime(2025, 3, 12, 10, 0, tzinfo=UTC)  # a Wednesday
WRONG = "haven stats: the username, passphrase or one-time code is not right; nothing was counted."


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """`haven` reads its settings from the environment: the store under test, and weak Argon2id."""
    monkeypatch.setenv("HAVEN_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("HAVEN_KDF_OPSLIMIT", str(WEAK_KDF.opslimit))
    monkeypatch.setenv("HAVEN_KDF_MEMLIMIT", str(WEAK_KDF.memlimit))


def haven_stats(settings: Settings, *options: str) -> int:
    return main(["stats", "--data-dir", str(settings.data_dir), *options])


def typed(monkeypatch: pytest.MonkeyPatch, *lines: str) -> None:
    """What is piped to the command's stdin, a line each (not a terminal: no getpass)."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{line}\n" for line in lines)))


def table(out: str) -> list[list[str]]:
    """The table's lines, cut into cells (cells are apart by two spaces or more), up to the first blank."""
    lines = out.split("\n\n", 1)[0].splitlines()
    return [re.split(r"\s{2,}", line.strip()) for line in lines]


def test_the_funnel_is_printed_month_by_month_with_every_stage_and_a_total(
    settings: Settings, runtime: Runtime, org: Org, capsys: pytest.CaptureFixture[str]
) -> None:
    ended, screened = take_in(runtime, now=MARCH), take_in(runtime, now=MARCH)
    end(runtime, org, ended, "withdrawn")
    walk(runtime, org.coordinator.unlocked, screened, "screening", "verification")
    take_in(runtime, now=datetime(2025, 4, 2, tzinfo=UTC))

    assert haven_stats(settings) == 0

    out = capsys.readouterr().out
    assert table(out) == [
        ["month", *HEADINGS],
        ["2025-03", "2", "1", "0", "0", "1", "0", "1", "0", "0", "0"],
        ["2025-04", "1", "0", "0", "0", "1", "0", "0", "0", "0", "0"],
        ["all", "3", "1", "0", "0", "2", "0", "1", "0", "0", "0"],
    ]
    assert "These are exact counts" in out


def test_per_week_each_row_is_a_week_named_by_its_monday(
    settings: Settings, runtime: Runtime, org: Org, capsys: pytest.CaptureFixture[str]
) -> None:
    take_in(runtime, now=datetime(2025, 3, 16, 23, 0, tzinfo=UTC))  # a Sunday
    take_in(runtime, now=datetime(2025, 3, 17, 8, 0, tzinfo=UTC))

    assert haven_stats(settings, "--per", "week") == 0

    rows = table(capsys.readouterr().out)
    assert rows[0][:2] == ["week from", "contacted"]
    assert [row[:2] for row in rows[1:]] == [["2025-03-10", "1"], ["2025-03-17", "1"], ["all", "2"]]


def test_by_type_each_month_is_split_by_request_type(
    settings: Settings, runtime: Runtime, org: Org, capsys: pytest.CaptureFixture[str]
) -> None:
    take_in(runtime, request_type="legal", now=MARCH)
    take_in(runtime, request_type="leave_service", now=MARCH)
    take_in(runtime, request_type="legal", now=MARCH)

    assert haven_stats(settings, "--by", "type") == 0

    rows = table(capsys.readouterr().out)
    assert rows[0][:3] == ["month", "request type", "contacted"]
    assert [row[:3] for row in rows[1:]] == [
        ["2025-03", "leave_service", "1"],
        ["2025-03", "legal", "2"],
        ["all", "3", "0"],  # its part cell is blank
    ]


def test_by_channel_each_month_is_split_by_channel(
    settings: Settings, runtime: Runtime, org: Org, capsys: pytest.CaptureFixture[str]
) -> None:
    take_in(runtime, now=MARCH)

    assert haven_stats(settings, "--by", "channel", "--per", "week") == 0

    assert [row[:3] for row in table(capsys.readouterr().out)] == [
        ["week from", "channel", "contacted"],
        ["2025-03-10", "web", "1"],
        ["all", "1", "0"],
    ]


def test_by_language_unlocks_the_coordinator_and_counts_each_language_with_their_keys(
    settings: Settings,
    runtime: Runtime,
    org: Org,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for language in ("ru", "uk", "ru"):
        take_in(runtime, language=language, now=MARCH)
    typed(monkeypatch, org.coordinator.passphrase, org.coordinator.code())

    assert haven_stats(settings, "--by", "language", "--as", "coordinator") == 0

    captured = capsys.readouterr()
    assert [row[:3] for row in table(captured.out)] == [
        ["month", "language", "contacted"],
        ["2025-03", "ru", "2"],
        ["2025-03", "uk", "1"],
        ["all", "3", "0"],
    ]
    assert (
        "Languages are sealed: they were opened with coordinator's keys, for the requests received by "
        "intake, legal." in captured.out
    )
    assert captured.err.endswith("opening language tallies [####################] 3/3\n")


def test_by_language_with_a_wrong_passphrase_is_refused_politely_and_counted_as_a_failed_login(
    settings: Settings,
    runtime: Runtime,
    org: Org,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    take_in(runtime, language="ru", now=MARCH)
    typed(monkeypatch, "not the passphrase", org.coordinator.code())

    assert haven_stats(settings, "--by", "language", "--as", "coordinator") == 2

    captured = capsys.readouterr()
    assert captured.err.strip() == WRONG
    assert captured.out == ""
    assert failed_logins(runtime, org.coordinator) == 1


def test_by_language_with_a_wrong_one_time_code_is_refused_the_same_way(
    settings: Settings,
    runtime: Runtime,
    org: Org,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    typed(
        monkeypatch, org.coordinator.passphrase, "000000" if org.coordinator.code() != "000000" else "111111"
    )

    assert haven_stats(settings, "--by", "language", "--as", "coordinator") == 2

    assert capsys.readouterr().err.strip() == WRONG


def test_by_language_for_nobody_of_that_name_is_refused_the_same_way(
    settings: Settings,
    runtime: Runtime,
    org: Org,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    typed(monkeypatch, "a passphrase", "123456")

    assert haven_stats(settings, "--by", "language", "--as", "nobody") == 2

    assert capsys.readouterr().err.strip() == WRONG


def test_by_language_is_for_coordinators_and_admins_as_on_the_desk(
    settings: Settings,
    runtime: Runtime,
    org: Org,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    typed(monkeypatch, org.intake.passphrase, org.intake.code())

    assert haven_stats(settings, "--by", "language", "--as", org.intake.username) == 2

    assert "only coordinators and admins count languages" in capsys.readouterr().err


def test_by_language_without_an_account_says_how(
    settings: Settings, runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    assert haven_stats(settings, "--by", "language") == 2

    assert "add --as USERNAME" in capsys.readouterr().err


def test_the_real_command_takes_a_piped_passphrase_and_refuses_a_wrong_one_without_a_traceback(
    settings: Settings, runtime: Runtime, org: Org
) -> None:
    take_in(runtime, language="en", now=MARCH)
    command = [sys.executable, "-m", "haven.cli", "stats", "--data-dir", str(settings.data_dir)]
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}

    wrong = subprocess.run(
        [*command, "--by", "language", "--as", "coordinator"],
        input=f"wrong passphrase\n{org.coordinator.code()}\n",
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )
    right = subprocess.run(
        [*command, "--by", "language", "--as", "coordinator", "--per", "week"],
        input=f"{org.coordinator.passphrase}\n{org.coordinator.code()}\n",
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )

    assert (wrong.returncode, wrong.stderr.strip(), wrong.stdout) == (2, WRONG, "")
    assert right.returncode == 0, right.stderr
    assert ["2025-03-10", "en", "1"] in [row[:3] for row in table(right.stdout)]
    assert "Traceback" not in wrong.stderr + right.stderr


def failed_logins(runtime: Runtime, person: Person) -> int:
    with runtime.db.read() as s:
        return s.scalars(select(Operator.failed_logins).where(Operator.id == person.id)).one()
