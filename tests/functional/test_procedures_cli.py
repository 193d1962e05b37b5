"""`haven procedures check`, the real command: ok for the shipped files, and for a broken one each mistake
as file:line: field: message on stderr with exit status 1. A server whose organisation's procedure
directory holds a broken file refuses to start, saying which file and line."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from haven.cases.procedure_files import SHIPPED, ProcedureError
from haven.config import Settings
from haven.runtime import Runtime
from tests.conftest import WEAK_KDF
from tests.functional.served import free_port, haven_command, server_env
from tests.unit.cases.test_procedure_files import marked_line

FIXTURES = Path(__file__).parents[1] / "fixtures" / "procedures"
BROKEN = FIXTURES / "broken"
DUPLICATE = BROKEN / "duplicate_step.yaml"


def haven(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(haven_command()), *args],
        env=server_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_shipped_procedures_check_ok() -> None:
    files = sorted(str(p) for p in SHIPPED.glob("*.yaml"))
    checked = haven("procedures", "check", *files)
    assert checked.returncode == 0, checked.stderr
    lines = checked.stdout.splitlines()
    assert len(lines) == len(files)
    for name, line in zip(files, lines, strict=True):
        assert re.fullmatch(rf"{re.escape(name)}: {Path(name).stem}, \d+ steps: ok", line), line
    assert checked.stderr == ""


def test_a_broken_file_fails_the_check_naming_its_file_line_and_field() -> None:
    broken = BROKEN / "zero_due_hours.yaml"
    checked = haven("procedures", "check", str(broken))
    assert checked.returncode == 1
    assert checked.stdout == ""
    expected = (
        f"{broken}:{marked_line(broken)}: steps.0.due_hours: Input should be greater than or equal to 1\n"
    )
    assert checked.stderr == expected


def test_a_check_of_good_and_broken_files_reports_both_and_fails() -> None:
    good, broken = FIXTURES / "escort.yaml", BROKEN / "unknown_next.yaml"
    checked = haven("procedures", "check", str(good), str(broken))
    assert checked.returncode == 1
    assert checked.stdout == f"{good}: escort, 5 steps: ok\n"
    assert checked.stderr.startswith(
        f"{broken}:{marked_line(broken)}: steps.0.next.0: 'nowhere' is not a step"
    )


def test_a_syntax_error_is_reported_with_its_line() -> None:
    broken = BROKEN / "syntax_error.yaml"
    checked = haven("procedures", "check", str(broken))
    assert checked.returncode == 1
    assert checked.stderr == (
        f"{broken}:{marked_line(broken)}: (syntax): mapping values are not allowed here\n"
    )


def test_checking_a_file_that_is_not_there_fails(tmp_path: Path) -> None:
    checked = haven("procedures", "check", str(tmp_path / "gone.yaml"))
    assert checked.returncode == 1
    assert f"{tmp_path / 'gone.yaml'}:0: (file): cannot be read" in checked.stderr


@pytest.fixture
def broken_directory(tmp_path: Path) -> Path:
    """An organisation's procedure directory holding one good file and one broken one."""
    directory = tmp_path / "our-procedures"
    directory.mkdir()
    shutil.copy(FIXTURES / "escort.yaml", directory / "escort.yaml")
    shutil.copy(DUPLICATE, directory / DUPLICATE.name)
    return directory


def test_a_command_that_starts_haven_refuses_a_broken_procedure_file(
    tmp_path: Path, broken_directory: Path
) -> None:
    ran = haven(
        "db", "upgrade", "--data-dir", str(tmp_path / "data"), HAVEN_PROCEDURES_DIR=str(broken_directory)
    )
    assert ran.returncode == 2
    assert "a procedure file is wrong" in ran.stderr
    assert f"{broken_directory / DUPLICATE.name}:{marked_line(DUPLICATE)}: steps.2.id: " in ran.stderr
    assert "Traceback" not in ran.stderr


def test_haven_serve_refuses_to_start_with_a_broken_procedure_file(
    tmp_path: Path, broken_directory: Path
) -> None:
    ran = haven(
        "serve",
        "--data-dir",
        str(tmp_path / "data"),
        "--port",
        str(free_port()),
        HAVEN_PROCEDURES_DIR=str(broken_directory),
    )
    assert ran.returncode == 2
    assert f"{broken_directory / DUPLICATE.name}:{marked_line(DUPLICATE)}: steps.2.id: " in ran.stderr
    assert "serving" not in ran.stdout


def test_the_runtime_does_not_start_with_a_broken_procedure_file(
    tmp_path: Path, broken_directory: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        procedures_dir=str(broken_directory),
        kdf_opslimit=WEAK_KDF.opslimit,
        kdf_memlimit=WEAK_KDF.memlimit,
    )
    with pytest.raises(ProcedureError) as raised:
        Runtime.start(settings)
    assert [(Path(p.file).name, p.line, p.field) for p in raised.value.problems] == [
        (DUPLICATE.name, marked_line(DUPLICATE), "steps.2.id")
    ]


def test_the_runtime_uses_the_organisations_own_procedures(tmp_path: Path) -> None:
    directory = tmp_path / "our-procedures"
    directory.mkdir()
    shutil.copy(FIXTURES / "escort.yaml", directory / "escort.yaml")
    settings = Settings(data_dir=tmp_path / "data", procedures_dir=str(directory))
    runtime = Runtime.start(settings)
    try:
        assert runtime.procedures.get("escort") is not None
        assert runtime.procedures.get("leave_service") is not None
    finally:
        runtime.close()
